// AgentIdentity reconcile as a pure function. Suspension is the kill switch: every
// RoleBinding of the agent goes in one round of parallel deletes, before any grant
// status is touched (the grant reconciler then marks them Revoked).
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
  if (grantRefs.length > 0) actions.push({ type: 'enqueueGrants', grants: grantRefs });
  if (!agent) return { actions };

  const active = s.grants.filter((g) => g.status?.phase === 'Active' && !g.metadata.deletionTimestamp).length;
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
