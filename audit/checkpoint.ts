// Checkpoints anchor the hash chains outside the database. Every few seconds each writer
// puts (writer, sequence, head hash, time) with an HMAC under a key only agentgate holds
// into a small ConfigMap in etcd. Whoever can rewrite the database (delete the newest
// events, or recompute a whole chain after editing) cannot produce a valid HMAC, so
// `agentgate audit verify` compares the database with the last checkpoint of each writer.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChainHead } from '../lib/audit-chain.js';

export const CHECKPOINT_CONFIGMAP = 'agentgate-audit-checkpoints';
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5_000;

interface Checkpoint {
  writer: string;
  sequence: number;
  hash: string;
  time: string;
  mac: string;
}

/** The checkpoint key, derived from the webhook's secret key (one secret to guard, one to rotate). */
export function checkpointKey(secretKey: string): Buffer {
  return createHmac('sha256', secretKey).update('agentgate audit checkpoint v1', 'utf8').digest();
}

function macOf(c: Omit<Checkpoint, 'mac'>, key: Buffer): string {
  return createHmac('sha256', key).update(`${c.writer}\n${c.sequence}\n${c.hash}\n${c.time}`, 'utf8').digest('hex');
}

export function signCheckpoint(head: ChainHead, time: Date, key: Buffer): Checkpoint {
  const c = { writer: head.writer, sequence: head.sequence, hash: head.hash, time: time.toISOString() };
  return { ...c, mac: macOf(c, key) };
}

export function checkpointValid(c: Checkpoint, key: Buffer): boolean {
  if (typeof c.mac !== 'string' || !/^[0-9a-f]{64}$/.test(c.mac)) return false;
  const want = Buffer.from(macOf(c, key), 'hex');
  return timingSafeEqual(want, Buffer.from(c.mac, 'hex'));
}

/**
 * A day-2 statement, signed like a checkpoint and kept beside it, that one checkpoint's
 * writer is retired: its events are gone on purpose (the checkpoints of another store on
 * a reused cluster, a reinstall with a new database). It covers that checkpoint only: a
 * later checkpoint of the same writer is not covered, so WRITER-DELETED is armed again.
 * Whoever can rewrite the database alone cannot make one: the HMAC needs agentgate's key,
 * and the ConfigMap lives in etcd (RBAC: config/rbac/approver.yaml, agentgate-audit-acknowledger).
 */
interface Acknowledgement {
  writer: string;
  /** The checkpoint acknowledged, as it was when acknowledged. */
  checkpoint: { sequence: number; hash: string; time: string };
  /** Who, as the kube-apiserver authenticated them (SelfSubjectReview). */
  by: string;
  at: string;
  reason: string;
  mac: string;
}

/** Writer ids are [a-z0-9-] (webhook/audit.ts sanitizeWriterId): a dotted key never names a writer. */
const ACKNOWLEDGED_SUFFIX = '.acknowledged';

export function acknowledgementKey(writer: string): string {
  return `${writer}${ACKNOWLEDGED_SUFFIX}`;
}

function acknowledgementMac(a: Omit<Acknowledgement, 'mac'>, key: Buffer): string {
  // A JSON array: unambiguous whatever the reason holds, and never the text a checkpoint's MAC covers.
  const fields = ['acknowledged-retired-writer', a.writer, a.checkpoint.sequence, a.checkpoint.hash, a.checkpoint.time, a.by, a.at, a.reason];
  return createHmac('sha256', key).update(JSON.stringify(fields), 'utf8').digest('hex');
}

function signAcknowledgement(c: Checkpoint, o: { by: string; at: Date; reason: string }, key: Buffer): Acknowledgement {
  const a = { writer: c.writer, checkpoint: { sequence: c.sequence, hash: c.hash, time: c.time }, by: o.by, at: o.at.toISOString(), reason: o.reason };
  return { ...a, mac: acknowledgementMac(a, key) };
}

function acknowledgementValid(a: Acknowledgement, key: Buffer): boolean {
  if (typeof a.mac !== 'string' || !/^[0-9a-f]{64}$/.test(a.mac)) return false;
  return timingSafeEqual(Buffer.from(acknowledgementMac(a, key), 'hex'), Buffer.from(a.mac, 'hex'));
}

