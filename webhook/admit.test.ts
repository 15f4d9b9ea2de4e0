import { expect } from 'chai';
import type { UnchainedSpec } from '../lib/audit-chain.js';
import { FakeClock } from '../lib/clock.js';
import { FakeApprovalStore, quietLogger, StatusError } from '../testing/fake-cluster.js';
import { activeGrant, agentIdentity, configMapCreate, deploymentDelete, EDIT, NAMESPACES, VIEW, DEPLOYER, withStatus } from '../testing/fixtures.js';
import { Writable } from 'node:stream';
import winston from 'winston';
import { newLogger } from '../lib/log.js';
import { admitAgentCall, type AgentAdmissionDeps } from './admit.js';
import { WebhookMetrics } from './metrics.js';
import { StaticSnapshot } from './snapshot.js';

/** A winston transport that keeps each line's info object. */
function capture(lines: Array<{ level: string; message: string }>): winston.transport {
  const stream = new Writable({
    objectMode: true,
    write(info: { level: string; message: string }, _enc, next) {
      lines.push(info);
      next();
    },
  });
  return new winston.transports.Stream({ stream });
}

function setup(over: { failAudit?: boolean } = {}) {
  const clock = new FakeClock();
  const approvals = new FakeApprovalStore();
  const audited: UnchainedSpec[] = [];
  const data = { agents: [agentIdentity()], grants: [activeGrant(clock)], clusterRoles: [EDIT, VIEW], roles: [DEPLOYER], namespaces: NAMESPACES };
  const deps: AgentAdmissionDeps = {
    // The informer view: what the store holds, as the webhook's cache would after catching up.
    snapshot: () => new StaticSnapshot({ ...data, approvalRequests: [...approvals.stored.values()] }),
    clock,
    options: { agentgateNamespace: 'agentgate-system', fingerprintKey: 'k', maxHoldSeconds: 0 },
    approvals,
    audit: {
      write: async (spec) => {
        if (over.failAudit) throw new StatusError(503, 'etcd unavailable');
        audited.push(spec);
        return `audit-${audited.length}`;
      },
    },
    log: quietLogger(),
    metrics: new WebhookMetrics(),
    digestKey: 'd',
  };
  return { clock, approvals, audited, deps };
}

/** How many audit writes the write-time histogram holds, by result. */
async function auditWritesTimed(deps: AgentAdmissionDeps): Promise<Record<string, number>> {
  const counts = (await deps.metrics.auditWriteSeconds.get()).values.filter((v) => v.metricName?.endsWith('_count') && v.value > 0);
  return Object.fromEntries(counts.map((v) => [String(v.labels.result), v.value]));
}

