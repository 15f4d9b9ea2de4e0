// Approval logic for ApprovalRequests, pure, shared by the webhook (which records
// approvals and consumes them), the operator (which expires requests and activates
// grants) and the CLI (which explains who may approve).
//
// Rules:
// - The approver is whoever the apiserver authenticated for the annotation update. That
//   identity reaches the recorder only through ApprovalRequest.decisions: stamped by the
//   mutating webhook on the real write (a patch answered to a forged review is applied
//   nowhere) and checked against request.userInfo by a ValidatingAdmissionPolicy inside
//   the apiserver (lib/approval-policy.ts). The operator records from the persisted
//   object (recordStamps); no AdmissionReview ever writes an approval.
// - Eligible: listed in the agent's spec.approvers (user, or member of a group); not one
//   of the agent's own subjects; not spec.requestedBy; the request still undecided and
//   unexpired.
// - One Denied decision denies the request (a veto). Approved needs requiredApprovals
//   *distinct* approvers. A retry of the same decision by the same approver changes
//   nothing, which makes recording idempotent when the apiserver re-runs admission.
// - An Approved request is usable once, for validUntil; a Pending one expires at
//   spec.expiresAt. Expiry is judged by the clock here, so a request the operator has
//   not yet marked Expired is never used.

import type { AgentIdentity, ApprovalRecord, ApprovalRequest, ApprovalRequestStatus, ApprovalPhase, ApproverStamp } from '../api/types.js';
import { subjectMatchesUser } from './rbac.js';
import { formatDuration, rfc3339 } from './clock.js';

/** An approval not used within this window expires (status.validUntil = decidedAt + this). */
export const DEFAULT_APPROVAL_VALIDITY_MS = 10 * 60_000;
/** A held operation not decided within this window expires (spec.expiresAt = created + this). */
export const DEFAULT_PENDING_TTL_MS = 60 * 60_000;

export interface Approver {
  user: string;
  groups?: readonly string[];
}

type ApprovalDecision = ApprovalRecord['decision'];

/** `approved=true` -> Approved, `approved=false` -> Denied, absent -> undefined, else 'invalid'. */
export function parseApprovalAnnotation(value: string | undefined): ApprovalDecision | 'invalid' | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true') return 'Approved';
  if (v === 'false') return 'Denied';
  return 'invalid';
}

export function approveCommand(name: string, namespace: string, approve = true): string {
  return `kubectl annotate approvalrequest ${name} -n ${namespace} approved=${approve ? 'true' : 'false'} --overwrite`;
}

