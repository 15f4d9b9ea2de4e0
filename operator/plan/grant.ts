// The AccessGrant lifecycle as a pure function: the observed state in, the ordered
// actions out. No I/O and no clock reads: `now` is an input, so every path is unit
// tested on a fake clock and the executor stays a dumb loop.
//
// Ordering rules the executor relies on (it runs actions in order, stops at the first
// failure and retries the whole reconcile):
// - the finalizer is added before any RoleBinding is created, and removed only after
//   every RoleBinding of the grant is gone, so deleting a grant can never strand access;
// - a RoleBinding is created before status says Active (the window's times are stamped
//   on the binding, so a crash in between re-adopts the same window instead of
//   restarting it), and deleted before status says Expired/Revoked;
// - an approval is consumed after the grant is Active;
// - access ends first: when a plan ends a grant's access, accessEndingStage() names the
//   RoleBinding deletions the executor runs on their own, at once, before the rest of
//   this plan (finalizer, status, events) which it runs on the next pass. A burst of
//   1,000 expiries then costs one delete each before any bookkeeping.
import type { V1RoleBinding, RbacV1Subject } from '@kubernetes/client-node';
import {
  ANNOTATION_ACTIVATED_AT,
  ANNOTATION_REQUESTED_BY,
  ANNOTATION_EXPIRES_AT,
  API_VERSION,
  FINALIZER,
  LABEL_AGENT,
  LABEL_GRANT,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type AccessGrant,
  type AccessGrantStatus,
  type AgentIdentity,
  type ApprovalRequest,
  type ApprovalRequestStatus,
  type GrantPhase,
} from '../../api/types.js';
import { parseDuration, rfc3339 } from '../../lib/clock.js';
import { activationFingerprint, jsonEqual, stableStringify } from '../../lib/fingerprint.js';
import { CONDITION, REASON, isTrue, setCondition, type ConditionInput } from '../conditions.js';
import { activationRequestName, labelValue, roleBindingName } from '../../api/names.js';
import { firstCeilingProblem } from '../../lib/ceiling.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
/** The value of status.consumedBy when the operator consumes an activation approval. */
const CONSUMED_BY_OPERATOR = 'operator';

const TERMINAL_PHASES: readonly GrantPhase[] = ['Expired', 'Revoked', 'Denied'];

export interface GrantState {
  namespace: string;
  name: string;
  /** undefined: the grant is gone (only its RoleBindings may be left to clean up). */
  grant?: AccessGrant;
  agent?: AgentIdentity;
  /** Labels of the grant's namespace; undefined when the namespace is not known. */
  namespaceLabels?: Record<string, string>;
  /**
   * The grant's namespace is being deleted: the apiserver refuses new objects in it, and
   * its grants and bindings are on their way out, so no binding is (re)created there.
   * Ending access (expiry, revocation, deletion) goes on as anywhere else.
   */
  namespaceTerminating?: boolean;
  /** RoleBindings in the namespace labelled as this grant's. */
  bindings: readonly V1RoleBinding[];
  /** The ApprovalRequest named activationRequestName(grant), if it exists. */
  approval?: ApprovalRequest;
  now: Date;
  /** agentgate's namespace: no grant may open access there (the ceiling's first check). */
  agentgateNamespace?: string;
  /** --approval-ttl: how long an activation request may wait for a decision. */
  approvalTtlMs: number;
}

type EventType = 'Normal' | 'Warning';

export type GrantAction =
  | { type: 'addFinalizer' }
  | { type: 'removeFinalizer' }
  | { type: 'createRoleBinding'; binding: V1RoleBinding }
  | { type: 'replaceRoleBinding'; binding: V1RoleBinding }
  | { type: 'deleteRoleBinding'; name: string; uid?: string }
  | { type: 'createApprovalRequest'; request: ApprovalRequest }
  | { type: 'deleteApprovalRequest'; name: string; uid?: string }
  | { type: 'writeApprovalStatus'; name: string; status: ApprovalRequestStatus }
  | { type: 'writeStatus'; status: AccessGrantStatus }
  | { type: 'event'; eventType: EventType; reason: string; message: string }
  | { type: 'expiryLag'; seconds: number };

export interface Plan<A> {
  actions: A[];
  /** Reconcile again after this long (the exact timer for notBefore, expiresAt, approval expiry). */
  requeueAfterMs?: number;
}

