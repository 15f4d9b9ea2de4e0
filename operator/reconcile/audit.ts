// Legacy AuditEvent custom resources (agentgate.io), written before the audit store
// (audit/) took the record out of etcd: the webhook imports them once, and until the
// CRD is deleted this keeps their retention. Without the CRD (every new install) there
// is nothing to do.
//
// Retention: paged list, no informer (audit records are the largest and
// coldest set, so they are never cached); the sweep period bounds how long an expired
// record outlives retention.
import { isNotFound } from '../../lib/kube.js';
import { planAuditRetention } from '../plan/audit.js';
import { DONE, type ReconcileContext, type Result } from './context.js';

const PAGE = 500;

export async function reconcileAuditRetention(c: ReconcileContext): Promise<Result> {
  let cont: string | undefined;
  let deleted = 0;
  do {
    let page: Awaited<ReturnType<typeof c.writes.listAuditEvents>>;
    try {
      page = await c.writes.listAuditEvents(c.namespace, PAGE, cont);
    } catch (e) {
      if (isNotFound(e)) return DONE;
      throw e;
    }
    const names = planAuditRetention(page.items, c.clock.now(), c.auditRetentionMs);
    await Promise.all(
      names.map(async (n) => {
        try {
          await c.writes.delete('AuditEvent', n, c.namespace);
          deleted++;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }),
    );
    cont = page.continue;
  } while (cont);
  if (deleted) c.log.info('audit retention: deleted old AuditEvents', { deleted, retentionMs: c.auditRetentionMs });
  return DONE;
}
