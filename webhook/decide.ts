// The webhook's decision for an agent's call: a pure function of the admission request,
// a snapshot of the cluster and a clock (design.md, "The webhook's decision").
//
//   identity -> agentgate's own objects -> scope (namespace) -> coverage -> rules -> approval
//
// The result says what to answer and which single write must happen first (create the
// ApprovalRequest, or consume an approval with optimistic concurrency). The caller
// performs it, may overlay what it read back and decide again, then records the
// AuditEvent before answering.

import { LRUCache } from 'lru-cache';
import type { AccessGrant, AgentIdentity, ApprovalRequest, ApprovalRule } from '../api/types.js';
import { AGENTGATE_NAMESPACE, API_VERSION, GROUP, LABEL_AGENT, LABEL_FINGERPRINT, LABEL_MANAGED_BY, MANAGED_BY } from '../api/types.js';
import { approvalRequestName, labelValue } from '../api/names.js';
import { HELD_RETRY_AFTER_SECONDS, REASON } from '../api/reasons.js';
import type { AgentgateReason } from '../api/reasons.js';
import type { AdmissionRequest, UserInfo } from '../lib/admission.js';
import { isJsonObject } from '../lib/admission.js';
import { approvalUsable, approveCommand, DEFAULT_PENDING_TTL_MS, effectivePhase } from '../lib/approval.js';
import type { Clock } from '../lib/clock.js';
import { rfc3339 } from '../lib/clock.js';
import { fingerprint } from '../lib/fingerprint.js';
import { preview, summarize } from './preview.js';
import { admissionAttributes, rulesCover, subjectMatchesUser } from '../lib/rbac.js';
import { isBenign } from '../lib/routes.js';
import { effectsOf } from './effects.js';
import { DEFAULT_RULES } from './rules/catalogue.js';
import { buildRuleSet, evaluateRules } from './rules/evaluate.js';
import type { CompiledRuleSet, RulesResult } from './rules/evaluate.js';
import type { RoleLike, Snapshot } from './snapshot.js';
import { ceilingProblems, namespaceAllowed, roleAllowed } from '../lib/ceiling.js';
import { namespaceLabels, selfRequestProblems } from './validation.js';
import { approvalWarning, expiryWarning } from './warnings.js';

export type Verdict = 'Allowed' | 'Held' | 'Denied';

type Effect =
  | { kind: 'none' }
  /** Create this ApprovalRequest (AlreadyExists is fine: another replica or attempt made it). */
  | { kind: 'create'; approvalRequest: ApprovalRequest }
  /** An ApprovalRequest for this call is pending: wait for it during holdSeconds, if any. */
  | { kind: 'await'; namespace: string; name: string }
  /** Mark this Approved request Consumed at this resourceVersion; only if that succeeds, allow. */
  | { kind: 'consume'; namespace: string; name: string; resourceVersion: string };

export interface Decision {
  verdict: Verdict;
  /** False when the caller is no agent: not agentgate's call to judge, and nothing to record. */
  agentCall: boolean;
  agent?: string;
  /** Shown to the caller and recorded. */
  message: string;
  matchedRules: string[];
  /** namespace/name of the grant that covered the call. */
  grant?: string;
  /** namespace/name of the ApprovalRequest that held or released the call. */
  approvalRequest?: string;
  fingerprint?: string;
  effect: Effect;
  /** Seconds to keep a held call open for a fast approval (0: answer at once). */
  holdSeconds: number;
  /** Why a call is not allowed, for machines (api/reasons.ts); set on every Held and Denied decision. */
  reason?: AgentgateReason;
  /** The agentgate object the answer is about (the ApprovalRequest to wait for, the expired grant...). */
  about?: ObjectRef;
  /** When a retry may succeed, in seconds (a held call after approval, a grant about to open). */
  retryAfterSeconds?: number;
  /** RFC 3339: when the situation changes by itself (the ApprovalRequest or a denial expires, a grant opens). */
  until?: string;
  /** Admission warnings for an allowed call (a window about to close, an approval used up). */
  warnings?: string[];
}

interface ObjectRef {
  kind: 'ApprovalRequest' | 'AccessGrant' | 'AgentIdentity';
  name: string;
  namespace?: string;
}

