// Who an agent is, as RBAC and the apiserver see it: one principal per subject, the
// broad implicit groups every principal carries, and which bindings name the agent.
// Shared by the binding, escalation and webhook-configuration checks.

import type { AgentIdentity, Subject } from '../api/types.js';
import { serviceAccountUsername, subjectMatchesUser } from '../lib/rbac.js';
import { selectorMatches } from '../lib/selector.js';
import { userKeys } from '../lib/rbac-index.js';
import type { Binding, LabelSelectorLike, Principal, SnapshotWithoutReviews } from './types.js';

export const AUTHENTICATED = 'system:authenticated';
export const SA_GROUP = 'system:serviceaccounts';
export const BOOTSTRAP_LABEL = 'kubernetes.io/bootstrapping';

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
  // Observed identities (status.observedIdentity): what the apiserver really attaches.
  // Only undeclared groups add a principal; they can only add findings.
  const declared = new Set((agent.spec.subjects ?? []).filter((s) => s.kind === 'Group').map((s) => s.name));
  for (const g of new Set((agent.status?.observedIdentity ?? []).flatMap((o) => o.groups ?? []))) {
    if (declared.has(g) || isBroadGroup(g)) continue;
    out.push({ label: `Group ${g} (observed, undeclared)`, groups: [g, AUTHENTICATED] });
  }
  return out;
}

// The implicit groups every such principal carries; bindings to them reach every agent.
function isBroadGroup(name: string): boolean {
  return name === AUTHENTICATED || name === 'system:unauthenticated' || name === SA_GROUP || name.startsWith(`${SA_GROUP}:`);
}

/** The subject keys (boundary/snapshot-index.ts) of every principal of the agent, broad groups included. */
export function agentKeys(agent: AgentIdentity): string[] {
  return [...new Set(principalsOf(agent).flatMap((p) => userKeys(p.user, p.groups)))];
}

/** How a binding names the agent: through one of its own subjects, or through a broad implicit group. */
export function bindingMatch(agent: AgentIdentity, binding: Binding): { explicit: string[]; broad: string[] } {
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

export function selectorIsEmpty(s: LabelSelectorLike | undefined): boolean {
  return !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);
}

export function subjectLabel(s: Subject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace ?? ''}/${s.name}` : `${s.kind} ${s.name}`;
}

/** The namespaces an agent may work in by its own spec (grants may live there). */
export function allowedNamespaces(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): Set<string> {
  const out = new Set<string>(agent.spec.allowedNamespaces?.names ?? []);
  const sel = agent.spec.allowedNamespaces?.selector;
  if (sel && !selectorIsEmpty(sel)) {
    for (const ns of snapshot.namespaces) if (selectorMatches(sel, ns.labels)) out.add(ns.name);
  }
  return out;
}
