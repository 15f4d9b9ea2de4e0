// The Helm chart, rendered by the pinned helm: lint, restricted pods, one source of truth
// for CRDs and RBAC, and bad values refused with a message naming the value.
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../harness/cluster.js';
import { spawnSync } from 'node:child_process';
import { chartDir, FULL_VALUES, helm, render, runHelm, type K8sObject } from './helm.js';
import { OPERATOR_NODE_FLAGS, parseArgs as parseOperatorArgs } from '../operator/args.js';
import { parseCommandLine } from '../cli/args.js';
import { AGENTS_WEBHOOK, AUDIT_APISERVICE, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { DRAIN_SECONDS, TIMEOUT_SECONDS, WEBHOOK_NODE_FLAGS } from '../webhook/limits.js';
import { APISERVER_IDLE_CONNECTION_MS } from '../webhook/drain.js';

type Pod = {
  securityContext: Record<string, any>;
  containers: Array<{
    name: string;
    command?: string[];
    args?: string[];
    securityContext: Record<string, any>;
    resources?: Record<string, any>;
    livenessProbe?: unknown;
    readinessProbe?: unknown;
  }>;
  serviceAccountName: string;
  topologySpreadConstraints?: unknown[];
};

const podOf = (d: K8sObject) => (d as any).spec.template.spec as Pod;

describe('Helm chart', function () {
  this.timeout(600_000);
  before(function () {
    helm(); // builds helm from its Go module on first use (cached afterwards)
  });

  it('lints clean with default and with full values', function () {
    for (const extra of [[], FULL_VALUES]) {
      const r = runHelm(['lint', chartDir, '--kube-version', '1.35.4', ...extra]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
    }
  });

  it('ships files/crds identical to the repository crds/, and no crds/ folder (Helm would never upgrade it)', function () {
    const repo = readdirSync(path.join(repoRoot, 'crds')).sort();
    expect(readdirSync(path.join(chartDir, 'files', 'crds')).sort()).to.deep.equal(repo);
    for (const f of repo) {
      expect(readFileSync(path.join(chartDir, 'files', 'crds', f), 'utf8'), `${f} drifted: cp crds/*.yaml charts/agentgate/files/crds/`).to.equal(
        readFileSync(path.join(repoRoot, 'crds', f), 'utf8'),
      );
    }
    expect(existsSync(path.join(chartDir, 'crds'))).to.equal(false);
  });

  it('ships files/webhook identical to config/webhook (the configurations the installer creates empty)', function () {
    expect(
      readFileSync(path.join(chartDir, 'files', 'webhook', 'configurations.yaml'), 'utf8'),
      'drifted: cp config/webhook/configurations.yaml charts/agentgate/files/webhook/',
    ).to.equal(readFileSync(path.join(repoRoot, 'config', 'webhook', 'configurations.yaml'), 'utf8'));
  });

  it('keeps the webhook timeout and drain bounds in one home (webhook/limits.ts)', function () {
    const schema = JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8'));
    const w = schema.properties.webhook.properties;
    expect({ min: w.timeoutSeconds.minimum, max: w.timeoutSeconds.maximum }).to.deep.equal(TIMEOUT_SECONDS);
    expect({ min: w.drainSeconds.minimum, max: w.drainSeconds.maximum }).to.deep.equal(DRAIN_SECONDS);
  });

  it('ships files/admission identical to config/admission, and renders the approval-stamps, managed-rolebindings and audit-apiservice policies with their bindings', function () {
    for (const f of readdirSync(path.join(repoRoot, 'config', 'admission'))) {
      expect(
        readFileSync(path.join(chartDir, 'files', 'admission', f), 'utf8'),
        `${f} drifted: cp config/admission/${f} charts/agentgate/files/admission/`,
      ).to.equal(readFileSync(path.join(repoRoot, 'config', 'admission', f), 'utf8'));
    }
    const docs = render('agentgate-system');
    expect(
      docs
        .filter((d) => d.kind === 'ValidatingAdmissionPolicy' || d.kind === 'ValidatingAdmissionPolicyBinding')
        .map((d) => `${d.kind}/${d.metadata.name}`)
        .sort(),
    ).to.deep.equal([
      'ValidatingAdmissionPolicy/agentgate-approval-stamps',
      'ValidatingAdmissionPolicy/agentgate-audit-apiservice-only',
      'ValidatingAdmissionPolicy/agentgate-managed-rolebindings-only',
      'ValidatingAdmissionPolicyBinding/agentgate-approval-stamps',
      'ValidatingAdmissionPolicyBinding/agentgate-audit-apiservice-only',
      'ValidatingAdmissionPolicyBinding/agentgate-managed-rolebindings-only',
    ]);
  });

  it('narrows the webhook port to the control plane CIDRs, runs on the host network and verifies client certificates when asked', function () {
    const docs = render('agentgate-system', [
      '--set',
      'networkPolicy.webhookFromCIDRs={10.0.0.0/24,10.0.1.0/24}',
      '--set',
      'webhook.hostNetwork=true',
      '--set',
      'webhook.clientAuth.caSecret=apiserver-webhook-client-ca',
      '--set',
      'webhook.clientAuth.certNames={kube-apiserver-webhook-client}',
      '--set',
      'webhook.clientAuth.require=true',
    ]);
    const np = docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'agentgate-webhook') as any;
    expect(np.spec.ingress[0].from).to.deep.equal([{ ipBlock: { cidr: '10.0.0.0/24' } }, { ipBlock: { cidr: '10.0.1.0/24' } }]);
    const pod = (docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook') as any).spec.template.spec;
    expect(pod.hostNetwork).to.equal(true);
    expect(pod.dnsPolicy).to.equal('ClusterFirstWithHostNet');
    expect(pod.containers[0].args).to.include.members([
      '--client-ca=/client-ca/ca.crt',
      '--client-cert-name=kube-apiserver-webhook-client',
      '--require-client-cert=true',
    ]);
    const open = render('agentgate-system').find((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'agentgate-webhook') as any;
    expect(open.spec.ingress[0].from).to.equal(undefined);
  });

  it('ships files/rbac identical to config/rbac', function () {
    for (const f of readdirSync(path.join(chartDir, 'files', 'rbac'))) {
      expect(readFileSync(path.join(chartDir, 'files', 'rbac', f), 'utf8'), `${f} drifted: cp config/rbac/${f} charts/agentgate/files/rbac/`).to.equal(
        readFileSync(path.join(repoRoot, 'config', 'rbac', f), 'utf8'),
      );
    }
    const shipped = readdirSync(path.join(chartDir, 'files', 'rbac')).sort();
    const needed = readdirSync(path.join(repoRoot, 'config', 'rbac'))
      .filter((f) => f !== '00-namespace.yaml')
      .sort();
    expect(shipped).to.deep.equal(needed);
  });

  for (const [label, extra] of [
    ['default values', []],
    ['full values', FULL_VALUES],
  ] as const) {
    describe(label, function () {
      let docs: K8sObject[];
      before(function () {
        docs = render('agentgate-system', [...extra]);
      });

      it('runs both components restricted: non-root, read-only root, no escalation, no capabilities, RuntimeDefault seccomp', function () {
        const deployments = docs.filter((d) => d.kind === 'Deployment');
        expect(deployments.map((d) => d.metadata.name).sort()).to.deep.equal(['agentgate-operator', 'agentgate-webhook']);
        for (const d of deployments) {
          const pod = podOf(d);
          expect(pod.securityContext, d.metadata.name).to.include({ runAsNonRoot: true });
          expect(pod.securityContext.seccompProfile).to.deep.equal({ type: 'RuntimeDefault' });
          for (const c of pod.containers) {
            expect(c.securityContext).to.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false });
            expect(c.securityContext.capabilities).to.deep.equal({ drop: ['ALL'] });
            expect(c.resources?.requests, `${d.metadata.name} requests`).to.be.an('object');
            expect(c.resources?.limits?.memory, `${d.metadata.name} memory limit`).to.be.a('string');
            expect(c.livenessProbe, `${d.metadata.name} liveness`).to.be.an('object');
            expect(c.readinessProbe, `${d.metadata.name} readiness`).to.be.an('object');
          }
          expect(pod.topologySpreadConstraints).to.have.length(2);
          expect(pod.serviceAccountName).to.equal(d.metadata.name);
        }
      });

      it('runs two operator replicas, and webhook replicas as the audit store allows, with PodDisruptionBudgets where they can hold', function () {
        const replicas = (n: string) => (docs.find((x) => x.kind === 'Deployment' && x.metadata.name === n) as any).spec.replicas;
        expect(replicas('agentgate-operator')).to.equal(2);
        // PGlite (the default) is single-writer: one webhook; PostgreSQL: two.
        expect(replicas('agentgate-webhook')).to.equal(label === 'full values' ? 2 : 1);
        expect(
          docs
            .filter((d) => d.kind === 'PodDisruptionBudget')
            .map((d) => d.metadata.name)
            .sort(),
        ).to.deep.equal(label === 'full values' ? ['agentgate-operator', 'agentgate-webhook'] : ['agentgate-operator']);
      });

      it('wires the audit store: a volume for PGlite, the DSN from a Secret for PostgreSQL, and the audit Service', function () {
        const pod = podOf(docs.find((x) => x.kind === 'Deployment' && x.metadata.name === 'agentgate-webhook')!);
        const c = pod.containers[0]! as any;
        expect(docs.some((d) => d.kind === 'Service' && d.metadata.name === 'agentgate-audit')).to.equal(true);
        if (label === 'full values') {
          expect(c.args).to.include('--audit-store=postgres');
          expect(c.env.find((e: any) => e.name === 'AGENTGATE_AUDIT_DSN').valueFrom.secretKeyRef).to.deep.equal({ name: 'agentgate-audit-dsn', key: 'dsn' });
          expect(docs.some((d) => d.kind === 'PersistentVolumeClaim')).to.equal(false);
        } else {
          expect(c.args).to.include('--audit-store=pglite').and.include('--audit-data-dir=/var/lib/agentgate/audit');
          expect(docs.find((d) => d.kind === 'PersistentVolumeClaim')?.metadata.name).to.equal('agentgate-audit');
        }
      });

      it('binds the operator to exactly the roles agents may receive', function () {
        const bind = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'agentgate-operator-bind') as any;
        const want = label === 'full values' ? ['agentgate-edit', 'view', 'deployer'] : ['agentgate-edit', 'view'];
        expect(bind.rules).to.deep.equal([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: want }]);
        for (const d of docs) {
          // One exception, as for every aggregated API server: reading the front proxy's CA in kube-system.
          if (d.kind === 'RoleBinding' && (d as any).roleRef?.name === 'extension-apiserver-authentication-reader')
            expect(d.metadata.namespace).to.equal('kube-system');
          else if (d.metadata.namespace) expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).to.equal('agentgate-system');
        }
        const grantsAll = docs.some(
          (d) =>
            (d.kind === 'ClusterRole' || d.kind === 'Role') && ((d as any).rules ?? []).some((r: any) => r.verbs?.includes('*') || r.resources?.includes('*')),
        );
        expect(grantsAll, 'no wildcard rules in agentgate RBAC').to.equal(false);
      });

      it("lets no agentgate identity create routing objects (webhook configurations, APIServices) but the operator the audit APIService under its policy, and touch agentgate's only by name", function () {
        const routing = /^(validatingwebhookconfigurations|mutatingwebhookconfigurations|apiservices)$/;
        for (const d of docs.filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
          for (const r of (d as any).rules ?? []) {
            if (!r.resources?.some((x: string) => routing.test(x))) continue;
            if (d.metadata.name === 'agentgate-operator' && r.verbs.includes('create')) {
              // Restoring the withdrawn audit APIService: RBAC cannot pin create to a name, the policy does.
              expect(r).to.deep.equal({ apiGroups: ['apiregistration.k8s.io'], resources: ['apiservices'], verbs: ['create'] });
              const policy = docs.find((x) => x.kind === 'ValidatingAdmissionPolicy' && x.metadata.name === 'agentgate-audit-apiservice-only') as unknown as {
                spec: { matchConditions: Array<{ expression: string }>; validations: Array<{ expression: string }> };
              };
              expect(policy.spec.matchConditions[0]?.expression).to.contain("'system:serviceaccount:agentgate-system:agentgate-operator'");
              expect(policy.spec.validations[0]?.expression).to.contain(`object.metadata.name == '${AUDIT_APISERVICE}'`);
              const binding = docs.find(
                (x) => x.kind === 'ValidatingAdmissionPolicyBinding' && x.metadata.name === 'agentgate-audit-apiservice-only',
              ) as unknown as { spec: object };
              expect(binding.spec).to.deep.equal({ policyName: 'agentgate-audit-apiservice-only', validationActions: ['Deny'] });
              continue;
            }
            if (
              r.verbs.some((v: string) => v === 'get' || v === 'list' || v === 'watch') &&
              !r.verbs.some((v: string) => ['create', 'update', 'patch', 'delete'].includes(v))
            )
              continue;
            expect(r.verbs, `${d.kind}/${d.metadata.name}`).to.not.include('create');
            expect(r.resourceNames, `${d.kind}/${d.metadata.name} writes routing objects by name only`).to.be.an('array').that.is.not.empty;
            for (const n of r.resourceNames) expect([AGENTS_WEBHOOK, PROTECT_WEBHOOK, STAMP_WEBHOOK, AUDIT_APISERVICE]).to.include(n);
          }
        }
      });

      it('installs the APIService of the audit API (the webhook only fills in its CA bundle), routed to the audit Service', function () {
        const api = docs.find((d) => d.kind === 'APIService') as any;
        expect(api.metadata.name).to.equal(AUDIT_APISERVICE);
        expect(api.spec.service).to.deep.equal({ name: 'agentgate-audit', namespace: 'agentgate-system', port: 443 });
        expect(api.spec.caBundle).to.equal(undefined);
        expect(api.metadata.annotations?.['cert-manager.io/inject-ca-from']).to.equal(
          label === 'full values' ? 'agentgate-system/agentgate-webhook' : undefined,
        );
        const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === 'agentgate-audit') as any;
        expect(svc.spec.ports[0].targetPort).to.equal('audit');
        // The operator re-creates it after withdrawing it (operator/reconcile/apiservice.ts): with the same annotation.
        const op = podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-operator')!);
        const inject = op.containers[0]!.args?.find((a) => a.startsWith('--audit-apiservice-inject-ca-from='));
        expect(inject?.split('=')[1]).to.equal(api.metadata.annotations?.['cert-manager.io/inject-ca-from']);
      });

      it('creates the three webhook configurations empty (the webhook fills them in), and the CRDs kept on uninstall', function () {
        const configs = docs.filter((d) => /WebhookConfiguration$/.test(d.kind));
        expect(configs.map((d) => d.metadata.name).sort()).to.deep.equal([AGENTS_WEBHOOK, PROTECT_WEBHOOK, STAMP_WEBHOOK].sort());
        for (const c of configs) {
          expect((c as any).webhooks, c.metadata.name).to.equal(undefined);
          const inject = (c.metadata as any).annotations?.['cert-manager.io/inject-ca-from'];
          expect(inject, c.metadata.name).to.equal(label === 'full values' ? 'agentgate-system/agentgate-webhook' : undefined);
        }
        const crds = docs.filter((d) => d.kind === 'CustomResourceDefinition');
        expect(crds.map((d) => d.metadata.name).sort()).to.deep.equal(
          readdirSync(path.join(repoRoot, 'crds'))
            .map((f) => f.replace(/^agentgate\.io_(.*)\.yaml$/, '$1.agentgate.io'))
            .sort(),
        );
        for (const c of crds) expect((c.metadata as any).annotations['helm.sh/resource-policy']).to.equal('keep');
      });

      it('rolls the webhook without failed calls: startup probe, preStop sleep, and a grace period covering preStop, drain and the longest call', function () {
        const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook')!;
        const pod = podOf(deployment) as any;
        const c = pod.containers[0];
        expect(c.startupProbe.httpGet.path).to.equal('/healthz');
        expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).to.be.at.least(120);
        const preStop = c.lifecycle.preStop.sleep.seconds;
        expect(preStop).to.be.greaterThan(0);
        const drain = Number(c.args.find((a: string) => a.startsWith('--drain-seconds=')).split('=')[1]);
        const timeout = Number(c.args.find((a: string) => a.startsWith('--timeout-seconds=')).split('=')[1]);
        expect(pod.terminationGracePeriodSeconds).to.be.greaterThan(preStop + drain + timeout);
        // The drain outlasts the apiserver's idle keep-alive connections: the webhook never closes one itself.
        expect(drain * 1000).to.be.greaterThan(APISERVER_IDLE_CONNECTION_MS);
        // cert-manager mode: the CA comes from cainjector, never written by the webhook.
        expect(c.args.some((a: string) => a.startsWith('--tls-ca'))).to.equal(false);
      });

      it('runs the pre-delete hook as its own ServiceAccount with `agentgate uninstall --revoke`', function () {
        const job = docs.find((d) => d.kind === 'Job' && d.metadata.name === 'agentgate-uninstall') as any;
        expect(job.metadata.annotations).to.include({ 'helm.sh/hook': 'pre-delete', 'argocd.argoproj.io/hook': 'PreDelete' });
        const pod = job.spec.template.spec;
        expect(pod.serviceAccountName).to.equal('agentgate-uninstall');
        const parsed = parseCommandLine(pod.containers[0].args);
        expect(parsed.command?.words).to.deep.equal(['uninstall']);
        expect(parsed.values).to.include({ revoke: true, namespace: 'agentgate-system' });
        // Hook RBAC is created before the Job (lower weight) and bound to that ServiceAccount only.
        for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']) {
          const d = docs.find((x) => x.kind === kind && x.metadata.name === 'agentgate-uninstall') as any;
          expect(d, kind).to.be.an('object');
          expect(Number(d.metadata.annotations['helm.sh/hook-weight'])).to.be.lessThan(0);
        }
      });
    });
  }

  it('refuses audit values that cannot work, naming the value', function () {
    const many = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', '--set', 'webhook.replicas=2']);
    expect(many.code).to.not.equal(0);
    expect(many.stderr).to.contain('audit.store=pglite is single-writer');
    const noDsn = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', '--set', 'audit.store=postgres', '--set', 'webhook.replicas=2']);
    expect(noDsn.stderr).to.contain('audit.postgres.dsnSecret.name');
    const bad = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', '--set', 'audit.store=sqlite']);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.contain('audit');
  });

  it('guards disruption budgets: none with one replica, refuses one that blocks every drain', function () {
    const one = render('agentgate-system', ['--set', 'webhook.replicas=1', '--set', 'operator.replicas=1']);
    expect(one.filter((d) => d.kind === 'PodDisruptionBudget')).to.deep.equal([]);
    const r = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', '--set', 'podDisruptionBudget.minAvailable=2']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/podDisruptionBudget.minAvailable: 2 with operator.replicas 2 would block every node drain/);
  });

  it('pins the image by digest, sets a priority class, and can leave CRDs and the hook out', function () {
    const digest = 'sha256:' + 'a'.repeat(64);
    const docs = render('agentgate-system', [
      '--set',
      `image.digest=${digest}`,
      '--set',
      'webhook.priorityClassName=system-cluster-critical',
      '--set',
      'crds.install=false',
      '--set',
      'uninstallHook.enabled=false',
    ]);
    for (const d of docs.filter((x) => x.kind === 'Deployment'))
      expect(podOf(d).containers[0]!).to.have.property('image', `ghcr.io/agentgate/agentgate@${digest}`);
    expect((podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook')!) as any).priorityClassName).to.equal(
      'system-cluster-critical',
    );
    expect((podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-operator')!) as any).priorityClassName).to.equal(undefined);
    expect(docs.filter((d) => d.kind === 'CustomResourceDefinition' || d.kind === 'Job')).to.deep.equal([]);
  });

  it('renders monitoring, cert-manager and notifications only when asked', function () {
    const kinds = (d: K8sObject[]) => new Set(d.map((x) => x.kind));
    const def = kinds(render('agentgate-system'));
    for (const k of ['ServiceMonitor', 'PrometheusRule', 'Certificate']) expect(def.has(k), k).to.equal(false);
    const full = render('agentgate-system', [...FULL_VALUES]);
    for (const k of ['ServiceMonitor', 'PrometheusRule', 'Certificate']) expect(kinds(full).has(k), k).to.equal(true);
    const dash = full.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'agentgate-dashboard') as any;
    expect(JSON.parse(dash.data['agentgate.json']).title).to.equal('agentgate');
    const webhook = podOf(full.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook')!);
    expect(webhook.containers[0]!.args).to.include('--tls-cert=/tls/tls.crt');
    const operator = podOf(full.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-operator')!);
    expect(operator.containers[0]!.args).to.include('--notify-url-file=/notify/url');
  });

  it('runs the operator and the webhook with the V8 flags the harness (and, for the operator, the Dockerfile) use', function () {
    const docs = render('agentgate-system', []);
    const operator = podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-operator')!);
    expect(operator.containers[0]!.command).to.deep.equal(['node', ...OPERATOR_NODE_FLAGS, '/app/dist/operator/main.js']);
    const webhook = podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook')!);
    expect(webhook.containers[0]!.command).to.deep.equal(['node', ...WEBHOOK_NODE_FLAGS, '/app/dist/webhook/main.js']);
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
    expect(JSON.parse(cmd?.[1] ?? 'null')).to.deep.equal([...OPERATOR_NODE_FLAGS, '/app/dist/operator/main.js']);
  });

  it('reads the EKS audit log when asked: CloudWatch flags the webhook accepts, the IRSA annotation, the Lease by name', function () {
    const role = 'arn:aws:iam::111122223333:role/agentgate-webhook';
    const docs = render('agentgate-system', [
      '--set',
      'audit.cloudwatch.enabled=true',
      '--set',
      'audit.cloudwatch.logGroup=/aws/eks/prod/cluster',
      '--set',
      'audit.cloudwatch.region=eu-west-1',
      '--set-string',
      `webhook.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=${role}`,
    ]);
    const args = podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook')!).containers[0]!.args ?? [];
    expect(args).to.include.members([
      '--audit-cloudwatch-log-group=/aws/eks/prod/cluster',
      '--audit-cloudwatch-region=eu-west-1',
      '--audit-cloudwatch-interval=10s',
      '--audit-cloudwatch-overlap=5m',
    ]);
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'webhook', 'main.js'), ...args, '--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const annotations = (objects: K8sObject[]) =>
      (objects.find((d) => d.kind === 'ServiceAccount' && d.metadata.name === 'agentgate-webhook')!.metadata as { annotations?: Record<string, string> })
        .annotations;
    expect(annotations(docs)).to.deep.equal({ 'eks.amazonaws.com/role-arn': role });
    const roleRules = (docs.find((d) => d.kind === 'Role' && d.metadata.name === 'agentgate-webhook') as unknown as { rules: unknown[] }).rules;
    expect(roleRules).to.deep.include({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      resourceNames: ['agentgate-audit-cloudwatch'],
      verbs: ['get', 'update'],
    });
    const def = render('agentgate-system');
    expect(podOf(def.find((d) => d.kind === 'Deployment' && d.metadata.name === 'agentgate-webhook')!).containers[0]!.args!.join(' ')).to.not.contain(
      'cloudwatch',
    );
    expect(annotations(def)).to.equal(undefined);
    const missing = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', '--set', 'audit.cloudwatch.enabled=true']);
    expect(missing.code).to.not.equal(0);
    expect(missing.stderr).to.contain('audit/cloudwatch/logGroup');
  });

  it('passes only flags the operator and the webhook accept', function () {
    for (const extra of [[], FULL_VALUES]) {
      const docs = render('agentgate-system', [...extra]);
      const args = (name: string) => podOf(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === name)!).containers[0]!.args ?? [];
      expect(() => parseOperatorArgs(args('agentgate-operator'))).to.not.throw();
      // The webhook's parser is strict: an unknown flag fails before --help is honoured.
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'webhook', 'main.js'), ...args('agentgate-webhook'), '--help'], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
    }
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['an agent role that rewrites RBAC', ['--set', 'agentRoles={agentgate-edit,admin}'], /agentRoles: "admin" can rewrite RBAC/],
    ['a webhook timeout above the apiserver cap', ['--set', 'webhook.timeoutSeconds=60'], /webhook\/timeoutSeconds.*maximum/],
    ['a webhook timeout the binary refuses', ['--set', 'webhook.timeoutSeconds=1'], /webhook\/timeoutSeconds.*minimum/],
    ['an image digest that is not one', ['--set', 'image.digest=latest'], /image\/digest/],
    ['cert-manager without an issuer', ['--set', 'tls.mode=certManager'], /tls\/certManager\/issuerRef\/name/],
    ['an unknown TLS mode', ['--set', 'tls.mode=manual'], /tls\/mode/],
    ['a misspelled top-level value', ['--set', 'replicaz=3'], /additional properties 'replicaz' not allowed|replicaz/],
    ['zero replicas', ['--set', 'operator.replicas=0'], /operator\/replicas.*minimum/],
    ['an unparsable retention', ['--set', 'operator.auditRetention=forever'], /operator\/auditRetention/],
    ['notifications without a Secret', ['--set', 'notifications.enabled=true'], /notifications/],
    ['a webhook source that is not a CIDR', ['--set', 'networkPolicy.webhookFromCIDRs={10.0.0.0}'], /networkPolicy\/webhookFromCIDRs/],
    ['requiring a client certificate without its CA', ['--set', 'webhook.clientAuth.require=true'], /webhook\/clientAuth\/caSecret/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what}, naming the value`, function () {
      const r = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', ...args]);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.match(message);
    });
  }
});
