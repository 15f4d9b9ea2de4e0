import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import { FINALIZER, type AccessGrant } from '../../api/types.js';
import { FakeCluster, fakeContext } from '../../testing/fake-cluster.js';
import { grantShape } from '../cache-shapes.js';
import { agent, clockAt, grant, T0 } from '../plan/fixtures.test-helpers.js';
import { CONFLICT_RETRY_MS } from './context.js';
import { GrantReconciler } from './grant.js';

const MIN = 60_000;

describe('operator/reconcile: AccessGrant', function () {
  it('activates an Immediate grant: finalizer, RoleBinding, Active status, and a timer at expiry', async function () {
    const cluster = new FakeCluster({ objects: [agent(), grant()], namespaces: { payments: {} } });
    const r = new GrantReconciler(fakeContext(cluster, clockAt()));
    const result = await r.reconcile('payments', 'hotfix');
    expect(cluster.calls).to.deep.equal([
      'mergePatch AccessGrant/payments/hotfix',
      'createRoleBinding payments/agentgate-hotfix',
      'replaceStatus AccessGrant/payments/hotfix',
    ]);
    const g = cluster.grant('payments', 'hotfix')!;
    expect(g.metadata.finalizers).to.deep.equal([FINALIZER]);
    expect(g.status?.phase).to.equal('Active');
    expect(cluster.binding('payments', 'agentgate-hotfix')?.roleRef.name).to.equal('edit');
    expect(result).to.deep.equal({ requeueAfterMs: 30 * MIN, urgent: true });
    // Level-based: the same state again changes nothing.
    cluster.calls.length = 0;
    expect(await r.reconcile('payments', 'hotfix')).to.deep.equal({ requeueAfterMs: 30 * MIN, urgent: true });
    expect(cluster.calls).to.deep.equal([]);
  });

  it('logs an activation as one line naming its RoleBinding, and a binding whose status write failed on its own', async function () {
    const lines: Array<Record<string, unknown>> = [];
    const log = winston.createLogger({
      level: 'info',
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            objectMode: true,
            write(info: Record<string, unknown>, _enc, next) {
              lines.push(info);
              next();
            },
          }),
        }),
      ],
    });
    const cluster = new FakeCluster({ objects: [agent(), grant()], namespaces: { payments: {} } });
    await new GrantReconciler(fakeContext(cluster, clockAt(), { log })).reconcile('payments', 'hotfix');
    expect(lines.map((l) => l.message)).to.deep.equal(['grant phase']);
    expect(lines[0]).to.include({ grant: 'payments/hotfix', to: 'Active', roleBinding: 'agentgate-hotfix', role: 'edit' });

    lines.length = 0;
    const racing = new FakeCluster({ objects: [agent(), grant()], namespaces: { payments: {} } });
    racing.failNext('replaceStatus', 409);
    await new GrantReconciler(fakeContext(racing, clockAt(), { log })).reconcile('payments', 'hotfix');
    expect(racing.binding('payments', 'agentgate-hotfix')).to.not.equal(undefined);
    expect(lines.map((l) => l.message)).to.deep.equal(['rolebinding created']);
    expect(lines[0]).to.include({ grant: 'payments/hotfix', roleBinding: 'agentgate-hotfix', role: 'edit' });
  });

  it('returns a short requeue, not an error, when a status write loses a race', async function () {
    const cluster = new FakeCluster({ objects: [agent(), grant()], namespaces: { payments: {} } });
    cluster.failNext('replaceStatus', 409);
    const result = await new GrantReconciler(fakeContext(cluster, clockAt())).reconcile('payments', 'hotfix');
    expect(result).to.deep.equal({ requeueAfterMs: CONFLICT_RETRY_MS });
    expect(cluster.grant('payments', 'hotfix')!.status?.phase).to.not.equal('Active');
  });

  it('ends access first at expiry: the RoleBinding goes in a pass of its own, the status follows', async function () {
    const cluster = new FakeCluster({ objects: [agent(), grant()], namespaces: { payments: {} } });
    const clock = clockAt();
    const r = new GrantReconciler(fakeContext(cluster, clock));
    await r.reconcile('payments', 'hotfix');
    clock.advance(31 * MIN);
    cluster.calls.length = 0;
    expect(await r.reconcile('payments', 'hotfix')).to.deep.equal({ requeueAfterMs: 0 });
    expect(cluster.calls).to.deep.equal(['deleteRoleBinding payments/agentgate-hotfix']);
    expect(cluster.grant('payments', 'hotfix')!.status?.phase).to.equal('Active');
    cluster.calls.length = 0;
    await r.reconcile('payments', 'hotfix');
    expect(cluster.grant('payments', 'hotfix')!.status?.phase).to.equal('Expired');
    expect(cluster.calls).to.include('replaceStatus AccessGrant/payments/hotfix');
    expect(cluster.bindings.size).to.equal(0);
  });

  it('makes a grant outside the ceiling Invalid and binds nothing', async function () {
    const cluster = new FakeCluster({ objects: [agent(), grant({ duration: '3h' })], namespaces: { payments: {} } });
    const ctx = fakeContext(cluster, clockAt());
    await new GrantReconciler(ctx).reconcile('payments', 'hotfix');
    expect(cluster.grant('payments', 'hotfix')!.status?.phase).to.equal('Invalid');
    expect(cluster.bindings.size).to.equal(0);
    expect(ctx.events).to.include('AccessGrant/hotfix Warning Invalid');
  });

  it('refuses to take over a RoleBinding of the same name that another object owns', async function () {
    const foreign = {
      metadata: { name: 'agentgate-hotfix', namespace: 'payments', uid: 'other' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
    };
    const cluster = new FakeCluster({ objects: [agent(), grant()], bindings: [foreign], namespaces: { payments: {} } });
    let error: unknown;
    await new GrantReconciler(fakeContext(cluster, clockAt())).reconcile('payments', 'hotfix').catch((e: unknown) => (error = e));
    expect(String(error)).to.contain('RoleBinding payments/agentgate-hotfix exists and does not belong to this grant');
    expect(cluster.binding('payments', 'agentgate-hotfix')?.roleRef.name).to.equal('admin');
  });

  it('revokes at once when the agent is suspended', async function () {
    const cluster = new FakeCluster({ objects: [agent(), grant()], namespaces: { payments: {} } });
    const clock = clockAt(T0);
    const r = new GrantReconciler(fakeContext(cluster, clock));
    await r.reconcile('payments', 'hotfix');
    await cluster.mergePatch('AgentIdentity', 'deploy-bot', { spec: { suspended: true } });
    await r.reconcile('payments', 'hotfix');
    expect(cluster.bindings.size).to.equal(0);
    await r.reconcile('payments', 'hotfix');
    expect(cluster.grant('payments', 'hotfix')!.status?.phase).to.equal('Revoked');
  });

  it('writes finalizers as a conditional merge patch, so a trimmed cached grant loses nothing of the stored one', async function () {
    // The cache keeps grantShape(grant): no labels, no foreign annotations. Everything the
    // reconciler writes back must leave those (and other controllers' finalizers) alone.
    class TrimmedCache extends FakeCluster {
      override grant(namespace: string, name: string): AccessGrant | undefined {
        const g = super.grant(namespace, name);
        return g && grantShape(g);
      }
    }
    const meta = { finalizers: ['example.com/keep'], labels: { team: 'payments' }, annotations: { 'example.com/note': 'kept' } };
    const cluster = new TrimmedCache({ objects: [agent(), grant({}, meta)], namespaces: { payments: {} } });
    const r = new GrantReconciler(fakeContext(cluster, clockAt()));
    await r.reconcile('payments', 'hotfix');
    const stored = (): AccessGrant => cluster.objects.get('AccessGrant/payments/hotfix') as AccessGrant;
    expect(stored().metadata.finalizers).to.deep.equal(['example.com/keep', FINALIZER]);
    expect(stored().status?.phase).to.equal('Active');

    // Deleted: the binding goes, then our finalizer alone.
    cluster.objects.set('AccessGrant/payments/hotfix', { ...stored(), metadata: { ...stored().metadata, deletionTimestamp: T0 } } as never);
    cluster.calls.length = 0;
    await r.reconcile('payments', 'hotfix');
    expect(cluster.calls).to.deep.equal(['deleteRoleBinding payments/agentgate-hotfix', 'mergePatch AccessGrant/payments/hotfix']);
    expect(stored().metadata.finalizers).to.deep.equal(['example.com/keep']);
    expect(stored().metadata.labels).to.deep.equal({ team: 'payments' });
    expect(stored().metadata.annotations).to.deep.equal({ 'example.com/note': 'kept' });
  });

  it('re-plans when the grant moved on under a finalizer patch (resourceVersion precondition)', async function () {
    const cluster = new FakeCluster({ objects: [agent(), grant({}, { finalizers: [] })], namespaces: { payments: {} } });
    cluster.failNext('mergePatch', 409);
    const result = await new GrantReconciler(fakeContext(cluster, clockAt())).reconcile('payments', 'hotfix');
    expect(result).to.deep.equal({ requeueAfterMs: CONFLICT_RETRY_MS });
    expect(cluster.bindings.size).to.equal(0);
    // A stale resourceVersion is refused by the fake as by the apiserver.
    const err = await cluster.mergePatch('AccessGrant', 'hotfix', { metadata: { resourceVersion: '1', finalizers: [] } }, 'payments').catch((e: unknown) => e);
    expect((err as { code?: number }).code).to.equal(409);
  });
});
