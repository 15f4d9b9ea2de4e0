// ApprovalRequest recording and expiry as a pure function. The operator owns the status:
// - decisions: approvers' stamps persisted by the apiserver (mutating webhook, checked by
//   the ValidatingAdmissionPolicy agentgate-approval-stamps) become status.approvals and
//   the phase, with the same checks an annotation gets (lib/approval.ts recordStamps).
//   Never from an AdmissionReview: the webhook cannot tell the apiserver from a forger.
//   Fail closed: while the policy is not in force, no stamp counts; nor unless it is the
//   very policy and binding that were in force when the request had no decision yet
//   (status.policyEpoch, see lib/approval-policy.ts).
// - time: requests nobody decided in time, and approvals nobody used in time, become
//   Expired. Consumed and Denied are final and never touched.
import type { AgentIdentity, ApprovalRequest, ApprovalRequestStatus } from '../../api/types.js';
import { APPROVAL_POLICY, APPROVAL_POLICY_FIX, policyEpochChanges, type PolicyState } from '../../lib/approval-policy.js';
import { recordStamps } from '../../lib/approval.js';
import type { Plan } from './grant.js';

type ApprovalAction =
  | { type: 'writeStatus'; status: ApprovalRequestStatus }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

/** What recording decisions needs besides the request; absent: only expiry is planned. */
interface StampContext {
  agent: AgentIdentity | undefined;
  /** The live policy: problems (non-empty means no stamp counts) and, when in force, its epoch. */
  policy: PolicyState;
  validityMs?: number;
}

/** While the policy is missing, look again this often (its return fires no ApprovalRequest event). */
export const POLICY_RECHECK_MS = 10_000;

/** The fix when a request's decisions can never count: only a new request can be approved. */
const NEW_REQUEST_FIX = 'retry the held call: it creates a new request, guarded by the policy now in force, for approvers to decide';

/**
 * Why this request's decisions do not count now (undefined: they do), and whether that can
 * pass (the policy coming back) or is final: the policy did not guard this request
 * throughout, so no decision on it can ever count and it expires at once (its retry then
 * gets a new request instead of waiting on a dead one).
 */
function uncounted(status: ApprovalRequestStatus, policy: PolicyState): { message: string; final: boolean } | undefined {
  if (policy.problems.length)
    return {
      message: `decisions are not counted while ${APPROVAL_POLICY} is not in force: ${policy.problems.join('; ')}; fix: ${APPROVAL_POLICY_FIX}`,
      final: false,
    };
  if (!status.policyEpoch)
    return {
      message: `decisions are not counted: they were written before the operator saw this request under ${APPROVAL_POLICY} (status.policyEpoch is unset), so the policy may not have checked them; fix: ${NEW_REQUEST_FIX}`,
      final: true,
    };
  const changes = policy.epoch ? policyEpochChanges(status.policyEpoch, policy.epoch) : [];
  if (changes.length)
    return {
      message: `decisions are not counted: ${changes.join('; ')}, so a decision written in between may not have been checked; fix: ${NEW_REQUEST_FIX}`,
      final: true,
    };
  return undefined;
}

export function planApproval(ar: ApprovalRequest, now: Date, stamps?: StampContext): Plan<ApprovalAction> {
  const status = ar.status ?? {};
  const t = now.getTime();
  const expire = (message: string): Plan<ApprovalAction> => ({
    actions: [
      { type: 'writeStatus', status: { ...status, phase: 'Expired', message } },
      { type: 'event', eventType: 'Warning', reason: 'Expired', message },
    ],
  });
  switch (status.phase) {
    case undefined:
    case 'Pending': {
      const expiresAt = Date.parse(ar.spec.expiresAt);
      if (!(expiresAt > t)) return expire(`not decided before spec.expiresAt ${ar.spec.expiresAt}`);
      if (stamps && (ar.decisions ?? []).length) {
        const why = uncounted(status, stamps.policy);
        if (why?.final)
          return {
            actions: [
              { type: 'writeStatus', status: { ...status, phase: 'Expired', message: why.message } },
              { type: 'event', eventType: 'Warning', reason: 'ApprovalPolicyChanged', message: why.message },
            ],
          };
        if (why) {
          const requeueAfterMs = Math.min(POLICY_RECHECK_MS, expiresAt - t);
          if (status.message === why.message && status.phase) return { actions: [], requeueAfterMs };
          return {
            actions: [
              { type: 'writeStatus', status: { ...status, phase: 'Pending', message: why.message } },
              { type: 'event', eventType: 'Warning', reason: 'ApprovalPolicyMissing', message: why.message },
            ],
            requeueAfterMs,
          };
        }
        const r = recordStamps(ar, stamps.agent, now, stamps.validityMs !== undefined ? { validityMs: stamps.validityMs } : {});
        if (r.status) {
          const actions: ApprovalAction[] = [{ type: 'writeStatus', status: r.status }];
          if (r.phase !== 'Pending')
            actions.push({ type: 'event', eventType: r.phase === 'Approved' ? 'Normal' : 'Warning', reason: r.phase, message: r.status.message ?? r.phase });
          for (const i of r.ignored)
            actions.push({ type: 'event', eventType: 'Warning', reason: 'DecisionIgnored', message: `the decision of ${i.user} does not count: ${i.reason}` });
          const until = r.phase === 'Approved' && r.status.validUntil ? Date.parse(r.status.validUntil) - t : expiresAt - t;
          return r.phase === 'Denied' ? { actions } : { actions, requeueAfterMs: until };
        }
      }
      const actions: ApprovalAction[] = [];
      // No decision yet: the policy in force now guards every later one, so record its epoch
      // (the write carries the resourceVersion seen, so a decision that raced in conflicts).
      const epoch = !(ar.decisions ?? []).length && !status.policyEpoch ? stamps?.policy.epoch : undefined;
      // A new request shows Pending at once, so `kubectl get ar` never prints an empty phase.
      if (status.phase === undefined || epoch)
        actions.push({
          type: 'writeStatus',
          status: {
            ...status,
            phase: 'Pending',
            message: status.message ?? `waiting for approval until ${ar.spec.expiresAt}`,
            ...(epoch ? { policyEpoch: epoch } : {}),
          },
        });
      // Not recorded (the policy is not in force): look again, so it is before anyone decides.
      const recheck = stamps && !status.policyEpoch && !epoch;
      return { actions, requeueAfterMs: recheck ? Math.min(POLICY_RECHECK_MS, expiresAt - t) : expiresAt - t };
    }
    case 'Approved': {
      if (!status.validUntil) return { actions: [] };
      const validUntil = Date.parse(status.validUntil);
      if (!(validUntil > t)) return expire(`approved at ${status.decidedAt ?? 'an earlier time'} but not used before status.validUntil ${status.validUntil}`);
      return { actions: [], requeueAfterMs: validUntil - t };
    }
    default:
      return { actions: [] };
  }
}
