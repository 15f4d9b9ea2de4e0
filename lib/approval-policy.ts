// The ValidatingAdmissionPolicy that makes approver stamps unforgeable, and the check that
// it is in force. One home: config/admission/approval-stamps.yaml (and the chart's copy)
// must equal approvalPolicyObjects() (a unit test fails on drift); the operator refuses to
// count stamps, and boundary verification reports, when the live objects differ.
//
// Why a policy and not the webhook: the webhook cannot tell the apiserver from any other
// client (EKS presents no client certificate), so it may only *decide*. CEL in a
// ValidatingAdmissionPolicy runs inside the apiserver on the request it really received,
// so `request.userInfo` there is the authenticated caller. The rules:
// - every entry of `decisions` that is new or changed in this write describes the caller
//   exactly (username, uid, groups): nobody can stamp, or restamp, anyone else;
// - no entry disappears: one approver cannot erase another's decision (N of M, vetoes).
// An unchanged entry is carried along by any write, so approvers annotate in turn.

import type { ApprovalRequestStatus } from '../api/types.js';

export const APPROVAL_POLICY = 'agentgate-approval-stamps';

const LABELS = { 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/part-of': 'agentgate' };

/** The policy's variables and validations; the live policy must carry exactly these. */
const POLICY_VARIABLES = [
  { name: 'stamps', expression: 'has(object.decisions) ? object.decisions : []' },
  { name: 'oldStamps', expression: 'oldObject != null && has(oldObject.decisions) ? oldObject.decisions : []' },
  { name: 'callerUid', expression: "has(request.userInfo.uid) ? request.userInfo.uid : ''" },
  { name: 'callerGroups', expression: 'has(request.userInfo.groups) ? request.userInfo.groups : []' },
] as const;

const POLICY_VALIDATIONS = [
  {
    expression:
      "variables.stamps.all(d, variables.oldStamps.exists(o, o == d) || (d.user == request.userInfo.username && (has(d.uid) ? d.uid : '') == variables.callerUid && (has(d.groups) ? d.groups : []) == variables.callerGroups))",
    messageExpression:
      "'agentgate: decisions may only carry the caller\\'s own identity as the apiserver authenticated it (' + request.userInfo.username + '); approve or deny with kubectl annotate approvalrequest NAME approved=true|false'",
    reason: 'Forbidden',
  },
  {
    expression: 'variables.oldStamps.all(o, variables.stamps.exists(d, d.user == o.user))',
    messageExpression: "'agentgate: an approver\\'s recorded decision cannot be removed (' + request.userInfo.username + ' tried)'",
    reason: 'Forbidden',
  },
] as const;

interface PolicyObjects {
  policy: Record<string, unknown>;
  binding: Record<string, unknown>;
}

/** The ValidatingAdmissionPolicy and its binding, as shipped in config/ and the chart. */
export function approvalPolicyObjects(): PolicyObjects {
  return {
    policy: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: APPROVAL_POLICY, labels: LABELS },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: ['agentgate.io'], apiVersions: ['*'], resources: ['approvalrequests'], operations: ['CREATE', 'UPDATE'] }],
        },
        variables: POLICY_VARIABLES.map((v) => ({ ...v })),
        validations: POLICY_VALIDATIONS.map((v) => ({ ...v })),
      },
    },
    binding: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: APPROVAL_POLICY, labels: LABELS },
      spec: { policyName: APPROVAL_POLICY, validationActions: ['Deny'] },
    },
  };
}

/** The parts of the live objects that decide whether the policy is in force. */
export interface LivePolicy {
  metadata?: { uid?: string; generation?: number };
  spec?: {
    failurePolicy?: string;
    matchConstraints?: {
      resourceRules?: Array<{ apiGroups?: string[]; resources?: string[]; operations?: string[] }>;
      namespaceSelector?: unknown;
      objectSelector?: unknown;
    };
    matchConditions?: unknown[];
    variables?: Array<{ name?: string; expression?: string }>;
    validations?: Array<{ expression?: string }>;
  };
  status?: { typeChecking?: { expressionWarnings?: unknown[] } };
}
export interface LiveBinding {
  metadata?: { uid?: string; generation?: number };
  spec?: { policyName?: string; validationActions?: string[]; matchResources?: unknown; paramRef?: unknown };
}

function selectorIsEverything(s: unknown): boolean {
  if (s === undefined || s === null) return true;
  const o = s as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  return !Object.keys(o.matchLabels ?? {}).length && !(o.matchExpressions ?? []).length;
}

/**
 * Why the live policy does not protect approvals (empty: it does). Fail closed: anything
 * unexpected (a narrowed match, an extra condition, Warn/Audit only) is a problem.
 */
