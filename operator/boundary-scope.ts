// Which agents a change can affect, so boundary verification re-verifies those and not
// every agent on every change (a full pass per RoleBinding change made a cold start of N
// grants cost N full passes). Pure: the changes as the watches saw them (each version of
// a changed object, the one before and the one after), and the snapshot the pass reads.
//
// Fail closed: where a change's reach is not worked out here, the answer is every agent.
// A re-verification too many costs CPU; one too few leaves a route unreported.
//
// One kind of change is cheaper: the deletion of one of agentgate's own RoleBindings (a
// grant ended, or its namespace went) that names no ServiceAccount. RBAC only adds, so a
// binding gone can only take away allowed answers, its own findings, powerful
// ServiceAccounts and the groups it binds; what else verification reads of bindings is
// which namespaces it reviews (namespacesToReview, the webhook's touchable namespaces), and
// a namespace the agent's ceiling allows stays in those either way. So for an agent whose
// ceiling allows the binding's namespace, the removal can only shrink its findings: it
// needs no pass now (the verifier re-verifies it later, unhurried, to clear what went;
// operator/boundary.ts). A burst of N removals (a namespace of N grants deleted) then
// costs a few passes instead of one per burst window for as long as it lasts.
import { LABEL_AGENT, LABEL_GRANT, LABEL_MANAGED_BY, MANAGED_BY, type AgentIdentity } from '../api/types.js';
import { labelValue } from '../api/names.js';
import { agentKeys, allowedNamespaces, BOOTSTRAP_LABEL, SA_GROUP } from '../boundary/principals.js';
import type { Binding, RoleRef, SnapshotWithoutReviews } from '../boundary/types.js';
import { mayNameGrant } from '../boundary/verify.js';
import { stableStringify } from '../lib/fingerprint.js';
import { subjectKey } from '../lib/rbac-index.js';
import { selectorMatches, type LabelSelector } from '../lib/selector.js';

interface RoleVersion {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] };
}

/** One version of a changed object (a change is recorded as its version before and after). */
export type BoundaryChange =
  | { kind: 'AgentIdentity'; name: string }
  | { kind: 'RoleBinding' | 'ClusterRoleBinding'; binding: Binding }
  /** One of agentgate's own RoleBindings, deleted (its last version): see clearsOnly(). */
  | { kind: 'RemovedGrantBinding'; binding: Binding }
  | { kind: 'Role' | 'ClusterRole'; role: RoleVersion }
  /** Anything whose reach is every agent: webhook configurations, the periodic backstop, a failed pass. */
  | { kind: 'Everything'; why: string };

export type Scope = Set<string> | 'all';

const SA_USER_PREFIX = 'User\u0000system:serviceaccount:';
const SA_GROUP_KEY = `Group\u0000${SA_GROUP}`;

/**
 * A binding that can name a ServiceAccount can make it "more powerful", which every
 * agent's indirect-route checks read (boundary/verify.ts powerfulServiceAccounts).
 */
function mayEmpowerServiceAccount(b: Binding): boolean {
  if (b.metadata?.labels?.[BOOTSTRAP_LABEL]) return false;
  return (b.subjects ?? []).some((s) => {
    const k = subjectKey(s, b.metadata?.namespace);
    return !!k && (k.startsWith(SA_USER_PREFIX) || k === SA_GROUP_KEY || k.startsWith(`${SA_GROUP_KEY}:`));
  });
}

/**
 * A removal whose effect on findings can only be to shrink them for agents whose ceiling
 * allows its namespace (the header): agentgate's own binding, naming no ServiceAccount.
 */
export function clearsOnly(c: BoundaryChange): boolean {
  return c.kind === 'RemovedGrantBinding' && c.binding.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY && !mayEmpowerServiceAccount(c.binding);
}

function refersTo(ref: RoleRef, bindingNamespace: string | undefined, role: RoleVersion, kind: 'Role' | 'ClusterRole'): boolean {
  if (ref.kind !== kind || ref.name !== role.metadata?.name) return false;
  return kind === 'ClusterRole' || bindingNamespace === role.metadata?.namespace;
}

/** A ClusterRole that aggregates, or whose labels an aggregating ClusterRole selects, reaches roles by label. */
function inAggregation(role: RoleVersion, snapshot: SnapshotWithoutReviews): boolean {
  if (role.aggregationRule?.clusterRoleSelectors?.length) return true;
  const labels = role.metadata?.labels ?? {};
  return snapshot.clusterRoles.some((r) => ((r as RoleVersion).aggregationRule?.clusterRoleSelectors ?? []).some((sel) => selectorMatches(sel, labels)));
}

