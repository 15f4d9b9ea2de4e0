// Reading the record as a client (the CLI): AuditEvents through the aggregated API, and
// the verification of chains plus checkpoints.
import * as k8s from '@kubernetes/client-node';
import type { AuditEvent } from '../api/types.js';
import { AUDIT_GROUP, VERSION } from '../api/types.js';
import { verifyChain } from '../lib/audit-chain.js';
import type { VerifyResult } from '../lib/audit-chain.js';
import { isNotFound } from '../lib/kube.js';
import { CHECKPOINT_CONFIGMAP, checkpointKey, parseCheckpoints, verifyCheckpoints } from './checkpoint.js';
import type { WriterState } from './checkpoint.js';

interface AuditQuery {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Every AuditEvent matching the query, paged (500 a page), oldest first. */
export async function listAuditEvents(kc: k8s.KubeConfig, namespace: string, q: AuditQuery = {}): Promise<AuditEvent[]> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const out: AuditEvent[] = [];
  let cont: string | undefined;
  do {
    const page = (await api.listNamespacedCustomObject({
      group: AUDIT_GROUP,
      version: VERSION,
      namespace,
      plural: 'auditevents',
      limit: 500,
      ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
      ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
      ...(cont ? { _continue: cont } : {}),
    })) as { items: AuditEvent[]; metadata?: { continue?: string } };
    out.push(...page.items);
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

interface RecordVerification extends VerifyResult {
  /** Whether checkpoints were compared (they need the whole record and agentgate's key). */
  checkpoints: 'verified' | 'skipped-selector' | 'none' | 'no-key';
}

/**
 * Chains, then checkpoints: reads the checkpoint ConfigMap and agentgate's key (the
 * webhook Secret; an administrator's right) to catch a deleted tail or a recomputed chain.
 */
export async function verifyRecord(
  kc: k8s.KubeConfig,
  namespace: string,
  events: readonly AuditEvent[],
  opts: { partial: boolean; secretName: string; secretKey: string },
): Promise<RecordVerification> {
  const chain = verifyChain(events);
  if (opts.partial) return { ...chain, checkpoints: 'skipped-selector' };
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let data: Record<string, string> | undefined;
  try {
    data = (await core.readNamespacedConfigMap({ name: CHECKPOINT_CONFIGMAP, namespace })).data;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const { checkpoints } = parseCheckpoints(data);
  if (!checkpoints.length) return { ...chain, checkpoints: 'none' };
  let key: Buffer;
  try {
    const secret = await core.readNamespacedSecret({ name: opts.secretName, namespace });
    const raw = secret.data?.[opts.secretKey];
    if (!raw) return { ...chain, checkpoints: 'no-key' };
    key = checkpointKey(Buffer.from(raw, 'base64').toString('utf8'));
  } catch (err) {
    if (isNotFound(err) || (err as { code?: number }).code === 403) return { ...chain, checkpoints: 'no-key' };
    throw err;
  }
  const writers = new Map<string, WriterState>();
  const byWriter = new Map<string, Map<number, string>>();
  for (const e of events) {
    const c = e.spec?.chain;
    if (!c) continue;
    const m = byWriter.get(c.writer) ?? new Map<number, string>();
    m.set(c.sequence, c.hash);
    byWriter.set(c.writer, m);
  }
  for (const [writer, m] of byWriter) {
    const seqs = [...m.keys()];
    writers.set(writer, { writer, first: Math.min(...seqs), last: Math.max(...seqs), hashAt: (s) => m.get(s) });
  }
  const problems = verifyCheckpoints(checkpoints, writers, key).map((p) => ({ kind: p.kind, writer: p.writer, sequence: p.sequence, message: p.message }));
  return { ...chain, ok: chain.ok && problems.length === 0, problems: [...chain.problems, ...problems], checkpoints: 'verified' };
}
