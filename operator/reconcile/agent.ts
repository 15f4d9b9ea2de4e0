// The AgentIdentity reconciler: the kill switch (suspension or deletion removes every
// RoleBinding of the agent at once), re-planning its grants, and its Ready condition.
import { labelValue } from '../../api/names.js';
import type { AgentIdentity } from '../../api/types.js';
import { isConflict, isNotFound } from '../../lib/kube.js';
import { planAgent } from '../plan/agent.js';
import { DONE, key, retrySoon, type ReconcileContext, type Result } from './context.js';
import { deleteBinding } from './writes.js';

export async function reconcileAgent(c: ReconcileContext, name: string): Promise<Result> {
  const agent = c.cache.agent(name);
  const plan = planAgent({ name, agent, grants: c.cache.grantsOfAgent(name), bindings: c.cache.bindingsOfAgent(labelValue(name)), now: c.clock.now() });
  for (const a of plan.actions) {
    switch (a.type) {
      case 'deleteRoleBindings': {
        // At once: every binding in parallel, so the kill switch does not take N round trips.
        const results = await Promise.allSettled(a.bindings.map((b) => deleteBinding(c, b.namespace, b.name, b.uid)));
        c.log.info('agent access removed', { agent: name, rolebindings: a.bindings.length, suspended: agent?.spec.suspended ?? 'deleted' });
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        if (results.some((r) => r.status === 'fulfilled' && r.value === 'conflict')) return retrySoon();
        break;
      }
      case 'enqueueGrants':
        for (const g of a.grants) c.enqueue(key('AccessGrant', g.namespace, g.name));
        break;
      case 'writeStatus':
        if (!agent) break;
        try {
          c.cache.wrote(
            'AgentIdentity',
            agent.metadata.resourceVersion,
            await c.writes.replaceStatus<AgentIdentity>('AgentIdentity', name, { ...agent, status: a.status }),
          );
        } catch (e) {
          if (isNotFound(e)) return DONE;
          if (!isConflict(e)) throw e;
          c.cache.refreshed('AgentIdentity', await c.writes.get<AgentIdentity>('AgentIdentity', name));
          return retrySoon();
        }
        break;
      case 'event':
        if (agent) c.recorder.emit(agent, a.eventType, a.reason, a.message);
        break;
    }
  }
  return DONE;
}
