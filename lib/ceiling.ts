// The grant ceiling: whether an AccessGrant fits its agent's AgentIdentity, as one
// ordered chain of named checks (cert-manager's policies.Chain). Every caller runs the
// same chain: the operator takes the first problem (a condition has one reason), the
// webhook reports them all (one denial that lists every field to fix). Pure.

import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { formatDuration, parseDuration } from './clock.js';
import { describeSelector, selectorMatches } from './selector.js';

export interface CeilingInput {
  grant: AccessGrant;
  agent: AgentIdentity;
  /** The labels of the grant's Namespace; undefined when the Namespace is not known (a selector cannot match). */
  namespaceLabels: Record<string, string> | undefined;
  /** agentgate's own namespace: grants there would let the agent reach agentgate itself. */
  agentgateNamespace?: string;
  /** A notAfter window without notBefore or creationTimestamp (a grant being created) starts now. */
  now: Date;
}

/** Why a grant is outside its ceiling; `reason` is the Valid condition's reason, `message` names the field and the limit. */
interface CeilingProblem {
  check: string;
  reason: CeilingReason;
  message: string;
}

export const CEILING_REASON = {
  NamespaceNotAllowed: 'NamespaceNotAllowed',
  RoleNotAllowed: 'RoleNotAllowed',
  InvalidDuration: 'InvalidDuration',
  DurationExceedsMax: 'DurationExceedsMax',
} as const;
type CeilingReason = (typeof CEILING_REASON)[keyof typeof CEILING_REASON];

interface CeilingCheck {
  name: string;
  check(input: CeilingInput): Omit<CeilingProblem, 'check'> | undefined;
}

const roleKey = (r: { kind: string; name: string }): string => `${r.kind}/${r.name}`;

/** Whether the agent's ceiling allows this namespace; a selector needs the Namespace's labels. */
export function namespaceAllowed(agent: AgentIdentity, namespace: string, namespaceLabels: Record<string, string> | undefined): boolean {
  const allowed = agent.spec.allowedNamespaces ?? {};
  if ((allowed.names ?? []).includes(namespace)) return true;
  return allowed.selector !== undefined && namespaceLabels !== undefined && selectorMatches(allowed.selector, namespaceLabels);
}

export function roleAllowed(agent: AgentIdentity, roleRef: { kind: string; name: string }): boolean {
  return (agent.spec.allowedRoles ?? []).some((r) => roleKey(r) === roleKey(roleRef));
}

const notAgentgateNamespace: CeilingCheck = {
  name: 'NotAgentgateNamespace',
  check: ({ grant, agentgateNamespace }) =>
    agentgateNamespace !== undefined && grant.metadata.namespace === agentgateNamespace
      ? {
          reason: CEILING_REASON.NamespaceNotAllowed,
          message: `metadata.namespace: grants in ${agentgateNamespace} would let the agent reach agentgate itself; use the workload's namespace`,
        }
      : undefined,
};

const allowedNamespace: CeilingCheck = {
  name: 'AllowedNamespace',
  check: ({ grant, agent, namespaceLabels }) => {
    const ns = grant.metadata.namespace ?? '';
    if (namespaceAllowed(agent, ns, namespaceLabels)) return undefined;
    const an = agent.spec.allowedNamespaces ?? {};
    const limits: string[] = [];
    if (an.names) limits.push(`names [${an.names.join(', ')}]`);
    if (an.selector) limits.push(`selector ${describeSelector(an.selector) || '(empty)'}`);
    return {
      reason: CEILING_REASON.NamespaceNotAllowed,
      message: `metadata.namespace: ${ns} is not in AgentIdentity ${agent.metadata.name ?? ''}'s spec.allowedNamespaces (${limits.join('; ') || 'none'})`,
    };
  },
};