export interface DecideOptions {
  /** HMAC key for fingerprints (see lib/fingerprint.ts). */
  fingerprintKey?: string;
  /** agentgate's own namespace: agents never mutate anything there. */
  agentgateNamespace: string;
  /** How long a held operation may wait for approval (spec.expiresAt). */
  pendingTtlMs?: number;
  /** Longest hold, below the webhook timeout. */
  maxHoldSeconds?: number;
}

const DEFAULT_DECIDE_OPTIONS: DecideOptions = { agentgateNamespace: AGENTGATE_NAMESPACE };

/** After this many used or expired requests for one identical operation, stop looking. */
const MAX_APPROVAL_SLOTS = 32;

// ---------------------------------------------------------------------------------
// Caches. Keys are content (rule text) or uid+resourceVersion, so a hit returns exactly
// what recomputing would: decide() stays a function of its inputs.

const ruleSetCache = new LRUCache<string, CompiledRuleSet>({ max: 512 });
const coverageCache = new LRUCache<string, boolean>({ max: 10_000 });

/** The key of an agent that neither adds, replaces nor disables a rule: the defaults alone. */
const DEFAULTS_ONLY = JSON.stringify([[], [], []]);

function ruleSetFor(agent: AgentIdentity, grant: AccessGrant | undefined): CompiledRuleSet {
  const agentRules: readonly ApprovalRule[] | undefined = agent.spec.approvalRules;
  const grantRules: readonly ApprovalRule[] | undefined = grant?.spec.approvalRules;
  const disabled = agent.spec.disabledDefaultRules;
  // Most agents run the defaults alone: no rule text to render into a key on every call.
  const key =
    agentRules?.length || grantRules?.length || disabled?.length ? JSON.stringify([agentRules ?? [], grantRules ?? [], disabled ?? []]) : DEFAULTS_ONLY;
  let set = ruleSetCache.get(key);
  if (!set) {
    set = buildRuleSet(DEFAULT_RULES, agentRules, grantRules, agent.spec.disabledDefaultRules);
    ruleSetCache.set(key, set);
  }
  return set;
}

function roleCovers(role: RoleLike, request: AdmissionRequest): boolean {
  const attrs = admissionAttributes(request);
  const uid = role.metadata?.uid;
  const rv = role.metadata?.resourceVersion;
  if (!uid || !rv) return attrs.some((a) => rulesCover(role.rules ?? [], a));
  let key = `${uid}@${rv}`;
  // A string field length-prefixed, anything else (absent, or not a string in an odd review) as JSON
  // after a 'j': no two attribute lists share a key.
  for (const a of attrs) {
    for (const f of [a.verb, a.apiGroup, a.resource, a.subresource, a.name, a.namespace] as unknown[]) {
      key += typeof f === 'string' ? `|${f.length}:${f}` : `|j${JSON.stringify(f) ?? '-'}`;
    }
  }
  let hit = coverageCache.get(key);
  if (hit === undefined) {
    hit = attrs.some((a) => rulesCover(role.rules ?? [], a));
    coverageCache.set(key, hit);
  }
  return hit;
}

// ---------------------------------------------------------------------------------

/** The AgentIdentities whose subjects name this user. */
export function agentsForUser(agents: readonly AgentIdentity[], user: UserInfo): AgentIdentity[] {
  return agents.filter((a) => a.spec.subjects.some((s) => subjectMatchesUser(s, user)));
}

function objectName(request: AdmissionRequest): string {
  if (request.name) return request.name;
  const meta = isJsonObject(request.object) && isJsonObject(request.object['metadata']) ? request.object['metadata'] : {};
  return typeof meta['name'] === 'string' ? meta['name'] : typeof meta['generateName'] === 'string' ? `${meta['generateName']}*` : '';
}

function labelsOf(obj: unknown): Record<string, unknown> {
  if (!isJsonObject(obj) || !isJsonObject(obj['metadata'])) return {};
  const labels = obj['metadata']['labels'];
  return isJsonObject(labels) ? labels : {};
}

function resourceText(request: AdmissionRequest): string {
  const r = request.resource;
  const res = request.subResource ? `${r.resource}/${request.subResource}` : r.resource;
  return r.group ? `${res}.${r.group}` : res;
}

function verbText(request: AdmissionRequest): string {
  return `${request.operation.toLowerCase()} ${resourceText(request)}${request.name ? ` ${request.name}` : ''}`;
}

const PREFIX = 'agentgate: ';