function time(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The phase as of `now`: a stored Pending past spec.expiresAt, or Approved past
 * status.validUntil, is Expired even before the operator writes it.
 */
export function effectivePhase(ar: ApprovalRequest, now: Date): ApprovalPhase {
  const phase = ar.status?.phase ?? 'Pending';
  const t = now.getTime();
  if (phase === 'Pending') {
    const exp = time(ar.spec.expiresAt);
    if (exp === undefined || t >= exp) return 'Expired';
  }
  if (phase === 'Approved') {
    const until = time(ar.status?.validUntil);
    if (until === undefined || t >= until) return 'Expired';
  }
  return phase;
}

/** Whether this request lets the operation with this fingerprint through now (once). */
export function approvalUsable(ar: ApprovalRequest, fingerprint: string, now: Date): { usable: true } | { usable: false; reason: string } {
  if (ar.spec.fingerprint !== fingerprint) return { usable: false, reason: `approval request ${ar.metadata.name} is for a different operation` };
  const phase = effectivePhase(ar, now);
  if (phase !== 'Approved') return { usable: false, reason: `approval request ${ar.metadata.name} is ${phase}` };
  if (ar.status?.consumedAt || ar.status?.consumedBy) return { usable: false, reason: `approval request ${ar.metadata.name} was already used` };
  return { usable: true };
}

function approverListed(agent: AgentIdentity, approver: Approver): boolean {
  const a = agent.spec.approvers;
  if ((a?.users ?? []).includes(approver.user)) return true;
  const groups = new Set(approver.groups ?? []);
  return (a?.groups ?? []).some((g) => groups.has(g));
}

function describeApprovers(agent: AgentIdentity): string {
  const a = agent.spec.approvers;
  const parts: string[] = [];
  if (a?.users?.length) parts.push(`users ${a.users.join(', ')}`);
  if (a?.groups?.length) parts.push(`groups ${a.groups.join(', ')}`);
  return parts.length ? parts.join('; ') : 'nobody (spec.approvers is empty)';
}

/** Whether the user is one of the agent's own subjects (an agent never approves itself). */
function isAgentSubject(agent: AgentIdentity, approver: Approver): boolean {
  const user = { username: approver.user, groups: [...(approver.groups ?? [])] };
  return agent.spec.subjects.some((s) => subjectMatchesUser(s, user));
}

type Eligibility = { eligible: true } | { eligible: false; reason: string };

/** Whether this approver may decide this request now (ignoring what they decided before). */
export function approverEligibility(ar: ApprovalRequest, agent: AgentIdentity | undefined, approver: Approver, now: Date): Eligibility {
  const name = ar.metadata.name ?? '';
  if (!approver.user) return { eligible: false, reason: 'the approver is not authenticated as a user' };
  if (!agent) return { eligible: false, reason: `AgentIdentity ${ar.spec.agent} does not exist, so nobody can approve ${name}` };
  if (agent.metadata.name !== ar.spec.agent)
    return { eligible: false, reason: `approval request ${name} is for agent ${ar.spec.agent}, not ${agent.metadata.name ?? ''}` };
  if (isAgentSubject(agent, approver)) {
    return { eligible: false, reason: `${approver.user} is agent ${ar.spec.agent} itself; an agent cannot approve its own operations` };
  }
  if (approver.user === ar.spec.requestedBy) {
    return { eligible: false, reason: `${approver.user} caused this request and cannot approve it; ask another approver` };
  }
  if (!approverListed(agent, approver)) {
    return { eligible: false, reason: `${approver.user} is not an approver of agent ${ar.spec.agent} (approvers: ${describeApprovers(agent)})` };
  }
  const phase = effectivePhase(ar, now);
  if (phase === 'Expired') return { eligible: false, reason: `approval request ${name} has expired; the agent must retry to get a new one` };
  if (phase === 'Consumed') return { eligible: false, reason: `approval request ${name} was already used` };
  return { eligible: true };
}

/** Distinct approvers' latest decisions -> phase. One Denied vetoes. */
export function computePhase(approvals: readonly ApprovalRecord[], requiredApprovals: number): 'Pending' | 'Approved' | 'Denied' {
  if (approvals.some((a) => a.decision === 'Denied')) return 'Denied';
  const approvers = new Set(approvals.filter((a) => a.decision === 'Approved').map((a) => a.user));
  return approvers.size >= Math.max(1, requiredApprovals) ? 'Approved' : 'Pending';
}

interface RecordOptions {
  validityMs?: number;
}

type RecordResult =
  /** Write this status (with the request's resourceVersion). */
  | { outcome: 'recorded'; status: ApprovalRequestStatus; phase: ApprovalPhase }
  /** Already recorded exactly so: nothing to write (a retried annotation update). */
  | { outcome: 'unchanged'; phase: ApprovalPhase }
  | { outcome: 'rejected'; reason: string };

/**
 * Records one approver's decision. Before the request is decided an approver may
 * change their mind (their earlier record is replaced); afterwards only an identical
 * repeat is accepted (as 'unchanged').
 */
export function recordDecision(
  ar: ApprovalRequest,
  agent: AgentIdentity | undefined,
  approver: Approver,
  decision: ApprovalDecision,
  now: Date,
  options: RecordOptions = {},
): RecordResult {
  const previous = (ar.status?.approvals ?? []).find((a) => a.user === approver.user);
  const stored = ar.status?.phase ?? 'Pending';
  if (previous && previous.decision === decision && stored !== 'Pending') return { outcome: 'unchanged', phase: stored };

  const eligibility = approverEligibility(ar, agent, approver, now);
  if (!eligibility.eligible) return { outcome: 'rejected', reason: eligibility.reason };
  if (previous && previous.decision === decision) return { outcome: 'unchanged', phase: stored };
  if (stored !== 'Pending') {
    const by = (ar.status?.approvals ?? []).map((a) => `${a.decision.toLowerCase()} by ${a.user}`).join(', ');
    return { outcome: 'rejected', reason: `approval request ${ar.metadata.name ?? ''} is already ${stored}${by ? ` (${by})` : ''}` };
  }

  const record: ApprovalRecord = { user: approver.user, decision, time: rfc3339(now) };
  if (approver.groups?.length) record.groups = [...approver.groups];
  const approvals = [...(ar.status?.approvals ?? []).filter((a) => a.user !== approver.user), record];
  const required = agent?.spec.requiredApprovals ?? 1;
  const phase = computePhase(approvals, required);
  const status: ApprovalRequestStatus = { ...(ar.status ?? {}), phase, approvals };
  if (phase === 'Approved') {
    const validity = options.validityMs ?? DEFAULT_APPROVAL_VALIDITY_MS;
    status.decidedAt = rfc3339(now);
    status.validUntil = rfc3339(new Date(now.getTime() + validity));
    status.message = `approved by ${distinctApprovers(approvals).join(', ')}; usable once until ${status.validUntil} (${formatDuration(validity)})`;
  } else if (phase === 'Denied') {
    status.decidedAt = rfc3339(now);
    status.message = `denied by ${approver.user}`;
  } else {
    const have = distinctApprovers(approvals).length;
    status.message = `${have} of ${required} approvals (${distinctApprovers(approvals).join(', ')})`;
  }
  return { outcome: 'recorded', status, phase };
}

function distinctApprovers(approvals: readonly ApprovalRecord[]): string[] {
  return [...new Set(approvals.filter((a) => a.decision === 'Approved').map((a) => a.user))];
}

/** The status that marks an approval used by one admission request. */
export function consumedStatus(ar: ApprovalRequest, requestUID: string, now: Date): ApprovalRequestStatus {
  // Provisional until the apiserver's audit event for requestUID confirms it (lib/approval-confirm.ts).
  return {
    ...(ar.status ?? {}),
    phase: 'Consumed',
    consumedAt: rfc3339(now),
    consumedBy: requestUID,
    consumption: 'Unconfirmed',
    message: `used by admission request ${requestUID} (not yet confirmed by the kube-apiserver's audit log)`,
  };
}

/** The caller's entry in ApprovalRequest.decisions: the identity exactly as the apiserver authenticated it. */
export function approverStamp(userInfo: { username?: string; uid?: string; groups?: readonly string[] }, decision: ApprovalDecision): ApproverStamp {
  const stamp: ApproverStamp = { user: userInfo.username ?? '', decision };
  if (userInfo.uid) stamp.uid = userInfo.uid;
  if (userInfo.groups?.length) stamp.groups = [...userInfo.groups];
  return stamp;
}

/** Field-by-field equality of two stamps (absent uid/groups equal empty ones, as in the policy). */
export function sameStamp(a: ApproverStamp, b: ApproverStamp): boolean {
  const ga = a.groups ?? [];
  const gb = b.groups ?? [];
  return a.user === b.user && a.decision === b.decision && (a.uid ?? '') === (b.uid ?? '') && ga.length === gb.length && ga.every((g, i) => g === gb[i]);
}

/** The decisions with the caller's entry set and every other entry untouched; undefined when already so. */
export function withStamp(decisions: readonly ApproverStamp[] | undefined, stamp: ApproverStamp): ApproverStamp[] | undefined {
  const list = [...(decisions ?? [])];
  const i = list.findIndex((d) => d.user === stamp.user);
  if (i >= 0 && sameStamp(list[i]!, stamp)) return undefined;
  if (i >= 0) list[i] = stamp;
  else list.push(stamp);
  return list;
}

interface StampsRecorded {
  /** The status to write, when any stamp changed it. */
  status?: ApprovalRequestStatus;
  phase: ApprovalPhase;
  /** Stamps that do not count, and why (not eligible, or the request was already decided). */
  ignored: Array<{ user: string; reason: string }>;
}

/**
 * Folds the persisted, apiserver-verified decisions into status, with exactly the checks
 * an annotation gets (recordDecision: eligibility, no self-approval, N distinct
 * approvers, one Denied vetoes). Pure and idempotent: recording the same object twice
 * changes nothing the second time.
 */
export function recordStamps(ar: ApprovalRequest, agent: AgentIdentity | undefined, now: Date, options: RecordOptions = {}): StampsRecorded {
  let current = ar;
  let changed = false;
  const ignored: StampsRecorded['ignored'] = [];
  for (const d of ar.decisions ?? []) {
    const r = recordDecision(current, agent, { user: d.user, groups: d.groups ?? [] }, d.decision, now, options);
    if (r.outcome === 'recorded') {
      current = { ...current, status: r.status };
      changed = true;
    } else if (r.outcome === 'rejected') {
      ignored.push({ user: d.user, reason: r.reason });
    }
  }
  const phase = current.status?.phase ?? 'Pending';
  return { ...(changed && current.status ? { status: current.status } : {}), phase, ignored };
}
