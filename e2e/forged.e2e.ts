// Forged AdmissionReviews: a client that is not the kube-apiserver POSTs reviews straight
// to the webhook's port (as any pod that can reach it could, on EKS). Nothing that grants
// power may follow: approvals, denials and second approvals of an N-of-M change nothing
// (they go through the apiserver's persisted, policy-checked stamps, recorded by the
// operator); a stamp patch is applied nowhere; the agents path lets nothing happen and its
// records say they are unconfirmed. The ValidatingAdmissionPolicy refuses a forged stamp
// written by a real user through the apiserver, and without it no approval is counted.
// With --require-client-cert the webhook refuses every client but the apiserver.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import yaml from 'js-yaml';
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import type { ApprovalRequest, AuditEvent } from '../api/types.js';
import { APPROVAL_POLICY } from '../lib/approval-policy.js';
import { clusterEnv, eventually, kubectl, kubectlOk, repoRoot, run, uniqueName } from '../harness/cluster.js';
import type { Identity, RunResult } from '../harness/cluster.js';
import { componentKubeconfig, freePort, installBase, removeWebhookConfigurations, runDir, startProcess } from '../harness/components.js';
import type { RunningComponent } from '../harness/components.js';
import { applyAgent, applyGrant, grantActive, webhookRoutes } from './agents.js';

const NS_LABEL = 'agentgate-e2e-forged';
const APPROVER_ROLE = 'e2e-forged-approver';

let webhook: RunningComponent | undefined;
let operator: RunningComponent | undefined;
let port = 0;
const namespaces: string[] = [];
const identities: string[] = [];

/** The client certificate and key of one identity's kubeconfig (a real user, not the apiserver). */
function clientCertOf(as: Identity): { cert: Buffer; key: Buffer } | undefined {
  const kc = yaml.load(readFileSync(clusterEnv().kubeconfigs[as], 'utf8')) as { users: Array<{ user: Record<string, string> }> };
  const u = kc.users[0]?.user ?? {};
  const read = (data: string, file: string) => (u[data] ? Buffer.from(u[data]!, 'base64') : u[file] ? readFileSync(u[file]!) : undefined);
  const cert = read('client-certificate-data', 'client-certificate');
  const key = read('client-key-data', 'client-key');
  return cert && key ? { cert, key } : undefined;
}

/** POSTs one AdmissionReview to the webhook, as a pod would: no apiserver, optionally a user's client certificate. */
function forge(
  pathname: string,
  request: Record<string, unknown>,
  as?: Identity,
): Promise<{
  status: number;
  body: { response?: { allowed?: boolean; patch?: string; auditAnnotations?: Record<string, string> } } & Record<string, unknown>;
}> {
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: `forged-${uniqueName('u')}`, ...request } });
  const tlsClient = as ? clientCertOf(as) : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        rejectUnauthorized: false,
        ...(tlsClient ?? {}),
      },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data || '{}') as never }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const AR_RESOURCE = { group: 'agentgate.io', version: 'v1alpha1', resource: 'approvalrequests' };
const AR_KIND = { group: 'agentgate.io', version: 'v1alpha1', kind: 'ApprovalRequest' };
const userOf = (as: 'alice' | 'bob' | 'mallory') =>
  ({
    alice: { username: 'alice', groups: ['sre-approvers', 'system:authenticated'] },
    bob: { username: 'bob', groups: ['sre-approvers', 'system:authenticated'] },
    mallory: { username: 'mallory', groups: ['developers', 'system:authenticated'] },
  })[as];

/** The review the apiserver would send for `kubectl annotate approved=<value>` by this user: to the validating path with the stamp, to the mutating path without. */
function annotateReview(ar: ApprovalRequest, as: 'alice' | 'bob', value: 'true' | 'false', stamped = true): Record<string, unknown> {
  const object = JSON.parse(JSON.stringify(ar)) as ApprovalRequest;
  object.metadata.annotations = { ...(object.metadata.annotations ?? {}), approved: value };
  const u = userOf(as);
  if (stamped)
    object.decisions = [
      ...(object.decisions ?? []).filter((d) => d.user !== u.username),
      { user: u.username, groups: u.groups, decision: value === 'true' ? 'Approved' : 'Denied' },
    ];
  return {
    kind: AR_KIND,
    resource: AR_RESOURCE,
    name: ar.metadata.name,
    namespace: ar.metadata.namespace,
    operation: 'UPDATE',
    userInfo: u,
    object,
    oldObject: ar,
  };
}

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk('admin', [...args, '-o', 'json'])) as T;
}
const getAr = (ns: string, name: string) => getJson<ApprovalRequest>(['get', 'approvalrequest', name, '-n', ns]);

