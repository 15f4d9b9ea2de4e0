import { expect } from 'chai';
import type { AgentIdentity, ApprovalRequest } from '../api/types.js';
import { agentIdentity } from '../testing/fixtures.js';
import { FakeClock } from './clock.js';
import { approvalUsable, approverEligibility, computePhase, consumedStatus, effectivePhase, parseApprovalAnnotation, recordDecision } from './approval.js';

const FP = 'a'.repeat(64);

function agent(over: Partial<AgentIdentity['spec']> = {}): AgentIdentity {
  return agentIdentity(
    'deploy-bot',
    {
      subjects: [
        { kind: 'User', name: 'agent:deploy-bot' },
        { kind: 'Group', name: 'agentgate:agents' },
      ],
      approvers: { users: ['carol'], groups: ['sre-approvers'] },
    },
    over,
  );
}

function ar(clock: FakeClock, status?: ApprovalRequest['status']): ApprovalRequest {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'ar-deploy-bot-aaaa', namespace: 'prod', resourceVersion: '7' },
    spec: {
      agent: 'deploy-bot',
      type: 'Operation',
      fingerprint: FP,
      summary: 'DELETE apps/v1 deployments prod/web by agent:deploy-bot',
      requestedBy: 'agent:deploy-bot',
      expiresAt: new Date(clock.now().getTime() + 3600_000).toISOString(),
    },
    ...(status ? { status } : {}),
  };
}

const alice = { user: 'alice', groups: ['sre-approvers', 'system:authenticated'] };
const bob = { user: 'bob', groups: ['sre-approvers'] };
const mallory = { user: 'mallory', groups: ['developers'] };

