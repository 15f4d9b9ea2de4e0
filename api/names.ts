// Deterministic names and label values, so every replica (and the webhook) derives the
// same object names from a grant without coordination.
import { createHash } from 'node:crypto';
import { stableStringify } from '../lib/fingerprint.js';
import type { AccessGrant } from './types.js';

const MAX = 63;
const HASH_CHARS = 10;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * prefix + name when that fits in 63 characters; otherwise a truncated name plus a hash
 * of the whole name, so two long names sharing a prefix never collide. 63 keeps the
 * result valid as a DNS-1123 label and as a label value.
 */
export function boundedName(prefix: string, name: string, max = MAX): string {
  const full = `${prefix}${name}`;
  if (full.length <= max) return full;
  const hash = sha256(name).slice(0, HASH_CHARS);
  const room = max - prefix.length - 1 - HASH_CHARS;
  const head = name.slice(0, Math.max(0, room)).replace(/[^a-z0-9]+$/, '');
  return head ? `${prefix}${head}-${hash}` : `${prefix}${hash}`;
}

/** The one RoleBinding of an Active grant: agentgate-<grant>. */
export const roleBindingName = (grant: string): string => boundedName('agentgate-', grant);

/** The ApprovalRequest that gates a grant's activation: activate-<grant>. */
export const activationRequestName = (grant: string): string => boundedName('activate-', grant);

/**
 * An object name as a label value. Names up to 63 characters are used as they are (the
 * common case, and what `kubectl get -l agentgate.io/grant=NAME` expects); longer ones
 * (grant and agent names may be 253) are truncated and hashed, since label values are
 * limited to 63. Readers that need the exact owner use the ownerReference.
 */
export function labelValue(name: string): string {
  if (name.length <= MAX) return name;
  const v = boundedName('', name);
  // Label values must start and end alphanumeric; boundedName ends with hex.
  return v.replace(/^[^a-z0-9A-Z]+/, '');
}

/**
 * The fingerprint an activation ApprovalRequest carries: sha256 hex over the grant's uid
 * and canonical spec. Binding the approval to the uid means a grant deleted and
 * recreated under the same name never inherits the old approval.
 */
export function activationFingerprint(grant: Pick<AccessGrant, 'metadata' | 'spec'>): string {
  return sha256(stableStringify({ uid: grant.metadata.uid ?? '', spec: grant.spec }));
}
