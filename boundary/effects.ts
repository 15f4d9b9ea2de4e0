// Boundary findings about effects (design.md, "Effects, not verbs"), pure:
//
// - IndirectPodCreation / IndirectPrivilegedPod, judged per GRANT: the grant's role can
//   start or change pods in its namespace, and there a ServiceAccount holds more than
//   that role (lib/serviceaccount-power.ts, the same test the webhook's
//   workload-identity rule applies), or Pod Security admits node-level privilege (reported
//   only when the workload-privilege rule is off: unlabelled namespaces are common). Every
//   ServiceAccount is considered, including ones that do not exist yet but that a binding
//   already names (the agent may create the ServiceAccount itself). Warning while the
//   rule that holds such writes is active; Critical when the agent disabled it.
// - UndeclaredGroup: a group the apiserver attached to the agent's calls
//   (status.observedIdentity) that its AgentIdentity does not declare; Critical when any
//   binding names that group (the agent holds access no grant governs).
// - UnclassifiedRoute: a route a role the agent may be granted reaches, that the route
//   classification does not know (lib/routes.ts).
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { type Binding, type Finding, type RouteName, type SnapshotWithoutReviews, WORKLOAD_RESOURCES } from './types.js';
import { namespaceAllowsPrivileged } from '../lib/podspec.js';
import { rulesCover } from '../lib/rbac.js';
import type { ClassifiedRoute } from '../lib/routes.js';
import { routeText } from '../lib/routes.js';
import { serviceAccountBeyondGrant } from '../lib/serviceaccount-power.js';
import { serviceAccountUsername } from '../lib/rbac.js';
import { userKeys } from '../lib/rbac-index.js';
import { SA_GROUP } from './principals.js';
import { bindingsFor, perSnapshot, rulesOf as rulesOfRef } from './snapshot-index.js';

const IMPLICIT_GROUPS = (g: string): boolean =>
  g === 'system:authenticated' || g === 'system:unauthenticated' || g === 'system:serviceaccounts' || g.startsWith('system:serviceaccounts:');

function rulesOf(snapshot: SnapshotWithoutReviews, kind: string, name: string, namespace: string): readonly import('../lib/rbac.js').PolicyRule[] {
  return (kind === 'ClusterRole' || kind === 'Role' ? rulesOfRef(snapshot, { kind, name }, namespace) : undefined) ?? [];
}

function ruleActive(agent: AgentIdentity, grant: AccessGrant, name: string): boolean {
  if ((agent.spec.disabledDefaultRules ?? []).includes(name))
    return [...(agent.spec.approvalRules ?? []), ...(grant.spec.approvalRules ?? [])].some((r) => r.name === name && r.action === 'RequireApproval');
  // A same-named agent or grant rule replaces the default: active only if it still holds.
  const replaced = [...(agent.spec.approvalRules ?? []), ...(grant.spec.approvalRules ?? [])].find((r) => r.name === name);
  return !replaced || replaced.action === 'RequireApproval';
}

/** ServiceAccounts of a namespace: the objects, and any a binding names there (they may be created later). */
function serviceAccountNames(snapshot: SnapshotWithoutReviews, namespace: string): string[] {
  return perSnapshot(snapshot, `effects.serviceAccounts\u0000${namespace}`, () => findServiceAccountNames(snapshot, namespace));
}

function findServiceAccountNames(snapshot: SnapshotWithoutReviews, namespace: string): string[] {
  const out = new Set<string>(['default']);
  for (const sa of snapshot.serviceAccounts) if (sa.namespace === namespace) out.add(sa.name);
  const consider = (b: Binding): void => {
    for (const s of b.subjects ?? []) if (s.kind === 'ServiceAccount' && (s.namespace || b.metadata?.namespace) === namespace && s.name) out.add(s.name);
  };
  snapshot.roleBindings.forEach(consider);
  snapshot.clusterRoleBindings.forEach(consider);
  return [...out].sort();
}

