// Writes shared by several reconcilers.
import type { ApprovalRequest } from '../../api/types.js';
import { isConflict, isNotFound } from '../../lib/kube.js';
import type { ReconcileContext } from './context.js';

/**
 * Deletes a RoleBinding (with a uid precondition when given). Gone already is what we
 * wanted; 'conflict' means a newer binding of the same name, which the caller re-plans.
 */
export async function deleteBinding(
  c: Pick<ReconcileContext, 'writes' | 'metrics'>,
  namespace: string,
  name: string,
  uid?: string,
): Promise<'deleted' | 'gone' | 'conflict'> {
  try {
    await c.writes.deleteRoleBinding(namespace, name, uid);
    c.metrics.rolebindingOps.inc({ op: 'delete' });
    return 'deleted';
  } catch (e) {
    if (isNotFound(e)) return 'gone';
    if (isConflict(e)) return 'conflict';
    throw e;
  }
}

/** Re-reads an ApprovalRequest after a lost race, so the next pass plans from the newer copy. */
export async function refreshApproval(c: Pick<ReconcileContext, 'writes' | 'cache'>, namespace: string, name: string): Promise<void> {
  try {
    c.cache.refreshed('ApprovalRequest', await c.writes.get<ApprovalRequest>('ApprovalRequest', name, namespace));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
