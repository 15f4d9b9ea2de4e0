import { expect } from 'chai';
import type { ApprovalRequest, AuditEvent } from '../../api/types.js';
import type { AgentReport } from '../../boundary/types.js';
import { FakeCluster, fakeContext } from '../../testing/fake-cluster.js';
import { STATUS_COALESCE_MS } from '../plan/agent.js';
import { agent, clockAt, grant, T0 } from '../plan/fixtures.test-helpers.js';
import { AgentReconciler } from './agent.js';
import { reconcileApproval } from './approval.js';
import { reconcileAuditRetention } from './audit.js';
import { CONFLICT_RETRY_MS } from './context.js';
import { reconcileOrphanBinding } from './orphan.js';

const binding = (name: string, labels: Record<string, string>, namespace = 'payments') => ({
  metadata: { name, namespace, uid: `uid-${name}`, labels: { 'app.kubernetes.io/managed-by': 'agentgate', ...labels } },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
});

function activation(over: Partial<ApprovalRequest['spec']> = {}, status?: ApprovalRequest['status']): ApprovalRequest {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'activate-hotfix', namespace: 'payments' },
    spec: {
      agent: 'deploy-bot',
      type: 'Activation',
      grant: 'hotfix',
      fingerprint: 'f'.repeat(64),
      summary: 's',
      requestedBy: 'agent:deploy-bot',
      expiresAt: '2030-01-01T01:00:00Z',
      ...over,
    },
    ...(status ? { status } : {}),
  };
}

describe('operator/reconcile: AgentIdentity', function () {
  it('removes every RoleBinding of a suspended agent at once and re-plans its grants', async function () {
    const cluster = new FakeCluster({
      objects: [agent({ suspended: true }), grant()],
      bindings: [
        binding('agentgate-a', { 'agentgate.io/agent': 'deploy-bot', 'agentgate.io/grant': 'a' }),
        binding('agentgate-b', { 'agentgate.io/agent': 'deploy-bot', 'agentgate.io/grant': 'b' }, 'other'),
        binding('agentgate-c', { 'agentgate.io/agent': 'someone-else' }),
      ],
    });
    const ctx = fakeContext(cluster, clockAt());
    expect(await new AgentReconciler(ctx).reconcile('deploy-bot')).to.deep.equal({});
    expect([...cluster.bindings.keys()]).to.deep.equal(['payments/agentgate-c']);
    expect(ctx.enqueued).to.include('AccessGrant/payments/hotfix');
  });

  it('returns a short requeue when a binding was replaced under it', async function () {
    const cluster = new FakeCluster({ objects: [agent({ suspended: true })], bindings: [binding('agentgate-a', { 'agentgate.io/agent': 'deploy-bot' })] });
    cluster.failNext('deleteRoleBinding', 409);
    expect(await new AgentReconciler(fakeContext(cluster, clockAt())).reconcile('deploy-bot')).to.deep.equal({ requeueAfterMs: CONFLICT_RETRY_MS });
  });
});

