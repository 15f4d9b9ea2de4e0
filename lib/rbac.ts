// Pure RBAC rule evaluation, equivalent to the kube-apiserver's RBAC authorizer
// (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac: RuleAllows, appliesToUser).
//
// The webhook re-checks every agent mutation against the rules of the grant that is
// supposed to allow it. RBAC already said yes, but through *some* binding; this second
// check says yes only if an agentgate grant covers the call, so a call that came in
// through any other binding (a bypass) is denied. Being stricter than RBAC fails closed
// (the call is denied); being looser would let a bypass through, so every deviation
// from upstream below is in the strict direction.

import type { AdmissionOperation, AdmissionRequest, JsonObject, UserInfo } from './admission.js';

/**
 * rbac.authorization.k8s.io/v1 PolicyRule. Structurally compatible with
 * @kubernetes/client-node's V1PolicyRule, so either may be passed.
 */
export interface PolicyRule {
  verbs: readonly string[];
  apiGroups?: readonly string[];
  resources?: readonly string[];
  resourceNames?: readonly string[];
  nonResourceURLs?: readonly string[];
}

/** The attributes of one resource request, as the RBAC authorizer sees them. */
export interface ResourceAttributes {
  verb: string;
  /** '' for the core group. */
  apiGroup: string;
  resource: string;
  subresource?: string;
  /** Empty/absent when the URL names no object (create on a collection, list, deletecollection). */
  name?: string;
  /**
   * Carried for callers' convenience; a rule never looks at it. Namespace scope comes
   * from where the binding lives (RoleBinding namespace vs ClusterRoleBinding).
   */
  namespace?: string;
}

const VERB_ALL = '*';
const API_GROUP_ALL = '*';
const RESOURCE_ALL = '*';

function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === VERB_ALL || v === verb);
}

function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === API_GROUP_ALL || g === group);
}

// Upstream accepts exactly three forms: '*' (every resource and every subresource),
// an exact 'resource' or 'resource/subresource', and '*/subresource'.
// 'resource/*' is NOT a wildcard upstream: it only equals a request for a subresource
// literally named '*', which no API serves. We keep that behaviour: treating it as a
// wildcard here would make the grant look broader than what RBAC actually grants.
function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const r of rule.resources ?? []) {
    if (r === RESOURCE_ALL || r === combined) return true;
    if (subresource && r === `*/${subresource}`) return true;
  }
  return false;
}

// A rule with resourceNames only covers requests whose URL names one of them. Requests
// without a name (create on a collection, list, deletecollection) are never covered.
// Upstream compares the empty request name against the list too, so a rule listing ''
// would match; an empty resourceName is meaningless, so we refuse it (strict).
function resourceNameMatches(rule: PolicyRule, name: string | undefined): boolean {
  const names = rule.resourceNames ?? [];
  if (names.length === 0) return true;
  if (!name) return false;
  return names.includes(name);
}

/**
 * Whether one rule allows a resource request (upstream RuleAllows for
 * IsResourceRequest() == true). nonResourceURLs play no part in resource requests.
 */
export function ruleCovers(rule: PolicyRule, attrs: ResourceAttributes): boolean {
  return (
    verbMatches(rule, attrs.verb) &&
    apiGroupMatches(rule, attrs.apiGroup) &&
    resourceMatches(rule, attrs.resource, attrs.subresource ?? '') &&
    resourceNameMatches(rule, attrs.name)
  );
}

/** Whether any of the rules allows the request (RBAC is a union of allows). */
export function rulesCover(rules: readonly PolicyRule[] | undefined, attrs: ResourceAttributes): boolean {
  return (rules ?? []).some((rule) => ruleCovers(rule, attrs));
}

// ---------------------------------------------------------------------------------
// Admission -> RBAC verb

/** One RBAC check that, if allowed, could have authorised the admitted request. */
interface VerbCheck {
  verb: string;
  /** The object name RBAC saw for this verb; absent when the URL named no object. */
  name?: string;
}

interface VerbMapping {
  /** The verb to show in messages and audit records. */
  verb: string;
  /** Any one of these being allowed covers the request. `checks[0].verb === verb`. */
  checks: readonly VerbCheck[];
}

interface VerbMappingOptions {
  /**
   * Also accept `get` for CONNECT on pods/exec, pods/attach, pods/portforward.
   * Before Kubernetes 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) the
   * apiserver authorised a WebSocket exec with `get`, so a role with only `get` on
   * pods/exec let kubectl >= 1.31 exec. Default false: agentgate requires `create`
   * everywhere, as 1.35+ does; a sane role (e.g. `edit`) grants both anyway, and a role
   * with only `create` never lets a WebSocket exec reach us on old clusters (RBAC
   * denies first), so the strict default never breaks a working setup.
   */
  connectAllowsGet?: boolean;
}

const POD_STREAM_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