export interface Validation {
  ok: boolean;
  reason: string;
  message: string;
}

const roleKey = (r: { kind: string; name: string }): string => `${r.kind}/${r.name}`;

/**
 * The grant's validity for the Valid condition: the agent exists and is not suspended,
 * then the first problem of the shared ceiling chain (lib/ceiling.ts; the webhook runs
 * the same chain and reports every problem). Messages name the field and the limit.
 */
export function validateGrant(
  grant: AccessGrant,
  agent: AgentIdentity | undefined,
  namespaceLabels: Record<string, string> | undefined,
  now: Date,
  agentgateNamespace?: string,
): Validation {
  const agentName = grant.spec.agent;
  if (!agent) {
    return { ok: false, reason: REASON.AgentNotFound, message: `spec.agent: AgentIdentity "${agentName}" does not exist` };
  }
  if (agent.spec.suspended) {
    return {
      ok: false,
      reason: REASON.AgentSuspended,
      message: `spec.agent: AgentIdentity "${agentName}" is suspended (spec.suspended=true); all its access is revoked`,
    };
  }
  const problem = firstCeilingProblem({ grant, agent, namespaceLabels, now, ...(agentgateNamespace !== undefined ? { agentgateNamespace } : {}) });
  if (problem) return { ok: false, reason: problem.reason, message: problem.message };
  return { ok: true, reason: REASON.WithinCeiling, message: `within the ceiling of AgentIdentity "${agentName}"` };
}

/** RBAC subjects for an agent's subjects (User/Group in the RBAC API group, ServiceAccount in core). */
function bindingSubjects(agent: AgentIdentity): RbacV1Subject[] {
  return agent.spec.subjects.map((s) =>
    s.kind === 'ServiceAccount' ? { kind: 'ServiceAccount', name: s.name, namespace: s.namespace ?? '' } : { kind: s.kind, name: s.name, apiGroup: RBAC_GROUP },
  );
}

export function desiredRoleBinding(grant: AccessGrant, agent: AgentIdentity, activatedAt: string, expiresAt: string): V1RoleBinding {
  const name = grant.metadata.name ?? '';
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'RoleBinding',
    metadata: {
      name: roleBindingName(name),
      namespace: grant.metadata.namespace ?? '',
      labels: {
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_GRANT]: labelValue(name),
        [LABEL_AGENT]: labelValue(grant.spec.agent),
      },
      annotations: { [ANNOTATION_ACTIVATED_AT]: activatedAt, [ANNOTATION_EXPIRES_AT]: expiresAt },
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'AccessGrant', name, uid: grant.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: grant.spec.roleRef.kind, name: grant.spec.roleRef.name },
    subjects: bindingSubjects(agent),
  };
}

const subjectsKey = (s: readonly RbacV1Subject[] | undefined): string =>
  stableStringify(
    [...(s ?? [])]
      .map((x) => ({ kind: x.kind, name: x.name, namespace: x.namespace || undefined }))
      .sort((a, b) => stableStringify(a).localeCompare(stableStringify(b))),
  );

export function ownerUid(b: V1RoleBinding): string | undefined {
  return b.metadata?.ownerReferences?.find((o) => o.kind === 'AccessGrant' && o.controller)?.uid;
}

function describeWindow(grant: AccessGrant): string {
  if (grant.spec.duration) return `for ${grant.spec.duration}`;
  return `until ${grant.spec.notAfter}`;
}

function activationSummary(grant: AccessGrant): string {
  const s = `activate ${grant.spec.roleRef.name} in ${grant.metadata.namespace} ${describeWindow(grant)} for ${grant.spec.agent}: ${grant.spec.reason}`;
  return s.length > 512 ? `${s.slice(0, 509)}...` : s;
}