/**
 * Questions a caller asks about itself (`kubectl auth can-i`, `kubectl auth whoami`): a
 * CREATE that stores nothing and changes nothing, so there is nothing to gate or record.
 */
export const SELF_REVIEWS: ReadonlyArray<{ group: string; resource: string }> = [
  { group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' },
  { group: 'authorization.k8s.io', resource: 'selfsubjectrulesreviews' },
  { group: 'authentication.k8s.io', resource: 'selfsubjectreviews' },
];

function isSelfReview(request: Pick<AdmissionRequest, 'resource' | 'operation' | 'subResource'>): boolean {
  return (
    request.operation === 'CREATE' &&
    !request.subResource &&
    SELF_REVIEWS.some((r) => r.group === request.resource.group && r.resource === request.resource.resource)
  );
}

function base(agent: AgentIdentity | undefined, holdSeconds = 0): Pick<Decision, 'agentCall' | 'agent' | 'matchedRules' | 'effect' | 'holdSeconds'> {
  return { agentCall: true, ...(agent ? { agent: agent.metadata.name ?? '' } : {}), matchedRules: [], effect: { kind: 'none' }, holdSeconds };
}

function deny(agent: AgentIdentity | undefined, reason: AgentgateReason, message: string, extra: Partial<Decision> = {}): Decision {
  return { ...base(agent), verdict: 'Denied', reason, message: PREFIX + message, ...extra };
}

const agentRef = (agent: AgentIdentity): ObjectRef => ({ kind: 'AgentIdentity', name: agent.metadata.name ?? '' });
const grantObjectRef = (g: AccessGrant): ObjectRef => ({ kind: 'AccessGrant', name: g.metadata.name ?? '', namespace: g.metadata.namespace ?? '' });

interface Coverage {
  grant?: AccessGrant;
  /** Why no grant covers the call (when grant is undefined). */
  reason?: string;
  candidates: AccessGrant[];
  /** Grants whose role would cover the call but whose window has closed. */
  expired: AccessGrant[];
  /** Grants that may still open (Pending, AwaitingApproval, or activated in the future). */
  opening: AccessGrant[];
}

/** The Active, unexpired grants of this agent in the namespace whose role covers the call. */
function coverage(request: AdmissionRequest, agent: AgentIdentity, snapshot: Snapshot, now: Date): Coverage {
  const namespace = request.namespace ?? '';
  const name = agent.metadata.name ?? '';
  const grants = snapshot.grants(namespace).filter((g) => g.spec.agent === name);
  if (grants.length === 0) {
    return {
      candidates: [],
      expired: [],
      opening: [],
      reason: `agent ${name} has no AccessGrant in namespace ${namespace}; whatever RBAC binding let this call through was not made by agentgate (request access with an AccessGrant)`,
    };
  }
  const why: string[] = [];
  const covering: AccessGrant[] = [];
  const expired: AccessGrant[] = [];
  const opening: AccessGrant[] = [];
  const nsObj = snapshot.namespace(namespace);
  const wouldCover = (g: AccessGrant): boolean => {
    const role = g.spec.roleRef.kind === 'ClusterRole' ? snapshot.clusterRole(g.spec.roleRef.name) : snapshot.role(namespace, g.spec.roleRef.name);
    return !!role && roleCovers(role, request);
  };
  for (const g of [...grants].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
    const gname = g.metadata.name ?? '';
    const phase = g.status?.phase ?? 'Pending';
    if (phase !== 'Active') {
      why.push(`grant ${gname} is ${phase}`);
      if (phase === 'Expired' && wouldCover(g)) expired.push(g);
      if ((phase === 'Pending' || phase === 'AwaitingApproval') && wouldCover(g)) opening.push(g);
      continue;
    }
    const expires = g.status?.expiresAt ? Date.parse(g.status.expiresAt) : NaN;
    if (Number.isNaN(expires)) {
      why.push(`grant ${gname} has no status.expiresAt`);
      continue;
    }
    if (now.getTime() >= expires) {
      why.push(`grant ${gname} expired at ${g.status?.expiresAt}`);
      if (wouldCover(g)) expired.push(g);
      continue;
    }
    const activated = g.status?.activatedAt ? Date.parse(g.status.activatedAt) : NaN;
    if (!Number.isNaN(activated) && now.getTime() < activated) {
      why.push(`grant ${gname} is not active until ${g.status?.activatedAt}`);
      if (wouldCover(g)) opening.push(g);
      continue;
    }
    // The ceiling is re-checked here so that an AgentIdentity narrowed after activation
    // takes effect at once, before the operator catches up.
    if (!roleAllowed(agent, g.spec.roleRef)) {
      why.push(`grant ${gname}'s role ${g.spec.roleRef.kind}/${g.spec.roleRef.name} is no longer in agent ${name}'s spec.allowedRoles`);
      continue;
    }
    if (!namespaceAllowed(agent, namespace, namespaceLabels(nsObj))) {
      why.push(`namespace ${namespace} is not in agent ${name}'s spec.allowedNamespaces`);
      continue;
    }
    const role = g.spec.roleRef.kind === 'ClusterRole' ? snapshot.clusterRole(g.spec.roleRef.name) : snapshot.role(namespace, g.spec.roleRef.name);
    if (!role) {
      why.push(`grant ${gname}'s ${g.spec.roleRef.kind} ${g.spec.roleRef.name} does not exist`);
      continue;
    }
    if (!roleCovers(role, request)) {
      why.push(`grant ${gname}'s ${g.spec.roleRef.kind} ${g.spec.roleRef.name} does not allow ${verbText(request)}`);
      continue;
    }
    covering.push(g);
  }
  if (covering.length === 0) {
    return {
      candidates: [],
      expired,
      opening,
      reason: `no active grant of agent ${name} in namespace ${namespace} covers ${verbText(request)}: ${why.join('; ')}`,
    };
  }
  return { grant: covering[0], candidates: covering, expired, opening };
}

const expiryOf = (g: AccessGrant): number => Date.parse(g.status?.expiresAt ?? '') || 0;

/** The refusal of an uncovered call: waiting for a grant that may still open, after one that closed, or neither. */
function notCovered(agent: AgentIdentity, cov: Coverage, now: Date): Decision {
  const message = cov.reason ?? 'not covered';
  const opening = cov.opening[0];
  if (opening) {
    const at = Date.parse(opening.status?.activatedAt ?? opening.spec.notBefore ?? '');
    const later = Number.isNaN(at) ? 0 : Math.ceil((at - now.getTime()) / 1000);
    return deny(agent, REASON.NotCovered, message, {
      about: grantObjectRef(opening),
      retryAfterSeconds: later > 0 ? later : HELD_RETRY_AFTER_SECONDS,
      ...(later > 0 ? { until: rfc3339(new Date(at)) } : {}),
    });
  }
  const last = [...cov.expired].sort((a, b) => expiryOf(b) - expiryOf(a))[0];
  if (last)
    return deny(agent, REASON.GrantExpired, message, { about: grantObjectRef(last), ...(last.status?.expiresAt ? { until: last.status.expiresAt } : {}) });
  return deny(agent, REASON.NotCovered, message, { about: agentRef(agent) });
}

const RANK: Record<RulesResult['verdict'], number> = { Allow: 0, RequireApproval: 1, Deny: 2 };

/** The name under which posture Strict shows in matched rules and ApprovalRequests. */
const STRICT_POSTURE_RULE = 'strict-posture';

/**
 * spec.posture: Strict. Every route not classified read, create or modify (including an
 * unclassified one) needs approval, whatever the rules say: it is the AgentIdentity's
 * ceiling, so neither disabledDefaultRules nor an Allow rule of a grant lifts it.
 */
function applyPosture(agent: AgentIdentity, routeClass: string, result: RulesResult): RulesResult {
  if (agent.spec.posture !== 'Strict' || isBenign((routeClass || undefined) as never) || result.verdict === 'Deny') return result;
  const message = `agent ${agent.metadata.name ?? ''} has posture Strict: ${routeClass ? `${routeClass} routes` : 'routes agentgate cannot classify'} require approval.`;
  const matched = [
    ...result.matched.filter((m) => m.name !== STRICT_POSTURE_RULE),
    { name: STRICT_POSTURE_RULE, source: 'agent' as const, action: 'RequireApproval' as const, message },
  ];
  const reasons = result.verdict === 'RequireApproval' ? [...result.reasons, message] : [message];
  return { ...result, verdict: 'RequireApproval', matched, reasons, exemptedBy: [] };
}

/** With several covering grants, RBAC would allow the call under any of them; so do the rules. */
function evaluateUnder(
  request: AdmissionRequest,
  agent: AgentIdentity,
  grants: readonly (AccessGrant | undefined)[],
  snapshot: Snapshot,
): { grant?: AccessGrant; result: RulesResult } {
  let best: { grant?: AccessGrant; result: RulesResult } | undefined;
  for (const g of grants) {
    const effects = effectsOf(request, snapshot, g);
    const result = applyPosture(agent, effects.routeClass, evaluateRules(ruleSetFor(agent, g), { request, agent, grant: g ?? null, effects }));
    if (!best || RANK[result.verdict] < RANK[best.result.verdict]) best = g ? { grant: g, result } : { result };
    if (result.verdict === 'Allow') break;
  }
  return best!;
}

function approvalsSoFar(ar: ApprovalRequest): string {
  const users = [...new Set((ar.status?.approvals ?? []).filter((a) => a.decision === 'Approved').map((a) => a.user))];
  return users.length ? `approved so far by ${users.join(', ')}` : 'no approvals yet';
}

function newApprovalRequest(
  request: AdmissionRequest,
  agent: AgentIdentity,
  grant: AccessGrant | undefined,
  fp: string,
  name: string,
  rules: string[],
  now: Date,
  ttlMs: number,
): ApprovalRequest {
  const agentName = agent.metadata.name ?? '';
  const op: NonNullable<ApprovalRequest['spec']['operation']> = {
    operation: request.operation,
    group: request.resource.group,
    version: request.resource.version,
    resource: request.resource.resource,
    user: request.userInfo.username ?? '',
  };
  if (request.subResource) op.subresource = request.subResource;
  if (request.namespace) op.namespace = request.namespace;
  const target = objectName(request);
  if (target) op.name = target;
  if (request.userInfo.groups?.length) op.groups = [...request.userInfo.groups];
  return {
    apiVersion: API_VERSION,
    kind: 'ApprovalRequest',
    metadata: {
      name,
      namespace: request.namespace ?? '',
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_AGENT]: labelValue(agentName), [LABEL_FINGERPRINT]: fp.slice(0, 32) },
    },
    spec: {
      agent: agentName,
      type: 'Operation',
      ...(grant?.metadata.name ? { grant: grant.metadata.name } : {}),
      operation: op,
      fingerprint: fp,
      summary: summarize(request, agentName),
      preview: preview(request),
      matchedRules: rules,
      requestedBy: request.userInfo.username ?? '',
      expiresAt: rfc3339(new Date(now.getTime() + ttlMs)),
    },
  };
}

