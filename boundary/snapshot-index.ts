// Lookups over one snapshot, built once and shared by every agent's checks. Without them a
// verification pass costs agents x bindings x ServiceAccounts: with 4,000 grants' RoleBindings
// and 100 agents one pass took ~16 s of CPU, and the operator ran one per RoleBinding change.
// With them, an agent's checks cost the bindings that can name it, not all bindings.
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import type { PolicyRule } from '../lib/rbac.js';
import { BindingsBySubject } from '../lib/rbac-index.js';
import type { Binding, RoleRef, SnapshotWithoutReviews } from './types.js';

interface Index {
  /** The arrays it was built over: a snapshot with other arrays gets a new index. */
  of: readonly unknown[];
  clusterRoleBindings: BindingsBySubject<Binding>;
  roleBindings: BindingsBySubject<Binding>;
  clusterRoleRules: Map<string, PolicyRule[] | undefined>;
  roleRules: Map<string, PolicyRule[] | undefined>;
  grantsByNamespace: Map<string, AccessGrant[]>;
  /** Per-snapshot results computed once (e.g. the powerful ServiceAccounts), by name. */
  memo: Map<string, unknown>;
  /** Per-agent results computed once per snapshot (e.g. its planned checks). */
  perAgent: WeakMap<AgentIdentity, Map<string, unknown>>;
}

const indexes = new WeakMap<readonly Binding[], Index>();

function arraysOf(s: SnapshotWithoutReviews): readonly unknown[] {
  return [s.roleBindings, s.clusterRoleBindings, s.roles, s.clusterRoles, s.grants, s.serviceAccounts, s.namespaces, s.agentgateNamespace];
}

function indexOf(s: SnapshotWithoutReviews): Index {
  const of = arraysOf(s);
  const cached = indexes.get(s.roleBindings);
  if (cached?.of.every((x, i) => x === of[i])) return cached;
  const clusterRoleRules = new Map<string, PolicyRule[] | undefined>();
  for (const r of s.clusterRoles) if (!clusterRoleRules.has(r.metadata?.name ?? '')) clusterRoleRules.set(r.metadata?.name ?? '', r.rules);
  const roleRules = new Map<string, PolicyRule[] | undefined>();
  for (const r of s.roles) {
    const k = `${r.metadata?.namespace ?? ''}/${r.metadata?.name ?? ''}`;
    if (!roleRules.has(k)) roleRules.set(k, r.rules);
  }
  const grantsByNamespace = new Map<string, AccessGrant[]>();
  for (const g of s.grants) {
    const ns = g.metadata.namespace ?? '';
    let list = grantsByNamespace.get(ns);
    if (!list) grantsByNamespace.set(ns, (list = []));
    list.push(g);
  }
  // Code-unit order, as namespacesToReview sorts namespaces: one order for "the first few grants".
  const byName = (a: AccessGrant, b: AccessGrant): number =>
    (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0;
  for (const list of grantsByNamespace.values()) list.sort(byName);
  const index: Index = {
    of,
    clusterRoleBindings: new BindingsBySubject(s.clusterRoleBindings),
    roleBindings: new BindingsBySubject(s.roleBindings),
    clusterRoleRules,
    roleRules,
    grantsByNamespace,
    memo: new Map(),
    perAgent: new WeakMap(),
  };
  indexes.set(s.roleBindings, index);
  return index;
}

/** (Cluster)RoleBindings with a subject under one of these keys, ClusterRoleBindings first. */
export function bindingsFor(s: SnapshotWithoutReviews, keys: readonly string[]): { cluster: Binding[]; namespaced: Binding[] } {
  const i = indexOf(s);
  return { cluster: i.clusterRoleBindings.find(keys), namespaced: i.roleBindings.find(keys) };
}

/** The rules a roleRef points at (undefined: no such role). */
export function rulesOf(s: SnapshotWithoutReviews, ref: RoleRef, namespace: string | undefined): PolicyRule[] | undefined {
  const i = indexOf(s);
  if (ref.kind === 'ClusterRole') return i.clusterRoleRules.get(ref.name) ?? undefined;
  if (ref.kind === 'Role') return i.roleRules.get(`${namespace ?? ''}/${ref.name}`) ?? undefined;
  return undefined;
}

/** A namespace's grants, sorted by name. */
export function grantsIn(s: SnapshotWithoutReviews, namespace: string): readonly AccessGrant[] {
  return indexOf(s).grantsByNamespace.get(namespace) ?? [];
}

/** compute(), once per snapshot. */
export function perSnapshot<T>(s: SnapshotWithoutReviews, name: string, compute: () => T): T {
  const memo = indexOf(s).memo;
  if (!memo.has(name)) memo.set(name, compute());
  return memo.get(name) as T;
}

/** compute(), once per snapshot and agent. */
export function perAgent<T>(s: SnapshotWithoutReviews, agent: AgentIdentity, name: string, compute: () => T): T {
  const all = indexOf(s).perAgent;
  let memo = all.get(agent);
  if (!memo) all.set(agent, (memo = new Map()));
  if (!memo.has(name)) memo.set(name, compute());
  return memo.get(name) as T;
}
