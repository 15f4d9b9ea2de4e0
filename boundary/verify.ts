// Boundary verification, pure: given a snapshot of the cluster, list every route by
// which an agent could reach the cluster while skipping one of agentgate's controls.
//
// The seed's test of a real boundary is "if the agent can reach the cluster by any route
// that skips even one of those controls, you do not have production access control".
// So this module is deliberately suspicious: anything it cannot prove safe (a
// SubjectAccessReview that was not run, a matchCondition it cannot evaluate) becomes a
// finding rather than silence.
//
// The model is in boundary/types.ts; who the agent is in boundary/principals.ts; the
// webhook configuration checks in boundary/webhook-configuration.ts.
// I/O lives in boundary/snapshot.ts: it lists the objects, runs the
// SubjectAccessReviews that planAccessReviews() asks for, probes the webhook endpoint,
// and hands the result to verifyAgents().

import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { AGENTGATE_NAMESPACE, GROUP, LABEL_GRANT, LABEL_MANAGED_BY, MANAGED_BY } from '../api/types.js';
import type { UserInfo } from '../lib/admission.js';
import { rulesCover, serviceAccountUsername, subjectMatchesUser } from '../lib/rbac.js';
import type { PolicyRule } from '../lib/rbac.js';
import { agentKeys, allowedNamespaces, AUTHENTICATED, BOOTSTRAP_LABEL, bindingMatch, principalsOf, SA_GROUP } from './principals.js';
import { bindingsFor, grantsIn, perAgent, perSnapshot, rulesOf } from './snapshot-index.js';
import { userKeys } from '../lib/rbac-index.js';
import { DEFAULT_EXPIRY_GRACE_MS, Route, WORKLOAD_RESOURCES } from './types.js';
import type {
  AccessAttributes,
  AccessReviewResult,
  AgentReport,
  Binding,
  BoundaryReport,
  BoundarySnapshot,
  Finding,
  PlannedReview,
  Principal,
  RouteName,
  RoleRef,
  ServiceAccountRef,
  Severity,
  SnapshotWithoutReviews,
  VerifyOptions,
} from './types.js';
import { webhookFindings } from './webhook-configuration.js';
import { indirectIdentityFindings, undeclaredGroupFindings, unclassifiedRouteFindings } from './effects.js';

// ---------------------------------------------------------------------------------
// Small helpers

const WRITE_VERBS = new Set(['*', 'create', 'update', 'patch', 'delete', 'deletecollection', 'bind', 'escalate', 'impersonate', 'approve', 'sign']);

function ruleIsPowerful(r: PolicyRule): boolean {
  if (r.verbs.some((v) => WRITE_VERBS.has(v))) return true;
  // Reading Secrets hands over ServiceAccount tokens and keys.
  return ['get', 'list', 'watch'].some((verb) => rulesCover([r], { verb, apiGroup: '', resource: 'secrets' }));
}

function bindingRef(b: Binding, cluster: boolean): string {
  return cluster ? `ClusterRoleBinding/${b.metadata?.name ?? ''}` : `RoleBinding/${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`;
}

function deleteCommand(b: Binding, cluster: boolean): string {
  return cluster
    ? `kubectl delete clusterrolebinding ${b.metadata?.name ?? ''}`
    : `kubectl delete rolebinding ${b.metadata?.name ?? ''} -n ${b.metadata?.namespace ?? ''}`;
}

const rulesOfRef = (snapshot: SnapshotWithoutReviews, ref: RoleRef, namespace: string | undefined): PolicyRule[] | undefined =>
  rulesOf(snapshot, ref, namespace);

/**
 * Namespaces in which RoleBindings could give the agent anything: where it may hold
 * grants, where any RoleBinding names it (even through a broad group), and agentgate's
 * own. Permissions from ClusterRoleBindings show in the cluster-wide reviews.
 */
export function namespacesToReview(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): string[] {
  return perAgent(snapshot, agent, 'namespaces', () => findNamespacesToReview(agent, snapshot));
}