function isAgentgateManagedBinding(request: AdmissionRequest): boolean {
  if (request.resource.group !== 'rbac.authorization.k8s.io' || !['rolebindings', 'clusterrolebindings'].includes(request.resource.resource)) return false;
  return labelsOf(request.object)[LABEL_MANAGED_BY] === MANAGED_BY || labelsOf(request.oldObject)[LABEL_MANAGED_BY] === MANAGED_BY;
}

/**
 * Decides an agent's call. Pure: everything it knows comes from its arguments.
 */
export function decide(request: AdmissionRequest, snapshot: Snapshot, clock: Clock, options: DecideOptions = DEFAULT_DECIDE_OPTIONS): Decision {
  const now = clock.now();
  const user = request.userInfo ?? {};
  if (isSelfReview(request)) return { ...base(undefined), agentCall: false, verdict: 'Allowed', message: 'a question about the caller itself changes nothing' };

  // 1. Identity.
  const matches = agentsForUser(snapshot.agents(), user);
  if (matches.length === 0) {
    return { ...base(undefined), agentCall: false, verdict: 'Allowed', message: 'caller is not an agent' };
  }
  if (matches.length > 1) {
    const names = matches
      .map((a) => a.metadata.name)
      .sort()
      .join(', ');
    return deny(
      undefined,
      REASON.AmbiguousIdentity,
      `ambiguous identity: ${user.username ?? '<no user>'} matches AgentIdentities ${names}; every call is denied until only one AgentIdentity claims these subjects`,
    );
  }
  const agent = matches[0]!;
  const agentName = agent.metadata.name ?? '';
  if (agent.spec.suspended)
    return deny(agent, REASON.AgentSuspended, `agent ${agentName} is suspended (AgentIdentity spec.suspended: true); all of its calls are denied`, {
      about: agentRef(agent),
    });

  const namespace = request.namespace ?? '';
  const isGrantRequest =
    request.resource.group === GROUP && request.resource.resource === 'accessgrants' && request.operation === 'CREATE' && !request.subResource;

  // 2. agentgate's own objects: agents may only ask for access, never change the controls.
  if (request.resource.group === GROUP && !isGrantRequest) {
    return deny(
      agent,
      REASON.OutOfScope,
      `agent ${agentName} may not ${verbText(request)}: agents cannot change agentgate's objects (grants, approvals, audit records, identities)`,
    );
  }
  if (isAgentgateManagedBinding(request)) {
    return deny(
      agent,
      REASON.OutOfScope,
      `agent ${agentName} may not ${verbText(request)}: RoleBindings managed by agentgate are changed only by agentgate's operator`,
    );
  }

  // 3. Scope.
  if (!namespace || (request.resource.group === '' && request.resource.resource === 'namespaces')) {
    return deny(agent, REASON.OutOfScope, `agent ${agentName} may not ${verbText(request)}: agents may not change cluster-scoped objects`);
  }
  if (namespace === options.agentgateNamespace) {
    return deny(agent, REASON.OutOfScope, `agent ${agentName} may not change anything in agentgate's namespace ${namespace}`);
  }

  // 4. Coverage (an agent asking for its own access needs none: the grant it asks for waits for a human).
  let grants: (AccessGrant | undefined)[];
  if (isGrantRequest) {
    const requested = request.object as unknown as AccessGrant;
    if (!requested?.spec || !requested.metadata) return deny(agent, REASON.RequestRefused, 'the AccessGrant in the request has no spec');
    const problems = [
      ...selfRequestProblems(requested, agent),
      ...ceilingProblems({
        grant: { ...requested, metadata: { ...requested.metadata, namespace } },
        agent,
        namespaceLabels: namespaceLabels(snapshot.namespace(namespace)),
        agentgateNamespace: options.agentgateNamespace,
        now,
      }).map((p) => p.message),
    ];
    if (problems.length) return deny(agent, REASON.RequestRefused, `agent ${agentName}'s request for access is refused: ${problems.join('; ')}`);
    grants = [undefined];
  } else {
    const cov = coverage(request, agent, snapshot, now);
    if (!cov.grant) return notCovered(agent, cov, now);
    grants = cov.candidates;
  }

  // 5. Rules.
  const { grant, result } = evaluateUnder(request, agent, grants, snapshot);
  const grantRef = grant ? `${namespace}/${grant.metadata.name ?? ''}` : undefined;
  const matchedRules = result.matched.map((m) => m.name);
  // The window that ends last decides whether an allowed call is told its access is ending.
  const lasting = [...grants].filter((g): g is AccessGrant => !!g).sort((a, b) => expiryOf(b) - expiryOf(a))[0];
  const expiring = lasting ? expiryWarning(lasting, now) : undefined;
  const windowWarnings = expiring ? { warnings: [expiring] } : {};
  if (result.verdict === 'Allow') {
    const why = isGrantRequest ? `agent ${agentName} requests access; the grant waits for approval` : `covered by grant ${grantRef}`;
    const exempt = result.exemptedBy.length ? ` (exempted from approval by ${result.exemptedBy.join(', ')})` : '';
    // common and windowWarnings spelled out: object spread is a measurable share of the allow path.
    const allowed: Decision = {
      verdict: 'Allowed',
      agentCall: true,
      agent: agentName,
      message: PREFIX + why + exempt,
      matchedRules,
      effect: { kind: 'none' },
      holdSeconds: 0,
    };
    if (grantRef) allowed.grant = grantRef;
    if (expiring) allowed.warnings = [expiring];
    return allowed;
  }
  const common = { ...base(agent), matchedRules, ...(grantRef ? { grant: grantRef } : {}) };
  if (result.verdict === 'Deny') {
    return { ...common, verdict: 'Denied', reason: REASON.RuleDenied, message: PREFIX + result.reasons.join('; ') };
  }

  // 6. Approval.
  const fp = fingerprint(request, options.fingerprintKey !== undefined ? { key: options.fingerprintKey } : {});
  const needed = agent.spec.requiredApprovals ?? 1;
  const holdSeconds = Math.max(0, Math.min(agent.spec.holdSeconds ?? 0, options.maxHoldSeconds ?? 8));
  const ruleText = result.reasons.join(' ');
  const approvalNeeded = matchedRules.filter((n) => result.matched.find((m) => m.name === n)?.action === 'RequireApproval');
  const held = { ...common, fingerprint: fp, matchedRules };
  const heldFor = (name: string, until: string | undefined): Partial<Decision> => ({
    reason: REASON.ApprovalRequired,
    about: { kind: 'ApprovalRequest', name, namespace },
    retryAfterSeconds: HELD_RETRY_AFTER_SECONDS,
    ...(until ? { until } : {}),
  });
  for (let slot = 0; slot < MAX_APPROVAL_SLOTS; slot++) {
    const name = approvalRequestName(fp, agentName, slot);
    const ref = `${namespace}/${name}`;
    const how = `approve with: ${approveCommand(name, namespace)} (${needed} distinct approver${needed > 1 ? 's' : ''} of agent ${agentName} needed), then retry the identical call; it goes through once`;
    const ar = snapshot.approvalRequest(namespace, name);
    if (!ar) {
      if (request.dryRun) {
        return { ...held, verdict: 'Held', reason: REASON.ApprovalRequired, message: `${PREFIX}dry run: this call would be held for approval (${ruleText})` };
      }
      const created = newApprovalRequest(request, agent, grant, fp, name, approvalNeeded, now, options.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS);
      return {
        ...held,
        verdict: 'Held',
        ...heldFor(name, created.spec.expiresAt),
        approvalRequest: ref,
        effect: { kind: 'create', approvalRequest: created },
        holdSeconds,
        message: `${PREFIX}held for approval: ${ruleText} ApprovalRequest ${name} in namespace ${namespace} waits until ${created.spec.expiresAt}; ${how}`,
      };
    }
    if (ar.spec.fingerprint !== fp || ar.spec.agent !== agentName) continue; // a name collision: try the next slot
    const phase = effectivePhase(ar, now);
    if (phase === 'Approved') {
      const usable = approvalUsable(ar, fp, now);
      if (!usable.usable) continue;
      const by = approvalsSoFar(ar).replace('approved so far by', 'approved by');
      if (request.dryRun)
        return {
          ...held,
          ...windowWarnings,
          verdict: 'Allowed',
          approvalRequest: ref,
          message: `${PREFIX}dry run: ApprovalRequest ${name} (${by}) would let this call through`,
        };
      return {
        ...held,
        verdict: 'Allowed',
        warnings: [approvalWarning(ref, by), ...(expiring ? [expiring] : [])],
        approvalRequest: ref,
        effect: { kind: 'consume', namespace, name, resourceVersion: ar.metadata.resourceVersion ?? '' },
        message: `${PREFIX}allowed once by ApprovalRequest ${name} (${by}); covered by grant ${grantRef ?? '(access request)'}`,
      };
    }
    if (phase === 'Pending') {
      return {
        ...held,
        verdict: 'Held',
        ...heldFor(name, ar.spec.expiresAt),
        approvalRequest: ref,
        effect: request.dryRun ? { kind: 'none' } : { kind: 'await', namespace, name },
        holdSeconds: request.dryRun ? 0 : holdSeconds,
        message: `${PREFIX}held for approval: ${ruleText} ApprovalRequest ${name} in namespace ${namespace} is pending (${approvalsSoFar(ar)}); ${how}`,
      };
    }
    if (phase === 'Denied' && now.getTime() < Date.parse(ar.spec.expiresAt)) {
      const by = (ar.status?.approvals ?? [])
        .filter((a) => a.decision === 'Denied')
        .map((a) => a.user)
        .join(', ');
      return {
        ...held,
        verdict: 'Denied',
        reason: REASON.ApprovalDenied,
        about: { kind: 'ApprovalRequest', name, namespace },
        until: ar.spec.expiresAt,
        approvalRequest: ref,
        message: `${PREFIX}ApprovalRequest ${name} for this exact call was denied${by ? ` by ${by}` : ''}; the same call is refused until ${ar.spec.expiresAt}`,
      };
    }
    // Consumed, Expired, or a denial that has run its course: the next slot.
  }
  return {
    ...held,
    verdict: 'Denied',
    reason: REASON.ApprovalRequired,
    message: `${PREFIX}too many approval requests for this exact call; ask an administrator to clean up ApprovalRequests in ${namespace}`,
  };
}
