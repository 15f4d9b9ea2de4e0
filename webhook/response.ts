// The AdmissionResponse for an agent's call, built from the decision: allowed calls carry
// warnings; refused calls carry a metav1.Status whose reason, details and
// retryAfterSeconds follow the contract in api/reasons.ts (README "For agent authors").
// The apiserver passes reason, code and details through to the client and prefixes the
// message with `admission webhook "<name>" denied the request: `.
import { CAUSE, REASON } from '../api/reasons.js';
import { GROUP } from '../api/types.js';
import type { AdmissionResponse, Status, StatusCause } from '../lib/admission.js';
import type { Decision } from './decide.js';

/** HTTP code of a refusal: 503 when agentgate itself could not act (retryable), else 403. */
function refusalCode(reason: string | undefined): number {
  return reason === REASON.Unavailable ? 503 : 403;
}

export function refusalStatus(d: Decision): Status {
  const reason = d.reason ?? 'Forbidden';
  const causes: StatusCause[] = [];
  if (d.about?.namespace) causes.push({ reason: CAUSE.Namespace, field: 'metadata.namespace', message: d.about.namespace });
  if (d.agent) causes.push({ reason: CAUSE.Agent, message: d.agent });
  if (d.grant) causes.push({ reason: CAUSE.Grant, message: d.grant });
  for (const rule of d.matchedRules) causes.push({ reason: CAUSE.Rule, message: rule });
  if (d.until) causes.push({ reason: CAUSE.Until, message: d.until });
  const details: NonNullable<Status['details']> = {
    ...(d.about ? { group: GROUP, kind: d.about.kind, name: d.about.name } : {}),
    ...(causes.length ? { causes } : {}),
    ...(d.retryAfterSeconds && d.retryAfterSeconds > 0 ? { retryAfterSeconds: Math.ceil(d.retryAfterSeconds) } : {}),
  };
  return {
    status: 'Failure',
    code: refusalCode(d.reason),
    reason,
    message: d.message,
    ...(Object.keys(details).length ? { details } : {}),
  };
}

/** What the webhook answers for an agent's call. */
export function agentResponse(uid: string, d: Decision): AdmissionResponse {
  if (d.verdict === 'Allowed') return { uid, allowed: true, ...(d.warnings?.length ? { warnings: [...d.warnings] } : {}) };
  return { uid, allowed: false, status: refusalStatus(d) };
}
