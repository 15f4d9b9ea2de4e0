// AgentIdentity reconcile as a pure function. Suspension is the kill switch: every
// RoleBinding of the agent goes in one round of parallel deletes, before any grant
// status is touched (the grant reconciler then marks them Revoked).
//
// Grants read the agent's spec (ceiling, subjects, suspension), so a spec this reconciler
// has not yet observed (status.observedGeneration behind metadata.generation), or a
// deleted agent, re-plans every grant of the agent. Other runs do not: grant changes
// reconcile the agent too (its count of Active grants), and re-planning all N grants on
// each of those made a burst of N grant changes (a namespace deleted) cost N^2 reconciles.
import type { V1RoleBinding } from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, AgentIdentityStatus } from '../../api/types.js';
import { stableStringify } from '../../lib/fingerprint.js';
import { CONDITION, REASON, setCondition } from '../conditions.js';
import type { Plan } from './grant.js';

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

export function planAgent(s: AgentState): Plan<AgentAction> {
  const actions: AgentAction[] = [];
  const refs = (bs: readonly V1RoleBinding[]) =>
    bs.map((b) => ({ namespace: b.metadata?.namespace ?? '', name: b.metadata?.name ?? '', uid: b.metadata?.uid }));
  const grantRefs = s.grants.map((g) => ({ namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' }));
  const agent = s.agent;
  if (!agent || agent.spec.suspended) {
    if (s.bindings.length > 0) actions.push({ type: 'deleteRoleBindings', bindings: refs(s.bindings) });
  }
  // Every grant re-plans against the agent as it is now (subjects, ceiling, suspension).
  const specUnobserved = !agent || agent.metadata.generation === undefined || agent.status?.observedGeneration !== agent.metadata.generation;
  if (grantRefs.length > 0 && specUnobserved) actions.push({ type: 'enqueueGrants', grants: grantRefs });
  if (!agent) return { actions };

  const active = s.grants.filter(countsAsActive).length;
  const status: AgentIdentityStatus = structuredClone(agent.status ?? {});
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
  if (stableStringify(status) !== stableStringify(agent.status ?? {})) {
    actions.push({ type: 'writeStatus', status });
    const wasSuspended = agent.status?.conditions?.find((c) => c.type === CONDITION.Ready)?.reason === REASON.Suspended;
    if (agent.spec.suspended && !wasSuspended) {
      actions.push({ type: 'event', eventType: 'Warning', reason: REASON.Suspended, message: `agent suspended: ${s.bindings.length} RoleBinding(s) removed` });
    }
  }
  return { actions };
}
