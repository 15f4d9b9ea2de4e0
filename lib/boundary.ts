// Boundary verification, pure: given a snapshot of the cluster, list every route by
// which an agent could reach the cluster while skipping one of agentgate's controls.
//
// The seed's test of a real boundary is "if the agent can reach the cluster by any route
// that skips even one of those controls, you do not have production access control".
// So this module is deliberately suspicious: anything it cannot prove safe (a
// SubjectAccessReview that was not run, a matchCondition it cannot evaluate) becomes a
// finding rather than silence.
//
// I/O lives in lib/boundary-snapshot.ts: it lists the objects, runs the
// SubjectAccessReviews that planAccessReviews() asks for, probes the webhook endpoint,
// and hands the result to verifyAgents().

import { X509Certificate } from 'node:crypto';
import type { AccessGrant, AgentIdentity, BoundaryFinding, Subject } from '../api/types.js';
import { AGENTS_WEBHOOK, LABEL_GRANT, LABEL_MANAGED_BY, MANAGED_BY, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { compileCached, prepareVars } from '../webhook/rules/cel.js';
import type { AdmissionRequest, UserInfo } from './admission.js';
import { rulesCover, serviceAccountUsername, subjectMatchesUser } from './rbac.js';
import { describeSelector, selectorMatches } from './selector.js';
import type { PolicyRule, RbacSubject } from './rbac.js';

// ---------------------------------------------------------------------------------
// Contract names

export const AGENTGATE_NAMESPACE = 'agentgate-system';
export { AGENTS_WEBHOOK, PROTECT_WEBHOOK, STAMP_WEBHOOK };

/** Route names; stable, they appear in status.findings, metrics and scripts. */
export const Route = {
  /** A (Cluster)RoleBinding names the agent and no active grant of the agent owns it. */
  StandingBinding: 'StandingBinding',
  /** A binding owned by an active grant, but of another agent, names this agent (shared subject). */
  ForeignGrantBinding: 'ForeignGrantBinding',
  /** A grant's RoleBinding was edited to bind a role other than the grant's. */
  TamperedBinding: 'TamperedBinding',
  /** A binding to system:authenticated / system:serviceaccounts reaches every agent. */
  BroadGroupBinding: 'BroadGroupBinding',
  /** SubjectAccessReview says the agent can widen its own access or act as someone else. */
  Escalation: 'Escalation',
  WebhookMissing: 'WebhookMissing',
  WebhookFailOpen: 'WebhookFailOpen',
  WebhookMissingConnect: 'WebhookMissingConnect',
  WebhookMissingOperation: 'WebhookMissingOperation',
  WebhookMissingResources: 'WebhookMissingResources',
  WebhookSubjectNotMatched: 'WebhookSubjectNotMatched',
  WebhookMatchConditionUnverified: 'WebhookMatchConditionUnverified',
  WebhookExemptsNamespaces: 'WebhookExemptsNamespaces',
  WebhookExemptsObjects: 'WebhookExemptsObjects',
  WebhookBadCABundle: 'WebhookBadCABundle',
  WebhookUnreachable: 'WebhookUnreachable',
  ProtectWebhookMissing: 'ProtectWebhookMissing',
  ProtectWebhookFailOpen: 'ProtectWebhookFailOpen',
  /** The agent may create workloads where a more powerful ServiceAccount lives. */
  IndirectPodCreation: 'IndirectPodCreation',
  /** The agent may create Secrets where a more powerful ServiceAccount lives (legacy token). */
  IndirectServiceAccountToken: 'IndirectServiceAccountToken',
  /** A SubjectAccessReview this verification needed has no result: unverified, not safe. */
  ReviewMissing: 'ReviewMissing',
} as const;
export type RouteName = (typeof Route)[keyof typeof Route];

export type Severity = BoundaryFinding['severity'];
/** Same shape as AgentIdentity status.findings[]. */
export interface Finding extends BoundaryFinding {
  route: RouteName;
}

// ---------------------------------------------------------------------------------
// Snapshot: structural subsets of the Kubernetes objects, compatible with client-node's.

export interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion?: string; kind: string; name: string; uid?: string; controller?: boolean }>;
}

export interface RoleRef {
  apiGroup?: string;
  kind: string;
  name: string;
}

export interface Binding {
  metadata?: Meta;
  subjects?: RbacSubject[];
  roleRef: RoleRef;
}

export interface RoleObject {
  metadata?: Meta;
  rules?: PolicyRule[];
}

export interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface WebhookRule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

export interface WebhookEntry {
  name: string;
  clientConfig?: { caBundle?: string; url?: string; service?: { name: string; namespace: string; path?: string; port?: number } };
  failurePolicy?: string;
  rules?: WebhookRule[];
  matchConditions?: Array<{ name: string; expression: string }>;
  namespaceSelector?: LabelSelectorLike;
  objectSelector?: LabelSelectorLike;
}

