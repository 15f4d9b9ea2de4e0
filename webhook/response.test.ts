import { expect } from 'chai';
import { CAUSE, HELD_RETRY_AFTER_SECONDS, REASON } from '../api/reasons.js';
import type { ApprovalRequest } from '../api/types.js';
import { FakeClock } from '../lib/clock.js';
import { decide } from './decide.js';
import type { Decision, DecideOptions } from './decide.js';
import { agentResponse, refusalStatus } from './response.js';
import { StaticSnapshot } from './snapshot.js';
import type { SnapshotData } from './snapshot.js';
import { activeGrant, agentIdentity, configMapCreate, deploymentDelete, EDIT, NAMESPACES, request, VIEW, withStatus } from '../testing/fixtures.js';

const OPTS: DecideOptions = { agentgateNamespace: 'agentgate-system', fingerprintKey: 'k' };

function snap(clock: FakeClock, over: SnapshotData = {}): StaticSnapshot {
  return new StaticSnapshot({ agents: [agentIdentity()], grants: [activeGrant(clock)], clusterRoles: [EDIT, VIEW], namespaces: NAMESPACES, ...over });
}

const causes = (d: Decision, reason: string): string[] =>
  (refusalStatus(d).details?.causes ?? []).filter((c) => c.reason === reason).map((c) => c.message ?? '');

