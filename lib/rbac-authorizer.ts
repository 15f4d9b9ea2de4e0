// The kube-apiserver's RBAC authorizer, evaluated locally over cached RBAC objects
// (upstream k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac: VisitRulesFor). Boundary
// verification asks "may this principal do X?" a hundred times per agent; answering from
// the objects it already holds costs no SubjectAccessReview. SubjectAccessReviews still
// cross-check samples of these answers, because an apiserver may have authorizers
// besides RBAC (a webhook authorizer, EKS access policies) that no object here shows.
//
// Deviations are in the suspicious direction (verification over-reports rather than
// misses): a ClusterRole with an aggregationRule also counts the rules of every
// ClusterRole its selectors match now, before the controller-manager copies them in.
import { rulesCover, subjectMatchesUser, type PolicyRule, type RbacSubject } from './rbac.js';
import { BindingsBySubject, userKeys } from './rbac-index.js';
import { selectorMatches, type LabelSelector } from './selector.js';

interface RbacObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

interface RbacBindingObject {
  metadata?: RbacObjectMeta;
  subjects?: RbacSubject[];
  roleRef: { kind: string; name: string };
}

interface RbacRoleObject {
  metadata?: RbacObjectMeta;
  rules?: PolicyRule[];
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] };
}

export interface RbacObjects {
  roleBindings: readonly RbacBindingObject[];
  clusterRoleBindings: readonly RbacBindingObject[];
  roles: readonly RbacRoleObject[];
  clusterRoles: readonly RbacRoleObject[];
}

/** One access question: who, and the resource attributes (namespace '' = cluster-wide). */
interface AccessQuestion {
  user?: string;
  groups: readonly string[];
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace: string;
}

/** A binding that names the principal, and the subject by which it does. */
interface Candidate {
  binding: RbacBindingObject;
  subject: RbacSubject;
}

interface LocalDecision {
  allowed: boolean;
  /** Which binding allowed it, in the apiserver's words. */
  reason?: string;
}

/**
 * Indexes the objects once; answers many questions. Bindings are indexed by namespace and
 * subject, so a question costs the bindings that can name its user, not every binding.
 */
export class LocalRbacAuthorizer {
  private readonly clusterRoleRules = new Map<string, PolicyRule[]>();
  private readonly roleRules = new Map<string, PolicyRule[]>();
  private readonly clusterRoleBindings: BindingsBySubject<RbacBindingObject>;
  private readonly roleBindingsByNs = new Map<string, BindingsBySubject<RbacBindingObject>>();

  constructor(private readonly objects: RbacObjects) {
    for (const r of objects.roles) this.roleRules.set(`${r.metadata?.namespace ?? ''}/${r.metadata?.name ?? ''}`, r.rules ?? []);
    for (const r of objects.clusterRoles) this.clusterRoleRules.set(r.metadata?.name ?? '', this.aggregated(r));
    this.clusterRoleBindings = new BindingsBySubject(objects.clusterRoleBindings);
    const byNs = new Map<string, RbacBindingObject[]>();
    for (const b of objects.roleBindings) {
      const ns = b.metadata?.namespace ?? '';
      let list = byNs.get(ns);
      if (!list) byNs.set(ns, (list = []));
      list.push(b);
    }
    for (const [ns, list] of byNs) this.roleBindingsByNs.set(ns, new BindingsBySubject(list));
  }

  private aggregated(role: RbacRoleObject): PolicyRule[] {
    const selectors = role.aggregationRule?.clusterRoleSelectors ?? [];
    if (selectors.length === 0) return role.rules ?? [];
    const rules = [...(role.rules ?? [])];
    for (const other of this.objects.clusterRoles) {
      if (other === role) continue;
      const labels = other.metadata?.labels ?? {};
      if (selectors.some((s) => selectorMatches(s, labels))) rules.push(...(other.rules ?? []));
    }
    return rules;
  }

  /**
   * Per principal and scope (cluster, or a namespace): the bindings that name it, the first
   * of each roleRef only, with the subject that matched. One agent's grants each add a
   * RoleBinding of the same role, so at 50,000 grants every question walked ~5,000
   * bindings per namespace; a binding whose role an earlier one already brought adds no
   * access, and the first binding of each role is the one the apiserver's walk names.
   */
  private readonly candidates = new Map<string, Candidate[]>();

  private candidatesFor(scope: string, keys: readonly string[], user: { username: string; groups: string[] }): Candidate[] {
    const memo = `${scope}\u0002${keys.join('\u0001')}`;
    let out = this.candidates.get(memo);
    if (out) return out;
    out = [];
    const bindings = scope === '' ? this.clusterRoleBindings.find(keys) : (this.roleBindingsByNs.get(scope)?.find(keys) ?? []);
    const seen = new Set<string>();
    for (const binding of bindings) {
      // A ClusterRoleBinding's roleRef can only be a ClusterRole; the apiserver ignores others.
      if (scope === '' && binding.roleRef.kind !== 'ClusterRole') continue;
      const subject = (binding.subjects ?? []).find((s) => subjectMatchesUser(s, user, binding.metadata?.namespace));
      if (!subject) continue;
      const role = `${binding.roleRef.kind}\u0000${binding.roleRef.name}`;
      if (seen.has(role)) continue;
      seen.add(role);
      out.push({ binding, subject });
    }
    this.candidates.set(memo, out);
    return out;
  }

  review(q: AccessQuestion): LocalDecision {
    const user = { username: q.user ?? '', groups: [...q.groups] };
    const attrs = { verb: q.verb, apiGroup: q.group, resource: q.resource, subresource: q.subresource, name: q.name };
    const keys = userKeys(q.user, q.groups);
    for (const { binding: b, subject } of this.candidatesFor('', keys, user)) {
      if (rulesCover(this.clusterRoleRules.get(b.roleRef.name), attrs)) {
        return {
          allowed: true,
          reason: `RBAC: allowed by ClusterRoleBinding "${b.metadata?.name ?? ''}" of ClusterRole "${b.roleRef.name}" to ${subject.kind} "${subject.name}"`,
        };
      }
    }
    if (q.namespace) {
      for (const { binding: b, subject } of this.candidatesFor(q.namespace, keys, user)) {
        const rules =
          b.roleRef.kind === 'ClusterRole'
            ? this.clusterRoleRules.get(b.roleRef.name)
            : b.roleRef.kind === 'Role'
              ? this.roleRules.get(`${q.namespace}/${b.roleRef.name}`)
              : undefined;
        if (rulesCover(rules, attrs)) {
          return {
            allowed: true,
            reason: `RBAC: allowed by RoleBinding "${b.metadata?.name ?? ''}/${q.namespace}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${subject.kind} "${subject.name}"`,
          };
        }
      }
    }
    return { allowed: false };
  }
}