export interface WebhookConfiguration {
  metadata?: Meta;
  webhooks?: WebhookEntry[];
}

export interface NamespaceInfo {
  name: string;
  labels?: Record<string, string>;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** Who a SubjectAccessReview asks about: one of the agent's subjects, as the apiserver would authenticate it. */
export interface Principal {
  /** e.g. "User agent:deploy-bot" */
  label: string;
  user?: string;
  groups: string[];
}

/** The attributes of one SubjectAccessReview. namespace '' asks about all namespaces / cluster scope. */
export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace: string;
}

export interface PlannedReview extends AccessAttributes {
  agent: string;
  principal: Principal;
}

export interface AccessReviewResult extends PlannedReview {
  allowed: boolean;
  /** status.reason: for RBAC, which binding allowed it. */
  reason?: string;
  evaluationError?: string;
}

/** The outcome of an HTTPS GET of a webhook's /healthz with its caBundle. */
export interface WebhookProbe {
  configuration: string;
  webhook: string;
  target: string;
  ok: boolean;
  error?: string;
}

export interface BoundarySnapshot {
  agents: AgentIdentity[];
  grants: AccessGrant[];
  roleBindings: Binding[];
  clusterRoleBindings: Binding[];
  roles: RoleObject[];
  clusterRoles: RoleObject[];
  namespaces: NamespaceInfo[];
  serviceAccounts: ServiceAccountRef[];
  webhooks: {
    agents?: WebhookConfiguration;
    protect?: WebhookConfiguration;
    stamp?: WebhookConfiguration;
  };
  /** Results of the reviews planAccessReviews() asked for. */
  accessReviews: AccessReviewResult[];
  /** Absent: the endpoint was not probed, and reachability is not reported. */
  webhookProbes?: WebhookProbe[];
  /** agentgate's namespace; default agentgate-system. */
  agentgateNamespace?: string;
}

export type SnapshotWithoutReviews = Omit<BoundarySnapshot, 'accessReviews' | 'webhookProbes'>;

export interface VerifyOptions {
  now?: Date;
  /**
   * A grant's RoleBinding may outlive expiresAt by this much before it counts as
   * standing access: the operator deletes it on a timer, and a verification that races
   * that timer should not flap. The webhook denies calls after expiresAt regardless.
   */
  expiryGraceMs?: number;
  /** Only these agents (by name). */
  agents?: string[];
}

export interface AgentReport {
  agent: string;
  /** True when no Critical finding: nothing skips a control. */
  verified: boolean;
  findings: Finding[];
  /** How many SubjectAccessReviews backed this report. */
  reviews: number;
}

export interface BoundaryReport {
  generatedAt: string;
  agents: AgentReport[];
}

export const DEFAULT_EXPIRY_GRACE_MS = 60_000;

// ---------------------------------------------------------------------------------
// Principals

const AUTHENTICATED = 'system:authenticated';
const SA_GROUP = 'system:serviceaccounts';
const BOOTSTRAP_LABEL = 'kubernetes.io/bootstrapping';

/**
 * One principal per subject, each in isolation: RBAC is a union of allows, so the
 * union of what each subject may do is what the agent may do, and a finding can name
 * the subject that opens it. A Group subject is probed as an anonymous member.
 */
export function principalsOf(agent: AgentIdentity): Principal[] {
  const out: Principal[] = [];
  for (const s of agent.spec.subjects ?? []) {
    if (s.kind === 'User') out.push({ label: `User ${s.name}`, user: s.name, groups: [AUTHENTICATED] });
    else if (s.kind === 'Group') out.push({ label: `Group ${s.name}`, groups: [s.name, AUTHENTICATED] });
    else if (s.kind === 'ServiceAccount' && s.namespace) {
      out.push({
        label: `ServiceAccount ${s.namespace}/${s.name}`,
        user: serviceAccountUsername(s.namespace, s.name),
        groups: [SA_GROUP, `${SA_GROUP}:${s.namespace}`, AUTHENTICATED],
      });
    }
  }
  return out;
}

function userInfoOf(p: Principal): UserInfo {
  return { username: p.user ?? '', groups: p.groups };
}

// The implicit groups every such principal carries; bindings to them reach every agent.
function isBroadGroup(name: string): boolean {
  return name === AUTHENTICATED || name === 'system:unauthenticated' || name === SA_GROUP || name.startsWith(`${SA_GROUP}:`);
}