/**
 * Whether an AgentIdentity update can change its verification: verification reads its
 * spec and the identities the apiserver was seen to attach (status.observedIdentity, who, not when),
 * not the rest of its status, which verification itself writes (re-verifying after each
 * of its own writes would double every pass).
 */
export function agentChangeMatters(previous: AgentIdentity | undefined, next: AgentIdentity): boolean {
  if (!previous) return true;
  // Who was observed, not when (lastSeen moves every minute).
  const read = (a: AgentIdentity) => [a.spec, (a.status?.observedIdentity ?? []).map((o) => [o.username, o.groups ?? []])];
  return stableStringify(read(previous)) !== stableStringify(read(next));
}

/** The agents to re-verify after these changes, or 'all'. */
export function agentsDirtiedBy(changes: readonly BoundaryChange[], snapshot: SnapshotWithoutReviews): Scope {
  const out = new Set<string>();
  // Agents by the subject keys of their principals (their own subjects and broad groups).
  let byKey: Map<string, AgentIdentity[]> | undefined;
  const agentsByKey = (): Map<string, AgentIdentity[]> => {
    if (byKey) return byKey;
    byKey = new Map();
    for (const a of snapshot.agents) {
      for (const k of agentKeys(a)) {
        let list = byKey.get(k);
        if (!list) byKey.set(k, (list = []));
        list.push(a);
      }
    }
    return byKey;
  };
  const name = (a: AgentIdentity): string => a.metadata.name ?? '';

  /** The agents a binding's subjects can name; false: its reach is every agent. */
  const subjectsReach = (b: Binding): boolean => {
    if (mayEmpowerServiceAccount(b)) return false;
    for (const s of b.subjects ?? []) {
      const k = subjectKey(s, b.metadata?.namespace);
      for (const a of k ? (agentsByKey().get(k) ?? []) : []) out.add(name(a));
    }
    return true;
  };
  /** An agentgate binding's grant changed too: its agent, and agents whose by-name reviews may name the grant. */
  const grantReach = (b: Binding): void => {
    const labels = b.metadata?.labels ?? {};
    if (labels[LABEL_MANAGED_BY] !== MANAGED_BY) return;
    const owner = labels[LABEL_AGENT];
    const grant = labels[LABEL_GRANT];
    const ns = b.metadata?.namespace;
    for (const a of snapshot.agents) {
      if (owner !== undefined && labelValue(name(a)) === owner) out.add(name(a));
      else if (ns && grant && mayNameGrant(a, snapshot, ns, grant)) out.add(name(a));
    }
  };

  for (const c of changes) {
    switch (c.kind) {
      case 'AgentIdentity':
        out.add(c.name);
        break;
      case 'RoleBinding':
      case 'ClusterRoleBinding':
        if (!subjectsReach(c.binding)) return 'all';
        grantReach(c.binding);
        break;
      case 'RemovedGrantBinding': {
        if (!clearsOnly(c)) {
          if (!subjectsReach(c.binding)) return 'all';
          grantReach(c.binding);
          break;
        }
        // Now: only the agents it names whose reviewed namespaces it may shrink (the rest later).
        const ns = c.binding.metadata?.namespace ?? '';
        const exists = snapshot.namespaces.some((n) => n.name === ns);
        for (const s of c.binding.subjects ?? []) {
          const k = subjectKey(s, ns);
          for (const a of k ? (agentsByKey().get(k) ?? []) : []) if (!exists || !allowedNamespaces(a, snapshot).has(ns)) out.add(name(a));
        }
        break;
      }
      case 'Role':
      case 'ClusterRole': {
        if (c.kind === 'ClusterRole' && inAggregation(c.role, snapshot)) return 'all';
        const bound = [
          ...snapshot.clusterRoleBindings.filter((b) => refersTo(b.roleRef, undefined, c.role, c.kind)),
          ...snapshot.roleBindings.filter((b) => refersTo(b.roleRef, b.metadata?.namespace, c.role, c.kind)),
        ];
        for (const b of bound) if (!subjectsReach(b)) return 'all';
        // Agents that may be granted it: their route inventory and grant effects read its rules.
        for (const a of snapshot.agents) {
          if ((a.spec.allowedRoles ?? []).some((r) => r.kind === c.kind && r.name === c.role.metadata?.name)) out.add(name(a));
        }
        break;
      }
      default:
        return 'all';
    }
  }
  return out;
}
