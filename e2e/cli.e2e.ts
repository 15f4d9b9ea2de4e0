// The agentgate CLI against a real apiserver, run as a process by the real identities:
// the agent requests a grant, approvers list and decide ApprovalRequests (and a
// non-approver is stopped by the CLI's own check), the audit chain verifies and names
// what was deleted or altered, and the EKS access-entry commands print, also through
// `kubectl agentgate`.
//
// Without agentgate's webhook running the apiserver accepts any annotation, so the
// server-side rejection of a non-approver belongs to the webhook's tests; here the CLI
// must refuse before it writes anything.
import { expect } from 'chai';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AccessGrant, AuditEvent } from '../api/types.js';
import { CHECKPOINT_CONFIGMAP, checkpointKey, signCheckpoint } from '../audit/checkpoint.js';
import { openDb } from '../audit/db.js';
import { AuditStore, eventName } from '../audit/store.js';
import { systemClock } from '../lib/clock.js';
import { FINGERPRINT_KEY, KEY_SECRET } from '../webhook/tls.js';
import { auditApiAvailable, postgresDsn } from '../harness/audit-store.js';
import { startAgentgate, stopAgentgate } from '../harness/components.js';
import { appendEvent, emptyHead } from '../lib/audit-chain.js';
import type { ChainHead } from '../lib/audit-chain.js';
import { rfc3339 as toRfc3339 } from '../lib/clock.js';
import { applyJson, clusterEnv, eventually, kubectl, kubectlOk, repoRoot, run, uniqueName } from '../harness/cluster.js';
import type { Identity, RunResult } from '../harness/cluster.js';
import { ensureCrds } from '../harness/crds.js';

const CLI = path.join(repoRoot, 'dist', 'cli', 'main.js');
const AGENT_USER = 'agent:deploy-bot';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/deploy-bot';

function cli(as: Identity, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, '--kubeconfig', clusterEnv().kubeconfigs[as], ...args], undefined, env);
}

const apply = (doc: unknown) => applyJson(doc, 'cli-e2e');
const rfc3339 = (ms: number) => toRfc3339(new Date(ms));

