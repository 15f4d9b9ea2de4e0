import { expect } from 'chai';
import { stripServerNoise, pickKeys } from '../lib/informer.js';
import { grantShape, namespaceShape, roleBindingShape } from './cache-shapes.js';
import { agent, apply, approve, grant, state, T0 } from './plan/fixtures.test-helpers.js';
import { ANNOTATION_REQUESTED_BY } from '../api/types.js';
import { planGrant, type GrantState } from './plan/grant.js';

const noise = {
  managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { 'f:reason': {} } } }],
  labels: { team: 'payments' },
  annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}', 'example.com/note': 'x', [ANNOTATION_REQUESTED_BY]: 'alice' },
};

/** The state as the operator's caches hold it. */
function cached(s: GrantState): GrantState {
  return { ...s, grant: s.grant && grantShape(s.grant), bindings: s.bindings.map(roleBindingShape) };
}

/** Full objects with everything the apiserver adds; every round planned from both must agree. */
function lifecycle(s: GrantState, rounds: (s: GrantState) => GrantState[]): void {
  for (const st of rounds(s)) {
    expect(planGrant(cached(st)), `phase ${st.grant?.status?.phase ?? 'new'}`).to.deep.equal(planGrant(st));
  }
}

describe('operator cache shapes', function () {
  it('plan the whole grant lifecycle exactly as the full objects do', function () {
    const g = grant({}, { ...noise, finalizers: [] });
    lifecycle(state({ grant: g }), (s0) => {
      const out = [s0];
      let s = s0;
      for (let i = 0; i < 3; i++) out.push((s = apply(s, planGrant(s))));
      // Window over, then the grant deleted while bound.
      out.push((s = { ...s, now: new Date(Date.parse(T0) + 31 * 60_000) }));
      out.push(apply(s, planGrant(s)));
      return out;
    });
  });

  it('plan an approval-gated grant and a deleted one the same way', function () {
    const g = grant({ activation: 'RequiresApproval' }, { ...noise });
    lifecycle(state({ grant: g }), (s0) => {
      const s1 = apply(s0, planGrant(s0));
      const s2 = { ...s1, approval: s1.approval && approve(s1.approval) };
      const s3 = apply(s2, planGrant(s2));
      const s4 = { ...s3, grant: s3.grant && { ...s3.grant, metadata: { ...s3.grant.metadata, deletionTimestamp: T0 } } };
      return [s0, s1, s2, s3, s4];
    });
  });

  it('keeps what the readers use and drops the rest', function () {
    const g = grantShape(grant({}, { ...noise, finalizers: ['agentgate.io/revoke-access'] }, { phase: 'Active' }));
    expect(g.metadata).to.deep.equal({
      name: 'hotfix',
      namespace: 'payments',
      uid: 'grant-uid',
      resourceVersion: '10',
      generation: 1,
      creationTimestamp: T0,
      finalizers: ['agentgate.io/revoke-access'],
      annotations: { [ANNOTATION_REQUESTED_BY]: 'alice' },
    });
    expect(g.status).to.deep.equal({ phase: 'Active' });
    const ns = namespaceShape({
      metadata: { name: 'payments', labels: { a: 'b' }, annotations: { x: 'y' } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
    expect(ns).to.deep.equal({ metadata: { name: 'payments', labels: { a: 'b' } } });
    const rb = roleBindingShape({
      metadata: { name: 'agentgate-hotfix', namespace: 'payments', ...noise },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
    });
    expect(rb.metadata).to.deep.equal({ name: 'agentgate-hotfix', namespace: 'payments', labels: { team: 'payments' } });
  });

  it('strips server noise without touching the object it was given', function () {
    const a = agent({}, { managedFields: noise.managedFields, annotations: { ...noise.annotations } } as never);
    const s = stripServerNoise(a);
    expect(s.metadata).to.not.have.property('managedFields');
    expect(s.metadata.annotations).to.deep.equal({ 'example.com/note': 'x', [ANNOTATION_REQUESTED_BY]: 'alice' });
    expect(a.metadata).to.have.property('managedFields');
    const plain = agent();
    expect(stripServerNoise(plain)).to.equal(plain);
    expect(pickKeys({ a: '1', b: '2' }, ['b', 'c'])).to.deep.equal({ b: '2' });
    expect(pickKeys({ a: '1' }, ['b'])).to.equal(undefined);
  });
});
