// AgentIdentity reconcile as a pure function. Suspension is the kill switch: every
// RoleBinding of the agent goes in one round of parallel deletes, before any grant
// status is touched (the grant reconciler then marks them Revoked).
//
// Grants read the agent's spec (ceiling, subjects, suspension), so a spec this reconciler
// has not yet observed (status.observedGeneration behind metadata.generation), or a
// deleted agent, re-plans every grant of the agent. Other runs do not: grant changes
// reconcile the agent too (its count of Active grants), and re-planning all N grants on
// each of those made a burst of N grant changes (a namespace deleted) cost N^2 reconciles.
//
// The agent's status has one writer, this plan: the count of Active grants and Ready, and
// boundary verification's latest report (BoundaryVerified, findings, lastVerified), in one
// coalesced stream. What tells of a new risk or a changed state is written at once: a new
// generation observed, a condition whose status or reason changes (suspended, a route found
// or gone), a finding not shown before. The rest (the count and the messages that carry it,
// findings that went, lastVerified's refresh) describes, and waits up to STATUS_COALESCE_MS
// from when a run first saw it differ, so a burst (a namespace of 5,000 grants deleted)
// costs one write a second, with the state as it is when the write is due.
import type { V1RoleBinding } from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, AgentIdentityStatus, BoundaryFinding } from '../../api/types.js';
import { boundaryCondition } from '../../boundary/verify.js';
import type { AgentReport } from '../../boundary/types.js';
import { rfc3339 } from '../../lib/clock.js';
import { stableStringify } from '../../lib/fingerprint.js';
import { CONDITION, findCondition, REASON, setCondition } from '../conditions.js';
import type { Plan } from './grant.js';

/** How long a change to an agent's status that only describes may wait (see the header). */
export const STATUS_COALESCE_MS = 1000;

/** Rewrite lastVerified at most this often when nothing else changed, to spare the apiserver. */
export const LAST_VERIFIED_REFRESH_MS = 5 * 60_000;

export type AgentAction =
  | { type: 'deleteRoleBindings'; bindings: Array<{ namespace: string; name: string; uid?: string }> }
  | { type: 'writeStatus'; status: AgentIdentityStatus }
  | { type: 'enqueueGrants'; grants: Array<{ namespace: string; name: string }> }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

interface AgentState {
  name: string;
  agent?: AgentIdentity;
  /** Grants whose spec.agent is this agent. */
  grants: readonly AccessGrant[];
  /** RoleBindings labelled agentgate.io/agent=<agent>. */
  bindings: readonly V1RoleBinding[];
  now: Date;
  /** Boundary verification's latest report of this agent and when it was made (written or not). */
  boundary?: { report: AgentReport; at: Date };
  /** When a waiting change to the status falls due, as an earlier run of this agent planned it. */
  statusDueAt?: Date;
}

/** A plan for the agent, and when its waiting status change falls due (none: nothing waits). */
interface AgentPlan extends Plan<AgentAction> {
  statusDueAt?: Date;
}

/** A grant the agent's status.activeGrants counts. */
const countsAsActive = (g: AccessGrant): boolean => g.status?.phase === 'Active' && !g.metadata.deletionTimestamp;

/**
 * Whether a grant's change (an informer event, with the version before an update) can
 * change its agent's count of Active grants, the one thing the agent's reconcile reads of
 * its grants beyond their names.
 */
export function grantChangeReachesAgent(event: 'add' | 'update' | 'delete', next: AccessGrant, previous?: AccessGrant): boolean {
  if (event !== 'update' || !previous) return countsAsActive(next);
  return countsAsActive(previous) !== countsAsActive(next);
}

