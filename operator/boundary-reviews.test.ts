import { expect } from 'chai';
import type { AccessReviewResult, PlannedReview } from '../boundary/types.js';
import { FakeClock } from '../lib/clock.js';
import type { RbacObjects } from '../lib/rbac-authorizer.js';
import { CrossChecker, ReviewBudget, reviewKey } from './boundary-reviews.js';

const principal = { label: 'User agent:bot', user: 'agent:bot', groups: ['system:authenticated'] };
const review = (resource: string, agent = 'bot'): PlannedReview => ({ agent, principal, verb: 'create', group: '', resource, namespace: 'payments' });
const plan = ['pods', 'secrets', 'rolebindings', 'serviceaccounts', 'deployments'].map((r) => review(r));
const none: RbacObjects = { roleBindings: [], clusterRoleBindings: [], roles: [], clusterRoles: [] };
const podsAllowed: RbacObjects = {
  ...none,
  clusterRoles: [{ metadata: { name: 'w' }, rules: [{ verbs: ['create'], apiGroups: [''], resources: ['pods'] }] }],
  clusterRoleBindings: [{ metadata: { name: 'crb' }, roleRef: { kind: 'ClusterRole', name: 'w' }, subjects: [{ kind: 'User', name: 'agent:bot' }] }],
};
const said = (r: PlannedReview, allowed: boolean): AccessReviewResult => ({ ...r, allowed, ...(allowed ? { reason: 'webhook authorizer' } : {}) });

describe('boundary access answers', function () {
  it('answers every review locally, with no SubjectAccessReview at all', function () {
    const { results, mismatches } = new CrossChecker().answer(plan, podsAllowed, []);
    expect(results.map((r) => r.allowed)).to.deep.equal([true, false, false, false, false]);
    expect(results[0]!.reason).to.contain('ClusterRoleBinding "crb"');
    expect(mismatches).to.deep.equal({ apiserverAllows: 0, apiserverDenies: 0 });
  });

  it('rotates the sample through every review, so the slow full pass is built in', function () {
    const c = new CrossChecker();
    const seen = [...c.sample(plan, 2), ...c.sample(plan, 2), ...c.sample(plan, 2)].map(reviewKey);
    expect(new Set(seen).size).to.equal(plan.length);
    expect(c.sample(plan, 0)).to.deep.equal([]);
  });

  it('takes an apiserver "allowed" that RBAC objects cannot explain, keeps asking about it, and drops it when it goes', function () {
    const c = new CrossChecker();
    const secrets = plan[1]!;
    const first = c.answer(plan, none, [said(secrets, true)]);
    expect(first.mismatches.apiserverAllows).to.equal(1);
    expect(first.results[1]).to.include({ allowed: true, reason: 'webhook authorizer' });
    // Later runs keep the answer without asking again, and ask about it first.
    expect(c.answer(plan, none, []).results[1]!.allowed).to.equal(true);
    expect(reviewKey(c.sample(plan, 1)[0]!)).to.equal(reviewKey(secrets));
    expect(c.answer(plan, none, [said(secrets, false)]).results[1]!.allowed).to.equal(false);
  });

  it('keeps the more suspicious local "allowed" when the apiserver denies', function () {
    const { results, mismatches } = new CrossChecker().answer(plan, podsAllowed, [said(plan[0]!, false)]);
    expect(results[0]!.allowed).to.equal(true);
    expect(mismatches.apiserverDenies).to.equal(1);
  });

  it('spends SubjectAccessReviews at the budgeted rate, bursts included', function () {
    const clock = new FakeClock('2030-01-01T00:00:00Z');
    const b = new ReviewBudget(0.5, 20, clock);
    expect(b.take(100)).to.equal(20);
    expect(b.take(100)).to.equal(0);
    clock.advance(60_000);
    expect(b.take(100)).to.equal(20);
    clock.advance(10_000);
    expect(b.take(100)).to.equal(5);
    expect(new ReviewBudget(0, 0, clock).take(10)).to.equal(0);
  });
});
