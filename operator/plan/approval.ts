// ApprovalRequest recording and expiry as a pure function. The operator owns the status:
// - decisions: approvers' stamps persisted by the apiserver (mutating webhook, checked by
//   the ValidatingAdmissionPolicy agentgate-approval-stamps) become status.approvals and
//   the phase, with the same checks an annotation gets (lib/approval.ts recordStamps).
//   Never from an AdmissionReview: the webhook cannot tell the apiserver from a forger.
//   Fail closed: while the policy is not in force, no stamp counts.
// - time: requests nobody decided in time, and approvals nobody used in time, become
//   Expired. Consumed and Denied are final and never touched.
import type { AgentIdentity, ApprovalRequest, ApprovalRequestStatus } from '../../api/types.js';
import { APPROVAL_POLICY, APPROVAL_POLICY_FIX } from '../../lib/approval-policy.js';
import { recordStamps } from '../../lib/approval.js';
import type { Plan } from './grant.js';

type ApprovalAction =
  | { type: 'writeStatus'; status: ApprovalRequestStatus }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

/** What recording decisions needs besides the request; absent: only expiry is planned. */
interface StampContext {
  agent: AgentIdentity | undefined;
  /** approvalPolicyProblems() of the live policy: non-empty means no stamp counts. */
  policyProblems: readonly string[];
  validityMs?: number;
}

/** While the policy is missing, look again this often (its return fires no ApprovalRequest event). */
export const POLICY_RECHECK_MS = 10_000;

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
        if (stamps.policyProblems.length) {
          const message = `decisions are not counted while ${APPROVAL_POLICY} is not in force: ${stamps.policyProblems.join('; ')}; fix: ${APPROVAL_POLICY_FIX}`;
          if (status.message === message && status.phase) return { actions: [], requeueAfterMs: Math.min(POLICY_RECHECK_MS, expiresAt - t) };
          return {
            actions: [
              { type: 'writeStatus', status: { ...status, phase: 'Pending', message } },
              { type: 'event', eventType: 'Warning', reason: 'ApprovalPolicyMissing', message },
            ],
            requeueAfterMs: Math.min(POLICY_RECHECK_MS, expiresAt - t),
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
      // A new request shows Pending at once, so `kubectl get ar` never prints an empty phase.
      if (status.phase === undefined)
        actions.push({ type: 'writeStatus', status: { ...status, phase: 'Pending', message: `waiting for approval until ${ar.spec.expiresAt}` } });
      return { actions, requeueAfterMs: expiresAt - t };
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