export function desiredApprovalRequest(grant: AccessGrant, now: Date, ttlMs: number): ApprovalRequest {
  const name = grant.metadata.name ?? '';
  return {
    apiVersion: API_VERSION,
    kind: 'ApprovalRequest',
    metadata: {
      name: activationRequestName(name),
      namespace: grant.metadata.namespace ?? '',
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_AGENT]: labelValue(grant.spec.agent), [LABEL_GRANT]: labelValue(name) },
      // Tidiness only (the GC removes it with the grant); correctness comes from the fingerprint.
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'AccessGrant', name, uid: grant.metadata.uid ?? '', controller: true, blockOwnerDeletion: false }],
    },
    spec: {
      agent: grant.spec.agent,
      type: 'Activation',
      grant: name,
      fingerprint: activationFingerprint(grant),
      summary: activationSummary(grant),
      requestedBy: grant.metadata.annotations?.[ANNOTATION_REQUESTED_BY] || 'unknown',
      expiresAt: rfc3339(new Date(now.getTime() + ttlMs)),
    },
  };
}

function approversOf(ar: ApprovalRequest): string {
  const users = (ar.status?.approvals ?? []).filter((a) => a.decision === 'Approved').map((a) => a.user);
  return users.length ? users.join(', ') : 'an approver';
}

/** Builds the next status from the old one; equal input gives equal output, so no-op plans write nothing. */
class StatusBuilder {
  status: AccessGrantStatus;
  constructor(
    private readonly grant: AccessGrant,
    private readonly now: Date,
  ) {
    this.status = structuredClone(grant.status ?? {});
    this.status.observedGeneration = grant.metadata.generation;
    const requestedBy = grant.metadata.annotations?.[ANNOTATION_REQUESTED_BY];
    if (requestedBy && !this.status.requestedBy) this.status.requestedBy = requestedBy;
  }
  phase(p: GrantPhase): this {
    this.status.phase = p;
    return this;
  }
  cond(c: ConditionInput): this {
    this.status.conditions = setCondition(this.status.conditions, c, this.now, this.grant.metadata.generation);
    return this;
  }
  changed(): boolean {
    return !jsonEqual(this.status, this.grant.status ?? {});
  }
}

const ms = (iso: string | undefined): number => (iso ? Date.parse(iso) : NaN);