function findNamespacesToReview(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): string[] {
  const existing = new Set(snapshot.namespaces.map((n) => n.name));
  const out = new Set<string>();
  for (const ns of allowedNamespaces(agent, snapshot)) if (existing.has(ns)) out.add(ns);
  for (const b of bindingsFor(snapshot, agentKeys(agent)).namespaced) {
    const m = bindingMatch(agent, b);
    if ((m.explicit.length || m.broad.length) && b.metadata?.namespace) out.add(b.metadata.namespace);
  }
  out.add(snapshot.agentgateNamespace ?? AGENTGATE_NAMESPACE);
  return [...out].sort();
}

// ---------------------------------------------------------------------------------
// Escalation catalogue

interface EscalationCheck {
  verbs: string[];
  group: string;
  resource: string;
  subresource?: string;
  scope: 'cluster' | 'namespaced';
  why: string;
  fix?: string;
  /** Only in agentgate's namespace (and cluster-wide). */
  agentgateNamespaceOnly?: boolean;
}

const RBAC = 'rbac.authorization.k8s.io';
const WRITE = ['create', 'update', 'patch'];
const WRITE_DELETE = ['create', 'update', 'patch', 'delete'];

const ESCALATION_CHECKS: readonly EscalationCheck[] = [
  { verbs: WRITE, group: RBAC, resource: 'rolebindings', scope: 'namespaced', why: 'it can bind any role it holds (or may bind) to itself, outside any grant' },
  { verbs: WRITE, group: RBAC, resource: 'roles', scope: 'namespaced', why: 'it can widen the rules of roles it is bound to' },
  { verbs: ['bind'], group: RBAC, resource: 'roles', scope: 'namespaced', why: 'bind lets it create bindings to roles it does not hold' },
  { verbs: ['bind'], group: RBAC, resource: 'clusterroles', scope: 'namespaced', why: 'bind lets it create bindings to roles it does not hold' },
  { verbs: ['escalate'], group: RBAC, resource: 'roles', scope: 'namespaced', why: 'escalate lets it write roles with rules it does not hold' },
  { verbs: WRITE, group: RBAC, resource: 'clusterrolebindings', scope: 'cluster', why: 'it can grant itself cluster-wide access outside any grant' },
  { verbs: WRITE, group: RBAC, resource: 'clusterroles', scope: 'cluster', why: "it can widen the rules of roles it is bound to, including a grant's role" },
  { verbs: ['escalate'], group: RBAC, resource: 'clusterroles', scope: 'cluster', why: 'escalate lets it write roles with rules it does not hold' },
  { verbs: ['impersonate'], group: '', resource: 'users', scope: 'cluster', why: 'it can act as another user, whose calls agentgate does not gate' },
  { verbs: ['impersonate'], group: '', resource: 'groups', scope: 'cluster', why: "it can act with other groups' access" },
  {
    verbs: ['impersonate'],
    group: '',
    resource: 'serviceaccounts',
    scope: 'namespaced',
    why: 'it can act as a ServiceAccount, whose calls agentgate does not gate',
  },
  { verbs: ['impersonate'], group: 'authentication.k8s.io', resource: 'uids', scope: 'cluster', why: 'it can impersonate identities' },
  {
    verbs: ['create'],
    group: '',
    resource: 'serviceaccounts',
    subresource: 'token',
    scope: 'namespaced',
    why: 'it can mint tokens for ServiceAccounts and act as them, outside agentgate',
  },
  {
    verbs: ['create'],
    group: 'certificates.k8s.io',
    resource: 'certificatesigningrequests',
    scope: 'cluster',
    why: 'it can request client certificates for other identities (auto-approving signers exist, e.g. on EKS)',
  },
  {
    verbs: ['update', 'patch'],
    group: 'certificates.k8s.io',
    resource: 'certificatesigningrequests',
    subresource: 'approval',
    scope: 'cluster',
    why: 'it can approve certificates for any identity',
  },
  {
    verbs: WRITE_DELETE,
    group: 'admissionregistration.k8s.io',
    resource: 'validatingwebhookconfigurations',
    scope: 'cluster',
    why: 'it can switch off or loosen the agentgate webhook',
  },
  {
    verbs: WRITE_DELETE,
    group: 'admissionregistration.k8s.io',
    resource: 'mutatingwebhookconfigurations',
    scope: 'cluster',
    why: 'a mutating webhook of its own sees and changes every call, including approvals',
  },
  {
    verbs: WRITE_DELETE,
    group: 'apiextensions.k8s.io',
    resource: 'customresourcedefinitions',
    scope: 'cluster',
    why: "it can change or delete agentgate's API (and with it every grant and audit record)",
  },
  { verbs: WRITE_DELETE, group: 'apiregistration.k8s.io', resource: 'apiservices', scope: 'cluster', why: 'it can route an API group to a server of its own' },
  {
    verbs: ['get', 'create'],
    group: '',
    resource: 'nodes',
    subresource: 'proxy',
    scope: 'cluster',
    why: 'the kubelet API (exec, logs) through nodes/proxy skips admission, so agentgate never sees it',
  },
  { verbs: [...WRITE_DELETE], group: GROUP, resource: 'agentidentities', scope: 'cluster', why: 'it can change its own ceiling, approvers or suspension' },
  {
    verbs: ['update', 'patch'],
    group: GROUP,
    resource: 'agentidentities',
    subresource: 'status',
    scope: 'cluster',
    why: 'it can forge its own boundary status',
  },
  { verbs: [...WRITE_DELETE], group: GROUP, resource: 'approvalrequests', scope: 'namespaced', why: 'it can forge or approve its own held operations' },
  {
    verbs: ['update', 'patch'],
    group: GROUP,
    resource: 'approvalrequests',
    subresource: 'status',
    scope: 'namespaced',
    why: 'it can mark its own held operations Approved',
  },
  { verbs: [...WRITE_DELETE], group: GROUP, resource: 'auditevents', scope: 'namespaced', why: 'it can forge or erase the audit record' },
  {
    verbs: ['update', 'patch'],
    group: GROUP,
    resource: 'accessgrants',
    subresource: 'status',
    scope: 'namespaced',
    why: 'it can mark its own grant Active or extend expiresAt',
  },
  {
    verbs: ['get', 'list'],
    group: '',
    resource: 'secrets',
    scope: 'namespaced',
    agentgateNamespaceOnly: true,
    why: "agentgate's namespace holds the webhook's TLS key and its components' credentials",
  },
];

