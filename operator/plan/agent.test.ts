import { expect } from 'chai';
import type { V1RoleBinding } from '@kubernetes/client-node';
import { CONDITION, REASON, findCondition } from '../conditions.js';
import { agent, grant, T0 } from './fixtures.test-helpers.js';
import { grantChangeReachesAgent, planAgent, type AgentAction } from './agent.js';

const rb = (ns: string, name: string): V1RoleBinding => ({
  metadata: { name, namespace: ns, uid: `${ns}-${name}` },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
});
const of = <T extends AgentAction['type']>(actions: AgentAction[], t: T) => actions.find((a) => a.type === t) as Extract<AgentAction, { type: T }> | undefined;

describe('planAgent', function () {
  const now = new Date(T0);
  const active = grant({}, {}, { phase: 'Active' });
  const expired = grant({}, { name: 'old' }, { phase: 'Expired' });

  it('reports Ready, observedGeneration and the number of Active grants', function () {
    const p = planAgent({
      name: 'deploy-bot',
      agent: agent({}, { generation: 3 }),
      grants: [active, expired],
      bindings: [rb('payments', 'agentgate-hotfix')],
      now,
    });
    const st = of(p.actions, 'writeStatus')!.status;
    expect(st.activeGrants).to.equal(1);
    expect(st.observedGeneration).to.equal(3);
    expect(findCondition(st.conditions, CONDITION.Ready)).to.include({ status: 'True', reason: REASON.Ready, observedGeneration: 3 });
    expect(of(p.actions, 'deleteRoleBindings')).to.equal(undefined);
  });

  it('suspension deletes every binding of the agent in one action, then re-plans its grants', function () {
    const bindings = [rb('payments', 'agentgate-a'), rb('billing', 'agentgate-b'), rb('ops', 'agentgate-c')];
    const p = planAgent({ name: 'deploy-bot', agent: agent({ suspended: true }), grants: [active], bindings, now });
    expect(p.actions[0]).to.deep.equal({
      type: 'deleteRoleBindings',
      bindings: bindings.map((b) => ({ namespace: b.metadata!.namespace, name: b.metadata!.name, uid: b.metadata!.uid })),
    });
    expect(of(p.actions, 'enqueueGrants')!.grants).to.deep.equal([{ namespace: 'payments', name: 'hotfix' }]);
    const st = of(p.actions, 'writeStatus')!.status;
    expect(findCondition(st.conditions, CONDITION.Ready)).to.include({ status: 'False', reason: REASON.Suspended });
    expect(st.activeGrants).to.equal(0);
    expect(of(p.actions, 'event')).to.include({ eventType: 'Warning', reason: REASON.Suspended });
  });

  it('a deleted agent loses every binding', function () {
    const p = planAgent({ name: 'deploy-bot', agent: undefined, grants: [active], bindings: [rb('payments', 'agentgate-hotfix')], now });
    expect(p.actions.map((a) => a.type)).to.deep.equal(['deleteRoleBindings', 'enqueueGrants']);
  });

  it('re-plans its grants for a spec it has not observed, not on every run', function () {
    const observed = (generation: number, observedGeneration: number) => {
      const a = agent({}, { generation });
      a.status = { observedGeneration };
      return planAgent({ name: 'deploy-bot', agent: a, grants: [active], bindings: [], now });
    };
    expect(of(observed(1, 1).actions, 'enqueueGrants')).to.equal(undefined);
    expect(of(observed(2, 1).actions, 'enqueueGrants')!.grants).to.deep.equal([{ namespace: 'payments', name: 'hotfix' }]);
    // The status write that follows records the generation, so the next run does not fan out again.
    expect(of(observed(2, 1).actions, 'writeStatus')!.status.observedGeneration).to.equal(2);
  });

  it('a grant change reaches its agent only when its count of Active grants can change', function () {
    const pending = grant({}, {}, { phase: 'Pending' });
    const deleting = grant({}, { deletionTimestamp: T0 }, { phase: 'Active' });
    const renewed = grant({}, {}, { phase: 'Active', expiresAt: '2030-01-01T01:00:00Z' });
    expect(grantChangeReachesAgent('add', active)).to.equal(true);
    expect(grantChangeReachesAgent('add', pending)).to.equal(false);
    expect(grantChangeReachesAgent('update', active, pending)).to.equal(true);
    expect(grantChangeReachesAgent('update', renewed, active)).to.equal(false);
    expect(grantChangeReachesAgent('update', deleting, active)).to.equal(true);
    expect(grantChangeReachesAgent('delete', deleting)).to.equal(false);
    expect(grantChangeReachesAgent('delete', active)).to.equal(true);
  });

  it('leaves boundary-verification fields alone and writes nothing when nothing changed', function () {
    const a = agent();
    a.status = { findings: [{ severity: 'Warning', route: 'X', message: 'm', fix: 'f' }], lastVerified: T0 };
    const p1 = planAgent({ name: 'deploy-bot', agent: a, grants: [], bindings: [], now });
    const st = of(p1.actions, 'writeStatus')!.status;
    expect(st.findings).to.deep.equal(a.status.findings);
    expect(st.lastVerified).to.equal(T0);
    const p2 = planAgent({ name: 'deploy-bot', agent: { ...a, status: st }, grants: [], bindings: [], now: new Date('2030-01-02T00:00:00Z') });
    expect(p2.actions).to.deep.equal([]);
  });
});
