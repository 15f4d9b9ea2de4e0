// The webhook against a real kube-apiserver: the apiserver itself calls agentgate over
// HTTPS for the agent's calls (real client certificate or ServiceAccount token, real
// kubectl), approvers approve with `kubectl annotate`, the real operator turns
// grants into RoleBindings (a test fails if it is not running; nothing stands in for it). Every assertion waits with eventually(); nothing is timed.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import yaml from 'js-yaml';
import type { AccessGrant, ApprovalRequest, AuditEvent } from '../api/types.js';
import { verifyChain } from '../lib/audit-chain.js';
import { clusterEnv, eventually, kubectl, kubectlOk, run, uniqueName } from '../harness/cluster.js';
import type { RunResult } from '../harness/cluster.js';
import { componentKubeconfig, freePort, installBase, removeWebhookConfigurations, runDir, startProcess } from '../harness/components.js';
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import type { RunningComponent } from '../harness/components.js';

const AGENT = 'e2e-deploy-bot';
const NS_LABEL = 'agentgate-e2e-webhook';

// ---------------------------------------------------------------------------------
// Processes

let webhook: RunningComponent | undefined;
let webhookArgs: string[] = [];
let webhookPort = 0;
let operator: RunningComponent | undefined;
let operatorKubeconfig = '';

function get(pathname: string): Promise<{ status: number; body: string }> {
  return post(pathname, undefined, {}, 'GET');
}

function post(
  pathname: string,
  body: string | Buffer | undefined,
  headers: Record<string, string>,
  method = 'POST',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: webhookPort, path: pathname, method, headers, rejectUnauthorized: false }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startWebhook(): Promise<void> {
  webhook = startProcess('webhook', 'webhook-e2e', webhookArgs, webhookPort);
  await eventually(
    async () => {
      if (!webhook?.alive) throw new Error(`webhook exited: ${webhook?.log().slice(-2000)}`);
      return (await get('/readyz')).status === 200;
    },
    60_000,
    'webhook ready',
  );
}

function startOperator(): void {
  operator = startProcess('operator', 'operator-webhook-e2e', [
    '--kubeconfig',
    operatorKubeconfig,
    '--leader-elect=false',
    '--metrics-port',
    '0',
    '--id',
    'webhook-e2e',
  ]);
}

// ---------------------------------------------------------------------------------
// Objects

const namespaces: string[] = [];
const identities: string[] = [];

async function newNamespace(): Promise<string> {
  const ns = uniqueName('wh');
  await kubectlOk('admin', ['create', 'namespace', ns]);
  await kubectlOk('admin', ['label', 'namespace', ns, `${NS_LABEL}=yes`]);
  namespaces.push(ns);
  return ns;
}

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk('admin', [...args, '-o', 'json'])) as T;
}

/** A grant made Active by the operator; fails when the operator is not running. */
async function activeGrant(ns: string, name: string, opts: { agent?: string; role?: string; duration?: string } = {}): Promise<AccessGrant> {
  const agent = opts.agent ?? AGENT;
  const role = opts.role ?? 'agentgate-edit';
  const grant = {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AccessGrant',
    metadata: { name, namespace: ns },
    spec: { agent, roleRef: { kind: 'ClusterRole', name: role }, duration: opts.duration ?? '1h', reason: 'e2e', activation: 'Immediate' },
  };
  await kubectlOk('admin', ['apply', '-f', '-'], JSON.stringify(grant));
  if (!operator?.alive)
    throw new Error(`the operator is not running, so grant ${ns}/${name} cannot become Active: ${operator?.log().slice(-2000) ?? 'never started'}`);
  return eventually(
    async () => {
      const g = await getJson<AccessGrant>(['get', 'accessgrant', name, '-n', ns]);
      return g.status?.phase === 'Active' && g.status.expiresAt ? g : undefined;
    },
    30_000,
    `grant ${ns}/${name} Active`,
  );
}

async function agentIdentity(name: string, spec: Record<string, unknown>): Promise<void> {
  const obj = {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AgentIdentity',
    metadata: { name },
    spec: {
      maxDuration: '8h',
      allowedRoles: [
        { kind: 'ClusterRole', name: 'agentgate-edit' },
        { kind: 'ClusterRole', name: 'view' },
      ],
      allowedNamespaces: { selector: { matchLabels: { [NS_LABEL]: 'yes' } } },
      approvers: { groups: ['sre-approvers'] },
      ...spec,
    },
  };
  await kubectlOk('admin', ['apply', '-f', '-'], JSON.stringify(obj));
  identities.push(name);
}

