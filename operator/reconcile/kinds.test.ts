import { expect } from 'chai';
import type { ApprovalRequest, AuditEvent } from '../../api/types.js';
import { FakeCluster, fakeContext } from '../../testing/fake-cluster.js';
import { agent, clockAt, grant, T0 } from '../plan/fixtures.test-helpers.js';
import { reconcileAgent } from './agent.js';
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
    expect(await reconcileAgent(ctx, 'deploy-bot')).to.deep.equal({});
    expect([...cluster.bindings.keys()]).to.deep.equal(['payments/agentgate-c']);
    expect(ctx.enqueued).to.include('AccessGrant/payments/hotfix');
  });

  it('returns a short requeue when a binding was replaced under it', async function () {
    const cluster = new FakeCluster({ objects: [agent({ suspended: true })], bindings: [binding('agentgate-a', { 'agentgate.io/agent': 'deploy-bot' })] });
    cluster.failNext('deleteRoleBinding', 409);
    expect(await reconcileAgent(fakeContext(cluster, clockAt()), 'deploy-bot')).to.deep.equal({ requeueAfterMs: CONFLICT_RETRY_MS });
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
