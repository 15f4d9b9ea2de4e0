import { expect } from 'chai';
import type { ApprovalRequestStatus } from '../api/types.js';
import { heldRequest, settledCall } from '../testing/fixtures.js';
import { approvalRequestRef, confirmedStatus, originUnconfirmed, unconfirmedOriginWarning } from './approval-confirm.js';

const request = heldRequest;
const call = settledCall;

const consumed: ApprovalRequestStatus = { phase: 'Consumed', origin: 'Confirmed', consumedBy: 'uid-2', consumption: 'Unconfirmed' };

describe('lib/approval-confirm: what the apiserver audit log confirms about an ApprovalRequest', () => {
  it('confirms the origin from the held call (denied by the webhook, so Failed at the apiserver), once', () => {
    const status = confirmedStatus(request({ origin: 'Unconfirmed' }), call());
    expect(status).to.deep.equal({ origin: 'Confirmed' });
    expect(confirmedStatus(request(status), call()), 'a replayed batch changes nothing').to.equal(undefined);
  });

  it("confirms the use of the approval from the very admission request that spent it, with the apiserver's outcome", () => {
    for (const outcome of ['Completed', 'Failed'] as const) {
      const status = confirmedStatus(request(consumed), call({ decision: 'Allowed', requestUID: 'uid-2', outcome }));
      expect(status).to.include({ phase: 'Consumed', consumedBy: 'uid-2', consumption: outcome });
      expect(status?.message).to.contain('uid-2').and.contain('rec-1');
    }
  });

  it('never confirms a use by another admission request (the forger spent it; a real call that was held again proves only the origin)', () => {
    const forged: ApprovalRequestStatus = { ...consumed, consumedBy: 'forged-uid' };
    expect(confirmedStatus(request(forged), call({ decision: 'Allowed', requestUID: 'uid-2', outcome: 'Completed' }))).to.equal(undefined);
    expect(confirmedStatus(request({ ...forged, origin: 'Unconfirmed' }), call({ requestUID: 'uid-3' }))).to.deep.equal({
      ...forged,
      origin: 'Confirmed',
    });
  });

  it('never moves a confirmed outcome', () => {
    const done: ApprovalRequestStatus = { ...consumed, consumption: 'Completed' };
    expect(confirmedStatus(request(done), call({ decision: 'Allowed', requestUID: 'uid-2', outcome: 'Failed' }))).to.equal(undefined);
  });

  it('confirms nothing from a call of another operation or agent, or for an activation request', () => {
    expect(confirmedStatus(request(), call({ fingerprint: 'b'.repeat(64) }))).to.equal(undefined);
    expect(confirmedStatus(request(), call({ agent: 'other-bot' }))).to.equal(undefined);
    expect(confirmedStatus(request(undefined, 'Activation'), call())).to.equal(undefined);
  });

  it('warns about an unconfirmed operation request only', () => {
    expect(originUnconfirmed(request())).to.equal(true);
    expect(unconfirmedOriginWarning(request({ origin: 'Unconfirmed' })))
      .to.contain('not yet confirmed')
      .and.contain('deploy-bot');
    expect(unconfirmedOriginWarning(request({ origin: 'Confirmed' }))).to.equal(undefined);
    expect(unconfirmedOriginWarning(request(undefined, 'Activation'))).to.equal(undefined);
  });

  it('splits namespace/name references', () => {
    expect(approvalRequestRef('prod/ar-1')).to.deep.equal({ namespace: 'prod', name: 'ar-1' });
    expect(approvalRequestRef('ar-1')).to.equal(undefined);
    expect(approvalRequestRef('prod/')).to.equal(undefined);
  });
});
