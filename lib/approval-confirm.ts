// What the kube-apiserver's own audit log confirms about an ApprovalRequest. Pure.
//
// The webhook cannot tell the apiserver from any other client (issue #15), so the two
// effects an agents-path review has on an ApprovalRequest are provisional: creating it
// (status.origin Unconfirmed) and spending its approval (status.consumption Unconfirmed).
// The apiserver's audit event for a call it really made carries the webhook's record name
// (`<webhook>/audit-event`); when the audit sink settles that record, these functions say
// what it confirms. Confirmation only ever moves forward, so replayed batches and
// overlapping CloudWatch windows change nothing the second time.
//
// An approval spent by a call the apiserver never confirms stays spent (fail closed): the
// audit batch backend drops events under overload and CloudWatch lags minutes, so "not
// confirmed yet" is never evidence enough to allow a second use. An approver approves the
// new request the agent's retry creates.
import type { ApprovalRequest, ApprovalRequestStatus, Decision } from '../api/types.js';

/** An admission record the apiserver's audit event settled, of a call that named an ApprovalRequest. */
export interface SettledApprovalCall {
  /** The AuditEvent's name. */
  record: string;
  /** `namespace/name` (AuditEvent spec.approvalRequest). */
  approvalRequest: string;
  agent: string;
  decision: Decision;
  /** The admission request's uid (the apiserver's, since the apiserver's audit event joined it). */
  requestUID: string;
  /** The record's objectDigest: the operation's fingerprint for a held or approved call. */
  fingerprint: string;
  outcome: 'Completed' | 'Failed';
}

/** Splits `namespace/name`; undefined when it is not one. */
export function approvalRequestRef(ref: string): { namespace: string; name: string } | undefined {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) return undefined;
  return { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
}

/** Whether the call is the very operation the request holds (same agent, same fingerprint). */
function sameOperation(ar: ApprovalRequest, call: SettledApprovalCall): boolean {
  return ar.spec.type === 'Operation' && ar.spec.agent === call.agent && ar.spec.fingerprint === call.fingerprint;
}

/**
 * The status with what this confirmed call proves, or undefined when it proves nothing new:
 * - origin Confirmed: the apiserver saw the agent make the held operation (held, denied or
 *   allowed, completed or failed: the attempt is what proves the request is real);
 * - consumption Completed/Failed: the apiserver saw the very admission request that spent
 *   the approval (status.consumedBy), and what became of it.
 */
export function confirmedStatus(ar: ApprovalRequest, call: SettledApprovalCall): ApprovalRequestStatus | undefined {
  if (!sameOperation(ar, call)) return undefined;
  const status: ApprovalRequestStatus = { ...(ar.status ?? {}) };
  let changed = false;
  if (status.origin !== 'Confirmed') {
    status.origin = 'Confirmed';
    changed = true;
  }
  if (call.decision === 'Allowed' && status.consumedBy === call.requestUID && (status.consumption ?? 'Unconfirmed') === 'Unconfirmed') {
    status.consumption = call.outcome;
    status.message = `used by admission request ${call.requestUID}, which the kube-apiserver confirmed: ${call.outcome === 'Completed' ? 'the call completed' : 'the call failed'} (AuditEvent ${call.record})`;
    changed = true;
  }
  return changed ? status : undefined;
}

/** Whether the request needs the apiserver's confirmation and lacks it (an Activation comes from a persisted AccessGrant). */
export function originUnconfirmed(ar: ApprovalRequest): boolean {
  return ar.spec.type === 'Operation' && ar.status?.origin !== 'Confirmed';
}

/** A warning for an approver deciding an operation request the apiserver has not confirmed; undefined when confirmed. */
export function unconfirmedOriginWarning(ar: ApprovalRequest): string | undefined {
  if (!originUnconfirmed(ar)) return undefined;
  return (
    `ApprovalRequest ${ar.metadata.name ?? ''} is not yet confirmed by the kube-apiserver's audit log: agent ${ar.spec.agent} may never have made this call ` +
    `(a review sent straight to the webhook can create one). It usually confirms within seconds (minutes on EKS); ` +
    `check kubectl get approvalrequest ${ar.metadata.name ?? ''} -n ${ar.metadata.namespace ?? ''} (ORIGIN) before relying on it`
  );
}