/** The AgentIdentity status with a verification report applied, or undefined when nothing needs writing. Pure. */
export function planBoundaryStatus(agent: AgentIdentity, report: AgentReport, at: Date): AgentIdentityStatus | undefined {
  const current = agent.status ?? {};
  const next: AgentIdentityStatus = structuredClone(current);
  next.conditions = setCondition(current.conditions, boundaryCondition(report), at, agent.metadata.generation);
  next.findings = report.findings.map((f) => ({ ...f }));
  const unchanged = stableStringify({ c: next.conditions, f: next.findings }) === stableStringify({ c: current.conditions ?? [], f: current.findings ?? [] });
  const last = current.lastVerified ? Date.parse(current.lastVerified) : 0;
  if (unchanged && at.getTime() - last < LAST_VERIFIED_REFRESH_MS) return undefined;
  next.lastVerified = rfc3339(at);
  return next;
}

const findingKey = (f: BoundaryFinding): string => `${f.severity}\u0000${f.route}\u0000${f.object ?? ''}`;

/** Whether going from one status to the next must be written at once (see the header), not coalesced. */
export function statusChangeIsUrgent(current: AgentIdentityStatus, next: AgentIdentityStatus): boolean {
  if (current.observedGeneration !== next.observedGeneration) return true;
  for (const c of next.conditions ?? []) {
    const was = findCondition(current.conditions, c.type);
    if (!was || was.status !== c.status || was.reason !== c.reason) return true;
  }
  const shown = new Set((current.findings ?? []).map(findingKey));
  return (next.findings ?? []).some((f) => !shown.has(findingKey(f)));
}

export function planAgent(s: AgentState): AgentPlan {
  const actions: AgentAction[] = [];
  const refs = (bs: readonly V1RoleBinding[]) =>
    bs.map((b) => ({ namespace: b.metadata?.namespace ?? '', name: b.metadata?.name ?? '', uid: b.metadata?.uid }));
  const agent = s.agent;
  if (!agent || agent.spec.suspended) {
    if (s.bindings.length > 0) actions.push({ type: 'deleteRoleBindings', bindings: refs(s.bindings) });
  }
  // Every grant re-plans against the agent as it is now (subjects, ceiling, suspension).
  const specUnobserved = !agent || agent.metadata.generation === undefined || agent.status?.observedGeneration !== agent.metadata.generation;
  // Built only then: most runs (a grant's count changed) read the grants' phases alone.
  if (s.grants.length > 0 && specUnobserved) {
    actions.push({ type: 'enqueueGrants', grants: s.grants.map((g) => ({ namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' })) });
  }
  if (!agent) return { actions };

  let active = 0;
  for (const g of s.grants) if (countsAsActive(g)) active++;
  let status: AgentIdentityStatus = structuredClone(agent.status ?? {});
  status.observedGeneration = agent.metadata.generation;
  status.activeGrants = agent.spec.suspended ? 0 : active;
  status.conditions = setCondition(
    status.conditions,
    agent.spec.suspended
      ? { type: CONDITION.Ready, status: 'False', reason: REASON.Suspended, message: 'spec.suspended is true: all RoleBindings removed and every call denied' }
      : { type: CONDITION.Ready, status: 'True', reason: REASON.Ready, message: `${active} active grant${active === 1 ? '' : 's'}` },
    s.now,
    agent.metadata.generation,
  );
  if (s.boundary) status = planBoundaryStatus({ ...agent, status }, s.boundary.report, s.boundary.at) ?? status;
  const current = agent.status ?? {};
  if (stableStringify(status) === stableStringify(current)) return { actions };
  const due = s.statusDueAt ?? new Date(s.now.getTime() + STATUS_COALESCE_MS);
  if (!statusChangeIsUrgent(current, status) && s.now < due) {
    return { actions, requeueAfterMs: due.getTime() - s.now.getTime(), statusDueAt: due };
  }
  actions.push({ type: 'writeStatus', status });
  const wasSuspended = current.conditions?.find((c) => c.type === CONDITION.Ready)?.reason === REASON.Suspended;
  if (agent.spec.suspended && !wasSuspended) {
    actions.push({ type: 'event', eventType: 'Warning', reason: REASON.Suspended, message: `agent suspended: ${s.bindings.length} RoleBinding(s) removed` });
  }
  return { actions };
}
