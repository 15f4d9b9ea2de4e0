// The kube-apiserver's audit webhook backend (batch mode) posts audit.k8s.io/v1
// EventLists here. Two things come out of them:
// - the join: an agent's mutation that agentgate's webhook recorded carries the record's
//   name in the audit annotation `<webhook>/audit-event`; its ResponseComplete event says
//   what the apiserver did, so the record turns Completed (2xx) or Failed (other code).
// - the holes admission cannot see: an agent's reads (get/list/watch) and the calls RBAC
//   refused (403 before admission) become records of their own, source apiserver.
// The backend retries batches (and the CloudWatch reader, audit/cloudwatch.ts, reads
// overlapping windows), so both are idempotent: settle only moves Admitted records, and an
// apiserver record is keyed by its auditID.
// - what the join confirms about ApprovalRequests: settled records of calls that named one
//   go to onApprovalCalls (audit/apiserver/confirm.ts marks its origin and the use of its
//   approval confirmed).
import type { AgentIdentity } from '../../api/types.js';
import type { UnchainedSpec } from '../../lib/audit-chain.js';
import type { UserInfo } from '../../lib/admission.js';
import type { SettledApprovalCall } from '../../lib/approval-confirm.js';
import type { AuditStore } from '../store.js';

export const AUDIT_EVENT_ANNOTATION = 'audit-event';

/** The fields of audit.k8s.io/v1 Event this reads. */
export interface ApiserverAuditEvent {
  auditID?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  user?: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
  impersonatedUser?: { username?: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string; subresource?: string };
  responseStatus?: { code?: number; reason?: string; message?: string };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  annotations?: Record<string, string>;
}

export interface SinkResult {
  settled: number;
  recorded: number;
  ignored: number;
}

/** The admission record an event joins, from its `<webhook>/audit-event` annotation. */
function joinedRecord(e: ApiserverAuditEvent): string | undefined {
  for (const [k, v] of Object.entries(e.annotations ?? {})) if (k === AUDIT_EVENT_ANNOTATION || k.endsWith(`/${AUDIT_EVENT_ANNOTATION}`)) return v;
  return undefined;
}

/** The record of a call admission never saw (a read, or a call RBAC refused). */
function apiserverRecord(e: ApiserverAuditEvent, agent: string): UnchainedSpec {
  const code = e.responseStatus?.code ?? 0;
  const o = e.objectRef ?? {};
  const verb = (e.verb ?? '').toUpperCase();
  // Refused: unauthenticated, forbidden (RBAC), or a verb the resource does not allow (405).
  const denied = code === 401 || code === 403 || code === 405;
  const what = `${(e.verb ?? '').toLowerCase()} ${o.subresource ? `${o.resource}/${o.subresource}` : (o.resource ?? e.requestURI ?? '')}${o.apiGroup ? `.${o.apiGroup}` : ''}${o.name ? ` ${o.name}` : ''}`;
  const spec: UnchainedSpec = {
    time: e.stageTimestamp ?? e.requestReceivedTimestamp ?? new Date().toISOString(),
    agent,
    user: e.user?.username ?? '',
    operation: verb,
    group: o.apiGroup ?? '',
    version: o.apiVersion ?? '',
    resource: o.resource ?? '',
    decision: denied ? 'Denied' : 'Allowed',
    reason: denied
      ? `refused by the apiserver (${code}${e.responseStatus?.reason ? ` ${e.responseStatus.reason}` : ''}) before admission: ${what}${e.responseStatus?.message ? `: ${e.responseStatus.message.slice(0, 500)}` : ''}`
      : `${what}: answered ${code} by the apiserver (reads are bounded by RBAC, not admission)`,
    requestUID: e.auditID ?? '',
  };
  if (e.user?.groups?.length) spec.groups = [...e.user.groups];
  if (o.subresource) spec.subresource = o.subresource;
  if (o.namespace) spec.namespace = o.namespace;
  if (o.name) spec.name = o.name;
  return spec;
}

function userOf(e: ApiserverAuditEvent): UserInfo {
  return { username: e.user?.username ?? '', groups: e.user?.groups ?? [], ...(e.user?.extra ? { extra: e.user.extra } : {}) };
}

/**
 * Processes one EventList. agentFor maps a user to its AgentIdentity (the audit policy
 * already selects agents' identities; this is the authority, so a broader policy
 * records nothing extra).
 */
export async function ingest(
  store: AuditStore,
  events: readonly ApiserverAuditEvent[],
  agentFor: (user: UserInfo) => AgentIdentity | undefined,
  onApprovalCalls?: (calls: SettledApprovalCall[]) => Promise<void>,
): Promise<SinkResult> {
  const result: SinkResult = { settled: 0, recorded: 0, ignored: 0 };
  const joins: { name: string; code: number }[] = [];
  const fresh: { e: ApiserverAuditEvent; agent: string }[] = [];
  const freshIds = new Set<string>();
  for (const e of events) {
    if (e.stage !== 'ResponseComplete' && e.stage !== 'Panic') {
      result.ignored++;
      continue;
    }
    const code = e.responseStatus?.code ?? (e.stage === 'Panic' ? 500 : 0);
    const joined = joinedRecord(e);
    if (joined) {
      joins.push({ name: joined, code });
      continue;
    }
    const agent = agentFor(userOf(e));
    // The same event twice in one list (a log read over overlapping windows) is one record.
    if (!agent || !e.auditID || freshIds.has(e.auditID)) {
      result.ignored++;
      continue;
    }
    freshIds.add(e.auditID);
    fresh.push({ e, agent: agent.metadata.name! });
  }
  if (joins.length) {
    const settled = await store.settle(joins);
    result.settled = settled.count;
    if (settled.approvalCalls.length && onApprovalCalls) await onApprovalCalls(settled.approvalCalls);
  }
  const known = await store.knownApiserverIds(fresh.map((f) => f.e.auditID!));
  await Promise.all(
    fresh
      .filter((f) => !known.has(f.e.auditID!))
      .map(async (f) => {
        await store.append(apiserverRecord(f.e, f.agent), { source: 'apiserver', outcome: 'Recorded', code: f.e.responseStatus?.code ?? 0 });
        result.recorded++;
      }),
  );
  return result;
}