async function newNamespace(): Promise<string> {
  const ns = uniqueName('forged');
  await kubectlOk('admin', ['create', 'namespace', ns]);
  await kubectlOk('admin', ['label', 'namespace', ns, `${NS_LABEL}=yes`]);
  namespaces.push(ns);
  return ns;
}

/** A ServiceAccount agent (its own kubeconfig) with an AgentIdentity and an active grant from the operator. */
async function saAgent(ns: string, requiredApprovals: number): Promise<{ name: string; user: string; kubectl: (args: string[]) => Promise<RunResult> }> {
  await kubectlOk('admin', ['create', 'serviceaccount', 'bot', '-n', ns]);
  const name = `e2e-forged-${ns}`.slice(0, 63);
  const user = `system:serviceaccount:${ns}:bot`;
  await applyAgent(name, [], {
    subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: ns }],
    maxDuration: '8h',
    allowedNamespaces: { selector: { matchLabels: { [NS_LABEL]: 'yes' } } },
    requiredApprovals,
  });
  identities.push(name);
  const token = (
    await eventually(async () => (await kubectl('admin', ['create', 'token', 'bot', '-n', ns, '--duration', '1h'])).stdout.trim(), 20_000, 'token')
  ).trim();
  const admin = yaml.load(readFileSync(clusterEnv().kubeconfigs.admin, 'utf8')) as { clusters: Array<{ cluster: Record<string, unknown> }> };
  const file = path.join(runDir, `${ns}-bot.kubeconfig`);
  writeFileSync(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: admin.clusters[0]!.cluster }],
      users: [{ name: 'bot', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'bot' } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  const kc = (args: string[]) => run(clusterEnv().kubectlPath, ['--kubeconfig', file, ...args]);
  await webhookRoutes(user);
  await applyGrant('g', ns, name, { reason: 'e2e forged reviews' });
  await eventually(async () => (await kc(['auth', 'can-i', 'delete', 'deployments', '-n', ns])).stdout.trim() === 'yes', 30_000, 'the grant active');
  return { name, user, kubectl: kc };
}

/** A held delete of a fresh deployment: the ApprovalRequest's name. */
async function heldDelete(ns: string, agent: { kubectl: (args: string[]) => Promise<RunResult> }, deployment: string): Promise<string> {
  await kubectlOk('admin', ['create', 'deployment', deployment, '-n', ns, '--image=registry.k8s.io/pause:3.10']);
  const held = await eventually(
    async () => {
      const r = await agent.kubectl(['delete', 'deployment', deployment, '-n', ns, '--wait=false']);
      return /ApprovalRequest (ar-[a-z0-9-]+)/.exec(r.stderr)?.[1];
    },
    30_000,
    'the delete held',
  );
  return held;
}

async function auditEventsOf(ns: string): Promise<AuditEvent[]> {
  return (await getJson<{ items: AuditEvent[] }>(['get', 'auditevents', '-n', AGENTGATE_NAMESPACE])).items.filter((e) => e.spec.namespace === ns);
}

async function startWebhook(extra: string[]): Promise<void> {
  port = await freePort();
  const kc = await componentKubeconfig('webhook');
  webhook = startProcess(
    'webhook',
    `webhook-forged-${port}`,
    ['--kubeconfig', kc, '--port', String(port), '--url', `https://127.0.0.1:${port}`, '--writer-id', uniqueName('forged'), ...extra],
    port,
  );
  await eventually(
    async () => {
      if (!webhook?.alive) throw new Error(`webhook exited: ${webhook?.log().slice(-2000)}`);
      return webhook.log().includes('"ready"') || webhook.log().includes('ready');
    },
    60_000,
    'webhook ready',
  );
}