/** How a binding names the agent: through one of its own subjects, or through a broad implicit group. */
function bindingMatch(agent: AgentIdentity, binding: Binding): { explicit: string[]; broad: string[] } {
  const explicit = new Set<string>();
  const broad = new Set<string>();
  const ns = binding.metadata?.namespace;
  for (const p of principalsOf(agent)) {
    const own = { username: p.user ?? '', groups: p.groups.filter((g) => !isBroadGroup(g)) };
    const implicit = { username: '', groups: p.groups.filter(isBroadGroup) };
    for (const s of binding.subjects ?? []) {
      if (subjectMatchesUser(s, own, ns)) explicit.add(p.label);
      else if (s.kind === 'Group' && subjectMatchesUser(s, implicit, ns)) broad.add(s.name);
    }
  }
  return { explicit: [...explicit], broad: [...broad] };
}

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

function rulesOfRef(snapshot: SnapshotWithoutReviews, ref: RoleRef, namespace: string | undefined): PolicyRule[] | undefined {
  if (ref.kind === 'ClusterRole') return snapshot.clusterRoles.find((r) => r.metadata?.name === ref.name)?.rules ?? undefined;
  if (ref.kind === 'Role') return snapshot.roles.find((r) => r.metadata?.name === ref.name && r.metadata?.namespace === namespace)?.rules ?? undefined;
  return undefined;
}

function selectorIsEmpty(s: LabelSelectorLike | undefined): boolean {
  return !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);
}