function covers(a: Acknowledgement, c: Checkpoint): boolean {
  return a.writer === c.writer && a.checkpoint.sequence === c.sequence && a.checkpoint.hash === c.hash && a.checkpoint.time === c.time;
}

function isAcknowledgement(x: Partial<Acknowledgement>): x is Acknowledgement {
  const c = x.checkpoint;
  return (
    typeof x.writer === 'string' &&
    !!c &&
    Number.isInteger(c.sequence) &&
    typeof c.hash === 'string' &&
    typeof c.time === 'string' &&
    typeof x.by === 'string' &&
    typeof x.at === 'string' &&
    typeof x.reason === 'string'
  );
}

/** ConfigMap data keys must be [-._a-zA-Z0-9]+; writer ids already are. */
export function parseCheckpoints(data: Record<string, string> | undefined): {
  checkpoints: Checkpoint[];
  acknowledgements: Acknowledgement[];
  unreadable: string[];
} {
  const checkpoints: Checkpoint[] = [];
  const acknowledgements: Acknowledgement[] = [];
  const unreadable: string[] = [];
  for (const [k, v] of Object.entries(data ?? {})) {
    try {
      if (k.endsWith(ACKNOWLEDGED_SUFFIX)) {
        const a = JSON.parse(v) as Partial<Acknowledgement>;
        if (!isAcknowledgement(a) || acknowledgementKey(a.writer) !== k) throw new Error('shape');
        acknowledgements.push(a);
        continue;
      }
      const c = JSON.parse(v) as Checkpoint;
      if (typeof c.writer !== 'string' || !Number.isInteger(c.sequence) || typeof c.hash !== 'string' || typeof c.time !== 'string') throw new Error('shape');
      checkpoints.push(c);
    } catch {
      unreadable.push(k);
    }
  }
  return { checkpoints, acknowledgements, unreadable };
}

type CheckpointProblemKind = 'forged-checkpoint' | 'forged-acknowledgement' | 'tail-deleted' | 'recomputed' | 'writer-deleted';

interface CheckpointProblem {
  kind: CheckpointProblemKind;
  writer: string;
  sequence: number;
  message: string;
}

/** A WRITER-DELETED covered by a valid acknowledgement: said by verify, never silently OK. */
export interface AcknowledgedWriter {
  writer: string;
  sequence: number;
  by: string;
  at: string;
  reason: string;
  message: string;
}

/** What the database holds for a writer at the checkpoint's sequence, and its last sequence. */
export interface WriterState {
  writer: string;
  last: number;
  /** Hash of the event at the checkpoint's sequence, when it is still stored. */
  hashAt: (sequence: number) => string | undefined;
  /** Lowest sequence still stored (retention removes the oldest). */
  first: number;
}

/**
 * Compares each valid checkpoint with the stored chain. The chain check (lib/audit-chain)
 * covers what lies between stored events; this covers the tail and wholesale rewrites.
 */