export function indirectIdentityFindings(agent: AgentIdentity, snapshot: SnapshotWithoutReviews, now: Date): Finding[] {
  const out: Finding[] = [];
  const name = agent.metadata.name ?? '';
  // Only the bindings that can name the ServiceAccount (serviceAccountBeyondGrant still matches them).
  const lookupFor = (ns: string, sa: string) => {
    const candidates = bindingsFor(snapshot, userKeys(serviceAccountUsername(ns, sa), [SA_GROUP, `${SA_GROUP}:${ns}`]));
    return {
      clusterRoleBindings: candidates.cluster,
      roleBindings: candidates.namespaced,
      clusterRole: (n: string) => ({ rules: rulesOfRef(snapshot, { kind: 'ClusterRole', name: n }, undefined) }),
      role: (rns: string, n: string) => ({ rules: rulesOfRef(snapshot, { kind: 'Role', name: n }, rns) }),
    };
  };
  for (const g of snapshot.grants) {
    if (g.spec.agent !== name || g.status?.phase !== 'Active') continue;
    const exp = g.status.expiresAt ? Date.parse(g.status.expiresAt) : NaN;
    if (!Number.isNaN(exp) && now.getTime() > exp) continue;
    const ns = g.metadata.namespace ?? '';
    const rules = rulesOf(snapshot, g.spec.roleRef.kind, g.spec.roleRef.name, ns);
    const starts = WORKLOAD_RESOURCES.filter((w) =>
      ['create', 'update', 'patch'].some((verb) => rulesCover(rules, { verb, apiGroup: w.group, resource: w.resource })),
    );
    if (!starts.length) continue;
    const what = starts.map((w) => (w.group ? `${w.resource}.${w.group}` : w.resource)).join(', ');
    const grantRef = `AccessGrant ${ns}/${g.metadata.name ?? ''}`;
    // The same for every grant of this role in this namespace: once per snapshot, not per grant.
    const beyond = perSnapshot(snapshot, `effects.beyond\u0000${ns}\u0000${g.spec.roleRef.kind}\u0000${g.spec.roleRef.name}`, () =>
      serviceAccountNames(snapshot, ns)
        .map((sa) => ({ sa, extra: serviceAccountBeyondGrant(lookupFor(ns, sa), ns, sa, rules) }))
        .filter((x) => x.extra),
    );
    if (beyond.length) {
      const active = ruleActive(agent, g, 'workload-identity');
      const list = beyond
        .slice(0, 3)
        .map((x) => `ServiceAccount ${ns}/${x.sa} (${x.extra})`)
        .join('; ');
      out.push({
        severity: active ? 'Warning' : 'Critical',
        route: 'IndirectPodCreation' as RouteName,
        object: grantRef,
        message: `${grantRef} (${g.spec.roleRef.kind} ${g.spec.roleRef.name}) can create or change ${what} in namespace ${ns}, where ${list}${beyond.length > 3 ? ` and ${beyond.length - 3} more` : ''} holds more than the grant; pods running as it act outside the webhook and outlive the grant. ${active ? 'The workload-identity rule holds such writes for approval.' : 'The workload-identity rule is disabled for this agent, so nothing holds them.'}`,
        fix: active
          ? 'Move the ServiceAccount out of the namespace or reduce its RBAC; approvers: reject writes whose pods run as it'
          : 'Re-enable the workload-identity default rule (remove it from spec.disabledDefaultRules), or move/reduce the ServiceAccount',
      });
    }
    const nsInfo = snapshot.namespaces.find((n) => n.name === ns);
    // Most namespaces carry no Pod Security label (= privileged), so while the
    // workload-privilege rule holds such writes this is governed and not reported;
    // with the rule disabled nothing stands between the grant and the node.
    if (namespaceAllowsPrivileged(nsInfo?.labels) && !ruleActive(agent, g, 'workload-privilege')) {
      const active = false;
      out.push({
        severity: 'Critical',
        route: 'IndirectPrivilegedPod' as RouteName,
        object: grantRef,
        message: `${grantRef} can create or change ${what} in namespace ${ns}, whose Pod Security enforce level admits privileged pods (host namespaces, hostPath, privileged containers reach the node). ${active ? 'The workload-privilege rule holds such writes for approval.' : 'The workload-privilege rule is disabled for this agent, so nothing holds them.'}`,
        fix: `kubectl label namespace ${ns} pod-security.kubernetes.io/enforce=baseline (or restricted)`,
      });
    }
  }
  return out;
}

