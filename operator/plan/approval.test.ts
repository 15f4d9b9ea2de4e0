import { expect } from 'chai';
import { API_VERSION, type ApprovalRequest } from '../../api/types.js';
import { planApproval } from './approval.js';

const ar = (status?: ApprovalRequest['status']): ApprovalRequest => ({
  apiVersion: API_VERSION,
  kind: 'ApprovalRequest',
  metadata: { name: 'activate-hotfix', namespace: 'payments' },
  spec: { agent: 'deploy-bot', type: 'Activation', grant: 'hotfix', fingerprint: 'a'.repeat(64), summary: 's', requestedBy: 'unknown', expiresAt: '2030-01-01T01:00:00Z' },
  ...(status ? { status } : {}),
});
const at = (t: string) => new Date(t);

describe('planApproval', function () {
  it('marks a new request Pending and arms a timer for its expiry', function () {
    const p = planApproval(ar(), at('2030-01-01T00:00:00Z'));
    expect(p.actions).to.have.length(1);
    expect(p.actions[0]).to.deep.include({ type: 'writeStatus' });
    expect((p.actions[0] as { status: { phase: string } }).status.phase).to.equal('Pending');
    expect(p.requeueAfterMs).to.equal(3_600_000);
  });

  it('expires a Pending request at spec.expiresAt, not a millisecond before', function () {
    expect(planApproval(ar({ phase: 'Pending' }), new Date(Date.parse('2030-01-01T01:00:00Z') - 1)).actions).to.deep.equal([]);
    const p = planApproval(ar({ phase: 'Pending' }), at('2030-01-01T01:00:00Z'));
    const w = p.actions.find((a) => a.type === 'writeStatus') as { status: { phase: string; message: string } };
    expect(w.status.phase).to.equal('Expired');
    expect(w.status.message).to.contain('spec.expiresAt');
    expect(p.actions.find((a) => a.type === 'event')).to.include({ reason: 'Expired' });
  });

  it('expires an Approved request unused past status.validUntil, keeping the approvals', function () {
    const approvals = [{ user: 'alice', decision: 'Approved' as const, time: '2030-01-01T00:00:00Z' }];
    const live = planApproval(ar({ phase: 'Approved', approvals, validUntil: '2030-01-01T00:10:00Z' }), at('2030-01-01T00:05:00Z'));
    expect(live.actions).to.deep.equal([]);
    expect(live.requeueAfterMs).to.equal(300_000);
    const p = planApproval(ar({ phase: 'Approved', approvals, validUntil: '2030-01-01T00:10:00Z' }), at('2030-01-01T00:10:00Z'));
    const w = p.actions[0] as { status: { phase: string; approvals: unknown } };
    expect(w.status.phase).to.equal('Expired');
    expect(w.status.approvals).to.deep.equal(approvals);
  });

  it('an Approved request without validUntil stays approved (expiry of a decided request is the webhook window only)', function () {
    expect(planApproval(ar({ phase: 'Approved' }), at('2031-01-01T00:00:00Z')).actions).to.deep.equal([]);
  });

  it('never touches Consumed, Denied or Expired requests', function () {
    for (const phase of ['Consumed', 'Denied', 'Expired'] as const) {
      const p = planApproval(ar({ phase, validUntil: '2000-01-01T00:00:00Z' }), at('2031-01-01T00:00:00Z'));
      expect(p.actions, phase).to.deep.equal([]);
      expect(p.requeueAfterMs, phase).to.equal(undefined);
    }
  });
});