export function approvalPolicyProblems(policy: LivePolicy | undefined, binding: LiveBinding | undefined): string[] {
  const out: string[] = [];
  if (!policy) out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} does not exist`);
  else {
    const s = policy.spec ?? {};
    if ((s.failurePolicy ?? 'Fail') !== 'Fail') out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} has failurePolicy ${s.failurePolicy}, not Fail`);
    const rules = s.matchConstraints?.resourceRules ?? [];
    const covers = rules.some(
      (r) =>
        (r.apiGroups ?? []).some((g) => g === 'agentgate.io' || g === '*') &&
        (r.resources ?? []).some((x) => x === 'approvalrequests' || x === '*') &&
        ['CREATE', 'UPDATE'].every((op) => (r.operations ?? []).some((o) => o === op || o === '*')),
    );
    if (!covers) out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} does not match CREATE and UPDATE of approvalrequests.agentgate.io`);
    if (!selectorIsEverything(s.matchConstraints?.namespaceSelector) || !selectorIsEverything(s.matchConstraints?.objectSelector)) {
      out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} narrows its match with a namespace or object selector`);
    }
    if ((s.matchConditions ?? []).length) out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} has matchConditions that can exempt writes`);
    const vars = new Map((s.variables ?? []).map((v) => [v.name, v.expression]));
    const exprs = new Set((s.validations ?? []).map((v) => v.expression));
    if (POLICY_VARIABLES.some((v) => vars.get(v.name) !== v.expression) || POLICY_VALIDATIONS.some((v) => !exprs.has(v.expression))) {
      out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} does not carry agentgate's validations (edited, or from another version)`);
    }
    if ((policy.status?.typeChecking?.expressionWarnings ?? []).length) out.push(`ValidatingAdmissionPolicy ${APPROVAL_POLICY} has type-checking warnings`);
  }
  if (!binding) out.push(`ValidatingAdmissionPolicyBinding ${APPROVAL_POLICY} does not exist, so the policy is not enforced`);
  else {
    const b = binding.spec ?? {};
    if (b.policyName !== APPROVAL_POLICY)
      out.push(`ValidatingAdmissionPolicyBinding ${APPROVAL_POLICY} binds ${b.policyName ?? 'nothing'}, not ${APPROVAL_POLICY}`);
    if (!(b.validationActions ?? []).includes('Deny'))
      out.push(`ValidatingAdmissionPolicyBinding ${APPROVAL_POLICY} does not Deny (validationActions ${JSON.stringify(b.validationActions ?? [])})`);
    const m = b.matchResources as { namespaceSelector?: unknown; objectSelector?: unknown; excludeResourceRules?: unknown[] } | undefined;
    if (m && (!selectorIsEverything(m.namespaceSelector) || !selectorIsEverything(m.objectSelector) || (m.excludeResourceRules ?? []).length)) {
      out.push(`ValidatingAdmissionPolicyBinding ${APPROVAL_POLICY} narrows or excludes resources`);
    }
  }
  return out;
}

/** The fix to print with approvalPolicyProblems. */
export const APPROVAL_POLICY_FIX = `kubectl apply -f config/admission/approval-stamps.yaml (or helm upgrade agentgate); the operator counts no approval until ${APPROVAL_POLICY} is back`;

// The policy epoch closes the remove-policy / forge / restore window: a stamp written while
// the policy or binding was briefly deleted or edited looks, once they are back, like any
// other. A decision has no time the apiserver vouches for, but the policy and binding have
// a uid (new on every create) and a generation (bumped on every spec change) that only the
// apiserver sets. The operator records both on a request when it first sees the request
// with no decision under an enforced policy (a write conditional on the resourceVersion it
// saw); while the live values still equal those, the policy has been in force, unchanged,
// for every decision written since. Cost (fail closed): decisions on a request made before
// a real policy change (upgrade, delete and reinstall) never count, so it expires and the
// retry's new request is approved instead. Re-applying identical objects bumps nothing.

/** The policy and binding as the apiserver identifies them (ApprovalRequest status.policyEpoch). */
export type PolicyEpoch = NonNullable<ApprovalRequestStatus['policyEpoch']>;

/** What the operator reads before counting stamps: problems, and the epoch when there are none. */
export interface PolicyState {
  problems: string[];
  epoch?: PolicyEpoch;
}

/** approvalPolicyProblems() and, when it is in force, the live epoch. */
export function approvalPolicyState(policy: LivePolicy | undefined, binding: LiveBinding | undefined): PolicyState {
  const problems = approvalPolicyProblems(policy, binding);
  const p = policy?.metadata;
  const b = binding?.metadata;
  if (problems.length) return { problems };
  if (!p?.uid || p.generation === undefined || !b?.uid || b.generation === undefined)
    return { problems: [`${APPROVAL_POLICY} has no metadata.uid or metadata.generation (not read from an apiserver)`] };
  return { problems, epoch: { policyUID: p.uid, policyGeneration: p.generation, bindingUID: b.uid, bindingGeneration: b.generation } };
}

/** How the live epoch differs from the one a request recorded (empty: the same). */
export function policyEpochChanges(recorded: PolicyEpoch, live: PolicyEpoch): string[] {
  const out: string[] = [];
  const one = (kind: string, uid: [string, string], generation: [number, number]) => {
    if (uid[0] !== uid[1]) out.push(`${kind} ${APPROVAL_POLICY} was deleted and recreated since (uid ${uid[0]}, now ${uid[1]})`);
    else if (generation[0] !== generation[1]) out.push(`${kind} ${APPROVAL_POLICY} was changed since (generation ${generation[0]}, now ${generation[1]})`);
  };
  one('ValidatingAdmissionPolicy', [recorded.policyUID, live.policyUID], [recorded.policyGeneration, live.policyGeneration]);
  one('ValidatingAdmissionPolicyBinding', [recorded.bindingUID, live.bindingUID], [recorded.bindingGeneration, live.bindingGeneration]);
  return out;
}
