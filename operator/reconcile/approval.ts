// The ApprovalRequest reconciler: expiry by the clock, and waking the grant an
// activation request gates.
import type { ApprovalRequest } from '../../api/types.js';
import { isConflict, isNotFound } from '../../lib/kube.js';
import { planApproval } from '../plan/approval.js';
import { DONE, key, retrySoon, type ReconcileContext, type Result } from './context.js';
import { refreshApproval } from './writes.js';

export async function reconcileApproval(c: ReconcileContext, namespace: string, name: string): Promise<Result> {
  const ar = c.cache.approval(namespace, name);
  if (!ar) {
    c.cache.forget('ApprovalRequest', namespace, name);
    return DONE;
  }
  const plan = planApproval(ar, c.clock.now());
  for (const a of plan.actions) {
    if (a.type === 'writeStatus') {
      try {
        c.cache.wrote('ApprovalRequest', ar.metadata.resourceVersion, await c.writes.replaceStatus<ApprovalRequest>('ApprovalRequest', name, { ...ar, status: a.status }, namespace));
        if (a.status.phase === 'Expired') c.log.info('approval request expired', { approvalRequest: `${namespace}/${name}`, message: a.status.message });
      } catch (e) {
        if (isNotFound(e)) return DONE;
        if (!isConflict(e)) throw e;
        await refreshApproval(c, namespace, name);
        return retrySoon();
      }
    } else {
      c.recorder.emit(ar, a.eventType, a.reason, a.message);
    }
  }
  // The grant waiting on it reacts to the new phase.
  if (plan.actions.length && ar.spec.type === 'Activation' && ar.spec.grant) c.enqueue(key('AccessGrant', namespace, ar.spec.grant));
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : DONE;
}
