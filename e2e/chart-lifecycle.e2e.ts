// The chart's day 2 on the real apiserver, with the real helm: install, grants, an
// upgrade that changes a CRD, and an uninstall through the pre-delete hook — after which
// nothing of agentgate fails closed, no access it gave remains, and namespaces holding
// grants delete.
//
// There is no kubelet here, so this test plays its part: agentgate's components run as
// local processes under the chart's ServiceAccounts (as in components.ts), the operator
// "pods" are Pod objects a kubelet would remove after a scale-down, and the hook Job's
// container command is run locally as the hook's own ServiceAccount, after which the Job
// is marked complete, as the Job controller would.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import type * as k8s from '@kubernetes/client-node';
import type { CRD } from '../api/crds.js';
import type { AccessGrant } from '../api/types.js';
import { FINALIZER, LABEL_MANAGED_BY, MANAGED_BY } from '../api/types.js';
import { chartDir, helm } from '../packaging/helm.js';
import { clusterEnv, eventually, kubectl, kubectlOk, repoRoot, run, uniqueName } from '../harness/cluster.js';
import { componentKubeconfig, freePort, serviceAccountKubeconfig, startProcess, type RunningComponent } from '../harness/components.js';
import { AGENTGATE_NAMESPACE, AUDIT_APISERVICE, AUDIT_SERVICE, WEBHOOK_CONFIGURATIONS } from '../api/types.js';
import { agentIdentity, asNew } from '../testing/fixtures.js';

const RELEASE = 'agentgate';
const helmEnv = { HELM_CACHE_HOME: '/tmp/agentgate-helm-cache', HELM_CONFIG_HOME: '/tmp/agentgate-helm-config', HELM_DATA_HOME: '/tmp/agentgate-helm-data' };

function runHelm(args: string[]) {
  return run(helm(), [...args, '--kubeconfig', clusterEnv().kubeconfigs.admin, '-n', AGENTGATE_NAMESPACE], undefined, helmEnv);
}

async function json<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk('admin', [...args, '-o', 'json'])) as T;
}

/** Runs a Job's container command locally as the Job's ServiceAccount, then marks the Job complete. */
async function actAsKubelet(jobName: string): Promise<{ code: number; output: string }> {
  const job = await json<k8s.V1Job>(['get', 'job', jobName, '-n', AGENTGATE_NAMESPACE]);
  const pod = job.spec!.template.spec!;
  const c = pod.containers[0]!;
  const argv: string[] = [...(c.command ?? []), ...(c.args ?? [])];
  expect(argv.slice(0, 2)).to.deep.equal(['node', '/app/dist/cli/main.js']);
  const kc = await serviceAccountKubeconfig(pod.serviceAccountName!, 'uninstall-hook');
  const r = await run(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), ...argv.slice(2), '--kubeconfig', kc]);
  if (r.code === 0) {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const cond = (type: string) => ({
      type,
      status: 'True',
      lastProbeTime: now,
      lastTransitionTime: now,
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    await kubectlOk('admin', [
      'patch',
      'job',
      jobName,
      '-n',
      AGENTGATE_NAMESPACE,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          startTime: now,
          completionTime: now,
          succeeded: 1,
          ready: 0,
          terminating: 0,
          uncountedTerminatedPods: {},
          conditions: [cond('SuccessCriteriaMet'), cond('Complete')],
        },
      }),
    ]);
  }
  return { code: r.code, output: r.stdout + r.stderr };
}