/**
 * Map an admission operation to the RBAC verb(s) the apiserver authorised before
 * calling admission. Admission hides the HTTP verb, so some operations map to several
 * possible RBAC verbs; the request is covered if any one of them is.
 *
 * - CREATE -> create. The name is dropped for a top-level create: a POST to a
 *   collection carries no name, so a resourceNames rule cannot cover it. (Server-side
 *   apply or PUT that creates also arrive as CREATE; RBAC saw the name there, but we
 *   cannot tell them apart, so we fail closed.) A create on a subresource
 *   (pods/eviction, serviceaccounts/token, deployments/rollback) names the object.
 * - UPDATE -> update or patch. PATCH arrives as UPDATE, and a role with `patch` but
 *   not `update` legitimately lets kubectl patch/apply/scale through.
 * - DELETE -> delete, or deletecollection without a name: a deletecollection arrives
 *   as one DELETE per object, but RBAC authorised it on the collection (no name).
 * - CONNECT on pods/exec, attach, portforward -> create (see VerbMappingOptions).
 * - CONNECT on a proxy subresource (pods, services, nodes) -> create or get: the verb follows the HTTP method (POST ->
 *   create, GET -> get) which admission does not expose. Proxy via PUT/PATCH/DELETE is
 *   authorised as update/patch/delete; roles granting only those are not accepted.
 * - any other CONNECT -> create.
 */
export function admissionToVerb(operation: AdmissionOperation, subresource?: string, name?: string, options: VerbMappingOptions = {}): VerbMapping {
  const named = name ? { name } : {};
  switch (operation) {
    case 'CREATE': {
      const check: VerbCheck = subresource ? { verb: 'create', ...named } : { verb: 'create' };
      return { verb: 'create', checks: [check] };
    }
    case 'UPDATE':
      return {
        verb: 'update',
        checks: [
          { verb: 'update', ...named },
          { verb: 'patch', ...named },
        ],
      };
    case 'DELETE':
      return { verb: 'delete', checks: [{ verb: 'delete', ...named }, { verb: 'deletecollection' }] };
    case 'CONNECT': {
      const checks: VerbCheck[] = [{ verb: 'create', ...named }];
      if (subresource === 'proxy' || (options.connectAllowsGet && POD_STREAM_SUBRESOURCES.has(subresource ?? ''))) {
        checks.push({ verb: 'get', ...named });
      }
      return { verb: 'create', checks };
    }
  }
}

/**
 * The RBAC attribute sets (one per acceptable verb) for an admission request.
 * Uses requestResource when present: with matchPolicy Equivalent the webhook sees a
 * converted resource, but RBAC authorised the group/resource the client actually sent.
 */
export function admissionAttributes(request: AdmissionRequest, options: VerbMappingOptions = {}): ResourceAttributes[] {
  const gvr = request.requestResource ?? request.resource;
  const subresource = (request.requestResource ? request.requestSubResource : request.subResource) ?? request.subResource ?? '';
  const { checks } = admissionToVerb(request.operation, subresource, request.name, options);
  return checks.map((c) => {
    const attrs: ResourceAttributes = { verb: c.verb, apiGroup: gvr.group, resource: gvr.resource };
    if (subresource) attrs.subresource = subresource;
    if (c.name) attrs.name = c.name;
    if (request.namespace) attrs.namespace = request.namespace;
    return attrs;
  });
}

/** Whether the rules cover an admitted request under any of its possible RBAC verbs. */
export function rulesCoverAdmission(rules: readonly PolicyRule[] | undefined, request: AdmissionRequest, options: VerbMappingOptions = {}): boolean {
  return admissionAttributes(request, options).some((attrs) => rulesCover(rules, attrs));
}

// ---------------------------------------------------------------------------------
// Subjects and bindings

/** An RBAC subject; structurally compatible with client-node's RbacV1Subject. */
export interface RbacSubject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}

/** The parts of a RoleBinding / ClusterRoleBinding that decide whom it applies to. */
interface BindingLike {
  metadata?: { namespace?: string } | JsonObject;
  subjects?: readonly RbacSubject[];
}

const SERVICE_ACCOUNT_USERNAME_PREFIX = 'system:serviceaccount:';

export function serviceAccountUsername(namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_USERNAME_PREFIX}${namespace}:${name}`;
}

/**
 * The usernames and groups that subjects name, each sorted and once: what selects their
 * calls wherever the apiserver matches by name (the agents webhook's matchConditions, the
 * audit policy). With no binding to default from, a ServiceAccount without a namespace
 * names nobody, as in subjectMatchesUser.
 */
export function subjectNames(subjects: readonly RbacSubject[]): { users: string[]; groups: string[] } {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const s of subjects) {
    if (s.kind === 'User') users.add(s.name);
    else if (s.kind === 'Group') groups.add(s.name);
    else if (s.kind === 'ServiceAccount' && s.namespace && s.name) users.add(serviceAccountUsername(s.namespace, s.name));
  }
  return { users: [...users].sort(), groups: [...groups].sort() };
}

/**
 * Whether an RBAC subject names this user (upstream appliesToUser). A ServiceAccount
 * subject without a namespace defaults to the binding's namespace; with neither it
 * names nobody. Unknown kinds name nobody.
 */
export function subjectMatchesUser(subject: RbacSubject, user: UserInfo, bindingNamespace?: string): boolean {
  switch (subject.kind) {
    case 'User':
      return !!user.username && user.username === subject.name;
    case 'Group':
      return (user.groups ?? []).includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace || bindingNamespace;
      if (!ns || !subject.name) return false;
      return user.username === serviceAccountUsername(ns, subject.name);
    }
    default:
      return false;
  }
}

/** Whether any subject of a (Cluster)RoleBinding names this user. */
export function bindingMatchesUser(binding: BindingLike, user: UserInfo): boolean {
  const ns = binding.metadata?.namespace;
  const bindingNamespace = typeof ns === 'string' ? ns : undefined;
  return (binding.subjects ?? []).some((s) => subjectMatchesUser(s, user, bindingNamespace));
}