export function planGrant(s: GrantState): Plan<GrantAction> {
  const actions: GrantAction[] = [];
  const { grant, now } = s;
  const deleteAll = (bindings: readonly V1RoleBinding[]): void => {
    for (const b of bindings) actions.push({ type: 'deleteRoleBinding', name: b.metadata?.name ?? '', uid: b.metadata?.uid });
  };

  // The grant is gone (deleted without our finalizer, or a binding outlived it): no grant, no access.
  if (!grant) {
    deleteAll(s.bindings);
    return { actions };
  }

  const name = grant.metadata.name ?? s.name;
  const rbName = roleBindingName(name);
  const hasFinalizer = (grant.metadata.finalizers ?? []).includes(FINALIZER);
  const phase = grant.status?.phase;
  const event = (eventType: EventType, reason: string, message: string): void => {
    actions.push({ type: 'event', eventType, reason, message });
  };

  // A binding is ours only if it carries our name and our uid; anything else labelled
  // for this grant (an earlier grant of the same name, a copy) goes.
  const mine = s.bindings.filter((b) => b.metadata?.name === rbName && ownerUid(b) === grant.metadata.uid);
  const stale = s.bindings.filter((b) => !mine.includes(b));
  deleteAll(stale);

  const endAccess = (): void => {
    deleteAll(mine);
    if (hasFinalizer) actions.push({ type: 'removeFinalizer' });
  };

  if (grant.metadata.deletionTimestamp) {
    endAccess();
    if (mine.length > 0 || phase === 'Active') event('Normal', REASON.GrantDeleted, `grant deleted: RoleBinding ${rbName} removed`);
    return { actions };
  }

  if (phase && TERMINAL_PHASES.includes(phase)) {
    endAccess();
    return { actions };
  }

  const st = new StatusBuilder(grant, now);
  const writeStatus = (): void => {
    if (st.changed()) actions.push({ type: 'writeStatus', status: st.status });
  };
  const finish = (requeueAfterMs?: number): Plan<GrantAction> => {
    writeStatus();
    // Approval consumption follows the status write (see the ordering rules above).
    const consume = actions.findIndex((a) => a.type === 'writeApprovalStatus');
    if (consume >= 0) actions.push(...actions.splice(consume, 1));
    // Events go last: they describe what the actions did.
    const events = actions.filter((a) => a.type === 'event' || a.type === 'expiryLag');
    const rest = actions.filter((a) => a.type !== 'event' && a.type !== 'expiryLag');
    return requeueAfterMs === undefined ? { actions: [...rest, ...events] } : { actions: [...rest, ...events], requeueAfterMs: Math.max(0, requeueAfterMs) };
  };

  // --- Active: the window is open --------------------------------------------------------
  if (phase === 'Active') {
    const expiresAt = ms(grant.status?.expiresAt);
    if (!(expiresAt > now.getTime())) {
      endAccess();
      st.phase('Expired').cond({
        type: CONDITION.Active,
        status: 'False',
        reason: REASON.Expired,
        message: `the window closed at ${grant.status?.expiresAt}; RoleBinding ${rbName} removed`,
      });
      event('Normal', REASON.Expired, `window closed at ${grant.status?.expiresAt}: RoleBinding ${rbName} removed`);
      if (Number.isFinite(expiresAt)) actions.push({ type: 'expiryLag', seconds: Math.max(0, (now.getTime() - expiresAt) / 1000) });
      return finish();
    }
    const v = validateGrant(grant, s.agent, s.namespaceLabels, now, s.agentgateNamespace);
    if (!v.ok) {
      // The ceiling narrowed, the agent was suspended or deleted: the open window closes now.
      endAccess();
      st.phase('Revoked')
        .cond({ type: CONDITION.Valid, status: 'False', reason: v.reason, message: v.message })
        .cond({ type: CONDITION.Active, status: 'False', reason: REASON.Revoked, message: `revoked: ${v.message}` });
      event('Warning', REASON.Revoked, `revoked: ${v.message}`);
      return finish();
    }
    // Its binding went with the namespace's content (the namespace controller deletes
    // bindings and grants in its own order): nothing to recreate, the grant goes next.
    if (mine.length === 0 && s.namespaceTerminating) return finish(expiresAt - now.getTime());
    const want = desiredRoleBinding(grant, s.agent!, grant.status?.activatedAt ?? rfc3339(now), grant.status?.expiresAt ?? '');
    ensureBinding(actions, mine, want, hasFinalizer);
    if (mine.length === 0) event('Warning', 'RoleBindingRecreated', `RoleBinding ${rbName} was missing while the grant is Active; recreated`);
    if (s.approval?.status?.phase === 'Approved' && s.approval.spec.fingerprint === activationFingerprint(grant)) {
      actions.push({ type: 'writeApprovalStatus', name: s.approval.metadata.name ?? '', status: consumed(s.approval, now) });
    }
    return finish(expiresAt - now.getTime());
  }

  // --- Not (yet) open: Pending, AwaitingApproval, Invalid or new ------------------------
  const v = validateGrant(grant, s.agent, s.namespaceLabels, now, s.agentgateNamespace);
  if (!v.ok) {
    endAccess();
    // A grant that was already on its way loses it when the agent is suspended or deleted
    // (the kill switch); otherwise it is Invalid, and re-checked when the agent or the
    // namespace changes (a grant applied before its AgentIdentity becomes valid later).
    const revoke = (phase === 'Pending' || phase === 'AwaitingApproval') && (v.reason === REASON.AgentSuspended || v.reason === REASON.AgentNotFound);
    const next: GrantPhase = revoke ? 'Revoked' : 'Invalid';
    st.phase(next)
      .cond({ type: CONDITION.Valid, status: 'False', reason: v.reason, message: v.message })
      .cond({ type: CONDITION.Active, status: 'False', reason: revoke ? REASON.Revoked : REASON.Invalid, message: v.message });
    if (phase !== next) event('Warning', next, v.message);
    return finish();
  }
  st.cond({ type: CONDITION.Valid, status: 'True', reason: v.reason, message: v.message });

  const notAfter = ms(grant.spec.notAfter);
  if (Number.isFinite(notAfter) && now.getTime() >= notAfter) {
    endAccess();
    st.phase('Expired').cond({
      type: CONDITION.Active,
      status: 'False',
      reason: REASON.WindowClosed,
      message: `spec.notAfter ${grant.spec.notAfter} passed before the window opened`,
    });
    event('Normal', REASON.Expired, `spec.notAfter ${grant.spec.notAfter} passed before the window opened`);
    return finish();
  }

  // Approval gate.
  const requiresApproval = grant.spec.activation === 'RequiresApproval';
  let approvedNow: ApprovalRequest | undefined;
  if (!requiresApproval) {
    st.cond({ type: CONDITION.Approved, status: 'True', reason: REASON.NotRequired, message: 'spec.activation is Immediate' });
  } else if (!isTrue(grant.status?.conditions, CONDITION.Approved)) {
    const arName = activationRequestName(name);
    const ar = s.approval;
    const fp = activationFingerprint(grant);
    const awaiting = (msg: string, requeueAfterMs?: number): Plan<GrantAction> => {
      deleteAll(mine);
      st.phase('AwaitingApproval')
        .cond({ type: CONDITION.Approved, status: 'False', reason: REASON.AwaitingApproval, message: msg })
        .cond({ type: CONDITION.Active, status: 'False', reason: REASON.AwaitingApproval, message: 'waiting for approval' });
      st.status.approvalRequest = arName;
      if (phase !== 'AwaitingApproval') event('Normal', REASON.AwaitingApproval, msg);
      return finish(requeueAfterMs);
    };
    const approveCmd = `kubectl annotate approvalrequest ${arName} -n ${grant.metadata.namespace} approved=true`;
    if (!ar) {
      actions.push({ type: 'createApprovalRequest', request: desiredApprovalRequest(grant, now, s.approvalTtlMs) });
      return awaiting(`waiting for an approver of ${grant.spec.agent}: ${approveCmd}`);
    }
    if (ar.spec.fingerprint !== fp || ar.spec.grant !== name || ar.spec.type !== 'Activation') {
      // Left over from an earlier grant of the same name: it must not approve this one.
      actions.push({ type: 'deleteApprovalRequest', name: arName, uid: ar.metadata.uid });
      return awaiting(`replacing stale ApprovalRequest ${arName}`, 1000);
    }
    switch (ar.status?.phase) {
      case 'Approved': {
        const validUntil = ms(ar.status.validUntil);
        if (Number.isFinite(validUntil) && validUntil <= now.getTime()) {
          return awaiting(`the approval of ${arName} lapsed at ${ar.status.validUntil}; waiting for it to expire`);
        }
        approvedNow = ar;
        break;
      }
      case 'Consumed':
        // Only the operator consumes activation requests, and the fingerprint ties it to this grant.
        approvedNow = ar;
        break;
      case 'Denied':
      case 'Expired': {
        const denied = ar.status.phase === 'Denied';
        const reason = denied ? REASON.ApprovalDenied : REASON.ApprovalExpired;
        const msg = denied
          ? `ApprovalRequest ${arName} was denied${ar.status.message ? `: ${ar.status.message}` : ''}`
          : `ApprovalRequest ${arName} expired without approval`;
        endAccess();
        st.phase('Denied')
          .cond({ type: CONDITION.Approved, status: 'False', reason, message: msg })
          .cond({ type: CONDITION.Active, status: 'False', reason: REASON.Denied, message: msg });
        event('Warning', reason, msg);
        return finish();
      }
      default:
        return awaiting(`waiting for an approver of ${grant.spec.agent}: ${approveCmd}`);
    }
    st.cond({
      type: CONDITION.Approved,
      status: 'True',
      reason: REASON.Approved,
      message: `ApprovalRequest ${arName} approved by ${approversOf(approvedNow)}`,
    });
    if (approvedNow.status?.phase === 'Approved') {
      actions.push({ type: 'writeApprovalStatus', name: arName, status: consumed(approvedNow, now) });
    }
  }

  const notBefore = ms(grant.spec.notBefore);
  if (Number.isFinite(notBefore) && now.getTime() < notBefore) {
    deleteAll(mine);
    st.phase('Pending').cond({
      type: CONDITION.Active,
      status: 'False',
      reason: REASON.NotYetValid,
      message: `the window opens at spec.notBefore ${grant.spec.notBefore}`,
    });
    if (phase !== 'Pending') event('Normal', 'Pending', `the window opens at spec.notBefore ${grant.spec.notBefore}`);
    return finish(notBefore - now.getTime());
  }

  // Activate. A binding we already created for this uid carries the window: keep it.
  const existing = mine[0]?.metadata?.annotations;
  let activatedAt = existing?.[ANNOTATION_ACTIVATED_AT];
  let expiresAt = existing?.[ANNOTATION_EXPIRES_AT];
  if (!activatedAt || !expiresAt || !Number.isFinite(ms(expiresAt))) {
    activatedAt = rfc3339(now);
    const durMs = grant.spec.duration ? parseDuration(grant.spec.duration) : undefined;
    // Second precision, rounded up, so the window is never shorter than asked.
    expiresAt = durMs !== undefined ? rfc3339(new Date(Math.ceil((now.getTime() + durMs) / 1000) * 1000)) : (grant.spec.notAfter ?? rfc3339(now));
  }
  const expMs = ms(expiresAt);
  if (!(expMs > now.getTime())) {
    endAccess();
    st.phase('Expired').cond({ type: CONDITION.Active, status: 'False', reason: REASON.Expired, message: `the window closed at ${expiresAt}` });
    st.status.activatedAt = activatedAt;
    st.status.expiresAt = expiresAt;
    event('Normal', REASON.Expired, `the window closed at ${expiresAt}`);
    return finish();
  }
  if (mine.length === 0 && s.namespaceTerminating) {
    st.cond({
      type: CONDITION.Active,
      status: 'False',
      reason: REASON.NamespaceTerminating,
      message: `namespace ${grant.metadata.namespace} is being deleted: no RoleBinding can be created in it`,
    });
    return finish();
  }
  ensureBinding(actions, mine, desiredRoleBinding(grant, s.agent!, activatedAt, expiresAt), hasFinalizer);
  st.phase('Active').cond({
    type: CONDITION.Active,
    status: 'True',
    reason: REASON.Activated,
    message: `RoleBinding ${rbName} binds ${roleKey(grant.spec.roleRef)} to ${grant.spec.agent} until ${expiresAt}`,
  });
  st.status.activatedAt = activatedAt;
  st.status.expiresAt = expiresAt;
  st.status.roleBinding = rbName;
  event(
    'Normal',
    REASON.Activated,
    `${roleKey(grant.spec.roleRef)} bound to ${grant.spec.agent} in ${grant.metadata.namespace} until ${expiresAt} (RoleBinding ${rbName})`,
  );
  return finish(expMs - now.getTime());
}

