// The Helm chart, rendered by the pinned helm: lint, restricted pods, one source of truth
// for CRDs and RBAC, and bad values refused with a message naming the value.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../e2e/cluster.js';
import { spawnSync } from 'node:child_process';
import { chartDir, FULL_VALUES, helm, render, runHelm, type K8sObject } from './helm.js';
import { parseArgs as parseOperatorArgs } from '../operator/args.js';

type Pod = {
  securityContext: Record<string, any>;
  containers: Array<{ name: string; args?: string[]; securityContext: Record<string, any>; resources?: Record<string, any>; livenessProbe?: unknown; readinessProbe?: unknown }>;
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

  it('ships crds/ identical to the repository crds/', function () {
    const repo = readdirSync(path.join(repoRoot, 'crds')).sort();
    expect(readdirSync(path.join(chartDir, 'crds')).sort()).to.deep.equal(repo);
    for (const f of repo) {
      expect(readFileSync(path.join(chartDir, 'crds', f), 'utf8'), `${f} drifted: cp crds/*.yaml charts/agentgate/crds/`).to.equal(
        readFileSync(path.join(repoRoot, 'crds', f), 'utf8'),
      );
    }
  });

  it('ships files/rbac identical to config/rbac', function () {
    for (const f of readdirSync(path.join(chartDir, 'files', 'rbac'))) {
      expect(readFileSync(path.join(chartDir, 'files', 'rbac', f), 'utf8'), `${f} drifted: cp config/rbac/${f} charts/agentgate/files/rbac/`).to.equal(
        readFileSync(path.join(repoRoot, 'config', 'rbac', f), 'utf8'),
      );
    }
    const shipped = readdirSync(path.join(chartDir, 'files', 'rbac')).sort();
    const needed = readdirSync(path.join(repoRoot, 'config', 'rbac')).filter((f) => f !== '00-namespace.yaml').sort();
    expect(shipped).to.deep.equal(needed);
  });

  for (const [label, extra] of [['default values', []], ['full values', FULL_VALUES]] as const) {
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
        expect(docs.filter((d) => d.kind === 'PodDisruptionBudget').map((d) => d.metadata.name).sort()).to.deep.equal(label === 'full values' ? ['agentgate-operator', 'agentgate-webhook'] : ['agentgate-operator']);
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
          if (d.kind === 'RoleBinding' && (d as any).roleRef?.name === 'extension-apiserver-authentication-reader') expect(d.metadata.namespace).to.equal('kube-system');
          else if (d.metadata.namespace) expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).to.equal('agentgate-system');
        }
        const grantsAll = docs.some((d) => (d.kind === 'ClusterRole' || d.kind === 'Role') && ((d as any).rules ?? []).some((r: any) => r.verbs?.includes('*') || r.resources?.includes('*')));
        expect(grantsAll, 'no wildcard rules in agentgate RBAC').to.equal(false);
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
    ['cert-manager without an issuer', ['--set', 'tls.mode=certManager'], /tls\/certManager\/issuerRef\/name/],
    ['an unknown TLS mode', ['--set', 'tls.mode=manual'], /tls\/mode/],
    ['a misspelled top-level value', ['--set', 'replicaz=3'], /additional properties 'replicaz' not allowed|replicaz/],
    ['zero replicas', ['--set', 'operator.replicas=0'], /operator\/replicas.*minimum/],
    ['an unparsable retention', ['--set', 'operator.auditRetention=forever'], /operator\/auditRetention/],
    ['notifications without a Secret', ['--set', 'notifications.enabled=true'], /notifications/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what}, naming the value`, function () {
      const r = runHelm(['template', 'agentgate', chartDir, '--kube-version', '1.35.4', ...args]);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.match(message);
    });
  }
});
