import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import { validateGrant } from '../operator/plan/grant.js';
import { accessGrant, agentIdentity } from '../testing/fixtures.js';
import { validateAccessGrant } from './validation.js';
import type { AccessGrant } from '../api/types.js';

describe('validation: the grant ceiling agrees with the operator', function () {
  const clock = new FakeClock('2030-01-01T00:00:00Z');
  const agent = agentIdentity('deploy-bot', { maxDuration: '2h' });
  // A grant as the webhook sees it at creation: notAfter without notBefore, no creationTimestamp yet.
  const grant = (notAfterHours: number): AccessGrant =>
    accessGrant(
      'late',
      'prod',
      { duration: undefined, notAfter: new Date(clock.now().getTime() + notAfterHours * 3_600_000).toISOString() },
      (g) => delete g.spec.duration,
    );

  it('refuses a notAfter window longer than maxDuration without notBefore, as the operator does', function () {
    const webhook = validateAccessGrant(grant(3), agent, { metadata: { name: 'prod' } }, 'agentgate-system', clock.now());
    expect(webhook.errors).to.have.length(1);
    expect(webhook.errors[0]).to.contain('spec.notAfter').and.contain('exceeds');
    const operator = validateGrant(grant(3), agent, {}, clock.now(), 'agentgate-system');
    expect(operator.ok).to.equal(false);
    expect(operator.message).to.equal(webhook.errors[0]);
  });

  it('accepts the same window when it fits, in both', function () {
    expect(validateAccessGrant(grant(1), agent, { metadata: { name: 'prod' } }, 'agentgate-system', clock.now()).errors).to.deep.equal([]);
    expect(validateGrant(grant(1), agent, {}, clock.now(), 'agentgate-system').ok).to.equal(true);
  });
});