/** Waits until the agents' webhook configuration routes this user to agentgate. */
async function routed(username: string): Promise<void> {
  await eventually(
    async () =>
      (
        await kubectlOk('admin', ['get', 'validatingwebhookconfiguration', 'agentgate-agents', '-o', 'jsonpath={.webhooks[0].matchConditions[*].expression}'])
      ).includes(username),
    30_000,
    `agents webhook routes ${username}`,
  );
}

async function auditEvents(ns: string): Promise<AuditEvent[]> {
  const list = await getJson<{ items: AuditEvent[] }>(['get', 'auditevents', '-n', AGENTGATE_NAMESPACE]);
  return list.items.filter((e) => e.spec.namespace === ns);
}

async function recorded(ns: string, match: (e: AuditEvent['spec']) => boolean, what: string): Promise<AuditEvent> {
  return eventually(async () => (await auditEvents(ns)).find((e) => match(e.spec)), 20_000, `AuditEvent: ${what}`);
}

function arName(stderr: string): string {
  const m = /ApprovalRequest (ar-[a-z0-9-]+)/.exec(stderr);
  if (!m) throw new Error(`no ApprovalRequest named in: ${stderr}`);
  return m[1]!;
}

async function approvalRequest(ns: string, name: string): Promise<ApprovalRequest> {
  return getJson<ApprovalRequest>(['get', 'approvalrequest', name, '-n', ns]);
}

/** The operator records decisions from the persisted object (never from a review): wait for it. */
async function recordedAs(ns: string, name: string, check: (ar: ApprovalRequest) => boolean, what: string): Promise<ApprovalRequest> {
  return eventually(
    async () => {
      const ar = await approvalRequest(ns, name);
      return check(ar) ? ar : undefined;
    },
    30_000,
    `ApprovalRequest ${ns}/${name}: ${what}`,
  );
}
const phaseIs = (phase: string) => (ar: ApprovalRequest) => (ar.status?.phase ?? 'Pending') === phase;

/** A kubeconfig for a ServiceAccount token: more agent identities than the one client certificate. */
async function serviceAccountAgent(ns: string, sa: string): Promise<(args: string[]) => Promise<RunResult>> {
  await kubectlOk('admin', ['create', 'serviceaccount', sa, '-n', ns]);
  const token = (
    await eventually(async () => (await kubectl('admin', ['create', 'token', sa, '-n', ns, '--duration', '1h'])).stdout.trim(), 20_000, 'token')
  ).trim();
  const admin = yaml.load(readFileSync(clusterEnv().kubeconfigs.admin, 'utf8')) as { clusters: Array<{ cluster: Record<string, unknown> }> };
  const file = path.join(runDir, `${ns}-${sa}.kubeconfig`);
  const kc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: admin.clusters[0]!.cluster }],
    users: [{ name: sa, user: { token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: sa } }],
    'current-context': 'c',
  };
  writeFileSync(file, yaml.dump(kc), { mode: 0o600 });
  return (args) => run(clusterEnv().kubectlPath, ['--kubeconfig', file, ...args]);
}

// ---------------------------------------------------------------------------------

