// Effects, not verbs, against the real apiserver with the controller manager (garbage
// collector included) and agentgate running as the chart runs it. The agent is the real
// client certificate (CN agent:deploy-bot, O agentgate:agents) using the real kubectl.
//
// - The route inventory: every route the bindable roles reach on this apiserver is
//   classified; the test fails naming any that is not.
// - Per effect class, at least two routes that are not a plain DELETE or pods/exec, each
//   proven held (or reported) AND that nothing changed.
// - Posture Strict; self-healing of the webhook configurations.
import { expect } from 'chai';
import path from 'node:path';
import { loadKubeConfig } from '../lib/kube.js';
import { inventory, routeText, unclassified } from '../lib/routes.js';
import { bindableRoles, discover } from '../lib/routes-discovery.js';
import type { AgentIdentity } from '../api/types.js';
import { clusterEnv, eventually, kubectl, kubectlOk, repoRoot, run, uniqueName } from '../harness/cluster.js';
import type { RunResult } from '../harness/cluster.js';
import { startAgentgate, stopAgentgate, type RunningComponent } from '../harness/components.js';
import { applyAgent, applyGrant, grantActive, webhookRoutes } from './agents.js';

const HELD = /held for approval|requires? (human )?approval/;

/** The call was refused and an ApprovalRequest now waits for it, naming the rule that held it. */
async function held(ns: string, r: RunResult, rule: string): Promise<void> {
  expect(r.code, `expected the call to be refused, got: ${r.stdout}`).to.not.equal(0);
  expect(r.stderr, r.stderr).to.match(HELD);
  const name = /ApprovalRequest (ar-[a-z0-9-]+)/.exec(r.stderr)?.[1];
  expect(name, r.stderr).to.be.a('string');
  const ar = JSON.parse(await kubectlOk('admin', ['get', 'approvalrequest', name!, '-n', ns, '-o', 'json'])) as { spec: { matchedRules?: string[] } };
  expect(ar.spec.matchedRules, r.stderr).to.include(rule);
}

async function json<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk('admin', [...args, '-o', 'json'])) as T;
}

