// The hash chain that makes AuditEvents tamper-evident.
//
// Each webhook writer numbers its events 1, 2, 3, ... and stores in each the hash of
// the one before. Editing an event changes its hash (and breaks the next event's link);
// deleting one leaves a gap in the sequence. Retention deletes the *oldest* events, so a
// chain may legitimately start above 1; anything missing after the first surviving event
// is reported. Deleting the newest events, or recomputing a whole chain, cannot be seen
// from the chain alone: the checkpoints in etcd (audit/checkpoint.ts) catch those.
//
// Pure (no I/O) so the webhook, the operator and `agentgate audit verify` share it.

import { createHash } from 'node:crypto';
import type { AuditEventSpec } from '../api/types.js';
import { stableStringify } from './fingerprint.js';

export const GENESIS_HASH = '0'.repeat(64);

type ChainLink = AuditEventSpec['chain'];
/** An event's spec without the hash it is about to get. */
export type UnchainedSpec = Omit<AuditEventSpec, 'chain'>;

/** SHA-256 over previousHash and the canonical spec (chain included, except its own hash). */
export function eventHash(spec: UnchainedSpec & { chain: Omit<ChainLink, 'hash'> & { hash?: string } }): string {
  const { hash: _ignored, ...link } = spec.chain;
  const content = stableStringify({ ...spec, chain: link });
  return createHash('sha256').update(link.previousHash, 'utf8').update('\n', 'utf8').update(content, 'utf8').digest('hex');
}

/** Where a writer's chain stands: the last event it wrote. */
export interface ChainHead {
  writer: string;
  sequence: number;
  hash: string;
}

export function emptyHead(writer: string): ChainHead {
  return { writer, sequence: 0, hash: GENESIS_HASH };
}

/** The next event after head: returns the chained spec and the new head. */
export function appendEvent(head: ChainHead, spec: UnchainedSpec): { spec: AuditEventSpec; head: ChainHead } {
  const link = { writer: head.writer, sequence: head.sequence + 1, previousHash: head.hash };
  const hash = eventHash({ ...spec, chain: link });
  return { spec: { ...spec, chain: { ...link, hash } }, head: { writer: head.writer, sequence: link.sequence, hash } };
}

/** The head a writer resumes from, given the events it wrote before (e.g. after a restart). */
export function recoverHead(writer: string, events: readonly { spec?: AuditEventSpec }[]): ChainHead {
  let head = emptyHead(writer);
  for (const e of events) {
    const c = e.spec?.chain;
    if (c && c.writer === writer && c.sequence > head.sequence) head = { writer, sequence: c.sequence, hash: c.hash };
  }
  return head;
}

/** The last five come from checkpoints (audit/checkpoint.ts), which anchor the chain's head outside the store. */
type ChainProblemKind =
  | 'altered'
  | 'missing'
  | 'broken-link'
  | 'duplicate'
  | 'malformed'
  | 'tail-deleted'
  | 'recomputed'
  | 'forged-checkpoint'
  | 'forged-acknowledgement'
  | 'writer-deleted';

interface ChainProblem {
  kind: ChainProblemKind;
  writer: string;
  /** The sequence number(s) concerned. For 'missing': the first and last missing. */
  sequence: number;
  lastSequence?: number;
  /** The object name of the event concerned (for 'missing': the event after the gap). */
  event?: string;
  message: string;
}

interface WriterSummary {
  writer: string;
  first: number;
  last: number;
  count: number;
  /** True when the earliest surviving event is not sequence 1 (retention removed the older ones). */
  pruned: boolean;
}

export interface VerifyResult {
  ok: boolean;
  problems: ChainProblem[];
  writers: WriterSummary[];
}

interface VerifiableEvent {
  metadata?: { name?: string };
  spec?: AuditEventSpec;
}

/**
 * Verifies every writer's chain: each event's hash matches its content, each link names
 * the previous event's hash, and no sequence number is missing after the first
 * surviving event. Problems name the event (object name and sequence).
 */
export function verifyChain(events: readonly VerifiableEvent[]): VerifyResult {
  const problems: ChainProblem[] = [];
  const byWriter = new Map<string, { name: string; spec: AuditEventSpec }[]>();
  for (const e of events) {
    const name = e.metadata?.name ?? '<unnamed>';
    const c = e.spec?.chain;
    if (!e.spec || !c || typeof c.writer !== 'string' || !Number.isInteger(c.sequence) || typeof c.hash !== 'string' || typeof c.previousHash !== 'string') {
      problems.push({ kind: 'malformed', writer: c?.writer ?? '', sequence: c?.sequence ?? 0, event: name, message: `event ${name} has no valid spec.chain` });
      continue;
    }
    const list = byWriter.get(c.writer) ?? [];
    list.push({ name, spec: e.spec });
    byWriter.set(c.writer, list);
  }

  const writers: WriterSummary[] = [];
  for (const [writer, list] of [...byWriter.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort((a, b) => a.spec.chain.sequence - b.spec.chain.sequence);
    let prev: { name: string; spec: AuditEventSpec } | undefined;
    for (const cur of list) {
      const c = cur.spec.chain;
      const recomputed = eventHash(cur.spec);
      if (recomputed !== c.hash) {
        problems.push({
          kind: 'altered',
          writer,
          sequence: c.sequence,
          event: cur.name,
          message: `event ${cur.name} (writer ${writer}, sequence ${c.sequence}) was altered: its content no longer matches its hash`,
        });
      }
      if (prev) {
        const p = prev.spec.chain;
        if (c.sequence === p.sequence) {
          problems.push({
            kind: 'duplicate',
            writer,
            sequence: c.sequence,
            event: cur.name,
            message: `events ${prev.name} and ${cur.name} both claim writer ${writer} sequence ${c.sequence}`,
          });
        } else if (c.sequence > p.sequence + 1) {
          const first = p.sequence + 1;
          const last = c.sequence - 1;
          problems.push({
            kind: 'missing',
            writer,
            sequence: first,
            lastSequence: last,
            event: cur.name,
            message: `writer ${writer}: ${first === last ? `event sequence ${first} is` : `events sequence ${first}..${last} are`} missing (deleted) between ${prev.name} and ${cur.name}`,
          });
        } else if (c.previousHash !== p.hash) {
          problems.push({
            kind: 'broken-link',
            writer,
            sequence: c.sequence,
            event: cur.name,
            message: `event ${cur.name} (writer ${writer}, sequence ${c.sequence}) does not link to ${prev.name}: previousHash differs (one of them was altered or replaced)`,
          });
        }
      } else if (c.sequence === 1 && c.previousHash !== GENESIS_HASH) {
        problems.push({
          kind: 'broken-link',
          writer,
          sequence: 1,
          event: cur.name,
          message: `event ${cur.name} starts writer ${writer}'s chain but does not link to the genesis hash`,
        });
      }
      prev = cur;
    }
    const first = list[0]!.spec.chain.sequence;
    writers.push({ writer, first, last: prev!.spec.chain.sequence, count: list.length, pruned: first > 1 });
  }
  return { ok: problems.length === 0, problems, writers };
}
