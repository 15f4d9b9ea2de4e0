// Marks ApprovalRequests confirmed by the kube-apiserver's own audit log: the sink (and the
// CloudWatch reader) hand over settled records of calls that named an ApprovalRequest, and
// this writes what they prove (lib/approval-confirm.ts) into the request's status.
//
// Who writes what: the webhook process writes status.consumedAt/consumedBy/consumption
// (admission: provisional; here: confirmed) and status.origin; the operator writes the
// rest. Every write is a replace at the read resourceVersion, so a concurrent operator
// write makes this read again rather than lose either.
//
// A failed write is logged and dropped, never retried through the apiserver: the records
// are already settled, so a replayed batch would not bring them back. What it leaves is
// the fail-closed state: an origin or a consumption that still says Unconfirmed.
import type { ApprovalRequest } from '../../api/types.js';
import { approvalRequestRef, confirmedStatus } from '../../lib/approval-confirm.js';
import type { SettledApprovalCall } from '../../lib/approval-confirm.js';
import { errorMessage, writeWithConflictRetry } from '../../lib/kube.js';
import type { Logger } from '../../lib/log.js';

/** The two ApprovalRequest calls this needs (webhook/admit.ts KubeApprovalStore has them). */
interface ApprovalStatusStore {
  get(namespace: string, name: string): Promise<ApprovalRequest | undefined>;
  replaceStatus(ar: ApprovalRequest): Promise<ApprovalRequest>;
}

interface ConfirmDeps {
  approvals: ApprovalStatusStore;
  /** The informer's copy: when it already shows everything a call proves, no read is made (a held call retried every few seconds). */
  cached?: (namespace: string, name: string) => ApprovalRequest | undefined;
  log: Logger;
}

const CONFLICT_ROUNDS = 4;

/** Writes what each call confirms; returns how many status writes it made. */
export async function confirmApprovalCalls(calls: readonly SettledApprovalCall[], deps: ConfirmDeps): Promise<number> {
  let writes = 0;
  // One request at a time, in order: two calls of one request in a batch must not race each other.
  for (const call of calls) {
    const ref = approvalRequestRef(call.approvalRequest);
    if (!ref) continue;
    const cached = deps.cached?.(ref.namespace, ref.name);
    if (cached && !confirmedStatus(cached, call)) continue;
    try {
      const { written } = await writeWithConflictRetry(
        undefined,
        () => deps.approvals.get(ref.namespace, ref.name),
        (ar) => {
          const status = confirmedStatus(ar, call);
          return status && { ...ar, status };
        },
        (next) => deps.approvals.replaceStatus(next),
        CONFLICT_ROUNDS,
      );
      if (written) {
        writes++;
        deps.log.info('approval request confirmed by the apiserver audit log', {
          approvalRequest: call.approvalRequest,
          origin: written.status?.origin,
          consumption: written.status?.consumption,
          auditEvent: call.record,
        });
      }
    } catch (err) {
      deps.log.error('cannot mark the approval request confirmed; it stays Unconfirmed', {
        approvalRequest: call.approvalRequest,
        auditEvent: call.record,
        error: errorMessage(err),
      });
    }
  }
  return writes;
}
