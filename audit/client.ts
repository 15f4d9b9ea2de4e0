// Reading the record as a client (the CLI): AuditEvents through the aggregated API, and
// the verification of chains plus checkpoints.
import * as k8s from '@kubernetes/client-node';
import type { AuditEvent } from '../api/types.js';
import { AUDIT_GROUP, VERSION } from '../api/types.js';
import { verifyChain } from '../lib/audit-chain.js';
import type { VerifyResult } from '../lib/audit-chain.js';
import { isNotFound } from '../lib/kube.js';
import { acknowledgeRetiredWriter, CHECKPOINT_CONFIGMAP, checkpointKey, parseCheckpoints, verifyCheckpoints } from './checkpoint.js';
import type { AcknowledgedWriter, WriterState } from './checkpoint.js';

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
  /** Writers with no event left whose newest checkpoint a valid acknowledgement covers. */
  acknowledged: AcknowledgedWriter[];
}

/** The Role (config/rbac/approver.yaml) that may acknowledge a retired writer: bound to no one by default. */
export const ACKNOWLEDGER_ROLE = 'agentgate-audit-acknowledger';

/** Where agentgate's key lives: the webhook's Secret and its data key. */
interface KeySecret {
  secretName: string;
  secretKey: string;
}

async function readCheckpoints(core: k8s.CoreV1Api, namespace: string): Promise<Record<string, string> | undefined> {
  try {
    return (await core.readNamespacedConfigMap({ name: CHECKPOINT_CONFIGMAP, namespace })).data;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return undefined;
  }
}

/** The checkpoint key from agentgate's Secret; undefined when it is absent or not readable by this user. */
async function readCheckpointKey(core: k8s.CoreV1Api, namespace: string, s: KeySecret): Promise<Buffer | undefined> {
  try {
    const secret = await core.readNamespacedSecret({ name: s.secretName, namespace });
    const raw = secret.data?.[s.secretKey];
    return raw ? checkpointKey(Buffer.from(raw, 'base64').toString('utf8')) : undefined;
  } catch (err) {
    if (isNotFound(err) || (err as { code?: number }).code === 403) return undefined;
    throw err;
  }
}

/**
 * Chains, then checkpoints: reads the checkpoint ConfigMap and agentgate's key (the
 * webhook Secret; an administrator's right) to catch a deleted tail or a recomputed chain.
 */
export async function verifyRecord(
  kc: k8s.KubeConfig,
  namespace: string,
  events: readonly AuditEvent[],
  opts: { partial: boolean } & KeySecret,
): Promise<RecordVerification> {
  const chain = verifyChain(events);
  if (opts.partial) return { ...chain, checkpoints: 'skipped-selector', acknowledged: [] };
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const { checkpoints, acknowledgements } = parseCheckpoints(await readCheckpoints(core, namespace));
  if (!checkpoints.length) return { ...chain, checkpoints: 'none', acknowledged: [] };
  const key = await readCheckpointKey(core, namespace, opts);
  if (!key) return { ...chain, checkpoints: 'no-key', acknowledged: [] };
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
  const found = verifyCheckpoints(checkpoints, writers, key, acknowledgements);
  const problems = found.problems.map((p) => ({ kind: p.kind, writer: p.writer, sequence: p.sequence, message: p.message }));
  return {
    ...chain,
    ok: chain.ok && problems.length === 0,
    problems: [...chain.problems, ...problems],
    checkpoints: 'verified',
    acknowledged: found.acknowledged,
  };
}

/**
 * Records, signed and beside the checkpoint, that writer is retired (audit/checkpoint.ts
 * acknowledgeRetiredWriter). Needs agentgate's key and patch on the checkpoint ConfigMap:
 * the Role ACKNOWLEDGER_ROLE.
 */
export async function acknowledgeWriter(
  kc: k8s.KubeConfig,
  namespace: string,
  o: { writer: string; reason: string; by: string; at: Date } & KeySecret,
): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const data = await readCheckpoints(core, namespace);
  const key = await readCheckpointKey(core, namespace, o);
  if (!key)
    throw new Error(
      `cannot read agentgate's key (Secret ${namespace}/${o.secretName}, key ${o.secretKey}) to sign the acknowledgement: bind the Role ${ACKNOWLEDGER_ROLE} (config/rbac/approver.yaml) to whoever may retire writers`,
    );
  const page = (await kc.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({
    group: AUDIT_GROUP,
    version: VERSION,
    namespace,
    plural: 'auditevents',
    labelSelector: `agentgate.io/writer=${o.writer}`,
    limit: 1,
  })) as { items: unknown[] };
  const entry = acknowledgeRetiredWriter({ data, writer: o.writer, reason: o.reason, hasEvents: page.items.length > 0, by: o.by, at: o.at, key });
  await core.patchNamespacedConfigMap(
    { name: CHECKPOINT_CONFIGMAP, namespace, body: { data: { [entry.key]: entry.value } }, fieldManager: 'agentgate-audit-acknowledge' },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}