describe('agentgate CLI on a real apiserver', function () {
  const agent = uniqueName('cli-bot');
  const approverRole = uniqueName('cli-e2e-approver');
  let ns = '';

  before(async function () {
    await ensureCrds();
    await apply({
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AgentIdentity',
      metadata: { name: agent },
      spec: {
        subjects: [
          { kind: 'User', name: AGENT_USER },
          { kind: 'Group', name: 'agentgate:agents' },
        ],
        eks: { roleArn: ROLE_ARN, clusterName: 'prod-eu-west-1' },
        maxDuration: '2h',
        allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
        allowedNamespaces: { selector: { matchLabels: { 'agentgate.io/e2e-cli': agent } } },
        approvers: { groups: ['sre-approvers'] },
        requiredApprovals: 1,
      },
    });
    // What approvers need to read and annotate requests, for alice, bob and mallory alike:
    // RBAC lets mallory annotate; only agentgate (the CLI here, the webhook in production) says no.
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: approverRole },
      rules: [
        { apiGroups: ['agentgate.io'], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
        { apiGroups: ['agentgate.io'], resources: ['agentidentities'], verbs: ['get', 'list'] },
      ],
    });
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: approverRole },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: approverRole },
      subjects: ['alice', 'bob', 'mallory'].map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name })),
    });
  });

  after(async function () {
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'clusterrolebinding', approverRole, '--ignore-not-found']);
    await kubectl('admin', ['delete', 'clusterrole', approverRole, '--ignore-not-found']);
  });

  beforeEach(async function () {
    ns = uniqueName('cli');
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await kubectlOk('admin', ['label', 'namespace', ns, `agentgate.io/e2e-cli=${agent}`]);
  });

  afterEach(async function () {
    await kubectl('admin', ['delete', 'namespace', ns, '--wait=false']);
  });

  describe('eks access-entry', function () {
    it("prints create-access-entry with the agent's role, username and groups, and no access policy", async function () {
      const r = await cli('admin', ['eks', 'access-entry', agent]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain('aws eks create-access-entry');
      expect(r.stdout).to.contain('--cluster-name prod-eu-west-1').and.contain(`--principal-arn ${ROLE_ARN}`);
      expect(r.stdout).to.contain(`--username ${AGENT_USER}`).and.contain('--kubernetes-groups agentgate:agents');
      expect(r.stdout).to.contain('Do not run `aws eks associate-access-policy`');
    });

    it('takes the role from --role-arn over the spec, and says what to do for an unknown agent', async function () {
      const other = 'arn:aws:iam::210987654321:role/other';
      const r = await cli('admin', ['eks', 'access-entry', agent, '--role-arn', other, '--cluster', 'staging']);
      expect(r.stdout).to.contain(`--principal-arn ${other}`).and.contain('--cluster-name staging');
      const missing = await cli('admin', ['eks', 'access-entry', 'no-such-agent']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.contain('no AgentIdentity named no-such-agent').and.contain('-f FILE');
    });

    it('works as the kubectl plugin `kubectl agentgate`', async function () {
      const bin = mkdtempSync(path.join(tmpdir(), 'agentgate-plugin-'));
      const plugin = path.join(bin, 'kubectl-agentgate');
      writeFileSync(plugin, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
      chmodSync(plugin, 0o755);
      const env = { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` };
      const r = await run(
        clusterEnv().kubectlPath,
        ['agentgate', 'eks', 'access-entry', agent, '--kubeconfig', clusterEnv().kubeconfigs.admin],
        undefined,
        env,
      );
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`--username ${AGENT_USER}`);
      const help = await run(clusterEnv().kubectlPath, ['agentgate', 'verify', '--help'], undefined, env);
      expect(help.stdout).to.contain('Usage:\n  agentgate verify');
      const list = await run(clusterEnv().kubectlPath, ['plugin', 'list'], undefined, env);
      expect(list.stdout).to.contain('kubectl-agentgate');
    });
  });

  describe('request', function () {
    beforeEach(async function () {
      // The agent may create (and follow) its own requests in this namespace.
      await apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'requester', namespace: ns },
        rules: [{ apiGroups: ['agentgate.io'], resources: ['accessgrants'], verbs: ['create', 'get', 'list', 'watch'] }],
      });
      await kubectlOk('admin', ['create', 'rolebinding', 'requester', '-n', ns, '--role', 'requester', '--user', AGENT_USER]);
      await eventually(
        async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'accessgrants.agentgate.io', '-n', ns])).stdout.trim() === 'yes',
        30_000,
        'the requester role',
      );
    });

    it('creates a grant as the agent, always RequiresApproval', async function () {
      const r = await cli('agent', [
        'request',
        '--agent',
        agent,
        '--role',
        'agentgate-edit',
        '-n',
        ns,
        '--duration',
        '30m',
        '--reason',
        'Roll out the hotfix',
        '--ticket',
        'INC-4711',
        '-o',
        'json',
      ]);
      expect(r.code, r.stderr).to.equal(0);
      const created = JSON.parse(r.stdout) as AccessGrant;
      expect(created.metadata.name).to.match(new RegExp(`^${agent}-`));
      const stored = JSON.parse(await kubectlOk('admin', ['get', 'accessgrant', created.metadata.name!, '-n', ns, '-o', 'json'])) as AccessGrant;
      expect(stored.spec).to.deep.include({
        agent,
        roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' },
        duration: '30m',
        reason: 'Roll out the hotfix',
        ticket: 'INC-4711',
        activation: 'RequiresApproval',
      });
      const text = await cli('agent', ['request', '--agent', agent, '--role', 'agentgate-edit', '-n', ns, '--duration', '10m', '--reason', 'again']);
      expect(text.stdout).to.match(/^requested grant .* needs approval/);
    });

    it('refuses an invalid request before it reaches the cluster, naming the field', async function () {
      const bad = await cli('agent', [
        'request',
        '--agent',
        agent,
        '--role',
        'agentgate-edit',
        '--kind',
        'Group',
        '-n',
        ns,
        '--duration',
        '30m',
        '--reason',
        'x',
      ]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.contain('spec.roleRef.kind (--kind): must be one of ClusterRole, Role');
      const missing = await cli('agent', ['request', '--agent', agent, '-n', ns]);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.contain('--role').and.contain('--duration').and.contain('--reason');
      expect((await kubectlOk('admin', ['get', 'accessgrants', '-n', ns, '-o', 'name'])).trim()).to.equal('');
    });

    it('says what to do when the caller may not create grants', async function () {
      const r = await cli('mallory', ['request', '--agent', agent, '--role', 'agentgate-edit', '-n', ns, '--duration', '30m', '--reason', 'x']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`you may not create accessgrants in namespace ${ns}`).and.contain('Ask your cluster admin');
    });

    for (const [phase, code] of [
      ['Active', 0],
      ['Denied', 1],
    ] as const) {
      it(`--wait blocks until the grant is ${phase} and prints the outcome (exit ${code})`, async function () {
        const name = `wait-${phase.toLowerCase()}`;
        const waiting = cli('agent', [
          'request',
          '--agent',
          agent,
          '--role',
          'agentgate-edit',
          '-n',
          ns,
          '--duration',
          '30m',
          '--reason',
          'wait for it',
          '--name',
          name,
          '--wait',
          '--timeout',
          '2m',
        ]);
        await eventually(async () => (await kubectl('admin', ['get', 'accessgrant', name, '-n', ns])).code === 0, 30_000, 'the requested grant');
        // What the operator would write: first awaiting approval, then the outcome.
        const status = (s: Record<string, unknown>) =>
          kubectlOk('admin', ['patch', 'accessgrant', name, '-n', ns, '--subresource', 'status', '--type', 'merge', '-p', JSON.stringify({ status: s })]);
        await status({ phase: 'AwaitingApproval', approvalRequest: `${name}-activation` });
        await status(
          phase === 'Active'
            ? { phase, activatedAt: rfc3339(Date.now()), expiresAt: rfc3339(Date.now() + 30 * 60_000), roleBinding: `agentgate-${name}` }
            : {
                phase,
                conditions: [{ type: 'Approved', status: 'False', reason: 'Denied', message: 'denied by alice', lastTransitionTime: rfc3339(Date.now()) }],
              },
        );
        const r = await waiting;
        expect(r.code, r.stderr).to.equal(code);
        expect(r.stdout).to.contain(`grant ${ns}/${name} is ${phase}`);
        if (phase === 'Denied') expect(r.stdout).to.contain('denied by alice');
        expect(r.stderr).to.contain(`waiting up to 2m`);
      });
    }
  });

  describe('pending, approve and deny', function () {
    async function approvalRequest(name: string, summary: string): Promise<void> {
      await apply({
        apiVersion: 'agentgate.io/v1alpha1',
        kind: 'ApprovalRequest',
        metadata: { name, namespace: ns },
        spec: {
          agent,
          type: 'Operation',
          grant: 'hotfix',
          operation: {
            operation: 'DELETE',
            group: 'apps',
            version: 'v1',
            resource: 'deployments',
            namespace: ns,
            name: 'api',
            user: AGENT_USER,
            groups: ['agentgate:agents'],
          },
          fingerprint: 'a'.repeat(64),
          summary,
          preview: 'delete deployments/api (replicas 3)',
          matchedRules: ['delete'],
          requestedBy: AGENT_USER,
          expiresAt: rfc3339(Date.now() + 60 * 60_000),
        },
      });
    }
    const annotation = async (name: string) =>
      (await kubectlOk('admin', ['get', 'approvalrequest', name, '-n', ns, '-o', 'jsonpath={.metadata.annotations.approved}'])).trim();

    beforeEach(async function () {
      await approvalRequest('delete-api', `${agent} wants to DELETE deployment ${ns}/api`);
      await approvalRequest('delete-db', `${agent} wants to DELETE deployment ${ns}/db`);
    });

    it('lists the requests alice may approve, with summary, preview and the commands', async function () {
      const r = await cli('alice', ['pending', '-n', ns]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`${ns}/delete-api  agent ${agent}, held operation, requested by ${AGENT_USER}`);
      expect(r.stdout).to.contain(`summary:   ${agent} wants to DELETE deployment ${ns}/api`);
      expect(r.stdout).to.contain('delete deployments/api (replicas 3)');
      expect(r.stdout).to.contain(`approve:   agentgate approve delete-api -n ${ns}`);
      const json = JSON.parse((await cli('alice', ['pending', '-n', ns, '-o', 'json'])).stdout) as {
        user: string;
        items: Array<{ eligible: boolean; request: { metadata: { name: string } } }>;
      };
      expect(json.user).to.equal('alice');
      expect(json.items.map((i) => i.request.metadata.name).sort()).to.deep.equal(['delete-api', 'delete-db']);
      // Across namespaces too (the default).
      expect((await cli('alice', ['pending'])).stdout).to.contain(`${ns}/delete-db`);
    });

    it('lists nothing for mallory, and says why with --all', async function () {
      const r = await cli('mallory', ['pending', '-n', ns]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal('no pending approval requests for mallory\n');
      const all = await cli('mallory', ['pending', '-n', ns, '--all']);
      expect(all.stdout).to.contain(`you may not decide it: mallory is not an approver of agent ${agent} (approvers: groups sre-approvers)`);
    });

    it("stops mallory's approval before anything is written, saying who may approve", async function () {
      const r = await cli('mallory', ['approve', 'delete-api', '-n', ns]);
      expect(r.code).to.equal(1);
      expect(r.stderr)
        .to.contain(`you (mallory) cannot approve ${ns}/delete-api`)
        .and.contain('not an approver')
        .and.contain('groups sre-approvers')
        .and.contain('Nothing was changed');
      expect(await annotation('delete-api')).to.equal('');
      const deny = await cli('mallory', ['deny', 'delete-api', '-n', ns]);
      expect(deny.code).to.equal(1);
      expect(await annotation('delete-api')).to.equal('');
    });

    it('stops the agent from approving its own operation', async function () {
      await kubectlOk('admin', ['create', 'rolebinding', 'agent-approvals', '-n', ns, '--clusterrole', approverRole, '--user', AGENT_USER]);
      const r = await cli('agent', ['approve', 'delete-api', '-n', ns]);
      expect(r.code).to.equal(1);
      // The agent cannot read AgentIdentities (cluster-scoped), so the CLI judges by the request itself.
      expect(r.stderr).to.contain(`you (${AGENT_USER}) cannot approve ${ns}/delete-api`).and.contain('caused this request');
      expect(await annotation('delete-api')).to.equal('');
    });

    it('alice approves, bob approves again over it, then bob denies: exactly the approved annotation each time', async function () {
      const a = await cli('alice', ['approve', 'delete-api', '-n', ns]);
      expect(a.code, a.stderr).to.equal(0);
      expect(a.stdout).to.match(new RegExp(`(annotated ${ns}/delete-api approved=true as alice|approved ${ns}/delete-api as alice)`));
      expect(await annotation('delete-api')).to.equal('true');
      const b = await cli('bob', ['approve', 'delete-api', '-n', ns]);
      expect(b.code, b.stderr).to.equal(0);
      expect(await annotation('delete-api')).to.equal('true');
      const d = await cli('bob', ['deny', 'delete-db', '-n', ns]);
      expect(d.code, d.stderr).to.equal(0);
      expect(await annotation('delete-db')).to.equal('false');
      const annotations = JSON.parse(
        await kubectlOk('admin', ['get', 'approvalrequest', 'delete-db', '-n', ns, '-o', 'jsonpath={.metadata.annotations}']),
      ) as Record<string, string>;
      expect(annotations).to.deep.equal({ approved: 'false' });
    });

    it('says what to do for a request that does not exist', async function () {
      const r = await cli('alice', ['approve', 'no-such-request', '-n', ns]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`no ApprovalRequest no-such-request in namespace ${ns}`).and.contain('agentgate pending');
    });
  });

  describe('audit and audit verify', function () {
    // Records are written by agentgate only; to stage a trail (and to tamper with it, as
    // someone with database access would) this opens the same PostgreSQL the webhook uses.
    const writer = uniqueName('cli-e2e-writer');
    const label = `agentgate.io/writer=${writer}`;
    let names: string[] = [];
    let store: AuditStore | undefined;
    let components: Awaited<ReturnType<typeof startAgentgate>> | undefined;

    before(async function () {
      const dsn = postgresDsn();
      if (!dsn || !clusterEnv().local) this.skip(); // PGlite is in-process: only the webhook can open it (E2E_AUDIT_STORE=pglite)
      // The webhook process serves the aggregated API the CLI reads through.
      components = await startAgentgate({ name: 'cli-audit' });
      store = new AuditStore(await openDb({ engine: 'postgres', dsn: dsn! }), writer, systemClock);
      await store.open();
      await auditApiAvailable();
    });

    after(async function () {
      await store?.close();
      await stopAgentgate(components);
    });

    beforeEach(async function () {
      await store!.db.query(`DELETE FROM agentgate_audit_events WHERE writer = $1`, [writer]);
      let head: ChainHead = emptyHead(writer);
      names = [];
      // 20, 15, 10 and 5 minutes ago: --since 12m keeps the last two with minutes to spare.
      const base = Date.now() - 20 * 60_000;
      for (let i = 0; i < 4; i++) {
        const r = appendEvent(head, {
          time: rfc3339(base + i * 5 * 60_000),
          agent: i === 3 ? 'other-bot' : agent,
          user: AGENT_USER,
          groups: ['agentgate:agents'],
          operation: i === 2 ? 'DELETE' : 'CREATE',
          group: '',
          version: 'v1',
          resource: 'configmaps',
          namespace: ns,
          name: `cm-${i}`,
          decision: i === 2 ? 'Held' : 'Allowed',
          reason: i === 2 ? 'rule delete requires approval' : 'covered by grant hotfix',
          requestUID: `uid-${writer}-${i}`,
        });
        head = r.head;
        const name = eventName(writer, i + 1);
        names.push(name);
        await store!.importChained(r.spec, name);
      }
    });

    it('lists the trail, filtered by agent and time, through the aggregated API', async function () {
      const r = await cli('admin', ['audit', '--agent', agent, '-l', label]);
      expect(r.code, r.stderr).to.equal(0);
      const rows = r.stdout.trim().split('\n');
      expect(rows[0]).to.match(/^TIME\s+AGENT\s+OPERATION/);
      expect(rows).to.have.length(4);
      expect(r.stdout).to.contain(`${ns}/cm-2`).and.contain('Held');
      const json = JSON.parse((await cli('admin', ['audit', '--since', '12m', '-l', label, '-o', 'json'])).stdout) as AuditEvent[];
      expect(json.map((e) => e.metadata.name)).to.deep.equal([names[2], names[3]]);
    });

    it('verifies an intact chain', async function () {
      const r = await cli('admin', ['audit', 'verify', '-l', label]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`writer ${writer}: 4 event(s), sequence 1..4`).and.contain('audit chain intact');
    });

    it('fails and names the event when one is deleted from the database', async function () {
      await store!.db.query(`DELETE FROM agentgate_audit_events WHERE name = $1`, [names[1]]);
      const r = await cli('admin', ['audit', 'verify', '-l', label]);
      expect(r.code).to.equal(1);
      expect(r.stdout)
        .to.contain('AUDIT CHAIN BROKEN')
        .and.contain('MISSING')
        .and.contain('event sequence 2 is missing')
        .and.contain(`between ${names[0]} and ${names[2]}`);
    });

    it('fails and names the event when one is altered in the database', async function () {
      await store!.db.query(
        `UPDATE agentgate_audit_events SET spec = jsonb_set(jsonb_set(spec, '{decision}', '"Allowed"'), '{reason}', '"covered by grant hotfix"'), decision = 'Allowed' WHERE name = $1`,
        [names[2]],
      );
      const r = await cli('admin', ['audit', 'verify', '-l', label, '-o', 'json']);
      expect(r.code).to.equal(1);
      const result = JSON.parse(r.stdout) as { ok: boolean; problems: Array<{ kind: string; event: string; sequence: number }> };
      expect(result.ok).to.equal(false);
      expect(result.problems).to.deep.include({ ...result.problems.find((p) => p.kind === 'altered'), kind: 'altered', event: names[2], sequence: 3 });
      const text = await cli('admin', ['audit', 'verify', '-l', label]);
      expect(text.stdout).to.contain(`ALTERED: event ${names[2]} (writer ${writer}, sequence 3) was altered`);
    });

    it('the checkpoint in etcd reveals a deleted newest event, which the chain alone cannot', async function () {
      // The checkpoint as agentgate writes it: signed with the key from its Secret.
      const secret = JSON.parse(await kubectlOk('admin', ['get', 'secret', KEY_SECRET, '-n', 'agentgate-system', '-o', 'json'])) as {
        data: Record<string, string>;
      };
      const key = checkpointKey(Buffer.from(secret.data[FINGERPRINT_KEY]!, 'base64').toString('utf8'));
      const head = (await store!.heads()).find((h) => h.writer === writer)!;
      expect(head.sequence).to.equal(4);
      const cp = signCheckpoint(head, new Date(), key);
      await kubectlOk('admin', [
        'patch',
        'configmap',
        CHECKPOINT_CONFIGMAP,
        '-n',
        'agentgate-system',
        '--type=merge',
        '-p',
        JSON.stringify({ data: { [writer]: JSON.stringify(cp) } }),
      ]);
      await store!.db.query(`DELETE FROM agentgate_audit_events WHERE name = $1`, [names[3]]);
      // The chain of what is left is intact...
      expect((await cli('admin', ['audit', 'verify', '-l', label])).code).to.equal(0);
      // ...but the whole check compares it with the checkpoint.
      const r = await cli('admin', ['audit', 'verify']);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.contain('TAIL-DELETED').and.contain(`writer ${writer}: events sequence 4..4 are missing (the newest were deleted)`);
      await kubectl('admin', [
        'patch',
        'configmap',
        CHECKPOINT_CONFIGMAP,
        '-n',
        'agentgate-system',
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'remove', path: `/data/${writer}` }]),
      ]);
    });
  });
});
