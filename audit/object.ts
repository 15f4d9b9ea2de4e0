// A stored event as the Kubernetes object the aggregated API serves.
import { hash } from 'node:crypto';
import { AUDIT_API_VERSION, LABEL_AGENT, LABEL_DECISION, LABEL_MANAGED_BY, LABEL_OUTCOME, LABEL_SOURCE, LABEL_WRITER, MANAGED_BY } from '../api/types.js';
import type { AuditEvent } from '../api/types.js';
import type { StoredEvent, SummaryEvent } from './store.js';

/** A stable UID from the name (the same record always has the same UID). */
function uidOf(name: string): string {
  // The one-shot hash: a list serves hundreds of these, and createHash's objects cost more than the digest.
  const h = hash('sha256', `audit.agentgate.io/${name}`, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Label values are at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric. */
function labelValue(v: string): string {
  return v
    .slice(0, 63)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** RFC 3339 in UTC with optional fractional seconds: its whole seconds are its first 19 characters. */
const UTC_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;

/** The event's time to the whole second, as metadata.creationTimestamp (Kubernetes' format). */
function creationTimestamp(time: string): string {
  // Stored times are UTC (Z), so truncating the text is the common case: no Date per row.
  if (UTC_TIME.test(time)) return `${time.slice(0, 19)}Z`;
  return new Date(Math.floor(Date.parse(time) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The served object of an event; of a summary, an object whose spec has only the summary's fields. */
export function toObject<E extends StoredEvent | SummaryEvent>(e: E, namespace: string): Omit<AuditEvent, 'spec'> & { spec: E['spec'] } {
  const labels: Record<string, string> = {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_WRITER]: labelValue(e.spec.chain.writer),
    [LABEL_DECISION]: e.spec.decision,
    [LABEL_OUTCOME]: e.outcome,
    [LABEL_SOURCE]: e.source,
  };
  if (e.spec.agent) labels[LABEL_AGENT] = labelValue(e.spec.agent);
  return {
    apiVersion: AUDIT_API_VERSION,
    kind: 'AuditEvent',
    metadata: {
      name: e.name,
      namespace,
      uid: uidOf(e.name),
      resourceVersion: e.rv,
      creationTimestamp: creationTimestamp(e.spec.time),
      labels,
    },
    spec: e.spec,
    status: { outcome: e.outcome, source: e.source, ...(e.code !== undefined ? { code: e.code } : {}) },
  };
}