function consumed(ar: ApprovalRequest, now: Date): ApprovalRequestStatus {
  return { ...(ar.status ?? {}), phase: 'Consumed', consumedAt: rfc3339(now), consumedBy: CONSUMED_BY_OPERATOR, message: `grant ${ar.spec.grant} activated` };
}

/** Creates the binding, or brings an existing one in line (subjects follow the agent; roleRef is immutable, so a different one means recreate). */
function ensureBinding(actions: GrantAction[], mine: readonly V1RoleBinding[], want: V1RoleBinding, hasFinalizer: boolean): void {
  const have = mine[0];
  if (!have) {
    if (!hasFinalizer) actions.push({ type: 'addFinalizer' });
    actions.push({ type: 'createRoleBinding', binding: want });
    return;
  }
  if (!hasFinalizer) actions.push({ type: 'addFinalizer' });
  const sameRole = have.roleRef.kind === want.roleRef.kind && have.roleRef.name === want.roleRef.name;
  if (!sameRole) {
    actions.push({ type: 'deleteRoleBinding', name: have.metadata?.name ?? '', uid: have.metadata?.uid });
    actions.push({ type: 'createRoleBinding', binding: want });
    return;
  }
  if (subjectsKey(have.subjects) !== subjectsKey(want.subjects)) {
    const next = structuredClone(want);
    next.metadata = { ...next.metadata, resourceVersion: have.metadata?.resourceVersion, annotations: { ...(have.metadata?.annotations ?? {}) } };
    actions.push({ type: 'replaceRoleBinding', binding: next });
  }
}

/**
 * The first stage of a plan that ends access (Expired or Revoked with RoleBindings left):
 * the deletions alone. Empty when the plan ends nothing, or nothing is left to delete.
 */
export function accessEndingStage(plan: Plan<GrantAction>): Array<Extract<GrantAction, { type: 'deleteRoleBinding' }>> {
  const ending = plan.actions.some((a) => a.type === 'writeStatus' && (a.status.phase === 'Expired' || a.status.phase === 'Revoked'));
  if (!ending) return [];
  return plan.actions.filter((a): a is Extract<GrantAction, { type: 'deleteRoleBinding' }> => a.type === 'deleteRoleBinding');
}
