// Protection of agentgate's own objects, for every caller (the /validate/protect and
// /mutate/stamp paths). Pure, and a decision only: nothing here writes, because the
// webhook cannot tell the apiserver from any other client and a decision is the one
// thing the apiserver applies only to requests it really sent (README "What the webhook
// trusts").
//
// - ApprovalRequest: created and status-written only by agentgate; other callers may
//   only set the `approved` annotation and, with it, their own entry in `decisions`
//   (stamped by /mutate/stamp, checked here and by the ValidatingAdmissionPolicy). An
//   ineligible caller is refused here so they learn why at once; the operator records
//   the decision from the persisted object (lib/approval.ts recordStamps).
// - AuditEvent: created only by the webhook, never updated, deleted only by the operator.
// - RoleBindings labelled managed-by=agentgate: only the operator creates, changes or
//   deletes them (plus, for DELETE only, the garbage collector and namespace controller,
//   because deleting a binding only ever removes access and blocking them would wedge
//   namespace deletion and owner-reference cleanup).
// - AccessGrant: the requested-by stamp is set from userInfo at CREATE and never changes;
//   an agent may only request its own grant, with RequiresApproval; ceiling and CEL.
//   Status (which the webhook's coverage check trusts) is written only by the operator.
// - AgentIdentity: CEL compiles, no agentgate identity as subject; status by the operator.

import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../api/types.js';
import { ANNOTATION_APPROVED, ANNOTATION_REQUESTED_BY, FINALIZER, GROUP, LABEL_MANAGED_BY, MANAGED_BY } from '../api/types.js';
import type { AdmissionRequest, JsonObject } from '../lib/admission.js';
import { isJsonObject } from '../lib/admission.js';
import { approverStamp, parseApprovalAnnotation, recordDecision, sameStamp } from '../lib/approval.js';
import { unconfirmedOriginWarning } from '../lib/approval-confirm.js';
import type { Clock } from '../lib/clock.js';
import { canonicalize } from '../lib/fingerprint.js';
import { serviceAccountUsername } from '../lib/rbac.js';
import { agentsForUser } from './decide.js';
import type { Snapshot } from './snapshot.js';
import { selfRequestProblems, validateAccessGrant, validateAgentIdentity } from './validation.js';

export interface ProtectConfig {
  agentgateNamespace: string;
  operatorUser: string;
  webhookUser: string;
  /** May DELETE agentgate's RoleBindings besides the operator (cleanup that only removes access). */
  bindingDeleters: readonly string[];
  approvalValidityMs?: number;
}

export function protectConfig(agentgateNamespace: string, over: Partial<ProtectConfig> = {}): ProtectConfig {
  return {
    agentgateNamespace,
    operatorUser: serviceAccountUsername(agentgateNamespace, 'agentgate-operator'),
    webhookUser: serviceAccountUsername(agentgateNamespace, 'agentgate-webhook'),
    bindingDeleters: [
      'system:serviceaccount:kube-system:generic-garbage-collector',
      'system:serviceaccount:kube-system:namespace-controller',
      'system:kube-controller-manager',
    ],
    ...over,
  };
}

export interface ProtectResult {
  allowed: boolean;
  message: string;
  warnings?: string[];
}

const allow = (message = 'allowed', warnings?: string[]): ProtectResult => ({ allowed: true, message, ...(warnings?.length ? { warnings } : {}) });
const deny = (message: string): ProtectResult => ({ allowed: false, message: `agentgate: ${message}` });

