// metav1.Condition bookkeeping, shared by the planners.
import type { Condition } from '../api/types.js';
import { rfc3339 } from '../lib/clock.js';

/** Condition types and reasons are constants: dashboards and the webhook match on them. */
export const CONDITION = {
  Valid: 'Valid',
  Approved: 'Approved',
  Active: 'Active',
  Ready: 'Ready',
} as const;

export const REASON = {
  // Valid
  WithinCeiling: 'WithinCeiling',
  AgentNotFound: 'AgentNotFound',
  AgentSuspended: 'AgentSuspended',
  RoleNotAllowed: 'RoleNotAllowed',
  NamespaceNotAllowed: 'NamespaceNotAllowed',
  DurationExceedsMax: 'DurationExceedsMax',
  InvalidDuration: 'InvalidDuration',
  // Approved
  NotRequired: 'NotRequired',
  AwaitingApproval: 'AwaitingApproval',
  Approved: 'Approved',
  ApprovalDenied: 'ApprovalDenied',
  ApprovalExpired: 'ApprovalExpired',
  // Active
  NotYetValid: 'NotYetValid',
  Activated: 'Activated',
  Expired: 'Expired',
  WindowClosed: 'WindowClosed',
  Revoked: 'Revoked',
  Invalid: 'Invalid',
  Denied: 'Denied',
  GrantDeleted: 'GrantDeleted',
  RoleBindingFailed: 'RoleBindingFailed',
  NamespaceTerminating: 'NamespaceTerminating',
  // Ready (AgentIdentity)
  Ready: 'Ready',
  Suspended: 'Suspended',
} as const;

export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/**
 * Returns conditions with `c` set. lastTransitionTime moves only when the status flips,
 * as metav1.Condition requires, so re-planning an unchanged object yields equal status.
 */
export function setCondition(conditions: readonly Condition[] | undefined, c: ConditionInput, now: Date, generation: number | undefined): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message.slice(0, 32768),
    lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : rfc3339(now),
  };
  if (generation !== undefined) next.observedGeneration = generation;
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}