describe('effects: every route to deleting, reaching in, or acting as another identity (real apiserver)', function () {
  this.timeout(240_000);
  const agent = uniqueName('e2e-effects');
  const ns = uniqueName('effects');
  const other = uniqueName('effects-other');
  let components: { webhook: RunningComponent; operator: RunningComponent } | undefined;

  /** The agent applies a manifest in ns (with its own client certificate, through the real kubectl). */
  const agentApplies = (manifest: object): Promise<RunResult> => kubectl('agent', ['apply', '-n', ns, '-f', '-'], JSON.stringify(manifest));

  before(async function () {
    components = await startAgentgate({ name: 'effects', operatorArgs: ['--boundary-interval', '3s', '--lease-name', uniqueName('effects-lease')] });
    for (const n of [ns, other]) await kubectlOk('admin', ['create', 'namespace', n]);
    await applyAgent(agent, [ns]);
    await applyGrant('work', ns, agent, { reason: 'e2e effects' });
    await grantActive('work', ns);
    await eventually(
      async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', ns])).stdout.trim() === 'yes',
      30_000,
      'RBAC for the agent',
    );
    await webhookRoutes('agent:deploy-bot');
    // Objects the agent will try to reach, delete or borrow (made by the admin, not gated).
    await kubectlOk(
      'admin',
      ['apply', '-n', ns, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'data', finalizers: ['example.com/keep'] }, data: { a: '1' } },
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plain' }, data: { a: '1' } },
          { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { token: 'x' } },
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ci' } },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: 'ci-admin' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
            subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: ns }],
          },
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            metadata: { name: 'report' },
            spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
          },
        ],
      }),
    );
  });

  after(async function () {
    await kubectl('admin', ['patch', 'configmap', 'data', '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'clusterrolebinding', `${agent}-group`, '--ignore-not-found']);
    for (const n of [ns, other]) await kubectl('admin', ['delete', 'namespace', n, '--ignore-not-found', '--wait=false']);
    await stopAgentgate(components);
  });

  it('inventory: every route the bindable roles (and edit/admin) reach on this apiserver is classified', async function () {
    const kc = loadKubeConfig({ kubeconfig: clusterEnv().kubeconfigs.admin });
    const [disc, bindable, wider] = await Promise.all([discover(kc), bindableRoles(kc), bindableRoles(kc, ['edit', 'admin'])]);
    expect(disc.errors, JSON.stringify(disc.errors)).to.deep.equal([]);
    expect(bindable.roles.map((r) => r.name)).to.include.members(['agentgate-edit', 'view']);
    // Aggregation applied: the live view role carries rules from its aggregated parts.
    expect(bindable.roles.find((r) => r.name === 'view')!.rules.length).to.be.greaterThan(0);
    const routes = inventory(disc.resources, [...bindable.roles, ...wider.roles]);
    expect(routes.length).to.be.greaterThan(100);
    const missing = unclassified(routes).map((r) => `${routeText(r)} (reached by ${r.roles.join(', ')})`);
    expect(missing, `unclassified routes: add them to api/routes.ts:\n  ${missing.join('\n  ')}`).to.deep.equal([]);
    // The classes the issue names are all present among agentgate-edit's routes.
    const classes = new Set(
      inventory(
        disc.resources,
        bindable.roles.filter((r) => r.name === 'agentgate-edit'),
      ).map((r) => r.class),
    );
    for (const c of ['read', 'create', 'modify', 'delete-effect', 'reach', 'credential']) expect([...classes]).to.include(c);
  });

  it('agentgate routes prints what agentgate-edit reaches, by class, with the rule governing each', async function () {
    const cli = await run(process.execPath, [
      `${repoRoot}/dist/cli/main.js`,
      '--kubeconfig',
      clusterEnv().kubeconfigs.admin,
      'routes',
      '--role',
      'agentgate-edit',
      '--fail-on-unclassified',
    ]);
    expect(cli.code, cli.stderr).to.equal(0);
    for (const c of ['READ', 'DELETE-EFFECT', 'REACH', 'CREDENTIAL']) expect(cli.stdout).to.contain(c);
    expect(cli.stdout).to.match(/create\s+pods\/eviction\s+pod-eviction/);
    expect(cli.stdout).to.match(/get\s+services\/proxy\s+proxy-connect/);
    const asJson = await run(process.execPath, [
      `${repoRoot}/dist/cli/main.js`,
      '--kubeconfig',
      clusterEnv().kubeconfigs.admin,
      'routes',
      '--role',
      'agentgate-edit',
      '-o',
      'json',
    ]);
    const parsed = JSON.parse(asJson.stdout) as { classes: Array<{ class: string; routes: unknown[] }> };
    expect(parsed.classes.map((c) => c.class)).to.include('delete-effect');
  });

  describe('delete-effect: deletion that is not a DELETE of the object', function () {
    it('an eviction is held and the pod stays', async function () {
      const eviction = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web', namespace: ns } });
      await held(ns, await kubectl('agent', ['create', '--raw', `/api/v1/namespaces/${ns}/pods/web/eviction`, '-f', '-'], eviction), 'pod-eviction');
      expect((await json<{ metadata: { deletionTimestamp?: string } }>(['get', 'pod', 'web', '-n', ns])).metadata.deletionTimestamp).to.equal(undefined);
    });

    it('an ownerReference to a missing owner (the garbage collector would delete the object) is held and the ConfigMap stays, unowned', async function () {
      const patch = { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: '00000000-0000-0000-0000-000000000001' }] } };
      await held(ns, await kubectl('agent', ['patch', 'configmap', 'plain', '-n', ns, '--type=merge', '-p', JSON.stringify(patch)]), 'owner-finalizer-change');
      const cm = await json<{ metadata: { ownerReferences?: unknown[] } }>(['get', 'configmap', 'plain', '-n', ns]);
      expect(cm.metadata.ownerReferences).to.equal(undefined);
    });

    it('removing a finalizer is held and the finalizer stays', async function () {
      await held(
        ns,
        await kubectl('agent', ['patch', 'configmap', 'data', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']),
        'owner-finalizer-change',
      );
      expect((await json<{ metadata: { finalizers?: string[] } }>(['get', 'configmap', 'data', '-n', ns])).metadata.finalizers).to.deep.equal([
        'example.com/keep',
      ]);
    });

    it("a Job's ttlSecondsAfterFinished (the TTL controller deletes it) and relabelling a pod are held; nothing changes", async function () {
      await held(
        ns,
        await kubectl('agent', ['patch', 'job', 'report', '-n', ns, '--type=merge', '-p', '{"spec":{"ttlSecondsAfterFinished":0}}']),
        'history-pruning',
      );
      expect((await json<{ spec: { ttlSecondsAfterFinished?: number } }>(['get', 'job', 'report', '-n', ns])).spec.ttlSecondsAfterFinished).to.equal(undefined);
      await held(ns, await kubectl('agent', ['label', 'pod', 'web', '-n', ns, 'app=other', '--overwrite']), 'selector-relabel');
      expect((await json<{ metadata: { labels: Record<string, string> } }>(['get', 'pod', 'web', '-n', ns])).metadata.labels['app']).to.equal('web');
    });
  });

  describe('reach: proxy-like subresources other than pods/exec', function () {
    it('services/proxy and pods/proxy are held (CONNECT never reaches a backend)', async function () {
      await held(ns, await kubectl('agent', ['get', '--raw', `/api/v1/namespaces/${ns}/services/web:80/proxy/`]), 'proxy-connect');
      await held(ns, await kubectl('agent', ['get', '--raw', `/api/v1/namespaces/${ns}/pods/web:80/proxy/`]), 'pod-connect');
    });

    it("a port-forward (CONNECT pods/portforward, without kubectl's client-side checks) is held", async function () {
      await held(ns, await kubectl('agent', ['create', '--raw', `/api/v1/namespaces/${ns}/pods/web/portforward?ports=80`, '-f', '-'], '{}'), 'pod-connect');
    });
  });

  describe('identity/privilege: pods that would run with more than the grant', function () {
    it('a Deployment and a CronJob running as a ServiceAccount bound to admin are held; neither exists', async function () {
      await held(
        ns,
        await agentApplies({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'borrow' },
          spec: {
            replicas: 1,
            selector: { matchLabels: { a: 'b' } },
            template: { metadata: { labels: { a: 'b' } }, spec: { serviceAccountName: 'ci', containers: [{ name: 'c', image: 'busybox' }] } },
          },
        }),
        'workload-identity',
      );
      await held(
        ns,
        await agentApplies({
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          metadata: { name: 'borrow' },
          spec: {
            schedule: '* * * * *',
            jobTemplate: {
              spec: { template: { spec: { serviceAccountName: 'ci', restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
            },
          },
        }),
        'workload-identity',
      );
      expect((await kubectl('admin', ['get', 'deployment,cronjob', 'borrow', '-n', ns])).code).to.not.equal(0);
    });

    it('a hostPID pod and a hostPath Job are held where Pod Security admits them; a ServiceAccount given an IAM role is held', async function () {
      await held(
        ns,
        await agentApplies({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'nodeshell' },
          spec: { hostPID: true, containers: [{ name: 'c', image: 'busybox' }] },
        }),
        'workload-privilege',
      );
      await held(
        ns,
        await agentApplies({
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'hostfs' },
          spec: {
            template: {
              spec: {
                restartPolicy: 'Never',
                volumes: [{ name: 'root', hostPath: { path: '/' } }],
                containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'root', mountPath: '/host' }] }],
              },
            },
          },
        }),
        'workload-privilege',
      );
      await held(
        ns,
        await kubectl('agent', ['annotate', 'serviceaccount', 'ci', '-n', ns, 'eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/admin']),
        'serviceaccount-cloud-identity',
      );
      expect((await kubectl('admin', ['get', 'pod/nodeshell', 'job/hostfs', '-n', ns])).code).to.not.equal(0);
      expect(
        (await json<{ metadata: { annotations?: Record<string, string> } }>(['get', 'serviceaccount', 'ci', '-n', ns])).metadata.annotations?.[
          'eks.amazonaws.com/role-arn'
        ],
      ).to.equal(undefined);
    });

    it('a plain workload as a ServiceAccount with nothing beyond the grant is allowed', async function () {
      const r = await kubectl('agent', ['create', 'deployment', 'plain', '-n', ns, '--image', 'busybox']);
      expect(r.code, r.stderr).to.equal(0);
    });
  });

  describe('credential', function () {
    it('creating and changing Secrets are held; the Secret is unchanged', async function () {
      await held(ns, await kubectl('agent', ['create', 'secret', 'generic', 'more', '-n', ns, '--from-literal', 'k=v']), 'secret-write');
      await held(ns, await kubectl('agent', ['patch', 'secret', 'creds', '-n', ns, '--type=merge', '-p', '{"stringData":{"token":"y"}}']), 'secret-write');
      const s = await json<{ data: Record<string, string> }>(['get', 'secret', 'creds', '-n', ns]);
      expect(Buffer.from(s.data['token']!, 'base64').toString()).to.equal('x');
      expect((await kubectl('admin', ['get', 'secret', 'more', '-n', ns])).code).to.not.equal(0);
    });
  });

  describe('posture Strict', function () {
    it('holds a delete-effect route although the default rule for it is disabled, and leaves create alone', async function () {
      await kubectlOk('admin', [
        'patch',
        'agentidentity',
        agent,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { posture: 'Strict', disabledDefaultRules: ['delete'] } }),
      ]);
      await eventually(
        async () => {
          const r = await kubectl('agent', ['delete', 'configmap', 'plain', '-n', ns, '--dry-run=server']);
          return r.code !== 0 && r.stderr.includes('posture Strict');
        },
        30_000,
        'posture Strict in effect',
      );
      await held(ns, await kubectl('agent', ['delete', 'configmap', 'plain', '-n', ns]), 'strict-posture');
      expect((await kubectl('admin', ['get', 'configmap', 'plain', '-n', ns])).code).to.equal(0);
      const c = await kubectl('agent', ['create', 'configmap', 'fresh', '-n', ns, '--from-literal', 'a=b']);
      expect(c.code, c.stderr).to.equal(0);
      await kubectlOk('admin', [
        'patch',
        'agentidentity',
        agent,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/spec/disabledDefaultRules"},{"op":"replace","path":"/spec/posture","value":"Standard"}]',
      ]);
    });
  });

  describe('self-healing', function () {
    it('a narrowed agents webhook configuration is restored by the webhook, with an Event; a deleted one is reported and filled in again once the installer re-creates it', async function () {
      const before = await kubectlOk('admin', [
        'get',
        'validatingwebhookconfiguration',
        'agentgate-agents',
        '-o',
        'jsonpath={.webhooks[0].rules[0].operations}',
      ]);
      expect(before).to.contain('CONNECT');
      await kubectlOk('admin', [
        'patch',
        'validatingwebhookconfiguration',
        'agentgate-agents',
        '--type=json',
        '-p',
        '[{"op":"replace","path":"/webhooks/0/rules/0/operations","value":["CREATE"]}]',
      ]);
      await eventually(
        async () =>
          (
            await kubectlOk('admin', ['get', 'validatingwebhookconfiguration', 'agentgate-agents', '-o', 'jsonpath={.webhooks[0].rules[0].operations}'])
          ).includes('CONNECT'),
        30_000,
        'the configuration restored',
      );
      await eventually(
        async () => (await kubectlOk('admin', ['get', 'events', '-n', 'default', '--field-selector', 'reason=DriftRestored', '-o', 'name'])).trim() !== '',
        30_000,
        'a DriftRestored Event',
      );
      expect(components!.webhook.log()).to.contain('webhook configuration drift restored');
      // A deletion cannot be undone by the webhook: it may not create configurations (least
      // privilege, #16; the installer creates them). It says so loudly, and fills the
      // configuration in again as soon as the installer re-creates it empty.
      await kubectlOk('admin', ['delete', 'validatingwebhookconfiguration', 'agentgate-agents']);
      await eventually(
        async () => components!.webhook.log().includes('does not exist: the installer creates it'),
        30_000,
        'the webhook to report the deleted configuration',
      );
      await kubectlOk('admin', [
        'apply',
        '--server-side',
        '--force-conflicts',
        '--field-manager',
        'agentgate-installer',
        '-f',
        path.join(repoRoot, 'config', 'webhook'),
      ]);
      await eventually(
        async () =>
          (
            await kubectlOk('admin', ['get', 'validatingwebhookconfiguration', 'agentgate-agents', '-o', 'jsonpath={.webhooks[0].rules[0].operations}'])
          ).includes('CONNECT'),
        30_000,
        'the re-created configuration filled in by the webhook',
      );
    });
  });

  describe('observed identity', function () {
    it('records the groups the apiserver attaches, and reports an undeclared group that is bound to something as Critical', async function () {
      await kubectl('agent', ['create', 'configmap', uniqueName('seen'), '-n', ns]);
      const observed = await eventually(
        async () => {
          const a = await json<AgentIdentity>(['get', 'agentidentity', agent]);
          return a.status?.observedIdentity?.find((o) => o.username === 'agent:deploy-bot');
        },
        60_000,
        'status.observedIdentity',
      );
      expect(observed.groups).to.include('agentgate:agents');
      await kubectlOk('admin', ['create', 'clusterrolebinding', `${agent}-group`, '--clusterrole=view', '--group=agentgate:agents']);
      const finding = await eventually(
        async () => {
          const a = await json<AgentIdentity>(['get', 'agentidentity', agent]);
          return a.status?.findings?.find((f) => f.route === 'UndeclaredGroup' && f.severity === 'Critical');
        },
        60_000,
        'an UndeclaredGroup Critical finding',
      );
      expect(finding.message).to.contain('agentgate:agents');
    });
  });
});
