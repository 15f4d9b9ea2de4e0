// Where the webhook's audit records go: the audit store (PostgreSQL or PGlite, see
// audit/), committed before the admission answer. The hash chain and group commit live
// in audit/store.ts; this file is the seam admit.ts writes through.
import { createHmac, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
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

/** HMAC of the canonical object: joins records to objects without exposing low-entropy values (Secrets). */
export function objectDigest(canonical: string, key: string): string {
  return createHmac('sha256', secretKey(key)).update(canonical, 'utf8').digest('hex');
}

// Importing a string key costs as much as the HMAC of a small object: once per key.
let lastKey: { text: string; key: KeyObject } | undefined;
function secretKey(text: string): KeyObject {
  if (lastKey?.text !== text) lastKey = { text, key: createSecretKey(text, 'utf8') };
  return lastKey.key;
}

export type { AuditEventSpec };