function subjectLabel(s: Subject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? ''}/${s.name}` : `${s.kind} ${s.name}`;
}

/** The namespaces an agent may work in by its own spec (grants may live there). */
function allowedNamespaces(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): Set<string> {
  const out = new Set<string>(agent.spec.allowedNamespaces?.names ?? []);
  const sel = agent.spec.allowedNamespaces?.selector;
  if (sel && !selectorIsEmpty(sel)) {
    for (const ns of snapshot.namespaces) if (selectorMatches(sel, ns.labels)) out.add(ns.name);
  }
  return out;
}

/**
 * Namespaces in which RoleBindings could give the agent anything: where it may hold
 * grants, where any RoleBinding names it (even through a broad group), and agentgate's
 * own. Permissions from ClusterRoleBindings show in the cluster-wide reviews.
 */
export function namespacesToReview(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): string[] {
  const existing = new Set(snapshot.namespaces.map((n) => n.name));
  const out = new Set<string>();
  for (const ns of allowedNamespaces(agent, snapshot)) if (existing.has(ns)) out.add(ns);
  for (const b of snapshot.roleBindings) {
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

export const ESCALATION_CHECKS: readonly EscalationCheck[] = [
  { verbs: WRITE, group: RBAC, resource: 'rolebindings', scope: 'namespaced', why: 'it can bind any role it holds (or may bind) to itself, outside any grant' },
  { verbs: WRITE, group: RBAC, resource: 'roles', scope: 'namespaced', why: 'it can widen the rules of roles it is bound to' },
  { verbs: ['bind'], group: RBAC, resource: 'roles', scope: 'namespaced', why: 'bind lets it create bindings to roles it does not hold' },
  { verbs: ['bind'], group: RBAC, resource: 'clusterroles', scope: 'namespaced', why: 'bind lets it create bindings to roles it does not hold' },
  { verbs: ['escalate'], group: RBAC, resource: 'roles', scope: 'namespaced', why: 'escalate lets it write roles with rules it does not hold' },
  { verbs: WRITE, group: RBAC, resource: 'clusterrolebindings', scope: 'cluster', why: 'it can grant itself cluster-wide access outside any grant' },
  { verbs: WRITE, group: RBAC, resource: 'clusterroles', scope: 'cluster', why: 'it can widen the rules of roles it is bound to, including a grant\'s role' },
  { verbs: ['escalate'], group: RBAC, resource: 'clusterroles', scope: 'cluster', why: 'escalate lets it write roles with rules it does not hold' },
  { verbs: ['impersonate'], group: '', resource: 'users', scope: 'cluster', why: 'it can act as another user, whose calls agentgate does not gate' },
  { verbs: ['impersonate'], group: '', resource: 'groups', scope: 'cluster', why: 'it can act with other groups\' access' },
  { verbs: ['impersonate'], group: '', resource: 'serviceaccounts', scope: 'namespaced', why: 'it can act as a ServiceAccount, whose calls agentgate does not gate' },
  { verbs: ['impersonate'], group: 'authentication.k8s.io', resource: 'uids', scope: 'cluster', why: 'it can impersonate identities' },
  { verbs: ['create'], group: '', resource: 'serviceaccounts', subresource: 'token', scope: 'namespaced', why: 'it can mint tokens for ServiceAccounts and act as them, outside agentgate' },
  { verbs: ['create'], group: 'certificates.k8s.io', resource: 'certificatesigningrequests', scope: 'cluster', why: 'it can request client certificates for other identities (auto-approving signers exist, e.g. on EKS)' },
  { verbs: ['update', 'patch'], group: 'certificates.k8s.io', resource: 'certificatesigningrequests', subresource: 'approval', scope: 'cluster', why: 'it can approve certificates for any identity' },
  { verbs: WRITE_DELETE, group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', scope: 'cluster', why: 'it can switch off or loosen the agentgate webhook' },
  { verbs: WRITE_DELETE, group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', scope: 'cluster', why: 'a mutating webhook of its own sees and changes every call, including approvals' },
  { verbs: WRITE_DELETE, group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', scope: 'cluster', why: 'it can change or delete agentgate\'s API (and with it every grant and audit record)' },
  { verbs: WRITE_DELETE, group: 'apiregistration.k8s.io', resource: 'apiservices', scope: 'cluster', why: 'it can route an API group to a server of its own' },
  { verbs: ['get', 'create'], group: '', resource: 'nodes', subresource: 'proxy', scope: 'cluster', why: 'the kubelet API (exec, logs) through nodes/proxy skips admission, so agentgate never sees it' },
  { verbs: [...WRITE_DELETE], group: 'agentgate.io', resource: 'agentidentities', scope: 'cluster', why: 'it can change its own ceiling, approvers or suspension' },
  { verbs: ['update', 'patch'], group: 'agentgate.io', resource: 'agentidentities', subresource: 'status', scope: 'cluster', why: 'it can forge its own boundary status' },
  { verbs: [...WRITE_DELETE], group: 'agentgate.io', resource: 'approvalrequests', scope: 'namespaced', why: 'it can forge or approve its own held operations' },
  { verbs: ['update', 'patch'], group: 'agentgate.io', resource: 'approvalrequests', subresource: 'status', scope: 'namespaced', why: 'it can mark its own held operations Approved' },
  { verbs: [...WRITE_DELETE], group: 'agentgate.io', resource: 'auditevents', scope: 'namespaced', why: 'it can forge or erase the audit record' },
  { verbs: ['update', 'patch'], group: 'agentgate.io', resource: 'accessgrants', subresource: 'status', scope: 'namespaced', why: 'it can mark its own grant Active or extend expiresAt' },
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

/** Workload kinds whose creation lets the agent pick a pod's ServiceAccount. */
export const WORKLOAD_RESOURCES: ReadonlyArray<{ group: string; resource: string }> = [
  { group: '', resource: 'pods' },
  { group: 'apps', resource: 'deployments' },
  { group: 'apps', resource: 'statefulsets' },
  { group: 'apps', resource: 'daemonsets' },
  { group: 'apps', resource: 'replicasets' },
  { group: 'batch', resource: 'jobs' },
  { group: 'batch', resource: 'cronjobs' },
  { group: '', resource: 'replicationcontrollers' },
];

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
  const out: PowerfulServiceAccount[] = [];
  for (const sa of snapshot.serviceAccounts) {
    const user: UserInfo = { username: serviceAccountUsername(sa.namespace, sa.name), groups: [SA_GROUP, `${SA_GROUP}:${sa.namespace}`] };
    const check = (b: Binding, cluster: boolean): boolean => {
      if (b.metadata?.labels?.[BOOTSTRAP_LABEL]) return false;
      if (!cluster && b.metadata?.namespace !== sa.namespace) return false;
      if (!(b.subjects ?? []).some((s) => subjectMatchesUser(s, user, b.metadata?.namespace))) return false;
      const rules = rulesOfRef(snapshot, b.roleRef, b.metadata?.namespace);
      return (rules ?? []).some(ruleIsPowerful);
    };
    const hit =
      snapshot.clusterRoleBindings.find((b) => check(b, true)) !== undefined
        ? { b: snapshot.clusterRoleBindings.find((b) => check(b, true))!, cluster: true }
        : snapshot.roleBindings.find((b) => check(b, false)) !== undefined
          ? { b: snapshot.roleBindings.find((b) => check(b, false))!, cluster: false }
          : undefined;
    if (hit) out.push({ sa, via: `${bindingRef(hit.b, hit.cluster)} (${hit.b.roleRef.kind} ${hit.b.roleRef.name})` });
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Planning the SubjectAccessReviews

function grantsOfOtherAgents(agent: AgentIdentity, snapshot: SnapshotWithoutReviews, namespaces: Set<string>): AccessGrant[] {
  return snapshot.grants
    .filter((g) => g.spec.agent !== agent.metadata.name && namespaces.has(g.metadata.namespace ?? ''))
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
    .slice(0, MAX_NAMED_GRANT_REVIEWS);
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
        attrs: { verb, group: 'agentgate.io', resource: 'accessgrants', namespace },
        route: Route.Escalation,
        severity: 'Critical',
        why: "it can change or remove other agents' grants (an agent may only create requests for itself)",
      });
    }
  }
  for (const g of grantsOfOtherAgents(agent, snapshot, new Set(namespaces))) {
    for (const verb of FOREIGN_GRANT_VERBS) {
      out.push({
        attrs: { verb, group: 'agentgate.io', resource: 'accessgrants', namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' },
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
        why: 'a Secret of type kubernetes.io/service-account-token it creates is filled with that ServiceAccount\'s token',
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

/** The grant that owns a RoleBinding by agentgate's contract: label, ownerReference, same namespace. */
function owningGrant(b: Binding, snapshot: SnapshotWithoutReviews): AccessGrant | undefined {
  const labels = b.metadata?.labels ?? {};
  if (labels[LABEL_MANAGED_BY] !== MANAGED_BY) return undefined;
  const grantName = labels[LABEL_GRANT];
  if (!grantName) return undefined;
  const ref = (b.metadata?.ownerReferences ?? []).find((o) => o.kind === 'AccessGrant' && o.name === grantName);
  if (!ref) return undefined;
  const grant = snapshot.grants.find((g) => g.metadata.name === grantName && g.metadata.namespace === b.metadata?.namespace);
  // A recreated grant of the same name is a different grant; its uid tells them apart.
  if (!grant || (ref.uid && grant.metadata.uid && ref.uid !== grant.metadata.uid)) return undefined;
  return grant;
}

const READ_VERBS = new Set(['get', 'list', 'watch']);
/** What an agent may read outside any grant: its requests, how they stand, and its identity. */
const AGENT_READABLE = new Set(['accessgrants', 'accessgrants/status', 'approvalrequests', 'approvalrequests/status', 'agentidentities', 'agentidentities/status']);

/**
 * True when rules allow nothing but creating AccessGrants and reading agentgate's grants,
 * approval requests and identities (ClusterRoles agentgate-requester and
 * agentgate-identity-reader): asking for access, and seeing how the request stands.
 */
export function onlyRequestsAccess(rules: readonly PolicyRule[] | undefined): boolean {
  if (!rules || rules.length === 0) return false;
  return rules.every(
    (r) =>
      !(r.nonResourceURLs?.length) &&
      (r.apiGroups ?? []).length > 0 &&
      (r.apiGroups ?? []).every((g) => g === 'agentgate.io') &&
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
  for (const b of snapshot.clusterRoleBindings) consider(b, true);
  for (const b of snapshot.roleBindings) consider(b, false);
  return out;
}

// ---------------------------------------------------------------------------------
// SubjectAccessReview results

function reviewFindings(agent: AgentIdentity, snapshot: BoundarySnapshot): { findings: Finding[]; reviews: number } {
  const name = agent.metadata.name ?? '';
  const results = new Map<string, AccessReviewResult>();
  for (const r of snapshot.accessReviews) if (r.agent === name) results.set(reviewKey(name, r.principal, r), r);
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
          fix: c.fix ?? `Remove this permission from the role bound to ${principal.label}${r.reason ? ' (the binding named above)' : ''}; check with: kubectl auth can-i ${c.attrs.verb} ${c.attrs.resource}${c.attrs.subresource ? `/${c.attrs.subresource}` : ''}${c.attrs.group ? `.${c.attrs.group}` : ''}${c.attrs.namespace ? ` -n ${c.attrs.namespace}` : ' -A'} --as ${principal.user ?? 'x'}${principal.groups.filter((g) => g !== AUTHENTICATED).map((g) => ` --as-group ${g}`).join('')}`,
        });
      } else {
        const reach = (c.reaches ?? []).filter((p) => !c.attrs.namespace || p.sa.namespace === c.attrs.namespace);
        const list = reach.slice(0, 3).map((p) => `ServiceAccount ${p.sa.namespace}/${p.sa.name} via ${p.via}`).join('; ');
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
      fix: 'Let the verifier create subjectaccessreviews.authorization.k8s.io (the operator\'s ClusterRole does) and run it again',
    });
  }
  return { findings, reviews };
}

// ---------------------------------------------------------------------------------
// The agents' webhook configuration

const REQUIRED_OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;

function ruleCoversEverything(r: WebhookRule): boolean {
  const all = (xs: string[] | undefined) => (xs ?? []).includes('*');
  // '*/*' is every resource and subresource; '*' alone misses subresources (exec, scale...).
  const resources = (r.resources ?? []).includes('*/*');
  return all(r.apiGroups) && all(r.apiVersions) && resources && (r.scope === undefined || r.scope === '*');
}

function operationsOf(r: WebhookRule): Set<string> {
  const ops = r.operations ?? [];
  return new Set(ops.includes('*') ? REQUIRED_OPERATIONS : ops);
}

/** Requests used to evaluate matchConditions: one per operation the webhook must see. */
function sampleRequests(user: UserInfo): Array<AdmissionRequest> {
  const base = { uid: 'boundary-verification', userInfo: user, namespace: 'default' };
  return [
    { ...base, operation: 'CREATE', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, resource: { group: '', version: 'v1', resource: 'configmaps' }, name: 'probe', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'probe' } } },
    { ...base, operation: 'UPDATE', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, subResource: 'scale', name: 'probe', object: { spec: { replicas: 0 } }, oldObject: { spec: { replicas: 1 } } },
    { ...base, operation: 'DELETE', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, name: 'probe', oldObject: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe' } } },
    { ...base, operation: 'CONNECT', kind: { group: '', version: 'v1', kind: 'PodExecOptions' }, resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec', name: 'probe', object: { kind: 'PodExecOptions', command: ['sh'] } },
    { ...base, operation: 'CREATE', namespace: '', kind: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding' }, resource: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings' }, name: 'probe', object: { kind: 'ClusterRoleBinding', metadata: { name: 'probe' } } },
  ] as AdmissionRequest[];
}

/** How a subject authenticates, in isolation (no groups it may or may not also have). */
function subjectUserInfo(s: Subject): UserInfo {
  if (s.kind === 'User') return { username: s.name, groups: [AUTHENTICATED] };
  if (s.kind === 'Group') return { username: 'agentgate:unknown-member', groups: [s.name, AUTHENTICATED] };
  const ns = s.namespace ?? '';
  return { username: serviceAccountUsername(ns, s.name), groups: [SA_GROUP, `${SA_GROUP}:${ns}`, AUTHENTICATED] };
}

type MatchOutcome = { matched: true } | { matched: false; condition: string; request: string } | { unverified: string };

/**
 * Evaluates the entry's matchConditions for a subject, the way the apiserver does: the
 * webhook is called only if every condition is true. An evaluation error makes the
 * apiserver apply failurePolicy (Fail: the call is rejected), so it counts as matched.
 * A condition our CEL environment cannot compile (e.g. one using `authorizer`) falls back
 * to a structural check: the subject's name must appear in the expression.
 */
function evaluateMatchConditions(entry: WebhookEntry, s: Subject): MatchOutcome {
  const conds = entry.matchConditions ?? [];
  if (conds.length === 0) return { matched: true };
  const user = subjectUserInfo(s);
  for (const cond of conds) {
    const compiled = compileCached(cond.expression);
    if (!compiled.ok) {
      const needle = s.kind === 'ServiceAccount' ? (user.username ?? s.name) : s.name;
      if (cond.expression.includes(needle) || (s.kind === 'ServiceAccount' && cond.expression.includes(s.name) && cond.expression.includes(s.namespace ?? ''))) {
        return { unverified: `matchCondition "${cond.name}" could not be evaluated (${compiled.error.message}); it mentions ${subjectLabel(s)}, so it is assumed to match` };
      }
      return { matched: false, condition: cond.name, request: `(not evaluable: ${compiled.error.message})` };
    }
    for (const req of sampleRequests(user)) {
      let result: unknown;
      try {
        result = compiled.value.run(prepareVars({ request: req }));
      } catch {
        continue;
      }
      if (result === false) {
        const what = `${req.operation} ${req.resource.resource}${req.subResource ? `/${req.subResource}` : ''}`;
        return { matched: false, condition: cond.name, request: what };
      }
    }
  }
  return { matched: true };
}

function caBundleProblem(entry: WebhookEntry, now: Date): string | undefined {
  const b64 = entry.clientConfig?.caBundle;
  if (!b64) return 'has no caBundle, so the apiserver cannot verify the webhook\'s certificate (it falls back to system roots)';
  let pem: string;
  try {
    pem = Buffer.from(b64, 'base64').toString('utf8');
  } catch {
    return 'has a caBundle that is not base64';
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'has a caBundle without a PEM certificate';
  let valid = 0;
  let lastProblem = '';
  for (const block of blocks) {
    try {
      const cert = new X509Certificate(block);
      if (Date.parse(cert.validTo) < now.getTime()) lastProblem = `has a caBundle whose certificate ${cert.subject.replace(/\n/g, ',')} expired at ${cert.validTo}`;
      else if (Date.parse(cert.validFrom) > now.getTime()) lastProblem = `has a caBundle whose certificate is not valid before ${cert.validFrom}`;
      else valid++;
    } catch (e) {
      lastProblem = `has a caBundle certificate that does not parse (${(e as Error).message})`;
    }
  }
  return valid > 0 ? undefined : lastProblem;
}

/** Namespaces the agent can act in: allowed by its spec or bound by any RoleBinding. */
function touchableNamespaces(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): Set<string> {
  const out = allowedNamespaces(agent, snapshot);
  for (const b of snapshot.roleBindings) {
    const m = bindingMatch(agent, b);
    if (m.explicit.length && b.metadata?.namespace) out.add(b.metadata.namespace);
  }
  return out;
}

function entryFindings(agent: AgentIdentity, cfgName: string, entry: WebhookEntry, snapshot: BoundarySnapshot, now: Date): Finding[] {
  const out: Finding[] = [];
  const object = `ValidatingWebhookConfiguration/${cfgName}`;
  const where = `${object} (webhook ${entry.name})`;
  const failOpen = entry.failurePolicy === 'Ignore';
  if (failOpen) {
    out.push({
      severity: 'Critical',
      route: Route.WebhookFailOpen,
      object,
      message: `${where} has failurePolicy Ignore: when the webhook is down or slow, agents' calls go through unchecked and unrecorded`,
      fix: `kubectl patch validatingwebhookconfiguration ${cfgName} --type json -p '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Fail"}]' (agents fail closed; humans are not affected)`,
    });
  }
  const rules = entry.rules ?? [];
  for (const op of REQUIRED_OPERATIONS) {
    const covered = rules.some((r) => operationsOf(r).has(op) && ruleCoversEverything(r));
    if (covered) continue;
    const partly = rules.some((r) => operationsOf(r).has(op));
    if (partly) {
      out.push({
        severity: 'Critical',
        route: Route.WebhookMissingResources,
        object,
        message: `${where} sends ${op} to agentgate only for some resources: agents' calls on the others skip it`,
        fix: `Set the rule to apiGroups ["*"], apiVersions ["*"], resources ["*/*"] (every resource and subresource; the apiserver allows nothing beside it), scope "*"`,
      });
    } else if (op === 'CONNECT') {
      out.push({
        severity: 'Critical',
        route: Route.WebhookMissingConnect,
        object,
        message: `${where} does not cover CONNECT: agents' exec, attach and port-forward skip approval and the record`,
        fix: 'Add CONNECT to the rule\'s operations (or use "*")',
      });
    } else {
      out.push({
        severity: 'Critical',
        route: Route.WebhookMissingOperation,
        object,
        message: `${where} does not cover ${op}: agents' ${op} calls skip agentgate`,
        fix: `Add ${op} to the rule's operations (or use "*")`,
      });
    }
  }
  if (!selectorIsEmpty(entry.namespaceSelector)) {
    const sel = entry.namespaceSelector!;
    const touchable = touchableNamespaces(agent, snapshot);
    const exempt = snapshot.namespaces.filter((n) => !selectorMatches(sel, n.labels)).map((n) => n.name);
    const hit = exempt.filter((n) => touchable.has(n));
    out.push({
      severity: hit.length ? 'Critical' : 'Warning',
      route: Route.WebhookExemptsNamespaces,
      object,
      message: hit.length
        ? `${where} has namespaceSelector ${describeSelector(sel)}, which exempts namespace(s) ${hit.join(', ')} where agent ${agent.metadata.name} can act`
        : `${where} has namespaceSelector ${describeSelector(sel)}; no namespace the agent can act in is exempt today, but any namespace labelled otherwise (and cluster-scoped namespaces themselves) would be`,
      fix: `Remove the namespaceSelector: matchConditions already limit the webhook to agents`,
    });
  }
  if (!selectorIsEmpty(entry.objectSelector)) {
    out.push({
      severity: 'Critical',
      route: Route.WebhookExemptsObjects,
      object,
      message: `${where} has objectSelector ${describeSelector(entry.objectSelector!)}: the agent writes the labels of its own objects, so it chooses whether agentgate sees them`,
      fix: 'Remove the objectSelector',
    });
  }
  for (const s of agent.spec.subjects ?? []) {
    const outcome = evaluateMatchConditions(entry, s);
    if ('unverified' in outcome) {
      out.push({ severity: 'Warning', route: Route.WebhookMatchConditionUnverified, object, message: `${where}: ${outcome.unverified}`, fix: 'Use only request.userInfo in the matchConditions (as agentgate generates them)' });
    } else if (!outcome.matched) {
      out.push({
        severity: 'Critical',
        route: Route.WebhookSubjectNotMatched,
        object,
        message: `${where}: matchCondition "${outcome.condition}" is false for ${subjectLabel(s)} of agent ${agent.metadata.name} on ${outcome.request}, so those calls skip agentgate`,
        fix: 'Let the operator regenerate the matchConditions from the AgentIdentities (do not edit them by hand)',
      });
    }
  }
  const ca = caBundleProblem(entry, now);
  if (ca) {
    out.push({
      severity: failOpen ? 'Critical' : 'Warning',
      route: Route.WebhookBadCABundle,
      object,
      message: `${where} ${ca}; ${failOpen ? 'with failurePolicy Ignore, agents\' calls go through unchecked' : 'agents\' calls fail closed until it is fixed'}`,
      fix: 'Restore clientConfig.caBundle from the webhook\'s serving CA (base64 PEM)',
    });
  }
  for (const probe of (snapshot.webhookProbes ?? []).filter((p) => p.configuration === cfgName && p.webhook === entry.name && !p.ok)) {
    out.push({
      severity: failOpen ? 'Critical' : 'Warning',
      route: Route.WebhookUnreachable,
      object,
      message: `${where}: ${probe.target} does not answer (${probe.error ?? 'no answer'}); ${failOpen ? 'with failurePolicy Ignore, agents\' calls go through unchecked' : 'agents\' calls fail closed until it answers'}`,
      fix: 'Check the webhook pods and service: kubectl -n agentgate-system get pods,svc,endpoints',
    });
  }
  return out;
}

