// AuditEvent retention: paged list, no informer (audit records are the largest and
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
    const page = await c.writes.listAuditEvents(c.namespace, PAGE, cont);
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