describe('webhook: one boundary for every agent call (real apiserver)', function () {
  this.timeout(180_000);

  before(async function () {
    await installBase();
    webhookPort = await freePort();
    const kc = await componentKubeconfig('webhook');
    webhookArgs = [
      '--kubeconfig',
      kc,
      '--port',
      String(webhookPort),
      '--url',
      `https://127.0.0.1:${webhookPort}`,
      '--writer-id',
      uniqueName('e2e'),
      '--timeout-seconds',
      '10',
    ];
    await startWebhook();
    operatorKubeconfig = await componentKubeconfig('operator');
    startOperator();
    // Approvers (and, to show the webhook is what stops them, mallory and the agent) may
    // annotate ApprovalRequests as far as RBAC goes.
    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRole',
            metadata: { name: 'e2e-webhook-approver' },
            rules: [{ apiGroups: ['agentgate.io'], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch', 'patch', 'update'] }],
          },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: 'e2e-webhook-approver' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e-webhook-approver' },
            subjects: [
              { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre-approvers' },
              { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' },
              { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'agent:deploy-bot' },
            ],
          },
        ],
      }),
    );
    await agentIdentity(AGENT, { subjects: [{ kind: 'User', name: 'agent:deploy-bot' }] });
    await routed('agent:deploy-bot');
    // The apiserver picks configuration changes up from its own informer: wait until an
    // agent call (a dry run through an admin-made bypass binding) reaches agentgate.
    const probe = await newNamespace();
    await kubectlOk('admin', ['create', 'rolebinding', 'bypass', '-n', probe, '--clusterrole=edit', '--user=agent:deploy-bot']);
    await eventually(
      async () => {
        const r = await kubectl('agent', ['create', 'configmap', 'probe', '-n', probe, '--dry-run=server']);
        return r.code !== 0 && r.stderr.includes('agentgate');
      },
      30_000,
      'agent calls reach the webhook',
    );
  });

  after(async function () {
    for (const name of identities) await kubectl('admin', ['delete', 'agentidentity', name, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'clusterrole,clusterrolebinding', 'e2e-webhook-approver', 'e2e-webhook-tamper', '--ignore-not-found']);
    for (const ns of namespaces) await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await operator?.stop();
    await removeWebhookConfigurations();
    await webhook?.stop();
  });

  it('seed path: allowed and recorded; a delete is held; mallory and the agent cannot approve; alice can, and the identical retry goes through once', async function () {
    const ns = await newNamespace();
    await activeGrant(ns, 'hotfix');

    const cm = await kubectl('agent', ['create', 'configmap', 'app-config', '-n', ns, '--from-literal=mode=fixed']);
    expect(cm.code, cm.stderr).to.equal(0);
    const allowed = await recorded(ns, (s) => s.resource === 'configmaps' && s.name === 'app-config', 'configmap create');
    expect(allowed.spec).to.include({ decision: 'Allowed', agent: AGENT, user: 'agent:deploy-bot', operation: 'CREATE', grant: `${ns}/hotfix` });

    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    const held = await kubectl('agent', ['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    expect(held.code).to.not.equal(0);
    expect(held.stderr).to.contain('held for approval').and.contain('kubectl annotate approvalrequest');
    const name = arName(held.stderr);
    const ar = await approvalRequest(ns, name);
    expect(ar.spec).to.include({ agent: AGENT, type: 'Operation', requestedBy: 'agent:deploy-bot' });
    expect(ar.spec.summary).to.contain(`deployments ${ns}/web`);
    await recorded(ns, (s) => s.decision === 'Held' && s.approvalRequest === `${ns}/${name}`, 'held delete');

    const mallory = await kubectl('mallory', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
    expect(mallory.code).to.not.equal(0);
    expect(mallory.stderr).to.contain('mallory is not an approver');
    const self = await kubectl('agent', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
    expect(self.code).to.not.equal(0);
    expect(self.stderr).to.contain('agentgate');
    await recorded(ns, (s) => s.resource === 'approvalrequests' && s.decision === 'Denied', "the agent's self-approval");
    expect((await approvalRequest(ns, name)).status?.phase ?? 'Pending').to.equal('Pending');

    const alice = await kubectl('alice', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
    expect(alice.code, alice.stderr).to.equal(0);
    const approved = await recordedAs(ns, name, phaseIs('Approved'), 'Approved');
    expect(approved.decisions).to.deep.equal([{ user: 'alice', groups: ['sre-approvers', 'system:authenticated'], decision: 'Approved' }]);
    expect(approved.status?.phase).to.equal('Approved');
    expect(approved.status?.approvals?.map((a) => [a.user, a.decision])).to.deep.equal([['alice', 'Approved']]);
    expect(approved.metadata.annotations?.['approved']).to.equal('true');

    const retry = await kubectl('agent', ['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    expect(retry.code, retry.stderr).to.equal(0);
    const consumed = await approvalRequest(ns, name);
    expect(consumed.status?.phase).to.equal('Consumed');
    await recorded(ns, (s) => s.decision === 'Allowed' && s.approvalRequest === `${ns}/${name}`, 'approved delete');

    // The same delete of a new deployment named web is a new operation: held again.
    await eventually(async () => (await kubectl('admin', ['get', 'deployment', 'web', '-n', ns])).code !== 0, 20_000, 'web gone');
    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    const again = await kubectl('agent', ['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    expect(again.code).to.not.equal(0);
    expect(arName(again.stderr)).to.not.equal(name);
  });

  it('an approval is single-use: of two concurrent identical retries exactly one passes, and the next identical call is held again', async function () {
    const ns = await newNamespace();
    await activeGrant(ns, 'g');
    const create = ['create', 'secret', 'generic', 'db', '-n', ns, '--from-literal=password=hunter2'];
    const first = await kubectl('agent', create);
    expect(first.code).to.not.equal(0);
    const name = arName(first.stderr);
    await kubectlOk('alice', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
    await recordedAs(ns, name, phaseIs('Approved'), 'Approved');
    const [a, b] = await Promise.all([kubectl('agent', create), kubectl('agent', create)]);
    expect(
      [a.code, b.code].filter((c) => c === 0),
      `${a.stderr} | ${b.stderr}`,
    ).to.have.length(1);
    expect((await approvalRequest(ns, name)).status?.phase).to.equal('Consumed');
    const events = await auditEvents(ns);
    expect(events.filter((e) => e.spec.approvalRequest === `${ns}/${name}` && e.spec.decision === 'Allowed')).to.have.length(1);
    // Secret values never reach the record or the request.
    expect(JSON.stringify(events)).to.not.contain('hunter2');
    expect(JSON.stringify(await approvalRequest(ns, name))).to.not.contain('hunter2');

    // Scale to zero, approved and used, then the identical scale again: held under the next name.
    await kubectlOk('admin', ['create', 'deployment', 'api', '-n', ns, '--image=registry.k8s.io/pause:3.10', '--replicas=2']);
    const scale = ['scale', 'deployment', 'api', '-n', ns, '--replicas=0'];
    const s1 = await kubectl('agent', scale);
    const scaleAr = arName(s1.stderr);
    await kubectlOk('bob', ['annotate', 'approvalrequest', scaleAr, '-n', ns, 'approved=true']);
    await recordedAs(ns, scaleAr, phaseIs('Approved'), 'Approved');
    expect((await kubectl('agent', scale)).code).to.equal(0);
    await kubectlOk('admin', ['scale', 'deployment', 'api', '-n', ns, '--replicas=2']);
    const s3 = await kubectl('agent', scale);
    expect(s3.code).to.not.equal(0);
    expect(arName(s3.stderr)).to.equal(`${scaleAr}-2`);
  });

  it('an approval for deployment a never lets b through', async function () {
    const ns = await newNamespace();
    await activeGrant(ns, 'g');
    for (const d of ['a', 'b']) await kubectlOk('admin', ['create', 'deployment', d, '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    const arA = arName((await kubectl('agent', ['delete', 'deployment', 'a', '-n', ns, '--wait=false'])).stderr);
    await kubectlOk('alice', ['annotate', 'approvalrequest', arA, '-n', ns, 'approved=true']);
    await recordedAs(ns, arA, phaseIs('Approved'), 'Approved');
    const b = await kubectl('agent', ['delete', 'deployment', 'b', '-n', ns, '--wait=false']);
    expect(b.code).to.not.equal(0);
    expect(arName(b.stderr)).to.not.equal(arA);
    expect((await approvalRequest(ns, arA)).status?.phase).to.equal('Approved');
    expect((await kubectl('admin', ['get', 'deployment', 'b', '-n', ns])).code).to.equal(0);
  });

  it('N of M: requiredApprovals 2 counts distinct approvers (a ServiceAccount agent)', async function () {
    const ns = await newNamespace();
    const name = `e2e-sa-${ns}`.slice(0, 63);
    const sa = await serviceAccountAgent(ns, 'bot');
    await agentIdentity(name, { subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: ns }], requiredApprovals: 2 });
    await routed(`system:serviceaccount:${ns}:bot`);
    await activeGrant(ns, 'g', { agent: name });
    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    const held = await eventually(
      async () => {
        const r = await sa(['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
        return r.stderr.includes('ApprovalRequest') ? r : undefined;
      },
      30_000,
      'held',
    );
    const ar = arName(held.stderr);
    expect(held.stderr).to.contain('2 distinct approvers');
    await kubectlOk('alice', ['annotate', 'approvalrequest', ar, '-n', ns, 'approved=true']);
    await kubectlOk('alice', ['annotate', 'approvalrequest', ar, '-n', ns, 'approved=true', '--overwrite']);
    let status = (await recordedAs(ns, ar, (x) => (x.status?.approvals ?? []).length > 0, "alice's approval recorded")).status;
    expect(status?.phase).to.equal('Pending');
    expect(status?.approvals).to.have.length(1);
    expect((await sa(['delete', 'deployment', 'web', '-n', ns, '--wait=false'])).code).to.not.equal(0);
    await kubectlOk('bob', ['annotate', 'approvalrequest', ar, '-n', ns, 'approved=true', '--overwrite']);
    status = (await recordedAs(ns, ar, phaseIs('Approved'), 'Approved')).status;
    expect(status?.phase).to.equal('Approved');
    expect(status?.approvals?.map((a) => a.user).sort()).to.deep.equal(['alice', 'bob']);
    const retry = await sa(['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    expect(retry.code, retry.stderr).to.equal(0);
  });

  it('holdSeconds: an approval during the hold lets the original call through', async function () {
    const ns = await newNamespace();
    const name = `e2e-hold-${ns}`.slice(0, 63);
    const sa = await serviceAccountAgent(ns, 'holder');
    await agentIdentity(name, { subjects: [{ kind: 'ServiceAccount', name: 'holder', namespace: ns }], holdSeconds: 8 });
    await routed(`system:serviceaccount:${ns}:holder`);
    await activeGrant(ns, 'g', { agent: name });
    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    await eventually(async () => (await sa(['auth', 'can-i', 'delete', 'deployments', '-n', ns])).stdout.trim() === 'yes', 20_000, 'RBAC');
    // The first call is left open by the webhook; approve while it waits.
    const call = sa(['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    const ar = await eventually(
      async () => {
        const list = await getJson<{ items: ApprovalRequest[] }>(['get', 'approvalrequests', '-n', ns, '-l', `agentgate.io/agent=${name}`]);
        return list.items[0]?.metadata.name;
      },
      20_000,
      'the held request appears',
    );
    await kubectlOk('alice', ['annotate', 'approvalrequest', ar, '-n', ns, 'approved=true']);
    const r = await call;
    expect(r.code, r.stderr).to.equal(0);
    expect((await approvalRequest(ns, ar)).status?.phase).to.equal('Consumed');
  });

  it('bypass: an admin-made RoleBinding that no grant owns gives RBAC, but agentgate denies and records', async function () {
    const ns = await newNamespace();
    await kubectlOk('admin', ['create', 'rolebinding', 'standing-edit', '-n', ns, '--clusterrole=edit', '--user=agent:deploy-bot']);
    await eventually(async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', ns])).stdout.trim() === 'yes', 20_000, 'RBAC allows');
    const r = await kubectl('agent', ['create', 'configmap', 'sneaky', '-n', ns]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain('no AccessGrant').and.contain('not made by agentgate');
    const e = await recorded(ns, (s) => s.name === 'sneaky', 'bypass attempt');
    expect(e.spec.decision).to.equal('Denied');
  });

  it('fail closed: with the webhook stopped the agent cannot mutate, the admin can', async function () {
    const ns = await newNamespace();
    await activeGrant(ns, 'g');
    expect((await kubectl('agent', ['create', 'configmap', 'before', '-n', ns])).code).to.equal(0);
    await webhook!.stop();
    try {
      const agent = await kubectl('agent', ['create', 'configmap', 'during', '-n', ns]);
      expect(agent.code).to.not.equal(0);
      expect(agent.stderr).to.contain('agents.agentgate.io');
      const admin = await kubectl('admin', ['create', 'configmap', 'admin-during', '-n', ns]);
      expect(admin.code, admin.stderr).to.equal(0);
    } finally {
      await startWebhook();
    }
    await eventually(async () => (await kubectl('agent', ['create', 'configmap', 'after', '-n', ns])).code === 0, 30_000, 'agent works again');
  });

  it('tampering: grants, approval requests, audit events and managed RoleBindings are out of reach, even with RBAC', async function () {
    const ns = await newNamespace();
    await activeGrant(ns, 'g');
    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    const ar = arName((await kubectl('agent', ['delete', 'deployment', 'web', '-n', ns, '--wait=false'])).stderr);
    // A careless admin gives the agent power over agentgate's objects and RBAC.
    await kubectlOk('admin', [
      'create',
      'clusterrole',
      'e2e-webhook-tamper',
      '--verb=*',
      '--resource=accessgrants.agentgate.io,approvalrequests.agentgate.io,auditevents.audit.agentgate.io,rolebindings.rbac.authorization.k8s.io,accessgrants.agentgate.io/status,approvalrequests.agentgate.io/status',
    ]);
    await kubectlOk('admin', ['create', 'rolebinding', 'tamper', '-n', ns, '--clusterrole=e2e-webhook-tamper', '--user=agent:deploy-bot']);
    await kubectlOk('admin', [
      'create',
      'rolebinding',
      `tamper-${ns}`.slice(0, 63),
      '-n',
      AGENTGATE_NAMESPACE,
      '--clusterrole=e2e-webhook-tamper',
      '--user=agent:deploy-bot',
    ]);
    await eventually(async () => (await kubectl('agent', ['auth', 'can-i', 'patch', 'accessgrants', '-n', ns])).stdout.trim() === 'yes', 20_000, 'RBAC allows');
    const event = (await auditEvents(ns))[0]!.metadata.name!;
    const rb = (await getJson<AccessGrant>(['get', 'accessgrant', 'g', '-n', ns])).status?.roleBinding ?? 'agentgate-g';

    const attempts: Array<[string, string[], string]> = [
      [
        'extend its grant',
        ['patch', 'accessgrant', 'g', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"expiresAt":"2099-01-01T00:00:00Z"}}'],
        'accessgrants',
      ],
      ['relabel its grant', ['label', 'accessgrant', 'g', '-n', ns, 'x=y'], 'accessgrants'],
      [
        'approve its ApprovalRequest through status',
        ['patch', 'approvalrequest', ar, '-n', ns, '--type=merge', '-p', '{"status":{"phase":"Approved"}}', '--subresource=status'],
        'approvalrequests',
      ],
      ['relabel its ApprovalRequest', ['label', 'approvalrequest', ar, '-n', ns, 'x=y'], 'approvalrequests'],
      ['delete an AuditEvent', ['delete', 'auditevent', event, '-n', AGENTGATE_NAMESPACE], 'auditevents'],
      ['edit the managed RoleBinding', ['label', 'rolebinding', rb, '-n', ns, 'app.kubernetes.io/managed-by-', '--overwrite'], 'rolebindings'],
      // To a role it holds, so RBAC's escalation check passes and agentgate is what refuses.
      ['create a RoleBinding', ['create', 'rolebinding', 'self-admin', '-n', ns, '--clusterrole=agentgate-edit', '--user=agent:deploy-bot'], 'rolebindings'],
    ];
    for (const [what, args] of attempts) {
      const r = await kubectl('agent', args);
      expect(r.code, `${what} succeeded: ${r.stdout}`).to.not.equal(0);
      expect(r.stderr, what).to.contain('agentgate');
    }
    const events = await eventually(
      async () => {
        const all = (await getJson<{ items: AuditEvent[] }>(['get', 'auditevents', '-n', AGENTGATE_NAMESPACE])).items;
        const mine = all.filter(
          (e) => e.spec.user === 'agent:deploy-bot' && e.spec.decision === 'Denied' && (e.spec.namespace === ns || e.spec.name === event),
        );
        if (mine.length < attempts.length)
          throw new Error(
            `recorded ${mine.length}/${attempts.length}: ${mine.map((e) => `${e.spec.operation} ${e.spec.resource}/${e.spec.subresource ?? ''} ${e.spec.namespace}/${e.spec.name}`).join('; ')}`,
          );
        return mine;
      },
      20_000,
      'every attempt recorded',
    );
    for (const [, , resource] of attempts) expect(events.map((e) => e.spec.resource)).to.include(resource);
    expect((await approvalRequest(ns, ar)).status?.phase ?? 'Pending').to.equal('Pending');

    // Not even an admin rewrites history, and the chain verifies.
    const adminDelete = await kubectl('admin', ['delete', 'auditevent', event, '-n', AGENTGATE_NAMESPACE]);
    expect(adminDelete.code).to.not.equal(0);
    expect(adminDelete.stderr).to.contain('retention');
    const all = (await getJson<{ items: AuditEvent[] }>(['get', 'auditevents', '-n', AGENTGATE_NAMESPACE])).items;
    const result = verifyChain(all);
    expect(result.problems, JSON.stringify(result.problems.slice(0, 3))).to.deep.equal([]);
  });

  it('timing at the webhook: with the operator stopped, a grant past expiresAt is denied although its RoleBinding remains', async function () {
    const ns = await newNamespace();
    // Long enough for the in-window call to land inside the window on a loaded machine.
    const g = await activeGrant(ns, 'short', { duration: '60s' });
    if (operator?.alive) await operator.stop();
    try {
      expect((await kubectl('agent', ['create', 'configmap', 'in-window', '-n', ns])).code).to.equal(0);
      let n = 0;
      const denied = await eventually(
        async () => {
          const r = await kubectl('agent', ['create', 'configmap', `late-${n++}`, '-n', ns]);
          return r.code !== 0 ? r : undefined;
        },
        120_000,
        'denied after expiresAt',
      );
      expect(denied.stderr).to.contain(`grant short expired at ${g.status?.expiresAt}`);
      expect((await kubectl('admin', ['get', 'rolebinding', g.status?.roleBinding ?? 'agentgate-short', '-n', ns])).code, 'the RoleBinding lingers').to.equal(
        0,
      );
      await recorded(ns, (s) => s.decision === 'Denied' && s.reason.includes('expired at'), 'late call');
    } finally {
      startOperator();
    }
  });

  it('bad input: malformed AdmissionReviews get an error answer and the server stays up', async function () {
    const json = { 'content-type': 'application/json' };
    expect((await post('/validate/agents', '', json)).status).to.equal(400);
    expect((await post('/validate/agents', '{}', { 'content-type': 'text/plain' })).status).to.equal(415);
    expect((await post('/validate/agents', Buffer.alloc(8 * 1024 * 1024, 0x20), json)).status).to.equal(413);
    expect((await post('/validate/protect', '{"a":[1,2,{"b":null}]}', json)).status).to.equal(400);
    expect((await post('/validate/agents', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{', json)).status).to.equal(400);
    expect((await post('/nope', '{}', json)).status).to.equal(404);

    const valid = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'fuzz',
        kind: { group: '', version: 'v1', kind: 'ConfigMap' },
        resource: { group: '', version: 'v1', resource: 'configmaps' },
        namespace: 'fuzz',
        name: 'x',
        operation: 'CREATE',
        userInfo: { username: 'fuzzer', groups: ['fuzz'] },
        object: { metadata: { name: 'x' }, data: { a: 'b' } },
      },
    };
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const junk = [null, 0, -1, 1e308, '', 'x'.repeat(1000), [], {}, true, [[[[]]]], { __proto__: { polluted: true } }, '\u0000'];
    const paths = (o: unknown, prefix: string[] = []): string[][] =>
      o && typeof o === 'object' ? Object.entries(o as object).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]) : [];
    const all = paths(valid);
    const statuses = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const copy = JSON.parse(JSON.stringify(valid)) as Record<string, unknown>;
      const p = all[Math.floor(rand() * all.length)]!;
      let target = copy as Record<string, unknown>;
      for (const k of p.slice(0, -1)) target = target[k] as Record<string, unknown>;
      if (rand() < 0.2) delete target[p[p.length - 1]!];
      else target[p[p.length - 1]!] = junk[Math.floor(rand() * junk.length)];
      let body = JSON.stringify(copy);
      if (rand() < 0.2) body = body.slice(0, Math.floor(rand() * body.length));
      const route = rand() < 0.5 ? '/validate/agents' : rand() < 0.5 ? '/validate/protect' : '/mutate/stamp';
      const r = await post(route, body, json);
      statuses.add(r.status);
      expect(r.status, `${route} ${body.slice(0, 200)} -> ${r.body}`).to.be.oneOf([200, 400]);
    }
    expect([...statuses]).to.include(400);
    expect((await get('/healthz')).status).to.equal(200);
    expect(webhook!.alive).to.equal(true);
    const metrics = await get('/metrics');
    expect(metrics.body).to.contain('agentgate_webhook_decisions_total').and.contain('agentgate_webhook_admission_duration_seconds');
  });
});
