import { expect } from 'chai';
import { API_VERSION, type ApprovalRequest } from '../../api/types.js';
import { agentIdentity } from '../../testing/fixtures.js';
import { planApproval, POLICY_RECHECK_MS } from './approval.js';

const ar = (status?: ApprovalRequest['status']): ApprovalRequest => ({
  apiVersion: API_VERSION,
  kind: 'ApprovalRequest',
  metadata: { name: 'activate-hotfix', namespace: 'payments' },
  spec: {
    agent: 'deploy-bot',
    type: 'Activation',
    grant: 'hotfix',
    fingerprint: 'a'.repeat(64),
    summary: 's',
    requestedBy: 'unknown',
    expiresAt: '2030-01-01T01:00:00Z',
  },
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

  describe('recording decisions from the persisted stamps', function () {
    const agent = (requiredApprovals = 1) =>
      agentIdentity('deploy-bot', { allowedNamespaces: { names: ['payments'] }, approvers: { groups: ['sre'] }, requiredApprovals });
    const stamped = (decisions: ApprovalRequest['decisions'], status: ApprovalRequest['status'] = { phase: 'Pending' }): ApprovalRequest => ({
      ...ar(status),
      decisions,
    });
    const now = at('2030-01-01T00:00:00Z');
    const ok = { agent: agent(), policyProblems: [] as string[] };
    const written = (p: ReturnType<typeof planApproval>) =>
      (p.actions.find((a) => a.type === 'writeStatus') as { status: ApprovalRequest['status'] } | undefined)?.status;

    it('records an eligible stamp (Approved, validUntil) and is idempotent on the written object', function () {
      const first = planApproval(stamped([{ user: 'alice', groups: ['sre'], decision: 'Approved' }]), now, ok);
      const status = written(first)!;
      expect(status.phase).to.equal('Approved');
      expect(status.approvals?.map((a) => a.user)).to.deep.equal(['alice']);
      expect(status.validUntil).to.equal('2030-01-01T00:10:00Z');
      expect(planApproval({ ...stamped([{ user: 'alice', groups: ['sre'], decision: 'Approved' }]), status }, now, ok).actions).to.deep.equal([]);
    });

    it('N of M counts distinct stamped approvers; Denied vetoes; the agent and strangers never count', function () {
      const two = { ...ok, agent: agent(2) };
      const one = written(planApproval(stamped([{ user: 'alice', groups: ['sre'], decision: 'Approved' }]), now, two))!;
      expect(one.phase).to.equal('Pending');
      const both = written(
        planApproval(
          stamped(
            [
              { user: 'alice', groups: ['sre'], decision: 'Approved' },
              { user: 'bob', groups: ['sre'], decision: 'Approved' },
            ],
            one,
          ),
          now,
          two,
        ),
      )!;
      expect(both.phase).to.equal('Approved');
      const veto = written(
        planApproval(
          stamped([
            { user: 'alice', groups: ['sre'], decision: 'Approved' },
            { user: 'carol', groups: ['sre'], decision: 'Denied' },
          ]),
          now,
          two,
        ),
      )!;
      expect(veto.phase).to.equal('Denied');
      const p = planApproval(
        stamped([
          { user: 'agent:deploy-bot', groups: ['sre'], decision: 'Approved' },
          { user: 'mallory', groups: ['dev'], decision: 'Approved' },
        ]),
        now,
        ok,
      );
      expect(p.actions.filter((a) => a.type === 'writeStatus')).to.deep.equal([]);
    });

    it('fails closed while the policy is not in force: nothing counts, the status says why, and it looks again', function () {
      const p = planApproval(stamped([{ user: 'alice', groups: ['sre'], decision: 'Approved' }]), now, {
        ...ok,
        policyProblems: ['ValidatingAdmissionPolicy agentgate-approval-stamps does not exist'],
      });
      const status = written(p)!;
      expect(status.phase).to.equal('Pending');
      expect(status.approvals).to.equal(undefined);
      expect(status.message).to.contain('not counted').and.contain('does not exist');
      expect(p.actions.find((a) => a.type === 'event')).to.include({ reason: 'ApprovalPolicyMissing' });
      expect(p.requeueAfterMs).to.equal(POLICY_RECHECK_MS);
    });
  });
});
