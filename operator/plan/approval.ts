// ApprovalRequest expiry as a pure function. The webhook records decisions (Approved,
// Denied); the operator owns time: requests nobody decided in time, and approvals nobody
// used in time, become Expired. Consumed and Denied are final and never touched.
import type { ApprovalRequest, ApprovalRequestStatus } from '../../api/types.js';
import type { Plan } from './grant.js';

export type ApprovalAction =
  | { type: 'writeStatus'; status: ApprovalRequestStatus }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

export function planApproval(ar: ApprovalRequest, now: Date): Plan<ApprovalAction> {
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
      const actions: ApprovalAction[] = [];
      // A new request shows Pending at once, so `kubectl get ar` never prints an empty phase.
      if (status.phase === undefined) actions.push({ type: 'writeStatus', status: { ...status, phase: 'Pending', message: `waiting for approval until ${ar.spec.expiresAt}` } });
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