// Verbs on other agents' grants; an agent MAY create grants (requests that always need
// approval), so create is not here.
const FOREIGN_GRANT_VERBS = ['update', 'patch', 'delete'];
const MAX_NAMED_GRANT_REVIEWS = 20;

function describeAttrs(a: AccessAttributes): string {
  const res = `${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.group ? `.${a.group}` : ''}`;
  const name = a.name ? ` ${a.name}` : '';
  const where = a.namespace ? ` in namespace ${a.namespace}` : ' cluster-wide';
  return `${a.verb} ${res}${name}${where}`;
}

function reviewKey(agent: string, p: Principal, a: AccessAttributes): string {
  return [agent, p.label, a.verb, a.group, a.resource, a.subresource ?? '', a.namespace, a.name ?? ''].join('|');
}

// ---------------------------------------------------------------------------------
// Powerful ServiceAccounts (for indirect routes)

interface PowerfulServiceAccount {
  sa: ServiceAccountRef;
  /** The binding that gives it power, for the message. */
  via: string;
}

function agentOwnsServiceAccount(agent: AgentIdentity, sa: ServiceAccountRef): boolean {
  return (agent.spec.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace);
}

/**
 * ServiceAccounts that some non-bootstrap binding gives write power or Secret reads.
 * Bootstrap bindings (kubernetes.io/bootstrapping) give every ServiceAccount the same
 * harmless discovery rights, so they do not make one ServiceAccount "more powerful".
 */
export function powerfulServiceAccounts(snapshot: SnapshotWithoutReviews): PowerfulServiceAccount[] {
  return perSnapshot(snapshot, 'powerfulServiceAccounts', () => findPowerfulServiceAccounts(snapshot));
}

