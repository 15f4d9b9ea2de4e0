// The AgentIdentity reconciler: the kill switch (suspension or deletion removes every
// RoleBinding of the agent at once), re-planning its grants, and the agent's status, which
// it alone writes: the count of Active grants and boundary verification's reports, in one
// coalesced stream (operator/plan/agent.ts says what waits and what does not).
import { labelValue } from '../../api/names.js';
import type { AgentIdentity } from '../../api/types.js';
import type { AgentReport } from '../../boundary/types.js';
import { isConflict, isNotFound } from '../../lib/kube.js';
import { planAgent, planBoundaryStatus, statusChangeIsUrgent } from '../plan/agent.js';
import { DONE, key, retrySoon, type ReconcileContext, type Result } from './context.js';
import { deleteBinding } from './writes.js';

export class AgentReconciler {
  /** Each agent's latest verification report, kept until the agent is gone (the plan applies it until written). */
  private readonly reports = new Map<string, { report: AgentReport; at: Date }>();
  /** When an agent's waiting status change falls due, between runs. */
  private readonly statusDueAt = new Map<string, Date>();

  constructor(private readonly c: ReconcileContext) {}

  /**
   * Boundary verification reports an agent; its next run writes what the report changes.
   * True when that cannot wait (a new finding, a condition changing): reconcile it first.
   */
  reported(report: AgentReport, at: Date): boolean {
    this.reports.set(report.agent, { report, at });
    const agent = this.c.cache.agent(report.agent);
    const next = agent && planBoundaryStatus(agent, report, at);
    return next !== undefined && statusChangeIsUrgent(agent?.status ?? {}, next);
  }

  async reconcile(name: string): Promise<Result> {
    const c = this.c;
    const agent = c.cache.agent(name);
    if (!agent) this.reports.delete(name);
    const boundary = this.reports.get(name);
    const dueAt = this.statusDueAt.get(name);
    const plan = planAgent({
      name,
      agent,
      grants: c.cache.grantsOfAgent(name),
      bindings: c.cache.bindingsOfAgent(labelValue(name)),
      now: c.clock.now(),
      ...(boundary ? { boundary } : {}),
      ...(dueAt ? { statusDueAt: dueAt } : {}),
    });
    // A due change stays due until written (a lost race is retried at once, not re-delayed).
    if (plan.statusDueAt) this.statusDueAt.set(name, plan.statusDueAt);
    else if (!plan.actions.some((a) => a.type === 'writeStatus')) this.statusDueAt.delete(name);
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
            this.statusDueAt.delete(name);
          } catch (e) {
            if (isNotFound(e)) {
              this.statusDueAt.delete(name);
              return DONE;
            }
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
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : DONE;
  }
}