function webhookFindings(agent: AgentIdentity, snapshot: BoundarySnapshot, now: Date): Finding[] {
  const cfg = snapshot.webhooks.agents;
  const object = `ValidatingWebhookConfiguration/${AGENTS_WEBHOOK}`;
  const out: Finding[] = [];
  if (!cfg || !(cfg.webhooks ?? []).length) {
    out.push(
      {
        severity: 'Critical',
        route: Route.WebhookMissing,
        object,
        message: `${object} ${cfg ? 'has no webhooks' : 'does not exist'}: agents' calls reach the cluster without identity, coverage, approval or record checks`,
        fix: 'Reinstall agentgate (the operator recreates it), e.g. helm upgrade --install agentgate charts/agentgate',
      },
    );
  } else {
    // The agent is gated if any one entry gates it fully; otherwise show every entry's gaps.
    const perEntry = (cfg.webhooks ?? []).map((e) => entryFindings(agent, cfg.metadata?.name ?? AGENTS_WEBHOOK, e, snapshot, now));
    const clean = perEntry.find((f) => !f.some((x) => x.severity === 'Critical'));
    out.push(...(clean ?? perEntry.flat()));
  }

  const protect = snapshot.webhooks.protect;
  const pObject = `ValidatingWebhookConfiguration/${PROTECT_WEBHOOK}`;
  if (!protect || !(protect.webhooks ?? []).length) {
    out.push({
      severity: 'Warning',
      route: Route.ProtectWebhookMissing,
      object: pObject,
      message: `${pObject} is missing: approvals, AuditEvents and agentgate's RoleBindings are guarded by RBAC alone, so anyone RBAC lets annotate an ApprovalRequest can approve it`,
      fix: 'Reinstall agentgate, e.g. helm upgrade --install agentgate charts/agentgate',
    });
  } else if ((protect.webhooks ?? []).some((w) => w.failurePolicy === 'Ignore')) {
    out.push({
      severity: 'Warning',
      route: Route.ProtectWebhookFailOpen,
      object: pObject,
      message: `${pObject} has failurePolicy Ignore: while the webhook is down, approvals and agentgate's objects are unguarded`,
      fix: `Set failurePolicy: Fail on every webhook of ${PROTECT_WEBHOOK}`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Entry point

const SEVERITY_ORDER: Record<Severity, number> = { Critical: 0, Warning: 1 };

function sortFindings(f: Finding[]): Finding[] {
  return [...f].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.route.localeCompare(b.route) || (a.object ?? '').localeCompare(b.object ?? ''));
}

/** Verifies one agent. */
export function verifyAgent(agent: AgentIdentity, snapshot: BoundarySnapshot, options: VerifyOptions = {}): AgentReport {
  const now = options.now ?? new Date();
  const grace = options.expiryGraceMs ?? DEFAULT_EXPIRY_GRACE_MS;
  const reviews = reviewFindings(agent, snapshot);
  const findings = sortFindings([...bindingFindings(agent, snapshot, now, grace), ...reviews.findings, ...webhookFindings(agent, snapshot, now)]);
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
    return { type: 'BoundaryVerified', status: 'False', reason: 'BypassRoutesFound', message: `${c.Critical} critical route(s) skip a control: ${routes}. Run: agentgate verify ${report.agent}` };
  }
  if (c.Warning) {
    return { type: 'BoundaryVerified', status: 'True', reason: 'VerifiedWithWarnings', message: `no route skips a control; ${c.Warning} warning(s). Run: agentgate verify ${report.agent}` };
  }
  return { type: 'BoundaryVerified', status: 'True', reason: 'Verified', message: 'no route skips a control' };
}
