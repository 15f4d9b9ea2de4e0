import { expect } from 'chai';
import { API_VERSION, type ApprovalRequest } from '../../api/types.js';
import { agentIdentity, POLICY_EPOCH } from '../../testing/fixtures.js';
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
    const stamped = (
      decisions: ApprovalRequest['decisions'],
      status: ApprovalRequest['status'] = { phase: 'Pending', policyEpoch: POLICY_EPOCH },
    ): ApprovalRequest => ({
      ...ar(status),
      decisions,
    });
    const now = at('2030-01-01T00:00:00Z');
    const ok = { agent: agent(), policy: { problems: [], epoch: POLICY_EPOCH } };
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
        policy: { problems: ['ValidatingAdmissionPolicy agentgate-approval-stamps does not exist'] },
      });
      const status = written(p)!;
      expect(status.phase).to.equal('Pending');
      expect(status.approvals).to.equal(undefined);
      expect(status.message).to.contain('not counted').and.contain('does not exist');
      expect(p.actions.find((a) => a.type === 'event')).to.include({ reason: 'ApprovalPolicyMissing' });
      expect(p.requeueAfterMs).to.equal(POLICY_RECHECK_MS);
    });
  });

  describe('the policy epoch (remove-policy / forge / restore)', function () {
    const agent = agentIdentity('deploy-bot', { allowedNamespaces: { names: ['payments'] }, approvers: { groups: ['sre'] } });
    const alice = [{ user: 'alice', groups: ['sre'], decision: 'Approved' as const }];
    const now = at('2030-01-01T00:00:00Z');
    const inForce = { agent, policy: { problems: [], epoch: POLICY_EPOCH } };
    const missing = { agent, policy: { problems: ['ValidatingAdmissionPolicyBinding agentgate-approval-stamps does not exist'] } };
    const written = (p: ReturnType<typeof planApproval>) =>
      (p.actions.find((a) => a.type === 'writeStatus') as { status: ApprovalRequest['status'] } | undefined)?.status;
    const event = (p: ReturnType<typeof planApproval>) => p.actions.find((a) => a.type === 'event') as { reason: string } | undefined;

    it('records the live epoch on the first write of a request with no decision, once', function () {
      const status = written(planApproval(ar(), now, inForce))!;
      expect(status.phase).to.equal('Pending');
      expect(status.policyEpoch).to.deep.equal(POLICY_EPOCH);
      expect(planApproval(ar(status), now, inForce).actions).to.deep.equal([]);
    });

    it('a request made while the policy is missing gets no epoch, is looked at again, and gets one when the policy is back', function () {
      const p = planApproval(ar(), now, missing);
      const status = written(p)!;
      expect(status.phase).to.equal('Pending');
      expect(status.policyEpoch).to.equal(undefined);
      expect(p.requeueAfterMs).to.equal(POLICY_RECHECK_MS);
      const back = written(planApproval(ar(status), now, inForce))!;
      expect(back.policyEpoch).to.deep.equal(POLICY_EPOCH);
      expect(back.message).to.equal(status.message);
    });

    it('decisions on a request without an epoch never count, even with the policy in force: it expires at once (written while nobody watched)', function () {
      const forged = { ...ar({ phase: 'Pending' }), decisions: alice };
      const p = planApproval(forged, now, inForce);
      const status = written(p)!;
      expect(status.phase).to.equal('Expired');
      expect(status.approvals).to.equal(undefined);
      expect(status.message).to.contain('not counted').and.contain('status.policyEpoch is unset').and.contain('fix: retry');
      expect(event(p)).to.include({ reason: 'ApprovalPolicyChanged' });
      expect(p.requeueAfterMs).to.equal(undefined);
      expect(planApproval({ ...forged, status }, now, inForce).actions).to.deep.equal([]);
    });

    it('while the policy is missing the decision waits (Pending); restored under a new uid, the request expires', function () {
      const req = { ...ar({ phase: 'Pending', policyEpoch: POLICY_EPOCH }), decisions: alice };
      const waiting = written(planApproval(req, now, missing))!;
      expect(waiting.phase).to.equal('Pending');
      const restored = { agent, policy: { problems: [], epoch: { ...POLICY_EPOCH, bindingUID: 'binding-uid-2' } } };
      expect(written(planApproval({ ...req, status: waiting }, now, restored))!.phase).to.equal('Expired');
    });

    it('a policy or binding recreated or edited since the epoch was recorded: nothing counts, and the status names what changed', function () {
      const recreated = { ...POLICY_EPOCH, bindingUID: 'binding-uid-2' };
      const edited = { ...POLICY_EPOCH, policyGeneration: 3 };
      const req = { ...ar({ phase: 'Pending', policyEpoch: POLICY_EPOCH }), decisions: alice };
      const a = written(planApproval(req, now, { agent, policy: { problems: [], epoch: recreated } }))!;
      expect(a.phase).to.equal('Expired');
      expect(a.approvals).to.equal(undefined);
      expect(a.message).to.contain('ValidatingAdmissionPolicyBinding agentgate-approval-stamps was deleted and recreated').and.contain('binding-uid-2');
      const b = written(planApproval(req, now, { agent, policy: { problems: [], epoch: edited } }))!;
      expect(b.message).to.contain('ValidatingAdmissionPolicy agentgate-approval-stamps was changed since (generation 1, now 3)');
      expect(b.policyEpoch, 'the recorded epoch is never replaced').to.deep.equal(POLICY_EPOCH);
      // The same epoch as recorded: the stamp counts.
      expect(written(planApproval(req, now, inForce))!.phase).to.equal('Approved');
    });
  });
});
