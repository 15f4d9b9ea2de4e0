// AuditEvent retention by age. The operator is the only deleter of audit records, and
// deletes only what is older than --audit-retention.
import type { AuditEvent } from '../../api/types.js';

/** The time an event is aged from: spec.time (when the webhook decided), else creation. */
function auditEventTime(e: Pick<AuditEvent, 'metadata' | 'spec'>): number {
  const t = Date.parse(e.spec?.time ?? '');
  if (Number.isFinite(t)) return t;
  return Date.parse(e.metadata.creationTimestamp ?? '');
}

/** Names of events past retention. Events whose age cannot be told are kept. */
export function planAuditRetention(events: ReadonlyArray<Pick<AuditEvent, 'metadata' | 'spec'>>, now: Date, retentionMs: number): string[] {
  const cutoff = now.getTime() - retentionMs;
  return events
    .filter((e) => {
      const t = auditEventTime(e);
      return Number.isFinite(t) && t < cutoff;
    })
    .map((e) => e.metadata.name ?? '')
    .filter(Boolean);
}
