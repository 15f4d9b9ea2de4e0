// Admission warnings for an agent's allowed calls: kubectl prints them ("Warning: ..."),
// client libraries hand them to a warning handler, so an agent learns that its window is
// closing before a call fails, and that an approval it waited for has been used up.
import type { AccessGrant } from '../api/types.js';
import { EXPIRY_WARNING_FRACTION, EXPIRY_WARNING_MAX_MS, WARNING_APPROVED, WARNING_EXPIRES } from '../api/reasons.js';
import { formatDuration } from '../lib/clock.js';

/** How close to its end a window counts as late: its last quarter, at most the last 10 minutes. */
export function expiryWarningThresholdMs(windowMs: number): number {
  if (!Number.isFinite(windowMs) || windowMs <= 0) return EXPIRY_WARNING_MAX_MS;
  return Math.min(EXPIRY_WARNING_MAX_MS, windowMs * EXPIRY_WARNING_FRACTION);
}

/** "agentgate: grant payments/x expires in 3m12s (...)" when the grant's window is late, else undefined. */
export function expiryWarning(grant: AccessGrant, now: Date): string | undefined {
  const expiresAt = grant.status?.expiresAt;
  const end = Date.parse(expiresAt ?? '');
  if (Number.isNaN(end)) return undefined;
  const left = end - now.getTime();
  if (left <= 0) return undefined;
  const start = Date.parse(grant.status?.activatedAt ?? '');
  if (left > expiryWarningThresholdMs(Number.isNaN(start) ? NaN : end - start)) return undefined;
  const ref = `${grant.metadata.namespace ?? ''}/${grant.metadata.name ?? ''}`;
  return `${WARNING_EXPIRES}${ref} expires in ${formatDuration(left)} (at ${expiresAt}); request a new grant to continue after that`;
}

/** The warning of a call that went through on an approval, which it used up. */
export function approvalWarning(approvalRequestRef: string, approvedBy: string): string {
  return `${WARNING_APPROVED}${approvalRequestRef} (${approvedBy}); the approval is used up, the same call needs a new approval next time`;
}