export function verifyCheckpoints(
  checkpoints: readonly Checkpoint[],
  writers: ReadonlyMap<string, WriterState>,
  key: Buffer,
  acknowledgements: readonly Acknowledgement[] = [],
): { problems: CheckpointProblem[]; acknowledged: AcknowledgedWriter[] } {
  const problems: CheckpointProblem[] = [];
  const acknowledged: AcknowledgedWriter[] = [];
  const acks = new Map<string, Acknowledgement>();
  for (const a of acknowledgements) {
    if (acknowledgementValid(a, key)) acks.set(a.writer, a);
    else
      problems.push({
        kind: 'forged-acknowledgement',
        writer: a.writer,
        sequence: a.checkpoint.sequence,
        message: `the acknowledgement that writer ${a.writer} is retired (by ${a.by} at ${a.at}) has no valid HMAC: it was not made with agentgate's key (agentgate audit acknowledge); delete the key ${acknowledgementKey(a.writer)} from ConfigMap ${CHECKPOINT_CONFIGMAP} and find out who wrote it`,
      });
  }
  for (const c of checkpoints) {
    if (!checkpointValid(c, key)) {
      problems.push({
        kind: 'forged-checkpoint',
        writer: c.writer,
        sequence: c.sequence,
        message: `the checkpoint of writer ${c.writer} (sequence ${c.sequence}) has no valid HMAC: it was not written by agentgate`,
      });
      continue;
    }
    if (c.sequence === 0) continue;
    const w = writers.get(c.writer);
    if (!w) {
      const ack = acks.get(c.writer);
      if (ack && covers(ack, c)) {
        acknowledged.push({
          writer: c.writer,
          sequence: c.sequence,
          by: ack.by,
          at: ack.at,
          reason: ack.reason,
          message: `writer ${c.writer}: the store holds no event of this writer, whose checkpoint of ${c.time} anchors sequence ${c.sequence}; acknowledged as retired by ${ack.by} at ${ack.at}: ${ack.reason}`,
        });
        continue;
      }
      const stale = ack
        ? ` (the acknowledgement by ${ack.by} at ${ack.at} covers its checkpoint of ${ack.checkpoint.time}, sequence ${ack.checkpoint.sequence}, not this later one)`
        : '';
      problems.push({
        kind: 'writer-deleted',
        writer: c.writer,
        sequence: c.sequence,
        message:
          `writer ${c.writer}: the checkpoint of ${c.time} anchors sequence ${c.sequence}, but the store holds no event of this writer (all deleted)${stale}; ` +
          `if this writer is retired on purpose (another store's checkpoints on a reused cluster, a reinstall with a new database), say so: agentgate audit acknowledge --writer ${c.writer} --reason "..."`,
      });
      continue;
    }
    if (w.last < c.sequence) {
      problems.push({
        kind: 'tail-deleted',
        writer: c.writer,
        sequence: w.last + 1,
        message: `writer ${c.writer}: events sequence ${w.last + 1}..${c.sequence} are missing (the newest were deleted): the checkpoint of ${c.time} anchors sequence ${c.sequence}, the store ends at ${w.last}`,
      });
      continue;
    }
    if (c.sequence < w.first) continue; // retention removed the anchored event; later checkpoints cover the rest
    const stored = w.hashAt(c.sequence);
    if (stored !== undefined && stored !== c.hash) {
      problems.push({
        kind: 'recomputed',
        writer: c.writer,
        sequence: c.sequence,
        message: `writer ${c.writer}: event sequence ${c.sequence} does not have the hash its checkpoint of ${c.time} anchored: the chain was rewritten (recomputed) up to there`,
      });
    }
  }
  return { problems, acknowledged };
}

/**
 * The ConfigMap entry that acknowledges writer's newest checkpoint as retired, after the
 * checks that make it safe, in order; each refusal names the field and the fix.
 */
export function acknowledgeRetiredWriter(o: {
  data: Record<string, string> | undefined;
  writer: string;
  reason: string;
  /** Whether the store still holds events of the writer. */
  hasEvents: boolean;
  by: string;
  at: Date;
  key: Buffer;
}): { key: string; value: string } {
  if (!o.writer.trim()) throw new Error('--writer is required: the writer that agentgate audit verify reports as WRITER-DELETED');
  if (!o.reason.trim())
    throw new Error("--reason is required: why this writer's events are gone (kept beside the checkpoint, shown by agentgate audit verify)");
  const { checkpoints } = parseCheckpoints(o.data);
  const c = checkpoints.find((x) => x.writer === o.writer);
  if (!c) {
    const known = checkpoints.map((x) => x.writer).sort();
    throw new Error(
      `--writer ${o.writer}: ConfigMap ${CHECKPOINT_CONFIGMAP} holds no checkpoint of this writer, so there is nothing to acknowledge (writers with checkpoints: ${known.join(', ') || 'none'})`,
    );
  }
  if (!checkpointValid(c, o.key))
    throw new Error(
      `--writer ${o.writer}: its checkpoint has no valid HMAC (FORGED-CHECKPOINT): it was not written by agentgate and is not acknowledged; delete the key ${o.writer} from ConfigMap ${CHECKPOINT_CONFIGMAP} and find out who wrote it`,
    );
  if (c.sequence === 0)
    throw new Error(
      `--writer ${o.writer}: its checkpoint anchors no event (sequence 0), so audit verify reports nothing for it and there is nothing to acknowledge`,
    );
  if (o.hasEvents)
    throw new Error(
      `--writer ${o.writer}: the store still holds events of this writer, so it is not retired; only a writer with no event left (WRITER-DELETED) can be acknowledged`,
    );
  return { key: acknowledgementKey(o.writer), value: JSON.stringify(signAcknowledgement(c, { by: o.by, at: o.at, reason: o.reason.trim() }, o.key)) };
}