function meta(obj: unknown): JsonObject {
  return isJsonObject(obj) && isJsonObject(obj['metadata']) ? obj['metadata'] : {};
}
function stringMap(v: unknown): Record<string, string> {
  if (!isJsonObject(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}
const labels = (obj: unknown) => stringMap(meta(obj)['labels']);
const annotations = (obj: unknown) => stringMap(meta(obj)['annotations']);

/** The object as an approver may not change it: everything but the approved annotation and the decisions. */
function withoutApproval(obj: unknown): string {
  const copy = JSON.parse(JSON.stringify(obj ?? null)) as unknown;
  const m = meta(copy);
  delete m['managedFields'];
  const ann = m['annotations'];
  if (isJsonObject(ann)) delete ann[ANNOTATION_APPROVED];
  if (isJsonObject(copy)) {
    delete copy['status'];
    delete copy['decisions'];
  }
  return canonicalize(copy);
}

/** Why the write's decisions are not just the caller's own entry (undefined: they are). Mirrors the ValidatingAdmissionPolicy. */
function foreignStampProblem(request: AdmissionRequest): string | undefined {
  const user = request.userInfo?.username ?? '';
  const before = (request.oldObject as unknown as ApprovalRequest | undefined)?.decisions ?? [];
  const after = (request.object as unknown as ApprovalRequest | undefined)?.decisions ?? [];
  for (const o of before) if (!after.some((d) => d.user === o.user)) return `the decision of ${o.user} cannot be removed`;
  for (const d of after) {
    if (before.some((o) => sameStamp(o, d))) continue;
    if (!sameStamp(d, approverStamp(request.userInfo ?? {}, d.decision)))
      return `decisions may only carry the caller's own identity as the apiserver authenticated it (${user}), not ${d.user}`;
  }
  return undefined;
}

export function decideProtect(request: AdmissionRequest, snapshot: Snapshot, clock: Clock, config: ProtectConfig): ProtectResult {
  const user = request.userInfo?.username ?? '';
  const isOperator = user === config.operatorUser;
  const isAgentgate = isOperator || user === config.webhookUser;
  const { group, resource } = request.resource;
  const sub = request.subResource ?? '';
  const op = request.operation;

  if (group === 'rbac.authorization.k8s.io' && resource === 'rolebindings') {
    const before = labels(request.oldObject)[LABEL_MANAGED_BY] === MANAGED_BY;
    const after = labels(request.object)[LABEL_MANAGED_BY] === MANAGED_BY;
    if (!before && !after) return allow('not managed by agentgate');
    if (isOperator) return allow('agentgate operator');
    if (op === 'DELETE' && config.bindingDeleters.includes(user)) return allow('cleanup by a Kubernetes controller');
    const what = op === 'CREATE' ? 'create a RoleBinding labelled' : !before && after ? 'add the label' : `${op.toLowerCase()} a RoleBinding labelled`;
    return deny(
      `${user || 'this caller'} may not ${what} ${LABEL_MANAGED_BY}=${MANAGED_BY}: those RoleBindings are agentgate's grants and only agentgate's operator (${config.operatorUser}) changes them; request access with an AccessGrant instead`,
    );
  }
  if (group !== GROUP) return allow('not an agentgate object');

  switch (resource) {
    case 'approvalrequests':
      return protectApprovalRequest(request, snapshot, clock, config, isAgentgate);
    case 'auditevents':
      if (op === 'CREATE')
        return user === config.webhookUser
          ? allow()
          : deny(`AuditEvents are written only by agentgate's webhook (${config.webhookUser}); ${user} may not create them`);
      if (op === 'DELETE')
        return isOperator ? allow() : deny(`AuditEvents are deleted only by agentgate's retention (${config.operatorUser}); ${user} may not delete them`);
      return deny('AuditEvents are write-once: nobody may change them');
    case 'accessgrants':
      return protectAccessGrant(request, snapshot, clock, config, isOperator);
    case 'agentidentities':
      if (sub === 'status') {
        if (isOperator || op !== 'UPDATE') return allow();
        // The webhook records observed identities (webhook/observed.ts), and nothing else.
        if (user === config.webhookUser && onlyObservedIdentityChanged(request)) return allow('observed identity');
        return deny(`AgentIdentity status is written only by agentgate's operator (${config.operatorUser})`);
      }
      if (op === 'CREATE' || op === 'UPDATE') {
        const agent = request.object as unknown as AgentIdentity;
        if (!agent?.spec) return deny('the AgentIdentity has no spec');
        const result = validateAgentIdentity(agent, { agentgateUsers: [config.operatorUser, config.webhookUser], others: snapshot.agents() });
        if (result.errors.length) return deny(`AgentIdentity ${agent.metadata?.name ?? ''} is invalid: ${result.errors.join('; ')}`);
        return allow('valid', result.warnings);
      }
      return allow();
    default:
      return allow();
  }
}

function protectApprovalRequest(request: AdmissionRequest, snapshot: Snapshot, clock: Clock, config: ProtectConfig, isAgentgate: boolean): ProtectResult {
  const user = request.userInfo?.username ?? '';
  const op = request.operation;
  if (isAgentgate) return allow('agentgate');
  if (op === 'DELETE') return allow();
  if (op === 'CREATE')
    return deny(`ApprovalRequests are created only by agentgate (the webhook holds operations, the operator gates activations); ${user} may not create one`);
  if (request.subResource)
    return deny(
      `ApprovalRequest ${request.subResource} is written only by agentgate; approve with the annotation: kubectl annotate approvalrequest ${request.name} -n ${request.namespace} approved=true --overwrite`,
    );
  if (withoutApproval(request.object) !== withoutApproval(request.oldObject)) {
    return deny(`only the "${ANNOTATION_APPROVED}" annotation of an ApprovalRequest may be changed (approved=true or approved=false)`);
  }
  const foreign = foreignStampProblem(request);
  if (foreign) return deny(foreign);
  const raw = annotations(request.object)[ANNOTATION_APPROVED];
  const decision = parseApprovalAnnotation(raw);
  if (decision === undefined) return allow('no decision');
  if (decision === 'invalid') return deny(`annotation ${ANNOTATION_APPROVED}=${JSON.stringify(raw)} is not a decision: use approved=true or approved=false`);
  const ar = request.oldObject as unknown as ApprovalRequest;
  if (!ar?.spec) return deny('the ApprovalRequest has no spec');
  const agent = snapshot.agents().find((a) => a.metadata.name === ar.spec.agent);
  const approver = { user, groups: [...(request.userInfo?.groups ?? [])] };
  const result = recordDecision(
    ar,
    agent,
    approver,
    decision,
    clock.now(),
    config.approvalValidityMs !== undefined ? { validityMs: config.approvalValidityMs } : {},
  );
  if (result.outcome === 'rejected') return deny(`${user} cannot decide ApprovalRequest ${ar.metadata.name ?? ''}: ${result.reason}`);
  if (result.outcome === 'unchanged') return allow(`decision by ${user} already recorded`);
  // No write here: the operator records the persisted, policy-checked stamp. An approval
  // of a request the apiserver has not confirmed is allowed (on EKS confirmation lags by
  // the CloudWatch poll, longer than a fast approval's hold), but the approver is told.
  const unconfirmed = decision === 'Approved' ? unconfirmedOriginWarning(ar) : undefined;
  return allow(`${decision.toLowerCase()} by ${user}`, unconfirmed ? [unconfirmed] : undefined);
}

function onlyObservedIdentityChanged(request: AdmissionRequest): boolean {
  const status = (o: unknown): Record<string, unknown> => {
    const st = isJsonObject(o) && isJsonObject(o['status']) ? { ...o['status'] } : {};
    delete st['observedIdentity'];
    return st;
  };
  return canonicalize(status(request.object)) === canonicalize(status(request.oldObject));
}

function protectAccessGrant(request: AdmissionRequest, snapshot: Snapshot, clock: Clock, config: ProtectConfig, isOperator: boolean): ProtectResult {
  const user = request.userInfo?.username ?? '';
  const op = request.operation;
  if (request.subResource === 'status') {
    return isOperator || op !== 'UPDATE'
      ? allow()
      : deny(`AccessGrant status is written only by agentgate's operator (${config.operatorUser}): the webhook trusts it to decide coverage`);
  }
  if (op === 'DELETE' || op === 'CONNECT') return allow();
  const stamp = annotations(request.object)[ANNOTATION_REQUESTED_BY];
  if (op === 'UPDATE') {
    if (stamp !== annotations(request.oldObject)[ANNOTATION_REQUESTED_BY]) {
      return deny(`annotation ${ANNOTATION_REQUESTED_BY} records who asked for this grant and cannot be changed`);
    }
    return allow();
  }
  // CREATE
  if (stamp !== user) {
    return deny(`annotation ${ANNOTATION_REQUESTED_BY} must be the creator (${user}); it is set by agentgate's mutating webhook, which did not run`);
  }
  const grant = request.object as unknown as AccessGrant;
  if (!grant?.spec) return deny('the AccessGrant has no spec');
  const namespace = request.namespace ?? '';
  const withNs: AccessGrant = { ...grant, metadata: { ...(grant.metadata ?? {}), namespace } };
  const callers = agentsForUser(snapshot.agents(), request.userInfo ?? {});
  if (callers.length > 0) {
    const problems = callers.flatMap((a) => selfRequestProblems(withNs, a));
    if (problems.length) return deny(`agent ${callers.map((a) => a.metadata.name).join(', ')} cannot create this AccessGrant: ${problems.join('; ')}`);
  }
  const agent = snapshot.agents().find((a) => a.metadata.name === grant.spec.agent);
  const result = validateAccessGrant(withNs, agent, snapshot.namespace(namespace), config.agentgateNamespace, clock.now());
  if (result.errors.length) return deny(`AccessGrant ${grant.metadata?.name ?? ''} is invalid: ${result.errors.join('; ')}`);
  return allow('valid', result.warnings);
}

/**
 * The JSONPatch for a new AccessGrant: stamps the creator (overwriting any value given)
 * and adds the operator's finalizer, so the grant is born with it and the operator's
 * happy path needs no separate metadata write before creating the RoleBinding (the
 * operator still adds it when this webhook did not run).
 */
export function stampPatch(request: AdmissionRequest): Array<{ op: 'add'; path: string; value: unknown }> {
  const user = request.userInfo?.username ?? '';
  const m = meta(request.object);
  const ops: Array<{ op: 'add'; path: string; value: unknown }> = isJsonObject(m['annotations'])
    ? [{ op: 'add', path: `/metadata/annotations/${ANNOTATION_REQUESTED_BY.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: user }]
    : [{ op: 'add', path: '/metadata/annotations', value: { [ANNOTATION_REQUESTED_BY]: user } }];
  const finalizers = m['finalizers'];
  if (!Array.isArray(finalizers)) ops.push({ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] });
  else if (!finalizers.includes(FINALIZER)) ops.push({ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER });
  return ops;
}