const allowedRole: CeilingCheck = {
  name: 'AllowedRole',
  check: ({ grant, agent }) =>
    roleAllowed(agent, grant.spec.roleRef)
      ? undefined
      : {
          reason: CEILING_REASON.RoleNotAllowed,
          message: `spec.roleRef: ${roleKey(grant.spec.roleRef)} is not in AgentIdentity ${agent.metadata.name ?? ''}'s spec.allowedRoles [${(agent.spec.allowedRoles ?? []).map(roleKey).join(', ')}]`,
        },
};

const maxDurationValid: CeilingCheck = {
  name: 'MaxDurationValid',
  check: ({ agent }) =>
    parseDuration(agent.spec.maxDuration) === undefined
      ? {
          reason: CEILING_REASON.InvalidDuration,
          message: `AgentIdentity ${agent.metadata.name ?? ''}'s spec.maxDuration ${JSON.stringify(agent.spec.maxDuration)} is not a duration such as 30m or 8h`,
        }
      : undefined,
};

const windowWithinMax: CeilingCheck = {
  name: 'WindowWithinMaxDuration',
  check: ({ grant, agent, now }) => {
    const maxMs = parseDuration(agent.spec.maxDuration);
    const limit = `AgentIdentity ${agent.metadata.name ?? ''}'s spec.maxDuration ${agent.spec.maxDuration}`;
    if (grant.spec.duration !== undefined) {
      const ms = parseDuration(grant.spec.duration);
      if (ms === undefined || ms <= 0)
        return { reason: CEILING_REASON.InvalidDuration, message: `spec.duration: ${grant.spec.duration} is not a positive duration, e.g. 30m` };
      if (maxMs !== undefined && ms > maxMs)
        return { reason: CEILING_REASON.DurationExceedsMax, message: `spec.duration: ${grant.spec.duration} exceeds ${limit}` };
      return undefined;
    }
    if (grant.spec.notAfter === undefined) return { reason: CEILING_REASON.InvalidDuration, message: 'spec.duration or spec.notAfter is required' };
    // The longest window a notAfter grant can open runs from notBefore, else from its
    // creation, and a grant being created (no creationTimestamp yet) is created now.
    const from = grant.spec.notBefore ?? grant.metadata.creationTimestamp;
    const fromMs = from !== undefined ? Date.parse(from) : now.getTime();
    const toMs = Date.parse(grant.spec.notAfter);
    if (!Number.isFinite(toMs)) return { reason: CEILING_REASON.InvalidDuration, message: `spec.notAfter: ${grant.spec.notAfter} is not an RFC 3339 time` };
    if (maxMs !== undefined && Number.isFinite(fromMs) && toMs - fromMs > maxMs) {
      const start = grant.spec.notBefore !== undefined ? 'spec.notBefore' : 'creation';
      return {
        reason: CEILING_REASON.DurationExceedsMax,
        message: `spec.notAfter: the window of ${formatDuration(toMs - fromMs)} from ${start} exceeds ${limit}`,
      };
    }
    return undefined;
  },
};

/** The ceiling, in the order a person fixes it: where, what, how long. */
export const CEILING_CHECKS: readonly CeilingCheck[] = [notAgentgateNamespace, allowedNamespace, allowedRole, maxDurationValid, windowWithinMax];

/** Every problem (the webhook's answer lists them all). */
export function ceilingProblems(input: CeilingInput, checks: readonly CeilingCheck[] = CEILING_CHECKS): CeilingProblem[] {
  const out: CeilingProblem[] = [];
  for (const c of checks) {
    const p = c.check(input);
    if (p) out.push({ check: c.name, ...p });
  }
  return out;
}

/** The first problem, or undefined when the grant fits (the operator's condition has one reason). */
export function firstCeilingProblem(input: CeilingInput, checks: readonly CeilingCheck[] = CEILING_CHECKS): CeilingProblem | undefined {
  for (const c of checks) {
    const p = c.check(input);
    if (p) return { check: c.name, ...p };
  }
  return undefined;
}