/** Groups the apiserver attached to the agent's calls that its AgentIdentity does not declare. */
function undeclaredGroups(agent: AgentIdentity): string[] {
  const declared = new Set((agent.spec.subjects ?? []).filter((s) => s.kind === 'Group').map((s) => s.name));
  const out = new Set<string>();
  for (const o of agent.status?.observedIdentity ?? []) for (const g of o.groups ?? []) if (!declared.has(g) && !IMPLICIT_GROUPS(g)) out.add(g);
  return [...out].sort();
}

export function undeclaredGroupFindings(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): Finding[] {
  const out: Finding[] = [];
  const name = agent.metadata.name ?? '';
  for (const group of undeclaredGroups(agent)) {
    const bound = [
      ...snapshot.clusterRoleBindings
        .filter((b) => (b.subjects ?? []).some((s) => s.kind === 'Group' && s.name === group))
        .map((b) => `ClusterRoleBinding/${b.metadata?.name ?? ''} (${b.roleRef.kind} ${b.roleRef.name})`),
      ...snapshot.roleBindings
        .filter((b) => (b.subjects ?? []).some((s) => s.kind === 'Group' && s.name === group))
        .map((b) => `RoleBinding/${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''} (${b.roleRef.kind} ${b.roleRef.name})`),
    ];
    out.push({
      severity: bound.length ? 'Critical' : 'Warning',
      route: 'UndeclaredGroup' as RouteName,
      object: `Group ${group}`,
      message: bound.length
        ? `the apiserver puts agent ${name}'s calls in group ${group}, which its AgentIdentity does not declare, and ${bound.slice(0, 3).join(', ')}${bound.length > 3 ? ` and ${bound.length - 3} more` : ''} bind that group: access no grant governs`
        : `the apiserver puts agent ${name}'s calls in group ${group}, which its AgentIdentity does not declare (nothing is bound to it yet)`,
      fix: `Add {kind: Group, name: ${group}} to AgentIdentity ${name} spec.subjects (on EKS: the access entry's kubernetesGroups) so verification and the webhook see it${bound.length ? ', and remove the bindings to it' : ''}`,
    });
  }
  return out;
}

/** Unclassified routes reached by roles this agent may be granted. */
export function unclassifiedRouteFindings(agent: AgentIdentity, routes: readonly ClassifiedRoute[] | undefined): Finding[] {
  if (!routes) return [];
  const allowed = new Set((agent.spec.allowedRoles ?? []).filter((r) => r.kind === 'ClusterRole').map((r) => r.name));
  return routes
    .filter((r) => r.class === undefined && r.roles.some((role) => allowed.has(role)))
    .map((r) => ({
      severity: 'Warning' as const,
      route: 'UnclassifiedRoute' as RouteName,
      object: routeText(r),
      message: `${r.roles.filter((x) => allowed.has(x)).join(', ')} reach ${routeText(r)}, which agentgate's route classification does not know (a new API, or a subresource of a CRD or aggregated API): its effect is unknown, so no built-in rule is known to govern it`,
      fix: 'Classify it in api/routes.ts (upgrade agentgate), remove it from the role, or set spec.posture: Strict so unclassified routes need approval',
    }));
}
