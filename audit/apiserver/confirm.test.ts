import { expect } from 'chai';
import type { ApprovalRequest } from '../../api/types.js';
import { FakeApprovalStore, quietLogger } from '../../testing/fake-cluster.js';
import { heldRequest, settledCall } from '../../testing/fixtures.js';
import { confirmApprovalCalls } from './confirm.js';

function stored(store: FakeApprovalStore, status: ApprovalRequest['status']): ApprovalRequest {
  return store.put(heldRequest(status));
}

const call = settledCall;

describe('audit/apiserver/confirm: writing what the audit log confirms', () => {
  it('marks origin and consumption confirmed, two calls of one request in one batch in order', async () => {
    const approvals = new FakeApprovalStore();
    stored(approvals, { phase: 'Consumed', origin: 'Unconfirmed', consumedBy: 'uid-2', consumption: 'Unconfirmed' });
    const n = await confirmApprovalCalls([call(), call({ record: 'rec-2', decision: 'Allowed', requestUID: 'uid-2', outcome: 'Completed' })], {
      approvals,
      log: quietLogger(),
    });
    expect(n).to.equal(2);
    expect(approvals.stored.get('prod/ar-1')!.status).to.include({ origin: 'Confirmed', consumption: 'Completed', consumedBy: 'uid-2' });
  });

  it('reads again after a conflict (the operator wrote first) and keeps its write', async () => {
    const approvals = new FakeApprovalStore();
    stored(approvals, { phase: 'Pending', approvals: [] });
    approvals.failNext('replaceStatus', 409);
    expect(await confirmApprovalCalls([call()], { approvals, log: quietLogger() })).to.equal(1);
    expect(approvals.stored.get('prod/ar-1')!.status).to.deep.equal({ phase: 'Pending', approvals: [], origin: 'Confirmed' });
  });

  it('reads nothing when the informer copy already shows it confirmed, and writes nothing for a gone request', async () => {
    const approvals = new FakeApprovalStore();
    const ar = stored(approvals, { origin: 'Confirmed' });
    approvals.failNext('get', 500);
    expect(await confirmApprovalCalls([call()], { approvals, cached: () => ar, log: quietLogger() })).to.equal(0);
    let unread = false;
    await approvals.get('prod', 'ar-1').catch(() => (unread = true));
    expect(unread, 'the queued read failure is still there: confirm read nothing').to.equal(true);
    expect(await confirmApprovalCalls([call({ approvalRequest: 'prod/gone' })], { approvals, log: quietLogger() })).to.equal(0);
    expect(approvals.calls).to.deep.equal([]);
  });

  it('leaves it Unconfirmed when the write fails (fail closed), and goes on with the next call', async () => {
    const approvals = new FakeApprovalStore();
    stored(approvals, { origin: 'Unconfirmed' });
    approvals.failNext('replaceStatus', 500);
    const other = call({ record: 'rec-9', approvalRequest: 'prod/ar-1' });
    expect(await confirmApprovalCalls([call(), other], { approvals, log: quietLogger() })).to.equal(1);
    expect(approvals.stored.get('prod/ar-1')!.status?.origin).to.equal('Confirmed');
  });
});
