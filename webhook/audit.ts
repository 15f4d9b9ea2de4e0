// Where the webhook's audit records go: the audit store (PostgreSQL or PGlite, see
// audit/), committed before the admission answer. The hash chain and group commit live
// in audit/store.ts; this file is the seam admit.ts writes through.
import { hash } from 'node:crypto';
import type { AuditEventSpec } from '../api/types.js';
import type { UnchainedSpec } from '../lib/audit-chain.js';
import type { AuditStore } from '../audit/store.js';

export interface AuditSink {
  /** Resolves with the event's name once it is committed; rejects if it could not be. */
  write(spec: UnchainedSpec): Promise<string>;
}

/** A sink that stores nothing (benchmarks: "audit write stubbed"). */
export class NullAuditSink implements AuditSink {
  private n = 0;
  async write(): Promise<string> {
    return `null-${++this.n}`;
  }
}

/** A writer id usable as a label value and inside object names. */
export function sanitizeWriterId(raw: string): string {
  const s = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/g, '');
  return s || 'webhook';
}

/** Writes into the audit store; a store that is down makes write reject (and the agent's call is denied). */
export class StoreAuditSink implements AuditSink {
  constructor(private readonly store: AuditStore) {}
  async write(spec: UnchainedSpec): Promise<string> {
    try {
      return (await this.store.append(spec)).name;
    } catch (err) {
      throw new Error(`the audit database is unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** HMAC-SHA256 of the canonical object: joins records to objects without exposing low-entropy values (Secrets). */
export function objectDigest(canonical: string, key: string): string {
  // RFC 2104 from two one-shot hashes over pads derived once per key: createHmac builds a
  // JS object per call that costs more than hashing a small object (every agent call
  // records one). The unit test holds it equal to createHmac.
  // Both messages are laid out in one scratch buffer (the hashes are synchronous, so no
  // other call can touch it meanwhile): no Buffer per call for the pads and the text.
  const p = padsFor(key);
  const n = Buffer.byteLength(canonical, 'utf8');
  if (scratch.length < SHA256_BLOCK + n) scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, SHA256_BLOCK + n));
  p.inner.copy(scratch, 0);
  scratch.write(canonical, SHA256_BLOCK, 'utf8');
  const inner = hash('sha256', scratch.subarray(0, SHA256_BLOCK + n), 'buffer');
  p.outer.copy(scratch, 0);
  inner.copy(scratch, SHA256_BLOCK);
  const digest = hash('sha256', scratch.subarray(0, SHA256_BLOCK + inner.length), 'hex');
  // The object's text (a Secret's, say) does not stay behind in the buffer, nor a large buffer.
  scratch.fill(0, 0, SHA256_BLOCK + n);
  if (scratch.length > MAX_KEPT_SCRATCH) scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);
  return digest;
}

const INITIAL_SCRATCH = 4096;
const MAX_KEPT_SCRATCH = 64 * 1024;
let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);

const SHA256_BLOCK = 64;
let lastPads: { text: string; inner: Buffer; outer: Buffer } | undefined;
function padsFor(text: string): { inner: Buffer; outer: Buffer } {
  if (lastPads?.text === text) return lastPads;
  let k = Buffer.from(text, 'utf8');
  if (k.length > SHA256_BLOCK) k = hash('sha256', k, 'buffer');
  const inner = Buffer.alloc(SHA256_BLOCK, 0x36);
  const outer = Buffer.alloc(SHA256_BLOCK, 0x5c);
  for (let i = 0; i < k.length; i++) {
    inner[i]! ^= k[i]!;
    outer[i]! ^= k[i]!;
  }
  lastPads = { text, inner, outer };
  return lastPads;
}

export type { AuditEventSpec };
