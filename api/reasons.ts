// The machine-readable contract of agentgate's answers to agents: the metav1.Status
// `reason` of every refused call, the `details.causes` types that carry structured facts,
// and the warning prefixes of allowed calls. Stable API: agents match on these strings,
// so values are never renamed, only added. The webhook (webhook/response.ts) writes them;
// `agentgate mcp`'s explain tool (cli/mcp/explain.ts) reads them. README "For agent
// authors" documents them.

/** metav1.Status.reason of a call agentgate refused. */
export const REASON = {
  /** Held: a rule requires a human's approval of this exact call; details name the ApprovalRequest. Retry after approval. */
  ApprovalRequired: 'AgentgateApprovalRequired',
  /** An approver denied this exact call; details name the ApprovalRequest. Retrying is refused until it expires. */
  ApprovalDenied: 'AgentgateApprovalDenied',
  /** A rule with action Deny matched; causes name the rules. */
  RuleDenied: 'AgentgateRuleDenied',
  /** No active grant of the agent covers the call (none in the namespace, not yet active, or its role does not allow it). */
  NotCovered: 'AgentgateNotCovered',
  /** The grant that covered such calls has expired (by the clock; its RoleBinding may linger a moment). */
  GrantExpired: 'AgentgateGrantExpired',
  /** Never allowed to agents: cluster-scoped objects, agentgate's namespace and objects, agentgate's RoleBindings. */
  OutOfScope: 'AgentgateOutOfScope',
  /** The agent's own request for access (an AccessGrant) does not fit its ceiling. */
  RequestRefused: 'AgentgateRequestRefused',
  /** The AgentIdentity is suspended: every call is refused. */
  AgentSuspended: 'AgentgateAgentSuspended',
  /** More than one AgentIdentity claims the caller: every call is refused until that is fixed. */
  AmbiguousIdentity: 'AgentgateAmbiguousIdentity',
  /** agentgate could not record the call or store/use an approval: fail closed, retry later. HTTP 503. */
  Unavailable: 'AgentgateUnavailable',
} as const;
export type AgentgateReason = (typeof REASON)[keyof typeof REASON];
const AGENTGATE_REASONS: readonly AgentgateReason[] = Object.values(REASON);

export function isAgentgateReason(value: unknown): value is AgentgateReason {
  return typeof value === 'string' && (AGENTGATE_REASONS as readonly string[]).includes(value);
}

/**
 * metav1.StatusCause.reason values agentgate puts in details.causes. Each cause's
 * `message` is a machine-readable value (a name), never prose; `field` says where it
 * belongs when that is a field.
 */
export const CAUSE = {
  /** message: the namespace of the object named in details (field: metadata.namespace). */
  Namespace: 'AgentgateNamespace',
  /** message: the AgentIdentity the caller maps to. */
  Agent: 'AgentgateAgent',
  /** message: namespace/name of a grant involved in the decision. */
  Grant: 'AgentgateGrant',
  /** message: the name of a rule that matched. */
  Rule: 'AgentgateRule',
  /** message: an RFC 3339 time at which the situation changes (ApprovalRequest expiry, grant activation). */
  Until: 'AgentgateUntil',
} as const;

/** Seconds an agent should wait before retrying a held call (or use the MCP `wait` tool). */
export const HELD_RETRY_AFTER_SECONDS = 10;
/** Seconds before retrying when agentgate could not record or store (HTTP 503; client-go retries by itself). */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** Every warning agentgate adds to an allowed call starts with this. */
const WARNING_PREFIX = 'agentgate: ';
/** An allowed call late in its grant's window: "agentgate: grant payments/x expires in 3m12s (at ...)". */
export const WARNING_EXPIRES = `${WARNING_PREFIX}grant `;
/** An allowed call that used an approval: "agentgate: allowed once by ApprovalRequest payments/x ...". */
export const WARNING_APPROVED = `${WARNING_PREFIX}allowed once by ApprovalRequest `;

/** A window is "late" in its last quarter, but never warned earlier than 10 minutes before its end. */
export const EXPIRY_WARNING_MAX_MS = 10 * 60_000;
export const EXPIRY_WARNING_FRACTION = 0.25;
