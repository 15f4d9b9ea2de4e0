// The ApprovalRequest reconciler: approvers' decisions recorded from the persisted,
// policy-checked stamps (never from an AdmissionReview), expiry by the clock, and waking
// the grant an activation request gates.
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
  // Stamps count only while the policy that makes them unforgeable is in force, and has been
  // since the request had none (its epoch, read fresh and recorded once).
  const stamps =
    ((ar.decisions ?? []).length || !ar.status?.policyEpoch) && (ar.status?.phase ?? 'Pending') === 'Pending'
      ? {
          agent: c.cache.agent(ar.spec.agent),
          policy: await c.approvalPolicy(),
          ...(c.approvalValidityMs !== undefined ? { validityMs: c.approvalValidityMs } : {}),
        }
      : undefined;
  const plan = planApproval(ar, c.clock.now(), stamps);
  for (const a of plan.actions) {
    if (a.type === 'writeStatus') {
      try {
        c.cache.wrote(
          'ApprovalRequest',
          ar.metadata.resourceVersion,
          await c.writes.replaceStatus<ApprovalRequest>('ApprovalRequest', name, { ...ar, status: a.status }, namespace),
        );
        if (a.status.phase === 'Expired') c.log.info('approval request expired', { approvalRequest: `${namespace}/${name}`, message: a.status.message });
        if (
          stamps &&
          ((a.status.approvals ?? []).length !== (ar.status?.approvals ?? []).length || a.status.phase !== ar.status?.phase) &&
          a.status.approvals?.length
        ) {
          c.metrics.approvalsRecorded.inc({ phase: a.status.phase ?? 'Pending' });
          c.log.info('approval recorded', {
            approvalRequest: `${namespace}/${name}`,
            phase: a.status.phase,
            approvers: a.status.approvals.map((x) => `${x.user}:${x.decision}`),
          });
          if ((a.status.phase === 'Approved' || a.status.phase === 'Denied') && ar.metadata.creationTimestamp) {
            c.metrics.approvalWaitSeconds.observe(
              { outcome: a.status.phase },
              Math.max(0, (c.clock.now().getTime() - Date.parse(ar.metadata.creationTimestamp)) / 1000),
            );
          }
        }
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