describe('operator/reconcile: AgentIdentity status, one coalesced stream', function () {
  const agentStatusWrites = (cluster: FakeCluster) => cluster.calls.filter((c) => c === 'replaceStatus AgentIdentity//deploy-bot').length;
  const activeGrant = (i: number) => grant({}, { name: `g-${i}`, uid: `uid-g-${i}` }, { phase: 'Active' });
  const critical: AgentReport = {
    agent: 'deploy-bot',
    verified: false,
    reviews: 1,
    findings: [{ severity: 'Critical', route: 'StandingBinding', object: 'ClusterRoleBinding/x', message: 'm', fix: 'f' }],
  };
  const clean: AgentReport = { agent: 'deploy-bot', verified: true, reviews: 1, findings: [] };

  /** 50 Active grants of an agent whose status is written and settled. */
  async function settled() {
    const cluster = new FakeCluster({ objects: [agent({}, { generation: 1 }), ...Array.from({ length: 50 }, (_, i) => activeGrant(i))] });
    const clock = clockAt();
    const r = new AgentReconciler(fakeContext(cluster, clock));
    await r.reconcile('deploy-bot');
    expect(cluster.agent('deploy-bot')!.status?.activeGrants).to.equal(50);
    cluster.calls.length = 0;
    return { cluster, clock, r };
  }

  it('a burst of N count changes over S seconds costs at most ceil(S) writes, and the last state wins', async function () {
    const { cluster, clock, r } = await settled();
    // Worst case for coalescing: the agent is reconciled after every change (one grant
    // gone every 100 ms for 5 s), and again when its requeue falls due.
    let due: number | undefined;
    for (let i = 0; i < 50; i++) {
      await cluster.delete('AccessGrant', `g-${i}`, 'payments');
      const res = await r.reconcile('deploy-bot');
      due = res.requeueAfterMs !== undefined ? clock.now().getTime() + res.requeueAfterMs : undefined;
      clock.advance(100);
    }
    while (due !== undefined) {
      clock.set(new Date(Math.max(due, clock.now().getTime())));
      const res = await r.reconcile('deploy-bot');
      due = res.requeueAfterMs !== undefined ? clock.now().getTime() + res.requeueAfterMs : undefined;
    }
    const writes = agentStatusWrites(cluster);
    expect(writes).to.be.within(1, Math.ceil(5000 / STATUS_COALESCE_MS));
    expect(cluster.agent('deploy-bot')!.status?.activeGrants).to.equal(0);
    // Settled: nothing more to write.
    expect(await r.reconcile('deploy-bot')).to.deep.equal({});
    expect(agentStatusWrites(cluster)).to.equal(writes);
  });

  it('a new finding is written at once, mid-burst, with the count as it is then', async function () {
    const { cluster, clock, r } = await settled();
    await r.reconcile('deploy-bot');
    await cluster.delete('AccessGrant', 'g-0', 'payments');
    expect((await r.reconcile('deploy-bot')).requeueAfterMs).to.equal(STATUS_COALESCE_MS);
    expect(agentStatusWrites(cluster)).to.equal(0);
    clock.advance(10);
    await cluster.delete('AccessGrant', 'g-1', 'payments');
    expect(r.reported(critical, clock.now())).to.equal(true);
    expect(await r.reconcile('deploy-bot')).to.deep.equal({});
    expect(agentStatusWrites(cluster)).to.equal(1);
    const st = cluster.agent('deploy-bot')!.status!;
    expect(st.findings).to.have.length(1);
    expect(st.conditions!.find((c) => c.type === 'BoundaryVerified')).to.include({ status: 'False', reason: 'BypassRoutesFound' });
    expect(st.activeGrants).to.equal(48);
    expect(st.lastVerified).to.equal('2030-01-01T00:00:00Z');
  });

  it('a report that only clears or refreshes waits for the coalesced write; a count write keeps the report', async function () {
    const { cluster, clock, r } = await settled();
    r.reported(critical, clock.now());
    await r.reconcile('deploy-bot');
    cluster.calls.length = 0;
    clock.advance(60_000);
    // The finding went: BoundaryVerified flips back, which is written at once too.
    expect(r.reported(clean, clock.now())).to.equal(true);
    await r.reconcile('deploy-bot');
    expect(agentStatusWrites(cluster)).to.equal(1);
    // A later pass with the same answer past the refresh period only moves lastVerified: it waits.
    clock.advance(6 * 60_000);
    expect(r.reported(clean, clock.now())).to.equal(false);
    expect((await r.reconcile('deploy-bot')).requeueAfterMs).to.equal(STATUS_COALESCE_MS);
    expect(agentStatusWrites(cluster)).to.equal(1);
    clock.advance(STATUS_COALESCE_MS);
    expect(await r.reconcile('deploy-bot')).to.deep.equal({});
    expect(agentStatusWrites(cluster)).to.equal(2);
    expect(cluster.agent('deploy-bot')!.status!.lastVerified).to.equal('2030-01-01T00:07:00Z');
    // Count writes after it apply the kept report as it was: no new lastVerified, no extra write.
    await cluster.delete('AccessGrant', 'g-0', 'payments');
    clock.advance(10 * 60_000);
    await r.reconcile('deploy-bot');
    clock.advance(STATUS_COALESCE_MS);
    await r.reconcile('deploy-bot');
    expect(agentStatusWrites(cluster)).to.equal(3);
    expect(cluster.agent('deploy-bot')!.status).to.include({ activeGrants: 49, lastVerified: '2030-01-01T00:07:00Z' });
  });

  it('a lost race on a due write is retried at once, not delayed again', async function () {
    const { cluster, clock, r } = await settled();
    await cluster.delete('AccessGrant', 'g-0', 'payments');
    await r.reconcile('deploy-bot');
    clock.advance(STATUS_COALESCE_MS);
    cluster.failNext('replaceStatus', 409);
    expect(await r.reconcile('deploy-bot')).to.deep.equal({ requeueAfterMs: CONFLICT_RETRY_MS });
    clock.advance(CONFLICT_RETRY_MS);
    expect(await r.reconcile('deploy-bot')).to.deep.equal({});
    expect(cluster.agent('deploy-bot')!.status?.activeGrants).to.equal(49);
  });
});