describe('forged AdmissionReviews: nothing that grants power rests on a review anyone could send', function () {
  this.timeout(240_000);

  before(async function () {
    await installBase();
    await startWebhook([]);
    const okc = await componentKubeconfig('operator');
    operator = startProcess('operator', 'operator-forged-e2e', [
      '--kubeconfig',
      okc,
      '--leader-elect=false',
      '--metrics-port',
      '0',
      '--id',
      'forged-e2e',
      '--boundary-interval',
      '0',
    ]);
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
            metadata: { name: APPROVER_ROLE },
            rules: [{ apiGroups: ['agentgate.io'], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch', 'patch', 'update'] }],
          },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: APPROVER_ROLE },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: APPROVER_ROLE },
            subjects: [
              { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre-approvers' },
              { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'developers' },
            ],
          },
        ],
      }),
    );
    await eventually(async () => operator!.log().includes('caches synced'), 60_000, 'the operator synced');
  });

  after(async function () {
    for (const name of identities) await kubectl('admin', ['delete', 'agentidentity', name, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'clusterrole,clusterrolebinding', APPROVER_ROLE, '--ignore-not-found']);
    for (const ns of namespaces) await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await kubectlOk('admin', ['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot, 'config', 'admission')]);
    await operator?.stop();
    await removeWebhookConfigurations();
    await webhook?.stop();
  });

  it('approve, deny, a second approval of an N-of-M and the stamp path, forged: the webhook answers, and nothing changes', async function () {
    const ns = await newNamespace();
    const agent = await saAgent(ns, 2);
    const name = await heldDelete(ns, agent, 'web');
    const before = await getAr(ns, name);

    // Forged approvals claiming alice and bob, a forged denial, and the stamp path itself.
    for (const [as, value] of [
      ['alice', 'true'],
      ['bob', 'true'],
      ['bob', 'false'],
    ] as const) {
      const r = await forge('/validate/protect', annotateReview(before, as, value));
      expect(r.status).to.equal(200);
      const s = await forge('/mutate/stamp', annotateReview(before, as, value, false));
      expect(s.body.response?.patch, 'a patch returned to a forger is applied nowhere').to.be.a('string');
    }
    // The old webhook wrote status before answering; nothing may have been written now.
    const after = await getAr(ns, name);
    expect(after.metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
    expect(after.decisions ?? []).to.deep.equal([]);
    expect(after.status?.approvals ?? []).to.deep.equal([]);

    // alice approves for real: 1 of 2. A forged second approval (bob) still changes nothing.
    await kubectlOk('alice', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
    const one = await eventually(
      async () => {
        const ar = await getAr(ns, name);
        return (ar.status?.approvals ?? []).length === 1 ? ar : undefined;
      },
      30_000,
      "alice's real approval recorded",
    );
    expect(one.status?.phase).to.equal('Pending');
    const second = await forge('/validate/protect', annotateReview(one, 'bob', 'true'));
    expect(second.status).to.equal(200);
    const still = await getAr(ns, name);
    expect(still.metadata.resourceVersion).to.equal(one.metadata.resourceVersion);
    expect((await agent.kubectl(['delete', 'deployment', 'web', '-n', ns, '--wait=false'])).code, 'one approval of two lets nothing through').to.not.equal(0);

    // bob approves for real through kubectl annotate: now it counts, and the retry passes once.
    await kubectlOk('bob', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true', '--overwrite']);
    const approved = await eventually(
      async () => {
        const ar = await getAr(ns, name);
        return ar.status?.phase === 'Approved' ? ar : undefined;
      },
      30_000,
      'Approved by alice and bob',
    );
    expect(approved.decisions?.map((d) => d.user)).to.deep.equal(['alice', 'bob']);
    const retry = await agent.kubectl(['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    expect(retry.code, retry.stderr).to.equal(0);
  });

  it('the agents path, forged: nothing happens in the cluster and the record says it is unconfirmed', async function () {
    const ns = await newNamespace();
    const agent = await saAgent(ns, 1);
    const review = {
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      name: 'forged-cm',
      namespace: ns,
      operation: 'CREATE',
      userInfo: { username: agent.user, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'forged-cm', namespace: ns }, data: { a: 'b' } },
    };
    const r = await forge('/validate/agents', review);
    expect(r.status).to.equal(200);
    expect((await kubectl('admin', ['get', 'configmap', 'forged-cm', '-n', ns])).code, 'an answer to a forger creates nothing').to.not.equal(0);
    // The apiserver prefixes the key with the webhook's name (<webhook>/audit-event) in its audit log.
    const id = Object.entries(r.body.response?.auditAnnotations ?? {}).find(([k]) => k.endsWith('audit-event'))?.[1];
    expect(id, 'the review is answered with its record id, for the apiserver audit log join').to.be.a('string');
    const forgedRecord = await eventually(async () => (await auditEventsOf(ns)).find((e) => e.spec.name === 'forged-cm'), 20_000, 'the forged record');
    expect(forgedRecord.spec.confirmedBy, 'unconfirmed: the webhook could not tell who sent it').to.equal(undefined);
    // And it stays Admitted: only the apiserver's own audit event (joined by the record id)
    // can settle a record Completed or Failed, and the apiserver never saw this call.
    expect(forgedRecord.status?.outcome, 'admitted, never completed').to.equal('Admitted');
  });

  it('the ValidatingAdmissionPolicy refuses forged stamps written through the apiserver by real users', async function () {
    const ns = await newNamespace();
    const agent = await saAgent(ns, 2);
    const name = await heldDelete(ns, agent, 'web');
    // mallory (RBAC may patch) claims alice's approval; alice claims a group she lacks.
    const claim = await kubectl('mallory', [
      'patch',
      'approvalrequest',
      name,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ decisions: [{ user: 'alice', groups: ['sre-approvers', 'system:authenticated'], decision: 'Approved' }] }),
    ]);
    expect(claim.code).to.not.equal(0);
    expect(claim.stderr).to.contain(APPROVAL_POLICY).and.contain("caller's own identity");
    const widen = await kubectl('alice', [
      'patch',
      'approvalrequest',
      name,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ decisions: [{ user: 'alice', groups: ['sre-approvers', 'system:masters'], decision: 'Approved' }] }),
    ]);
    expect(widen.code).to.not.equal(0);
    expect(widen.stderr).to.contain(APPROVAL_POLICY);
    // alice approves properly; bob may not erase her entry.
    await kubectlOk('alice', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
    const erase = await kubectl('bob', [
      'patch',
      'approvalrequest',
      name,
      '-n',
      ns,
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'replace', path: '/decisions', value: [{ user: 'bob', groups: ['sre-approvers', 'system:authenticated'], decision: 'Approved' }] },
      ]),
    ]);
    expect(erase.code).to.not.equal(0);
    expect(erase.stderr).to.contain(APPROVAL_POLICY).and.contain('cannot be removed');
    expect((await getAr(ns, name)).decisions?.map((d) => d.user)).to.deep.equal(['alice']);
  });

  it('without the policy no stamp counts (fail closed), and verification says why; restored, the stamp written meanwhile never counts and the request expires (policy epoch)', async function () {
    const ns = await newNamespace();
    const agent = await saAgent(ns, 1);
    const name = await heldDelete(ns, agent, 'web');
    // The operator records the epoch of the policy in force while the request has no decision.
    const epoch = await eventually(async () => (await getAr(ns, name)).status?.policyEpoch, 30_000, 'the policy epoch recorded');
    await kubectlOk('admin', ['delete', 'validatingadmissionpolicybinding', APPROVAL_POLICY]);
    try {
      await kubectlOk('alice', ['annotate', 'approvalrequest', name, '-n', ns, 'approved=true']);
      const blocked = await eventually(
        async () => {
          const ar = await getAr(ns, name);
          return ar.status?.message?.includes('not counted') ? ar : undefined;
        },
        30_000,
        'the operator refusing to count',
      );
      expect(blocked.status?.phase).to.equal('Pending');
      expect(blocked.status?.approvals ?? []).to.deep.equal([]);
      expect(blocked.status?.message).to.contain('ValidatingAdmissionPolicyBinding');
      const verify = await run(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'verify', agent.name, '-o', 'json'], undefined, {
        KUBECONFIG: clusterEnv().kubeconfigs.admin,
      });
      expect(verify.stdout + verify.stderr).to.contain('ApprovalPolicyMissing');
    } finally {
      await kubectlOk('admin', ['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot, 'config', 'admission')]);
    }
    // A decision written while the binding was gone was never checked: restoring the binding
    // (a new uid) does not make it count. The request expires at once, and the agent's retry
    // is held under a new request guarded by the restored policy.
    const changed = await eventually(
      async () => {
        const ar = await getAr(ns, name);
        return ar.status?.phase === 'Expired' ? ar : undefined;
      },
      60_000,
      'the request expired because the binding was recreated',
    );
    expect(changed.status?.approvals ?? []).to.deep.equal([]);
    expect(changed.status?.policyEpoch).to.deep.equal(epoch);
    expect(changed.status?.message).to.contain(`ValidatingAdmissionPolicyBinding ${APPROVAL_POLICY} was deleted and recreated`).and.contain('fix: retry');
    const retried = await eventually(
      async () => /ApprovalRequest (ar-[a-z0-9-]+)/.exec((await agent.kubectl(['delete', 'deployment', 'web', '-n', ns, '--wait=false'])).stderr)?.[1],
      30_000,
      'the retry held',
    );
    expect(retried).to.not.equal(name);
    const fresh = await eventually(async () => (await getAr(ns, retried)).status?.policyEpoch, 30_000, 'the new request under the restored policy');
    expect(fresh.bindingUID).to.not.equal(epoch.bindingUID);
    await kubectlOk('alice', ['annotate', 'approvalrequest', retried, '-n', ns, 'approved=true']);
    await eventually(async () => (await getAr(ns, retried)).status?.phase === 'Approved', 60_000, 'the new request approved');
  });

  it("consumption and creation are provisional: the apiserver's audit log confirms the real ones; an approval a forged review spent stays spent and unconfirmed", async function () {
    if (!clusterEnv().local) this.skip(); // the confirming audit backend (and its policy naming agent:deploy-bot) is wired by hack/controlplane/up.sh
    // agent:deploy-bot (the client certificate agent) is in the local apiserver's audit policy.
    const ns = await newNamespace();
    const name = `e2e-forged-audited-${ns}`.slice(0, 63);
    await applyAgent(name, [ns]);
    identities.push(name);
    await webhookRoutes('agent:deploy-bot');
    await applyGrant('g', ns, name, { reason: 'e2e forged consume' });
    await grantActive('g', ns);
    const agentDelete = (d: string) => kubectl('agent', ['delete', 'deployment', d, '-n', ns, '--wait=false']);
    const held = async (d: string) =>
      eventually(async () => /ApprovalRequest (ar-[a-z0-9-]+)/.exec((await agentDelete(d)).stderr)?.[1], 30_000, `the delete of ${d} held`);
    const until = (arName: string, what: string, ok: (ar: ApprovalRequest) => boolean) =>
      eventually(
        async () => {
          const ar = await getAr(ns, arName);
          return ok(ar) ? ar : undefined;
        },
        30_000,
        `${arName}: ${what}`,
      );

    // The real held call: its denied admission still carries the webhook's audit annotations,
    // so the apiserver's audit event confirms the request's origin.
    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    const real = await held('web');
    await until(real, 'origin Confirmed', (ar) => ar.status?.origin === 'Confirmed');

    // A request only a forged review made stays Unconfirmed, and approving it warns.
    const agentUser = { username: 'agent:deploy-bot', groups: ['agentgate:agents', 'system:authenticated'] };
    const forgedDelete = (d: string, oldObject: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      forge('/validate/agents', {
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        name: d,
        namespace: ns,
        operation: 'DELETE',
        userInfo: agentUser,
        oldObject,
        ...extra,
      });
    const ghost = await forgedDelete('ghost', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'ghost', namespace: ns, uid: '00000000-0000-0000-0000-000000000001' },
    });
    const ghostAr = /ApprovalRequest (ar-[a-z0-9-]+)/.exec(JSON.stringify(ghost.body.response))?.[1];
    expect(ghostAr, JSON.stringify(ghost.body)).to.be.a('string');
    expect((await getAr(ns, ghostAr!)).status?.origin).to.equal('Unconfirmed');
    const approveGhost = await kubectl('alice', ['annotate', 'approvalrequest', ghostAr!, '-n', ns, 'approved=true']);
    expect(approveGhost.code, approveGhost.stderr).to.equal(0);
    expect(approveGhost.stderr).to.contain('not yet confirmed by the kube-apiserver').and.contain('may never have made this call');

    // alice approves the real request; a forged review of the identical delete spends it.
    await kubectlOk('alice', ['annotate', 'approvalrequest', real, '-n', ns, 'approved=true']);
    await until(real, 'Approved', (ar) => ar.status?.phase === 'Approved');
    const deployment = await getJson<Record<string, unknown>>(['get', 'deployment', 'web', '-n', ns]);
    // kubectl delete sends propagationPolicy Background, and the fingerprint covers it.
    const spend = await forgedDelete('web', deployment, { options: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Background' } });
    expect(spend.body.response?.allowed, JSON.stringify(spend.body)).to.equal(true);
    const spent = await getAr(ns, real);
    expect(spent.status).to.include({ phase: 'Consumed', consumption: 'Unconfirmed' });
    expect(spent.status?.consumedBy).to.match(/^forged-/);
    expect((await kubectl('admin', ['get', 'deployment', 'web', '-n', ns])).code, 'an answer to a forger deletes nothing').to.equal(0);

    // The agent's real retry is held again under a new request: the approval is not usable twice.
    const again = await held('web');
    expect(again).to.not.equal(real);
    await until(again, 'origin Confirmed', (ar) => ar.status?.origin === 'Confirmed');
    // The apiserver's audit events up to the retry are in; none confirmed the forged use.
    const still = await getAr(ns, real);
    expect(still.status).to.include({ phase: 'Consumed', consumption: 'Unconfirmed' });

    // Approved anew through the stamped path, the real retry goes through once and its use is confirmed.
    await kubectlOk('alice', ['annotate', 'approvalrequest', again, '-n', ns, 'approved=true']);
    await until(again, 'Approved', (ar) => ar.status?.phase === 'Approved');
    const through = await agentDelete('web');
    expect(through.code, through.stderr).to.equal(0);
    const used = await until(again, 'use confirmed', (ar) => ar.status?.consumption === 'Completed');
    expect(used.status?.consumedBy).to.not.match(/^forged-/);
    const table = await kubectlOk('admin', ['get', 'approvalrequests', '-n', ns]);
    expect(table.split('\n')[0]).to.match(/\bPHASE\s+ORIGIN\s+USE\b/);
    expect(table.split('\n').find((l) => l.startsWith(again))).to.match(/\bConsumed\s+Confirmed\s+Completed\b/);
    expect(table.split('\n').find((l) => l.startsWith(real))).to.match(/\bConsumed\s+Confirmed\s+Unconfirmed\b/);
  });

  describe('with --require-client-cert: only the apiserver is heard', function () {
    before(async function () {
      const client = clusterEnv().webhookClient;
      if (!client) this.skip(); // the cluster's apiserver presents no client certificate to webhooks (e.g. kind without an admission config)
      await webhook?.stop();
      await startWebhook(['--client-ca', client.ca, '--client-cert-name', client.name, '--require-client-cert=true']);
      // The aggregator answers 503 for a while after the audit API's backend restarted.
      await eventually(
        async () => (await kubectl('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE])).code === 0,
        60_000,
        'the audit API served by the restarted webhook',
      );
    });

    it('refuses reviews without the apiserver certificate (none, or a user certificate of the same CA) on every path; real calls are confirmed', async function () {
      const ns = await newNamespace();
      const agent = await saAgent(ns, 1);
      const name = await heldDelete(ns, agent, 'web');
      const before = await getAr(ns, name);
      const agentsReview = {
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        name: 'web',
        namespace: ns,
        operation: 'DELETE',
        userInfo: { username: agent.user, groups: ['system:serviceaccounts', 'system:authenticated'] },
      };
      for (const as of [undefined, 'alice'] as const) {
        for (const [p, review] of [
          ['/validate/protect', annotateReview(before, 'alice', 'true')],
          ['/mutate/stamp', annotateReview(before, 'alice', 'true')],
          ['/validate/agents', agentsReview],
        ] as const) {
          const r = await forge(p, review as Record<string, unknown>, as);
          expect(r.status, `${p} as ${as ?? 'no certificate'}`).to.equal(401);
          expect(r.body.response, `${p}: no decision at all`).to.equal(undefined);
        }
      }
      expect((await getAr(ns, name)).metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
      expect((await auditEventsOf(ns)).filter((e) => e.spec.resource === 'deployments' && e.spec.operation === 'DELETE')).to.have.length(1);

      // The apiserver's own calls pass, and their records say so.
      await kubectlOk('admin', ['create', 'configmap', 'x', '-n', ns]);
      const real = await eventually(
        async () => {
          const r = await agent.kubectl(['create', 'configmap', 'real-cm', '-n', ns]);
          return r.code === 0 ? r : undefined;
        },
        30_000,
        'a real agent call through the new webhook',
      );
      expect(real.code).to.equal(0);
      const record = await eventually(async () => (await auditEventsOf(ns)).find((e) => e.spec.name === 'real-cm'), 20_000, 'the real record');
      expect(record.spec.confirmedBy).to.equal('ClientCertificate');
    });
  });
});
