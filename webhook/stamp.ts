// /mutate/stamp for ApprovalRequests: when a caller sets the `approved` annotation, write
// their decision into `decisions` with the identity the apiserver authenticated
// (request.userInfo). Pure. The patch is applied only if the apiserver really sent the
// review, and the ValidatingAdmissionPolicy agentgate-approval-stamps (lib/approval-policy.ts)
// refuses any entry that differs from the caller, so a forged review changes nothing and a
// hand-written entry cannot claim someone else.
import type { ApprovalRequest } from '../api/types.js';
import type { AdmissionRequest } from '../lib/admission.js';
import { isJsonObject } from '../lib/admission.js';
import { ANNOTATION_APPROVED } from '../api/types.js';
import { approverStamp, parseApprovalAnnotation, withStamp } from '../lib/approval.js';

type JsonPatch = Array<{ op: 'add'; path: string; value: unknown }>;

/**
 * The patch that sets the caller's entry in `decisions` from the `approved` annotation of
 * the object being written; empty when there is no valid decision, no authenticated
 * user, or the entry is already exactly so (a repeated annotate changes nothing).
 */
export function approvalStampPatch(request: AdmissionRequest): JsonPatch {
  if (request.operation !== 'UPDATE' || request.subResource || request.resource.resource !== 'approvalrequests') return [];
  const obj = request.object as unknown as ApprovalRequest | undefined;
  if (!isJsonObject(obj)) return [];
  const decision = parseApprovalAnnotation(obj.metadata?.annotations?.[ANNOTATION_APPROVED]);
  const user = request.userInfo?.username ?? '';
  if (!user || decision === undefined || decision === 'invalid') return [];
  const next = withStamp(obj.decisions, approverStamp(request.userInfo, decision));
  return next ? [{ op: 'add', path: '/decisions', value: next }] : [];
}