function findPowerfulServiceAccounts(snapshot: SnapshotWithoutReviews): PowerfulServiceAccount[] {
  const out: PowerfulServiceAccount[] = [];
  for (const sa of snapshot.serviceAccounts) {
    const user: UserInfo = { username: serviceAccountUsername(sa.namespace, sa.name), groups: [SA_GROUP, `${SA_GROUP}:${sa.namespace}`] };
    const candidates = bindingsFor(snapshot, userKeys(user.username, user.groups ?? []));
    const check = (b: Binding, cluster: boolean): boolean => {
      if (b.metadata?.labels?.[BOOTSTRAP_LABEL]) return false;
      if (!cluster && b.metadata?.namespace !== sa.namespace) return false;
      if (!(b.subjects ?? []).some((s) => subjectMatchesUser(s, user, b.metadata?.namespace))) return false;
      const rules = rulesOfRef(snapshot, b.roleRef, b.metadata?.namespace);
      return (rules ?? []).some(ruleIsPowerful);
    };
    const clusterHit = candidates.cluster.find((b) => check(b, true));
    const namespacedHit = clusterHit ? undefined : candidates.namespaced.find((b) => check(b, false));
    const hit = clusterHit ? { b: clusterHit, cluster: true } : namespacedHit ? { b: namespacedHit, cluster: false } : undefined;
    if (hit) out.push({ sa, via: `${bindingRef(hit.b, hit.cluster)} (${hit.b.roleRef.kind} ${hit.b.roleRef.name})` });
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Planning the SubjectAccessReviews

/** The grants of other agents whose by-name reviews the agent gets: the first few by namespace, then name. */
function grantsOfOtherAgents(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): AccessGrant[] {
  return perAgent(snapshot, agent, 'namedGrants', () => {
    const out: AccessGrant[] = [];
    for (const ns of namespacesToReview(agent, snapshot)) {
      for (const g of grantsIn(snapshot, ns)) {
        if (out.length >= MAX_NAMED_GRANT_REVIEWS) return out;
        if (g.spec.agent !== agent.metadata.name) out.push(g);
      }
    }
    return out;
  });
}

/**
 * Whether the agent's by-name grant reviews name this grant, or may have named it before
 * it changed or went: it sorts within the agent's window (or the window is not full).
 */
export function mayNameGrant(agent: AgentIdentity, snapshot: SnapshotWithoutReviews, namespace: string, name: string): boolean {
  if (!namespacesToReview(agent, snapshot).includes(namespace)) return false;
  const window = grantsOfOtherAgents(agent, snapshot);
  const last = window[window.length - 1];
  if (!last || window.length < MAX_NAMED_GRANT_REVIEWS) return true;
  const lastNs = last.metadata.namespace ?? '';
  return namespace < lastNs || (namespace === lastNs && name <= (last.metadata.name ?? ''));
}

interface PlannedCheck {
  attrs: AccessAttributes;
  route: RouteName;
  severity: Severity;
  why: string;
  fix?: string;
  /** For indirect routes: the ServiceAccounts the capability reaches. */
  reaches?: PowerfulServiceAccount[];
}

function checksFor(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): PlannedCheck[] {
  return perAgent(snapshot, agent, 'checks', () => planChecks(agent, snapshot));
}

function planChecks(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): PlannedCheck[] {
  const agNs = snapshot.agentgateNamespace ?? AGENTGATE_NAMESPACE;
  const namespaces = namespacesToReview(agent, snapshot);
  const out: PlannedCheck[] = [];
  for (const c of ESCALATION_CHECKS) {
    const scopes = c.scope === 'cluster' ? [''] : ['', ...(c.agentgateNamespaceOnly ? [agNs] : namespaces)];
    for (const namespace of scopes) {
      for (const verb of c.verbs) {
        const attrs: AccessAttributes = { verb, group: c.group, resource: c.resource, namespace };
        if (c.subresource) attrs.subresource = c.subresource;
        out.push({ attrs, route: Route.Escalation, severity: 'Critical', why: c.why, ...(c.fix ? { fix: c.fix } : {}) });
      }
    }
  }
  // Other agents' grants: namespace-wide, and by name for roles limited by resourceNames.
  for (const namespace of ['', ...namespaces]) {
    for (const verb of FOREIGN_GRANT_VERBS) {
      out.push({
        attrs: { verb, group: GROUP, resource: 'accessgrants', namespace },
        route: Route.Escalation,
        severity: 'Critical',
        why: "it can change or remove other agents' grants (an agent may only create requests for itself)",
      });
    }
  }
  for (const g of grantsOfOtherAgents(agent, snapshot)) {
    for (const verb of FOREIGN_GRANT_VERBS) {
      out.push({
        attrs: { verb, group: GROUP, resource: 'accessgrants', namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' },
        route: Route.Escalation,
        severity: 'Critical',
        why: `it can change or remove agent ${g.spec.agent}'s grant`,
      });
    }
  }
  // Indirect routes: only where a more powerful ServiceAccount exists.
  const powerful = powerfulServiceAccounts(snapshot).filter((p) => !agentOwnsServiceAccount(agent, p.sa));
  if (powerful.length) {
    const byNs = new Map<string, PowerfulServiceAccount[]>();
    for (const p of powerful) byNs.set(p.sa.namespace, [...(byNs.get(p.sa.namespace) ?? []), p]);
    const scopes: Array<[string, PowerfulServiceAccount[]]> = [['', powerful]];
    for (const ns of namespaces) if (byNs.has(ns)) scopes.push([ns, byNs.get(ns)!]);
    for (const [namespace, reaches] of scopes) {
      for (const w of WORKLOAD_RESOURCES) {
        out.push({
          attrs: { verb: 'create', group: w.group, resource: w.resource, namespace },
          route: Route.IndirectPodCreation,
          severity: 'Warning',
          why: 'a pod it creates may run as that ServiceAccount and act outside agentgate',
          reaches,
        });
      }
      out.push({
        attrs: { verb: 'create', group: '', resource: 'secrets', namespace },
        route: Route.IndirectServiceAccountToken,
        severity: 'Warning',
        why: "a Secret of type kubernetes.io/service-account-token it creates is filled with that ServiceAccount's token",
        reaches,
      });
    }
  }
  return out;
}

/** Every SubjectAccessReview verifyAgents() needs, for every agent (deduplicated). */
export function planAccessReviews(snapshot: SnapshotWithoutReviews, options: Pick<VerifyOptions, 'agents'> = {}): PlannedReview[] {
  const seen = new Set<string>();
  const out: PlannedReview[] = [];
  for (const agent of selectAgents(snapshot.agents, options.agents)) {
    const name = agent.metadata.name ?? '';
    for (const principal of principalsOf(agent)) {
      for (const c of checksFor(agent, snapshot)) {
        const key = reviewKey(name, principal, c.attrs);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ agent: name, principal, ...c.attrs });
      }
    }
  }
  return out;
}

function selectAgents(agents: AgentIdentity[], names: string[] | undefined): AgentIdentity[] {
  const sorted = [...agents].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  return names?.length ? sorted.filter((a) => names.includes(a.metadata.name ?? '')) : sorted;
}

// ---------------------------------------------------------------------------------
// Bindings

function grantIsLive(g: AccessGrant, now: Date, graceMs: number): { live: boolean; why?: string } {
  const phase = g.status?.phase ?? 'Pending';
  if (phase !== 'Active') return { live: false, why: `its grant ${g.metadata.namespace}/${g.metadata.name} is ${phase}` };
  const exp = g.status?.expiresAt ? Date.parse(g.status.expiresAt) : NaN;
  if (!Number.isNaN(exp) && now.getTime() > exp + graceMs) {
    return { live: false, why: `its grant ${g.metadata.namespace}/${g.metadata.name} expired at ${g.status!.expiresAt}` };
  }
  return { live: true };
}

/** Grants by namespace/name, built once per snapshot: owningGrant runs for every binding of every agent. */
const grantIndexes = new WeakMap<readonly AccessGrant[], Map<string, AccessGrant>>();
function grantNamed(snapshot: SnapshotWithoutReviews, namespace: string, name: string): AccessGrant | undefined {
  let idx = grantIndexes.get(snapshot.grants);
  if (!idx) {
    idx = new Map();
    for (const g of snapshot.grants) {
      const k = `${g.metadata.namespace ?? ''}/${g.metadata.name ?? ''}`;
      if (!idx.has(k)) idx.set(k, g);
    }
    grantIndexes.set(snapshot.grants, idx);
  }
  return idx.get(`${namespace}/${name}`);
}

/** The grant that owns a RoleBinding by agentgate's contract: label, ownerReference, same namespace. */
function owningGrant(b: Binding, snapshot: SnapshotWithoutReviews): AccessGrant | undefined {
  const labels = b.metadata?.labels ?? {};
  if (labels[LABEL_MANAGED_BY] !== MANAGED_BY) return undefined;
  const grantName = labels[LABEL_GRANT];
  if (!grantName) return undefined;
  const ref = (b.metadata?.ownerReferences ?? []).find((o) => o.kind === 'AccessGrant' && o.name === grantName);
  if (!ref) return undefined;
  const grant = grantNamed(snapshot, b.metadata?.namespace ?? '', grantName);
  // A recreated grant of the same name is a different grant; its uid tells them apart.
  if (!grant || (ref.uid && grant.metadata.uid && ref.uid !== grant.metadata.uid)) return undefined;
  return grant;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);
/** What an agent may read outside any grant: its requests, how they stand, and its identity. */
const AGENT_READABLE = new Set([
  'accessgrants',
  'accessgrants/status',
  'approvalrequests',
  'approvalrequests/status',
  'agentidentities',
  'agentidentities/status',
]);

/**
 * True when rules allow nothing but creating AccessGrants and reading agentgate's grants,
 * approval requests and identities (ClusterRoles agentgate-requester and
 * agentgate-identity-reader): asking for access, and seeing how the request stands.
 */
export function onlyRequestsAccess(rules: readonly PolicyRule[] | undefined): boolean {
  if (!rules || rules.length === 0) return false;
  return rules.every(
    (r) =>
      !r.nonResourceURLs?.length &&
      (r.apiGroups ?? []).length > 0 &&
      (r.apiGroups ?? []).every((g) => g === GROUP) &&
      (r.resources ?? []).length > 0 &&
      (r.resources ?? []).every((res) => AGENT_READABLE.has(res)) &&
      (r.verbs ?? []).length > 0 &&
      (r.verbs ?? []).every((v) => READ_VERBS.has(v) || (v === 'create' && (r.resources ?? []).every((res) => res === 'accessgrants'))),
  );
}

function bindingFindings(agent: AgentIdentity, snapshot: SnapshotWithoutReviews, now: Date, graceMs: number): Finding[] {
  const out: Finding[] = [];
  const name = agent.metadata.name ?? '';
  const consider = (b: Binding, cluster: boolean): void => {
    const m = bindingMatch(agent, b);
    const object = bindingRef(b, cluster);
    const role = `${b.roleRef.kind} ${b.roleRef.name}`;
    if (m.explicit.length) {
      const who = m.explicit.join(', ');
      const grant = cluster ? undefined : owningGrant(b, snapshot);
      if (grant && grant.spec.agent !== name) {
        const live = grantIsLive(grant, now, graceMs);
        if (live.live) {
          out.push({
            severity: 'Critical',
            route: Route.ForeignGrantBinding,
            object,
            message: `${object} belongs to agent ${grant.spec.agent}'s grant ${grant.metadata.namespace}/${grant.metadata.name} but binds ${role} to ${who}, which is agent ${name}'s subject: ${name} gets access it never requested`,
            fix: `Give each AgentIdentity its own subjects (no shared groups), so one agent's grant never reaches another`,
          });
          return;
        }
      }
      if (grant && grant.spec.agent === name) {
        if (agent.spec.suspended) {
          out.push({
            severity: 'Critical',
            route: Route.StandingBinding,
            object,
            message: `${object} binds ${role} to ${who} although agent ${name} is suspended`,
            fix: `${deleteCommand(b, cluster)} (the operator should have removed it; check that it runs)`,
          });
          return;
        }
        const live = grantIsLive(grant, now, graceMs);
        if (!live.live) {
          out.push({
            severity: 'Critical',
            route: Route.StandingBinding,
            object,
            message: `${object} binds ${role} to ${who}, but ${live.why}: access outlives its window`,
            fix: `${deleteCommand(b, cluster)} (the operator should have removed it; check that it runs)`,
          });
          return;
        }
        const want = grant.spec.roleRef;
        if (want.kind !== b.roleRef.kind || want.name !== b.roleRef.name) {
          out.push({
            severity: 'Critical',
            route: Route.TamperedBinding,
            object,
            message: `${object} belongs to grant ${grant.metadata.namespace}/${grant.metadata.name}, which grants ${want.kind} ${want.name}, but binds ${role}`,
            fix: `${deleteCommand(b, cluster)}; the operator recreates it from the grant`,
          });
        }
        return;
      }
      // Asking for access is the one standing permission an agent may hold (the webhook
      // forces every grant it creates to wait for a human), judged by the rules, not the name.
      if (onlyRequestsAccess(rulesOfRef(snapshot, b.roleRef, b.metadata?.namespace))) return;
      out.push({
        severity: 'Critical',
        route: Route.StandingBinding,
        object,
        message: `${object} binds ${role} to ${who} outside any active AccessGrant: standing access that skips timing and approval`,
        fix: `${deleteCommand(b, cluster)}; give the agent access with an AccessGrant instead`,
      });
      return;
    }
    if (m.broad.length && !b.metadata?.labels?.[BOOTSTRAP_LABEL]) {
      const rules = rulesOfRef(snapshot, b.roleRef, b.metadata?.namespace);
      const powerful = (rules ?? []).some(ruleIsPowerful);
      out.push({
        severity: powerful ? 'Critical' : 'Warning',
        route: Route.BroadGroupBinding,
        object,
        message: `${object} binds ${role} to group ${m.broad.join(', ')}, which includes agent ${name}: ${powerful ? 'write access' : 'access'} for every agent, outside any grant`,
        fix: `${deleteCommand(b, cluster)}, or bind the role to the specific humans or workloads that need it`,
      });
    }
  };
  // Only bindings with a subject the agent has can name it (explicitly or by a broad group).
  const candidates = bindingsFor(snapshot, agentKeys(agent));
  for (const b of candidates.cluster) consider(b, true);
  for (const b of candidates.namespaced) consider(b, false);
  return out;
}

// ---------------------------------------------------------------------------------
// SubjectAccessReview results

/** Review results by agent and reviewKey, built once per result list (not once per agent). */
const reviewIndexes = new WeakMap<readonly AccessReviewResult[], Map<string, Map<string, AccessReviewResult>>>();
function reviewsByAgent(results: readonly AccessReviewResult[]): Map<string, Map<string, AccessReviewResult>> {
  let idx = reviewIndexes.get(results);
  if (!idx) {
    idx = new Map();
    for (const r of results) {
      let m = idx.get(r.agent);
      if (!m) idx.set(r.agent, (m = new Map()));
      m.set(reviewKey(r.agent, r.principal, r), r);
    }
    reviewIndexes.set(results, idx);
  }
  return idx;
}

function reviewFindings(agent: AgentIdentity, snapshot: BoundarySnapshot): { findings: Finding[]; reviews: number } {
  const name = agent.metadata.name ?? '';
  const results = reviewsByAgent(snapshot.accessReviews).get(name) ?? new Map<string, AccessReviewResult>();
  const findings: Finding[] = [];
  const reported = new Set<string>();
  let missing = 0;
  let reviews = 0;
  for (const principal of principalsOf(agent)) {
    for (const c of checksFor(agent, snapshot)) {
      const r = results.get(reviewKey(name, principal, c.attrs));
      if (!r) {
        missing++;
        continue;
      }
      reviews++;
      if (!r.allowed) continue;
      // The same capability cluster-wide already says everything about each namespace.
      const clusterWide = { ...c.attrs, namespace: '' };
      const dedupe = `${c.route}|${describeAttrs(c.attrs)}`;
      if (c.attrs.namespace && reported.has(`${c.route}|${describeAttrs(clusterWide)}`)) continue;
      if (reported.has(dedupe)) continue;
      reported.add(dedupe);
      const object = describeAttrs(c.attrs);
      const by = r.reason ? ` (${r.reason})` : '';
      if (c.route === Route.Escalation) {
        findings.push({
          severity: c.severity,
          route: c.route,
          object,
          message: `${principal.label} may ${object}${by}: ${c.why}`,
          fix:
            c.fix ??
            `Remove this permission from the role bound to ${principal.label}${r.reason ? ' (the binding named above)' : ''}; check with: kubectl auth can-i ${c.attrs.verb} ${c.attrs.resource}${c.attrs.subresource ? `/${c.attrs.subresource}` : ''}${c.attrs.group ? `.${c.attrs.group}` : ''}${c.attrs.namespace ? ` -n ${c.attrs.namespace}` : ' -A'} --as ${principal.user ?? 'x'}${principal.groups
              .filter((g) => g !== AUTHENTICATED)
              .map((g) => ` --as-group ${g}`)
              .join('')}`,
        });
      } else {
        const reach = (c.reaches ?? []).filter((p) => !c.attrs.namespace || p.sa.namespace === c.attrs.namespace);
        const list = reach
          .slice(0, 3)
          .map((p) => `ServiceAccount ${p.sa.namespace}/${p.sa.name} via ${p.via}`)
          .join('; ');
        const more = reach.length > 3 ? ` and ${reach.length - 3} more` : '';
        findings.push({
          severity: c.severity,
          route: c.route,
          object,
          message: `${principal.label} may ${object}, where ${list}${more} holds more power; ${c.why}`,
          fix:
            c.route === Route.IndirectPodCreation
              ? `Move the powerful ServiceAccount out of namespaces the agent can create workloads in, or reduce its RBAC; or restrict which ServiceAccounts pods may use there (e.g. an approval rule on pods' spec.serviceAccountName)`
              : `Move the powerful ServiceAccount out of namespaces the agent can create Secrets in, or reduce its RBAC; disable legacy token Secrets (LegacyServiceAccountTokenCleanUp)`,
        });
      }
    }
  }
  if (missing) {
    findings.push({
      severity: 'Warning',
      route: Route.ReviewMissing,
      object: `AgentIdentity/${name}`,
      message: `${missing} SubjectAccessReview(s) needed to rule out escalation were not run (or failed), so escalation is unverified`,
      fix: "Let the verifier create subjectaccessreviews.authorization.k8s.io (the operator's ClusterRole does) and run it again",
    });
  }
  return { findings, reviews };
}

// ---------------------------------------------------------------------------------
// Entry point

const SEVERITY_ORDER: Record<Severity, number> = { Critical: 0, Warning: 1 };

function sortFindings(f: Finding[]): Finding[] {
  return [...f].sort(
    (a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.route.localeCompare(b.route) || (a.object ?? '').localeCompare(b.object ?? ''),
  );
}

/** Verifies one agent. */
export function verifyAgent(agent: AgentIdentity, snapshot: BoundarySnapshot, options: VerifyOptions = {}): AgentReport {
  const now = options.now ?? new Date();
  const grace = options.expiryGraceMs ?? DEFAULT_EXPIRY_GRACE_MS;
  const reviews = reviewFindings(agent, snapshot);
  const findings = sortFindings([
    ...bindingFindings(agent, snapshot, now, grace),
    ...reviews.findings,
    ...webhookFindings(agent, snapshot, now),
    ...indirectIdentityFindings(agent, snapshot, now),
    ...undeclaredGroupFindings(agent, snapshot),
    ...unclassifiedRouteFindings(agent, snapshot.routes),
  ]);
  return { agent: agent.metadata.name ?? '', verified: !findings.some((f) => f.severity === 'Critical'), findings, reviews: reviews.reviews };
}

/** Verifies every agent in the snapshot (or options.agents). Pure. */
export function verifyAgents(snapshot: BoundarySnapshot, options: VerifyOptions = {}): BoundaryReport {
  const now = options.now ?? new Date();
  return {
    generatedAt: now.toISOString(),
    agents: selectAgents(snapshot.agents, options.agents).map((a) => verifyAgent(a, snapshot, { ...options, now })),
  };
}

export function countFindings(findings: readonly Finding[]): Record<Severity, number> {
  const c: Record<Severity, number> = { Critical: 0, Warning: 0 };
  for (const f of findings) c[f.severity]++;
  return c;
}

/** The BoundaryVerified condition for an AgentIdentity (without lastTransitionTime). */
export function boundaryCondition(report: AgentReport): { type: 'BoundaryVerified'; status: 'True' | 'False'; reason: string; message: string } {
  const c = countFindings(report.findings);
  if (c.Critical) {
    const routes = [...new Set(report.findings.filter((f) => f.severity === 'Critical').map((f) => f.route))].join(', ');
    return {
      type: 'BoundaryVerified',
      status: 'False',
      reason: 'BypassRoutesFound',
      message: `${c.Critical} critical route(s) skip a control: ${routes}. Run: agentgate verify ${report.agent}`,
    };
  }
  if (c.Warning) {
    return {
      type: 'BoundaryVerified',
      status: 'True',
      reason: 'VerifiedWithWarnings',
      message: `no route skips a control; ${c.Warning} warning(s). Run: agentgate verify ${report.agent}`,
    };
  }
  return { type: 'BoundaryVerified', status: 'True', reason: 'Verified', message: 'no route skips a control' };
}
