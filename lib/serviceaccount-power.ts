// What a ServiceAccount may do, by local RBAC evaluation (lib/rbac.ts), and whether that
// exceeds a grant's role. Pure; the webhook (webhook/effects.ts, the workload-identity
// rule) and boundary verification share it, so "more than the grant" means one thing.
import { rulesCover, serviceAccountUsername, subjectMatchesUser } from './rbac.js';
import type { PolicyRule, RbacSubject } from './rbac.js';

export interface BindingRef {
  metadata?: { name?: string; namespace?: string };
  subjects?: readonly RbacSubject[] | null;
  roleRef: { kind: string; name: string };
}

interface RbacLookup {
  clusterRoleBindings: readonly BindingRef[];
  roleBindings: readonly BindingRef[];
  clusterRole(name: string): { rules?: readonly PolicyRule[] | null } | undefined;
  role(namespace: string, name: string): { rules?: readonly PolicyRule[] | null } | undefined;
}

interface HeldRules {
  /** The binding, for messages. */
  via: string;
  /** '' for a ClusterRoleBinding (every namespace). */
  namespace: string;
  rules: readonly PolicyRule[];
}

const SA_GROUP = 'system:serviceaccounts';

/** Rules a ServiceAccount holds, by binding; bindings reaching it only through system:authenticated are left out (the agent holds those too). */
function serviceAccountRules(rbac: RbacLookup, namespace: string, name: string): HeldRules[] {
  const user = { username: serviceAccountUsername(namespace, name), groups: [SA_GROUP, `${SA_GROUP}:${namespace}`] };
  const out: HeldRules[] = [];
  const consider = (b: BindingRef, cluster: boolean): void => {
    const bns = b.metadata?.namespace ?? '';
    if (!(b.subjects ?? []).some((s) => subjectMatchesUser(s, user, bns))) return;
    const role = b.roleRef.kind === 'ClusterRole' ? rbac.clusterRole(b.roleRef.name) : rbac.role(bns, b.roleRef.name);
    const rules = (role?.rules ?? []).filter((r) => (r.resources ?? []).length > 0);
    if (!rules.length) return;
    out.push({
      via: `${cluster ? 'ClusterRoleBinding' : `RoleBinding ${bns}/`}${cluster ? ' ' : ''}${b.metadata?.name ?? ''} (${b.roleRef.kind} ${b.roleRef.name})`,
      namespace: cluster ? '' : bns,
      rules,
    });
  };
  for (const b of rbac.clusterRoleBindings) consider(b, true);
  for (const b of rbac.roleBindings) consider(b, false);
  return out;
}

/** The first rule atom the grant's rules do not cover, as text; undefined when all are covered. */
function rulesBeyond(rules: readonly PolicyRule[], grantRules: readonly PolicyRule[]): string | undefined {
  for (const r of rules) {
    for (const verb of r.verbs) {
      for (const group of r.apiGroups ?? []) {
        for (const res of r.resources ?? []) {
          const [resource, subresource] = res.split('/', 2) as [string, string | undefined];
          const names = r.resourceNames?.length ? r.resourceNames : [undefined];
          for (const name of names) {
            const attrs = { verb, apiGroup: group, resource, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) };
            if (!rulesCover(grantRules, attrs)) return `${verb} ${res}${group ? `.${group}` : ''}${name ? ` ${name}` : ''}`;
          }
        }
      }
    }
  }
  return undefined;
}

/** What the ServiceAccount holds beyond a one-namespace grant of grantRules in namespace; undefined when nothing. */
export function serviceAccountBeyondGrant(rbac: RbacLookup, namespace: string, name: string, grantRules: readonly PolicyRule[]): string | undefined {
  for (const held of serviceAccountRules(rbac, namespace, name)) {
    // RoleBindings elsewhere and ClusterRoleBindings reach beyond the grant's one namespace.
    const extra =
      held.namespace !== namespace ? (held.namespace ? `access in namespace ${held.namespace}` : 'cluster-wide access') : rulesBeyond(held.rules, grantRules);
    if (extra) return `${extra} via ${held.via}`;
  }
  return undefined;
}