describe('approval', () => {
  it('parses the annotation', () => {
    expect(parseApprovalAnnotation('true')).to.equal('Approved');
    expect(parseApprovalAnnotation(' False ')).to.equal('Denied');
    expect(parseApprovalAnnotation(undefined)).to.equal(undefined);
    expect(parseApprovalAnnotation('yes')).to.equal('invalid');
  });

  describe('eligibility', () => {
    const clock = new FakeClock();
    it('accepts a member of an approver group and a listed user', () => {
      expect(approverEligibility(ar(clock), agent(), alice, clock.now())).to.deep.equal({ eligible: true });
      expect(approverEligibility(ar(clock), agent(), { user: 'carol' }, clock.now())).to.deep.equal({ eligible: true });
    });
    it('rejects someone who is not an approver, naming the approvers', () => {
      const r = approverEligibility(ar(clock), agent(), mallory, clock.now());
      expect(r).to.have.property('reason').that.contains('mallory is not an approver').and.contains('sre-approvers');
    });
    it('rejects the agent itself, by user or by group, even when listed as an approver', () => {
      const listed = agent({ approvers: { users: ['agent:deploy-bot'], groups: ['agentgate:agents'] } });
      const r = approverEligibility(ar(clock), listed, { user: 'agent:deploy-bot' }, clock.now());
      expect(r).to.have.property('reason').that.contains('cannot approve its own');
      const viaGroup = approverEligibility(ar(clock), listed, { user: 'other-bot', groups: ['agentgate:agents'] }, clock.now());
      expect(viaGroup).to.have.property('reason').that.contains('cannot approve its own');
    });
    it('rejects the requester', () => {
      const req = { ...ar(clock), spec: { ...ar(clock).spec, requestedBy: 'alice' } };
      expect(approverEligibility(req, agent(), alice, clock.now()))
        .to.have.property('reason')
        .that.contains('caused this request');
    });
    it('rejects expired and consumed requests and a missing agent', () => {
      const later = new Date(clock.now().getTime() + 3600_000);
      expect(approverEligibility(ar(clock), agent(), alice, later))
        .to.have.property('reason')
        .that.contains('expired');
      expect(approverEligibility(ar(clock, { phase: 'Consumed' }), agent(), alice, clock.now()))
        .to.have.property('reason')
        .that.contains('already used');
      expect(approverEligibility(ar(clock), undefined, alice, clock.now()))
        .to.have.property('reason')
        .that.contains('does not exist');
    });
  });

  describe('recordDecision', () => {
    it('approves with one approver and sets validUntil', () => {
      const clock = new FakeClock();
      const r = recordDecision(ar(clock), agent(), alice, 'Approved', clock.now(), { validityMs: 600_000 });
      expect(r.outcome).to.equal('recorded');
      if (r.outcome !== 'recorded') return;
      expect(r.phase).to.equal('Approved');
      expect(r.status.approvals).to.deep.equal([{ user: 'alice', groups: alice.groups, decision: 'Approved', time: '2030-01-01T00:00:00Z' }]);
      expect(r.status.decidedAt).to.equal('2030-01-01T00:00:00Z');
      expect(r.status.validUntil).to.equal('2030-01-01T00:10:00Z');
    });

    it('needs N distinct approvers; the same approver twice counts once', () => {
      const clock = new FakeClock();
      const two = agent({ requiredApprovals: 2 });
      const first = recordDecision(ar(clock), two, alice, 'Approved', clock.now());
      expect(first).to.include({ outcome: 'recorded', phase: 'Pending' });
      if (first.outcome !== 'recorded') return;
      const afterAlice = ar(clock, first.status);
      expect(recordDecision(afterAlice, two, alice, 'Approved', clock.now())).to.deep.equal({ outcome: 'unchanged', phase: 'Pending' });
      clock.advance(1000);
      const second = recordDecision(afterAlice, two, bob, 'Approved', clock.now());
      expect(second).to.include({ outcome: 'recorded', phase: 'Approved' });
      if (second.outcome !== 'recorded') return;
      expect(second.status.approvals!.map((a) => a.user)).to.deep.equal(['alice', 'bob']);
    });

    it('is idempotent for a repeat after the decision, and rejects a different late decision', () => {
      const clock = new FakeClock();
      const r = recordDecision(ar(clock), agent(), alice, 'Approved', clock.now());
      if (r.outcome !== 'recorded') throw new Error('expected recorded');
      const decided = ar(clock, r.status);
      expect(recordDecision(decided, agent(), alice, 'Approved', clock.now())).to.deep.equal({ outcome: 'unchanged', phase: 'Approved' });
      expect(recordDecision(decided, agent(), bob, 'Denied', clock.now()))
        .to.have.property('reason')
        .that.contains('already Approved');
      expect(recordDecision(decided, agent(), mallory, 'Approved', clock.now())).to.have.property('outcome', 'rejected');
    });

    it('one denial vetoes', () => {
      const clock = new FakeClock();
      const r = recordDecision(ar(clock), agent({ requiredApprovals: 2 }), alice, 'Denied', clock.now());
      expect(r).to.include({ outcome: 'recorded', phase: 'Denied' });
      expect(
        computePhase(
          [
            { user: 'a', decision: 'Approved', time: '' },
            { user: 'b', decision: 'Denied', time: '' },
          ],
          1,
        ),
      ).to.equal('Denied');
    });

    it('lets an approver change their mind while the request is pending', () => {
      const clock = new FakeClock();
      const two = agent({ requiredApprovals: 2 });
      const r = recordDecision(ar(clock), two, alice, 'Approved', clock.now());
      if (r.outcome !== 'recorded') throw new Error('expected recorded');
      const changed = recordDecision(ar(clock, r.status), two, alice, 'Denied', clock.now());
      expect(changed).to.include({ outcome: 'recorded', phase: 'Denied' });
    });
  });

  describe('use', () => {
    it('is usable once, only for the same fingerprint, only until validUntil', () => {
      const clock = new FakeClock();
      const r = recordDecision(ar(clock), agent(), alice, 'Approved', clock.now(), { validityMs: 60_000 });
      if (r.outcome !== 'recorded') throw new Error('expected recorded');
      const approved = ar(clock, r.status);
      expect(approvalUsable(approved, FP, clock.now())).to.deep.equal({ usable: true });
      expect(approvalUsable(approved, 'b'.repeat(64), clock.now())).to.have.property('usable', false);
      const consumed = ar(clock, consumedStatus(approved, 'uid-1', clock.now()));
      expect(approvalUsable(consumed, FP, clock.now()))
        .to.have.property('reason')
        .that.contains('Consumed');
      clock.advance(60_000);
      expect(effectivePhase(approved, clock.now())).to.equal('Expired');
      expect(approvalUsable(approved, FP, clock.now())).to.have.property('usable', false);
    });

    it('a pending request expires by the clock at spec.expiresAt', () => {
      const clock = new FakeClock();
      const pending = ar(clock);
      expect(effectivePhase(pending, clock.now())).to.equal('Pending');
      clock.advance(3600_000);
      expect(effectivePhase(pending, clock.now())).to.equal('Expired');
    });
  });
});