describe('webhook/admit: an agent call through the ApprovalStore seam', function () {
  it('answers callers that are no agent without a record', async function () {
    const { deps, audited } = setup();
    const out = await admitAgentCall({ ...configMapCreate(), userInfo: { username: 'alice', groups: [] } }, deps);
    expect(out.response).to.deep.equal({ uid: out.response.uid, allowed: true });
    expect(audited).to.deep.equal([]);
  });

  it('records an allowed call before answering, and names the record in the response', async function () {
    const { deps, audited } = setup();
    const out = await admitAgentCall(configMapCreate(), deps);
    expect(out.response.allowed).to.equal(true);
    expect(audited).to.have.length(1);
    expect(audited[0]).to.include({ decision: 'Allowed', agent: 'deploy-bot', operation: 'CREATE', resource: 'configmaps', namespace: 'prod' });
    expect(out.response.auditAnnotations).to.deep.equal({ 'audit-event': 'audit-1', decision: 'Allowed' });
    expect(await auditWritesTimed(deps)).to.deep.equal({ ok: 1 });
  });

  it('logs an allowed call only at debug, and a held one at info', async function () {
    const { deps } = setup();
    const lines: Array<{ level: string; message: string; decision?: string }> = [];
    const log = newLogger('test', 'info');
    log.clear().add(capture(lines));
    deps.log = log;
    await admitAgentCall(configMapCreate(), deps);
    expect(lines.filter((l) => l.message === 'agent call')).to.deep.equal([]);
    await admitAgentCall(deploymentDelete('web'), deps);
    expect(lines.filter((l) => l.message === 'agent call').map((l) => [l.level, l.decision])).to.deep.equal([['info', 'Held']]);
    log.level = 'debug';
    await admitAgentCall(configMapCreate(), deps);
    expect(lines.filter((l) => l.message === 'agent call').map((l) => [l.level, l.decision])).to.deep.equal([
      ['info', 'Held'],
      ['debug', 'Allowed'],
    ]);
  });

  it('holds a delete: stores the ApprovalRequest, denies with its name, records Held', async function () {
    const { deps, approvals, audited } = setup();
    const out = await admitAgentCall(deploymentDelete('web'), deps);
    expect(out.decision.verdict).to.equal('Held');
    const [stored] = [...approvals.stored.values()];
    // Created, then marked Unconfirmed: the review may not have come from the apiserver.
    expect(approvals.calls).to.deep.equal([`create prod/${stored!.metadata.name}`, `replaceStatus prod/${stored!.metadata.name}`]);
    expect(stored!.status).to.deep.equal({ origin: 'Unconfirmed' });
    expect(out.response.allowed).to.equal(false);
    expect(out.response.status?.message).to.contain(stored!.metadata.name!);
    expect(audited[0]).to.include({ decision: 'Held', approvalRequest: `prod/${stored!.metadata.name}` });
  });

  it('lets the identical retry through once after approval, consuming the approval for this call', async function () {
    const { deps, approvals, clock } = setup();
    await admitAgentCall(deploymentDelete('web'), deps);
    const [pending] = [...approvals.stored.values()];
    approvals.put(
      withStatus(pending!, {
        phase: 'Approved',
        approvals: [{ user: 'alice', groups: ['sre-approvers'], decision: 'Approved', time: clock.now().toISOString() }],
        validUntil: '2030-01-01T00:10:00Z',
      }),
    );
    const retry = { ...deploymentDelete('web'), uid: 'retry-1' };
    const out = await admitAgentCall(retry, deps);
    expect(out.response.allowed, out.decision.message).to.equal(true);
    const consumed = approvals.stored.get(`prod/${pending!.metadata.name}`)!;
    expect(consumed.status).to.include({ phase: 'Consumed', consumedBy: 'retry-1', consumption: 'Unconfirmed' });
    const again = await admitAgentCall({ ...deploymentDelete('web'), uid: 'retry-2' }, deps);
    expect(again.response.allowed).to.equal(false);
  });

  it('reads the approval again and decides again when consuming it loses a race', async function () {
    const { deps, approvals, clock } = setup();
    await admitAgentCall(deploymentDelete('web'), deps);
    const [pending] = [...approvals.stored.values()];
    approvals.put(
      withStatus(pending!, {
        phase: 'Approved',
        approvals: [{ user: 'alice', groups: ['sre-approvers'], decision: 'Approved', time: clock.now().toISOString() }],
        validUntil: '2030-01-01T00:10:00Z',
      }),
    );
    approvals.calls.length = 0;
    approvals.failNext('replaceStatus', 409);
    const out = await admitAgentCall({ ...deploymentDelete('web'), uid: 'retry-1' }, deps);
    expect(approvals.calls.filter((c) => c.startsWith('replaceStatus'))).to.have.length(2);
    expect(out.response.allowed).to.equal(true);
  });

  it('marks the origin after a conflicting first status write by the operator, keeping that write', async function () {
    const { deps, approvals } = setup();
    const create = approvals.create.bind(approvals);
    approvals.create = async (ar) => {
      const made = await create(ar);
      approvals.put({ ...made, status: { phase: 'Pending', message: 'waiting' } }); // the operator, first
      return made;
    };
    await admitAgentCall(deploymentDelete('web'), deps);
    expect([...approvals.stored.values()][0]!.status).to.deep.equal({ phase: 'Pending', message: 'waiting', origin: 'Unconfirmed' });
  });

  it('holds all the same when the origin cannot be marked (it reads unconfirmed when absent)', async function () {
    const { deps, approvals } = setup();
    approvals.failNext('replaceStatus', 500);
    const out = await admitAgentCall(deploymentDelete('web'), deps);
    expect(out.decision.verdict).to.equal('Held');
    expect(out.decision.message).to.not.contain('could not');
    expect([...approvals.stored.values()][0]!.status).to.equal(undefined);
  });

  it('fails closed when the ApprovalRequest cannot be stored', async function () {
    const { deps, approvals, audited } = setup();
    approvals.failNext('create', 500);
    const out = await admitAgentCall(deploymentDelete('web'), deps);
    expect(out.response.allowed).to.equal(false);
    expect(out.decision.message).to.contain('could not store the approval request');
    expect(audited[0]!.decision).to.equal('Held');
  });

  it('denies when the audit record cannot be written: no agent call goes through unrecorded', async function () {
    const { deps } = setup({ failAudit: true });
    const out = await admitAgentCall(configMapCreate(), deps);
    expect(out.response.allowed).to.equal(false);
    expect(out.response.status?.message).to.contain('audit record could not be written').and.contain('etcd unavailable');
    expect(await auditWritesTimed(deps)).to.deep.equal({ error: 1 });
  });

  it('skips the record for a dry run and still answers', async function () {
    const { deps, audited } = setup();
    const out = await admitAgentCall({ ...configMapCreate(), dryRun: true }, deps);
    expect(out.response.allowed).to.equal(true);
    expect(audited).to.deep.equal([]);
    expect(await auditWritesTimed(deps)).to.deep.equal({});
  });
});