describe('Helm chart lifecycle: install, grants, upgrade with a changed CRD, uninstall through the hook', function () {
  this.timeout(600_000);
  const agent = uniqueName('life-bot');
  const namespaces = [uniqueName('life-a'), uniqueName('life-b')];
  let webhook: RunningComponent | undefined;
  let operator: RunningComponent | undefined;

  before(async function () {
    helm();
    await kubectlOk('admin', ['apply', '-f', path.join(repoRoot, 'config', 'rbac', '00-namespace.yaml')]);
    // A configuration an earlier test's webhook filled in would point at a process that is gone.
    for (const { kind, name } of WEBHOOK_CONFIGURATIONS) await kubectl('admin', ['delete', kind, name, '--ignore-not-found']);
    // The local stand-ins for the audit API's routing (an ExternalName Service on the control
    // plane's audit port) differ in shape from the chart's: the chart installs its own.
    await kubectl('admin', ['delete', 'apiservice', AUDIT_APISERVICE, '--ignore-not-found']);
    await kubectl('admin', ['delete', 'service', AUDIT_SERVICE, '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
    // Objects an earlier test created with kubectl become the release's (--take-ownership).
    const r = await runHelm([
      'upgrade',
      '--install',
      RELEASE,
      chartDir,
      '--take-ownership',
      '--set',
      'image.repository=local/agentgate',
      '--set',
      'image.tag=e2e',
    ]);
    expect(r.code, r.stderr).to.equal(0);
  });

  after(async function () {
    await operator?.stop();
    await webhook?.stop();
    for (const { kind, name } of WEBHOOK_CONFIGURATIONS) await kubectl('admin', ['delete', kind, name, '--ignore-not-found']);
    await runHelm(['uninstall', RELEASE, '--no-hooks', '--ignore-not-found']);
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    for (const ns of namespaces) await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  });

  it('installs: configurations created empty by the chart, filled in by the webhook; grants become RoleBindings', async function () {
    for (const { kind, name } of WEBHOOK_CONFIGURATIONS)
      expect((await json<k8s.V1ValidatingWebhookConfiguration>([`get`, kind, name])).webhooks ?? []).to.deep.equal([]);

    const port = await freePort();
    webhook = startProcess('webhook', 'life-webhook', [
      '--kubeconfig',
      await componentKubeconfig('webhook'),
      '--port',
      String(port),
      '--url',
      `https://127.0.0.1:${port}`,
      '--writer-id',
      'life-webhook',
    ]);
    operator = startProcess('operator', 'life-operator', [
      '--kubeconfig',
      await componentKubeconfig('operator'),
      '--id',
      'life-operator',
      '--metrics-port',
      '0',
      '--lease-name',
      uniqueName('life-lease'),
      // Nothing serves the chart's audit Service here (no kubelet, no endpoints): a short
      // grace lets the upgrade test below see the APIService withdrawn.
      '--audit-apiservice-grace',
      '10s',
    ]);
    await eventually(
      async () => {
        if (!webhook!.alive) throw new Error(webhook!.log().slice(-2000));
        return (await json<k8s.V1ValidatingWebhookConfiguration>(['get', 'validatingwebhookconfiguration', 'agentgate-agents'])).webhooks?.length === 1;
      },
      60_000,
      'the webhook to fill in its configurations',
    );
    expect(webhook.log()).to.not.contain('configuration created');

    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify(
        agentIdentity(
          agent,
          {
            subjects: [{ kind: 'User', name: `agent:${agent}` }],
            maxDuration: '1h',
            allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
            allowedNamespaces: { names: namespaces },
          },
          asNew,
        ),
      ),
    );
    for (const ns of namespaces) {
      await kubectlOk('admin', ['create', 'namespace', ns]);
      // Somebody else's binding in the same namespace: never agentgate's to touch.
      await kubectlOk('admin', ['create', 'rolebinding', 'not-agentgates', '-n', ns, '--clusterrole=view', '--user=someone']);
      await kubectlOk(
        'admin',
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'agentgate.io/v1alpha1',
          kind: 'AccessGrant',
          metadata: { name: 'window', namespace: ns },
          spec: { agent, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '30m', reason: 'e2e: lifecycle' },
        }),
      );
    }
    for (const ns of namespaces) {
      await eventually(
        async () => (await kubectlOk('admin', ['get', 'accessgrant', 'window', '-n', ns, '-o', 'jsonpath={.status.phase}'])) === 'Active',
        60_000,
        `grant in ${ns} Active`,
      );
    }
    const bindings = await json<k8s.V1RoleBindingList>(['get', 'rolebindings', '-A', '-l', `${LABEL_MANAGED_BY}=${MANAGED_BY}`]);
    expect(bindings.items.map((b) => b.metadata?.namespace).sort()).to.deep.equal([...namespaces].sort());
  });

  it("confines the operator's RoleBinding writes to agentgate's own (ValidatingAdmissionPolicy)", async function () {
    const kc = await componentKubeconfig('operator');
    const r = await run(clusterEnv().kubectlPath, ['--kubeconfig', kc, 'delete', 'rolebinding', 'not-agentgates', '-n', namespaces[0]!]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain('agentgate may only change RoleBindings labelled app.kubernetes.io/managed-by=agentgate');
    // The same identity may still delete what it manages (RBAC allows both; the policy tells them apart).
    const own = await json<k8s.V1RoleBindingList>(['get', 'rolebindings', '-n', namespaces[0]!, '-l', `${LABEL_MANAGED_BY}=${MANAGED_BY}`]);
    const dry = await run(clusterEnv().kubectlPath, [
      '--kubeconfig',
      kc,
      'delete',
      'rolebinding',
      own.items[0]!.metadata!.name!,
      '-n',
      namespaces[0]!,
      '--dry-run=server',
    ]);
    expect(dry.code, dry.stderr).to.equal(0);
  });

  it('upgrades the CRDs with the release (a changed CRD), leaving grants and the runtime-written webhooks in place', async function () {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'agentgate-chart-'));
    cpSync(chartDir, copy, { recursive: true });
    const file = path.join(copy, 'files', 'crds', 'agentgate.io_accessgrants.yaml');
    const crd = yaml.load(readFileSync(file, 'utf8')) as CRD;
    crd.spec.versions[0]!.additionalPrinterColumns = [
      ...(crd.spec.versions[0]!.additionalPrinterColumns ?? []),
      { name: 'Upgraded', type: 'string', jsonPath: '.spec.ticket', priority: 1 },
    ];
    writeFileSync(file, yaml.dump(crd));
    const r = await runHelm(['upgrade', RELEASE, copy, '--set', 'image.repository=local/agentgate', '--set', 'image.tag=e2e']);
    expect(r.code, r.stderr).to.equal(0);

    const live = await json<CRD & { metadata: { annotations: Record<string, string> } }>(['get', 'crd', 'accessgrants.agentgate.io']);
    expect(live.spec.versions[0]!.additionalPrinterColumns!.map((c) => c.name)).to.include('Upgraded');
    expect(live.metadata.annotations['helm.sh/resource-policy']).to.equal('keep');
    for (const ns of namespaces)
      expect(await kubectlOk('admin', ['get', 'accessgrant', 'window', '-n', ns, '-o', 'jsonpath={.status.phase}'])).to.equal('Active');
    const agents = await json<k8s.V1ValidatingWebhookConfiguration>(['get', 'validatingwebhookconfiguration', 'agentgate-agents']);
    expect(agents.webhooks?.[0]?.matchConditions?.map((m) => m.expression).join(' ')).to.contain(`agent:${agent}`);
  });

  it('a helm upgrade while the audit APIService is withdrawn re-creates it, and the operator withdraws it again while nothing serves it', async function () {
    const apiServiceExists = async (): Promise<boolean> => (await kubectl('admin', ['get', 'apiservice', AUDIT_APISERVICE])).code === 0;
    const withdrawals = (): number =>
      operator!
        .log()
        .split('\n')
        .filter((l) => l.includes('"audit APIService withdrawn"')).length;
    await eventually(async () => !(await apiServiceExists()), 180_000, `APIService ${AUDIT_APISERVICE} withdrawn (no server behind the chart's Service)`);
    const before = withdrawals();
    expect(before).to.be.greaterThan(0);

    // Helm treats the missing object as drift of its release and creates it again; the upgrade
    // does not fail on it (nor would an Argo CD self-heal, which applies the same manifest).
    const r = await runHelm(['upgrade', RELEASE, chartDir, '--set', 'image.repository=local/agentgate', '--set', 'image.tag=e2e']);
    expect(r.code, r.stderr).to.equal(0);
    expect(await apiServiceExists(), 'helm re-created the APIService').to.equal(true);

    // Still nothing serves it: after the grace the operator withdraws the new copy too, so a
    // namespace deletion is held for at most the grace after each re-apply.
    await eventually(async () => withdrawals() > before && !(await apiServiceExists()), 180_000, 'the re-created APIService withdrawn again');
  });

  it('uninstalls through the pre-delete hook: no configuration, no RoleBinding of agentgate left, namespaces delete', async function () {
    // The operator "pod" a kubelet would run: the hook must wait for it to be gone.
    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'agentgate-operator-stand-in',
          namespace: AGENTGATE_NAMESPACE,
          labels: { 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/component': 'operator' },
        },
        spec: { containers: [{ name: 'operator', image: 'local/agentgate:e2e' }] },
      }),
    );

    const uninstall = spawn(helm(), ['uninstall', RELEASE, '--kubeconfig', clusterEnv().kubeconfigs.admin, '-n', AGENTGATE_NAMESPACE, '--timeout', '5m'], {
      env: { ...process.env, ...helmEnv },
    });
    let helmOut = '';
    uninstall.stdout.on('data', (d: Buffer) => (helmOut += d.toString()));
    uninstall.stderr.on('data', (d: Buffer) => (helmOut += d.toString()));
    const helmDone = new Promise<number>((r) => uninstall.once('close', (code) => r(code ?? -1)));

    await eventually(
      async () => (await kubectl('admin', ['get', 'job', 'agentgate-uninstall', '-n', AGENTGATE_NAMESPACE])).code === 0,
      60_000,
      'helm to create the hook Job',
    );
    // The ReplicaSet controller and kubelet: when the hook scales the operator to 0, its pod goes.
    const kubelet = (async () => {
      await eventually(
        async () =>
          (await kubectlOk('admin', ['get', 'deployment', 'agentgate-operator', '-n', AGENTGATE_NAMESPACE, '-o', 'jsonpath={.spec.replicas}'])) === '0',
        120_000,
        'the hook to scale the operator to 0',
      );
      await operator?.stop();
      await kubectlOk('admin', ['delete', 'pod', 'agentgate-operator-stand-in', '-n', AGENTGATE_NAMESPACE, '--wait=false']);
    })();
    const hook = await actAsKubelet('agentgate-uninstall');
    await kubelet;
    expect(hook.code, hook.output).to.equal(0);
    expect(hook.output).to.contain('deleted 2 RoleBinding(s)').and.contain('removed the agentgate.io/revoke-access finalizer from 2 AccessGrant(s)');
    expect(await helmDone, helmOut).to.equal(0);
    await webhook?.stop();

    for (const { kind, name } of WEBHOOK_CONFIGURATIONS)
      expect((await kubectl('admin', ['get', kind, name])).code, `${kind}/${name} left behind`).to.not.equal(0);
    expect((await json<k8s.V1RoleBindingList>(['get', 'rolebindings', '-A', '-l', `${LABEL_MANAGED_BY}=${MANAGED_BY}`])).items).to.deep.equal([]);
    for (const ns of namespaces) {
      expect(await kubectlOk('admin', ['get', 'rolebinding', 'not-agentgates', '-n', ns, '-o', 'name'])).to.contain('not-agentgates');
      const g = await json<AccessGrant>(['get', 'accessgrant', 'window', '-n', ns]);
      expect(g.metadata.finalizers ?? []).to.not.include(FINALIZER);
    }
    // CRDs and what they hold are kept (helm.sh/resource-policy: keep).
    expect((await kubectl('admin', ['get', 'crd', 'accessgrants.agentgate.io'])).code).to.equal(0);
    expect((await kubectl('admin', ['get', 'agentidentity', agent])).code).to.equal(0);
    // Writing agentgate objects works again for everyone, and namespaces holding grants go.
    for (const ns of namespaces) await kubectlOk('admin', ['delete', 'namespace', ns, '--wait=false']);
    for (const ns of namespaces)
      await eventually(async () => (await kubectl('admin', ['get', 'namespace', ns])).code !== 0, 120_000, `namespace ${ns} deleted`);
  });
});