describe('operator/reconcile: ApprovalRequest', function () {
  it('shows Pending at once, requeues at expiresAt, and wakes the grant it gates', async function () {
    const cluster = new FakeCluster({ objects: [activation()] });
    const ctx = fakeContext(cluster, clockAt(T0));
    expect(await reconcileApproval(ctx, 'payments', 'activate-hotfix')).to.deep.equal({ requeueAfterMs: 3_600_000 });
    expect(cluster.approval('payments', 'activate-hotfix')!.status?.phase).to.equal('Pending');
    expect(ctx.enqueued).to.deep.equal(['AccessGrant/payments/hotfix']);
  });

  it('expires an undecided request by the clock', async function () {
    const cluster = new FakeCluster({ objects: [activation({}, { phase: 'Pending' })] });
    const clock = clockAt(T0);
    clock.advance(3_600_001);
    await reconcileApproval(fakeContext(cluster, clock), 'payments', 'activate-hotfix');
    expect(cluster.approval('payments', 'activate-hotfix')!.status?.phase).to.equal('Expired');
  });

  it('does nothing for a request that is gone', async function () {
    const cluster = new FakeCluster();
    expect(await reconcileApproval(fakeContext(cluster, clockAt()), 'payments', 'gone')).to.deep.equal({});
    expect(cluster.calls).to.deep.equal([]);
  });
});

describe('operator/reconcile: AuditEvent retention', function () {
  it('pages through the events and deletes only those past retention', async function () {
    const day = 24 * 3_600_000;
    // Legacy agentgate.io custom resources (before the audit store), same shape otherwise.
    const event = (name: string, ageDays: number): AuditEvent => ({
      apiVersion: 'agentgate.io/v1alpha1' as AuditEvent['apiVersion'],
      kind: 'AuditEvent',
      metadata: { name, namespace: 'agentgate-system' },
      spec: { time: new Date(Date.parse(T0) - ageDays * day).toISOString() } as AuditEvent['spec'],
    });
    const events = Array.from({ length: 1200 }, (_, i) => event(`e-${i}`, i % 2 === 0 ? 40 : 1));
    const cluster = new FakeCluster({ objects: events });
    await reconcileAuditRetention(fakeContext(cluster, clockAt(T0)));
    expect(cluster.calls.filter((c) => c.startsWith('delete AuditEvent'))).to.have.length(600);
    expect(cluster.objects.has('AuditEvent/agentgate-system/e-1')).to.equal(true);
    expect(cluster.objects.has('AuditEvent/agentgate-system/e-0')).to.equal(false);
  });
});

describe('operator/reconcile: orphan RoleBindings', function () {
  it('deletes a managed binding that names no grant, and leaves one that does', async function () {
    const cluster = new FakeCluster({ bindings: [binding('stray', {}), binding('agentgate-hotfix', { 'agentgate.io/grant': 'hotfix' })] });
    const ctx = fakeContext(cluster, clockAt());
    await reconcileOrphanBinding(ctx, 'payments', 'stray');
    await reconcileOrphanBinding(ctx, 'payments', 'agentgate-hotfix');
    expect([...cluster.bindings.keys()]).to.deep.equal(['payments/agentgate-hotfix']);
  });
});
