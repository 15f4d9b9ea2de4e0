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

/** ConfigMap data keys must be [-._a-zA-Z0-9]+; writer ids already are. */
export function parseCheckpoints(data: Record<string, string> | undefined): { checkpoints: Checkpoint[]; unreadable: string[] } {
  const checkpoints: Checkpoint[] = [];
  const unreadable: string[] = [];
  for (const [k, v] of Object.entries(data ?? {})) {
    try {
      const c = JSON.parse(v) as Checkpoint;
      if (typeof c.writer !== 'string' || !Number.isInteger(c.sequence) || typeof c.hash !== 'string' || typeof c.time !== 'string') throw new Error('shape');
      checkpoints.push(c);
    } catch {
      unreadable.push(k);
    }
  }
  return { checkpoints, unreadable };
}

type CheckpointProblemKind = 'forged-checkpoint' | 'tail-deleted' | 'recomputed' | 'writer-deleted';

interface CheckpointProblem {
  kind: CheckpointProblemKind;
  writer: string;
  sequence: number;
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
export function verifyCheckpoints(checkpoints: readonly Checkpoint[], writers: ReadonlyMap<string, WriterState>, key: Buffer): CheckpointProblem[] {
  const problems: CheckpointProblem[] = [];
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
      problems.push({
        kind: 'writer-deleted',
        writer: c.writer,
        sequence: c.sequence,
        message: `writer ${c.writer}: the checkpoint of ${c.time} anchors sequence ${c.sequence}, but the store holds no event of this writer (all deleted)`,
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
  return problems;
}
