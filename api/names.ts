// Deterministic names and label values, so every replica (and the webhook) derives the
// same object names from the same input without coordination. The one home of the
// name rules: bounded object names, ApprovalRequest names, label values.
import { createHash } from 'node:crypto';

/** DNS-1123 labels and label values are at most 63 characters. */
const DNS1123_LABEL_MAX = 63;
const MAX = DNS1123_LABEL_MAX;
const HASH_CHARS = 10;
const FINGERPRINT_CHARS = 16;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export function isDns1123Label(s: string): boolean {
  return s.length <= MAX && DNS1123_LABEL.test(s);
}

/** Whether a string is a valid Kubernetes label value. */
export function isLabelValue(s: string): boolean {
  return s.length <= MAX && LABEL_VALUE.test(s);
}

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
 * The ApprovalRequest name for a held operation: `ar-<agent>-<first 16 hex>`, and for
 * the n-th request of the same operation (slot n > 0) `ar-<agent>-<16 hex>-<n+1>`.
 * Deterministic so every webhook replica holding the same operation agrees on one
 * object (create-if-absent instead of duplicates). A DNS-1123 label (<= 63 chars) for
 * any agent name. The agent part is only for readers; uniqueness comes from the
 * fingerprint (64 bits), which includes the user.
 */
export function approvalRequestName(fp: string, agent: string, slot = 0): string {
  const hex = fp.toLowerCase();
  if (!/^[0-9a-f]{16,}$/.test(hex)) {
    throw new Error(`approvalRequestName: fingerprint must be at least ${FINGERPRINT_CHARS} hex digits`);
  }
  const suffix = hex.slice(0, FINGERPRINT_CHARS) + (slot > 0 ? `-${slot + 1}` : '');
  const room = MAX - 'ar-'.length - '-'.length - suffix.length;
  const agentPart = agent
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, Math.max(0, room))
    .replace(/^-+|-+$/g, '');
  return agentPart ? `ar-${agentPart}-${suffix}` : `ar-${suffix}`;
}

/**
 * Any name as a label value (the one rule for agentgate.io/agent and agentgate.io/grant).
 * Names that are already valid label values are used as they are (the common case, and
 * what `kubectl get -l agentgate.io/grant=NAME` expects); longer or unusual ones (grant
 * and agent names may be 253 characters) become a sanitized prefix plus a hash of the
 * whole name, since label values are limited to 63. Readers that need the exact owner
 * use the ownerReference or the spec; readers that select by label use this function.
 */
export function labelValue(name: string): string {
  if (isLabelValue(name)) return name;
  const hash = sha256(name).slice(0, HASH_CHARS);
  const head = name
    .replace(/[^-A-Za-z0-9_.]+/g, '-')
    .slice(0, MAX - 1 - HASH_CHARS)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}-${hash}` : hash;
}