describe('webhook/response: the machine-readable contract of refusals and warnings', () => {
  it('a held call: 403 AgentgateApprovalRequired, details name the ApprovalRequest and its namespace, with retryAfterSeconds', () => {
    const clock = new FakeClock();
    const d = decide(deploymentDelete('web'), snap(clock), clock, OPTS);
    const ar = (d.effect as { approvalRequest: ApprovalRequest }).approvalRequest;
    const res = agentResponse('u1', d);
    expect(res).to.include({ uid: 'u1', allowed: false });
    expect(res.status).to.include({ status: 'Failure', code: 403, reason: REASON.ApprovalRequired, message: d.message });
    expect(res.status?.details).to.include({
      group: 'agentgate.io',
      kind: 'ApprovalRequest',
      name: ar.metadata.name,
      retryAfterSeconds: HELD_RETRY_AFTER_SECONDS,
    });
    expect(causes(d, CAUSE.Namespace)).to.deep.equal(['prod']);
    expect(causes(d, CAUSE.Agent)).to.deep.equal(['deploy-bot']);
    expect(causes(d, CAUSE.Grant)).to.deep.equal(['prod/g1']);
    expect(causes(d, CAUSE.Rule)).to.deep.equal(['delete']);
    expect(causes(d, CAUSE.Until)).to.deep.equal([ar.spec.expiresAt]);
    // Still pending on the retry: the same reason and request.
    const again = decide({ ...deploymentDelete('web'), uid: 'r' }, snap(clock, { approvalRequests: [withStatus(ar, { phase: 'Pending' })] }), clock, OPTS);
    expect(refusalStatus(again)).to.deep.include({ reason: REASON.ApprovalRequired });
    expect(refusalStatus(again).details?.name).to.equal(ar.metadata.name);
  });

  it('a call an approver denied: AgentgateApprovalDenied naming the request, no retry hint', () => {
    const clock = new FakeClock();
    const req = deploymentDelete('web');
    const ar = (decide(req, snap(clock), clock, OPTS).effect as { approvalRequest: ApprovalRequest }).approvalRequest;
    const denied = withStatus(ar, { phase: 'Denied', approvals: [{ user: 'bob', decision: 'Denied', time: '2030-01-01T00:00:00Z' }] });
    const s = refusalStatus(decide(req, snap(clock, { approvalRequests: [denied] }), clock, OPTS));
    expect(s).to.include({ code: 403, reason: REASON.ApprovalDenied });
    expect(s.details).to.include({ kind: 'ApprovalRequest', name: ar.metadata.name });
    expect(s.details?.retryAfterSeconds).to.equal(undefined);
  });

  it('distinguishes not covered, expired and waiting-for-activation', () => {
    const clock = new FakeClock();
    const none = decide(configMapCreate(), snap(clock, { grants: [] }), clock, OPTS);
    expect(refusalStatus(none)).to.include({ reason: REASON.NotCovered });
    expect(refusalStatus(none).details).to.include({ kind: 'AgentIdentity', name: 'deploy-bot' });
    expect(refusalStatus(none).details?.retryAfterSeconds).to.equal(undefined);

    const expired = activeGrant(clock, 'old', { expiresInMs: -1000 });
    const e = decide(configMapCreate(), snap(clock, { grants: [expired] }), clock, OPTS);
    expect(refusalStatus(e)).to.include({ reason: REASON.GrantExpired });
    expect(refusalStatus(e).details).to.include({ kind: 'AccessGrant', name: 'old' });
    expect(causes(e, CAUSE.Namespace)).to.deep.equal(['prod']);

    // An expired grant whose role never allowed the call is not "expired": it is not covered.
    const viewOnly = activeGrant(clock, 'looker', { expiresInMs: -1000, role: { kind: 'ClusterRole', name: 'view' } });
    expect(refusalStatus(decide(configMapCreate(), snap(clock, { grants: [viewOnly] }), clock, OPTS)).reason).to.equal(REASON.NotCovered);

    const waiting = activeGrant(clock, 'asked', { phase: 'AwaitingApproval' });
    const w = refusalStatus(decide(configMapCreate(), snap(clock, { grants: [expired, waiting] }), clock, OPTS));
    expect(w).to.include({ reason: REASON.NotCovered });
    expect(w.details).to.include({ kind: 'AccessGrant', name: 'asked', retryAfterSeconds: HELD_RETRY_AFTER_SECONDS });
  });

  it('rule denials, scope, suspension, ambiguity and refused access requests each have their reason', () => {
    const clock = new FakeClock();
    const denyRule = agentIdentity('deploy-bot', { approvalRules: [{ name: 'no-x', expression: "request.name == 'x'", action: 'Deny', message: 'not x' }] });
    const r = decide(configMapCreate('x'), snap(clock, { agents: [denyRule] }), clock, OPTS);
    expect(refusalStatus(r).reason).to.equal(REASON.RuleDenied);
    expect(causes(r, CAUSE.Rule)).to.deep.equal(['no-x']);

    const cluster = decide(request({ namespace: '', resource: 'namespaces', op: 'CREATE', name: 'n' }), snap(clock), clock, OPTS);
    expect(refusalStatus(cluster).reason).to.equal(REASON.OutOfScope);
    const own = decide(request({ group: 'agentgate.io', resource: 'approvalrequests', op: 'UPDATE', name: 'a' }), snap(clock), clock, OPTS);
    expect(refusalStatus(own).reason).to.equal(REASON.OutOfScope);

    const suspended = decide(configMapCreate(), snap(clock, { agents: [agentIdentity('deploy-bot', { suspended: true })] }), clock, OPTS);
    expect(refusalStatus(suspended)).to.deep.include({ reason: REASON.AgentSuspended });
    expect(refusalStatus(suspended).details).to.include({ kind: 'AgentIdentity', name: 'deploy-bot' });

    const ambiguous = decide(configMapCreate(), snap(clock, { agents: [agentIdentity('a'), agentIdentity('b')] }), clock, OPTS);
    expect(refusalStatus(ambiguous).reason).to.equal(REASON.AmbiguousIdentity);

    const grant = {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'mine', namespace: 'prod' },
      spec: { agent: 'deploy-bot', roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, duration: '1h', reason: 'r', activation: 'RequiresApproval' },
    };
    const ask = decide(request({ group: 'agentgate.io', resource: 'accessgrants', op: 'CREATE', name: 'mine', object: grant }), snap(clock), clock, OPTS);
    expect(refusalStatus(ask).reason).to.equal(REASON.RequestRefused);
  });

  it('every refusal carries an agentgate reason', () => {
    const clock = new FakeClock();
    const cases = [
      decide(deploymentDelete('web'), snap(clock), clock, OPTS),
      decide(configMapCreate(), snap(clock, { grants: [] }), clock, OPTS),
      decide({ ...deploymentDelete('web'), dryRun: true }, snap(clock), clock, OPTS),
    ];
    for (const d of cases) {
      expect(d.verdict).to.not.equal('Allowed');
      expect(d.reason, d.message).to.match(/^Agentgate[A-Z]/);
    }
  });

  it('503 with a retry hint when agentgate itself could not act', () => {
    const s = refusalStatus({
      verdict: 'Denied',
      agentCall: true,
      message: 'agentgate: audit down',
      matchedRules: [],
      effect: { kind: 'none' },
      holdSeconds: 0,
      reason: REASON.Unavailable,
      retryAfterSeconds: 2,
    });
    expect(s).to.include({ code: 503, reason: REASON.Unavailable });
    expect(s.details?.retryAfterSeconds).to.equal(2);
  });

  it('allowed calls: no status; a warning late in the window and when an approval was used', () => {
    const clock = new FakeClock();
    const early = agentResponse('u', decide(configMapCreate(), snap(clock), clock, OPTS));
    expect(early).to.deep.equal({ uid: 'u', allowed: true });

    // A 1h window with 5 minutes left: within its last 10 minutes.
    const late = activeGrant(clock, 'g1', { expiresInMs: 5 * 60_000 });
    late.status!.activatedAt = new Date(clock.now().getTime() - 55 * 60_000).toISOString();
    const res = agentResponse('u', decide(configMapCreate(), snap(clock, { grants: [late] }), clock, OPTS));
    expect(res.allowed).to.equal(true);
    expect(res.warnings).to.deep.equal([`agentgate: grant prod/g1 expires in 5m (at ${late.status?.expiresAt}); request a new grant to continue after that`]);

    // A second grant that lasts longer silences the warning: the agent's access is not ending.
    const lasting = activeGrant(clock, 'g2', { expiresInMs: 50 * 60_000 });
    expect(agentResponse('u', decide(configMapCreate(), snap(clock, { grants: [late, lasting] }), clock, OPTS)).warnings).to.equal(undefined);

    const req = deploymentDelete('web');
    const ar = (decide(req, snap(clock), clock, OPTS).effect as { approvalRequest: ApprovalRequest }).approvalRequest;
    const approved = withStatus(ar, {
      phase: 'Approved',
      approvals: [{ user: 'alice', decision: 'Approved', time: '2030-01-01T00:00:00Z' }],
      validUntil: '2030-01-01T00:10:00Z',
    });
    const through = agentResponse('u', decide(req, snap(clock, { approvalRequests: [approved] }), clock, OPTS));
    expect(through.allowed).to.equal(true);
    expect(through.warnings?.[0]).to.equal(
      `agentgate: allowed once by ApprovalRequest prod/${ar.metadata.name} (approved by alice); the approval is used up, the same call needs a new approval next time`,
    );
  });
});
