// The JSON schemas of agentgate's MCP tools (zod, which the SDK turns into JSON Schema
// for tools/list and uses to validate arguments and structured results). Inputs are
// strict, so a misspelt field is an error that names it rather than a silent default.
import * as z from 'zod';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/** The message for a missing field and for one of the wrong type. */
const typed = (field: string, what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `${field} is required: ${what}` : `${field} must be ${what}`;

const namespace = z
  .string({ error: typed('namespace', 'a string: the Kubernetes namespace, e.g. "payments"') })
  .regex(DNS_LABEL, { error: 'namespace must be a Kubernetes namespace name (lower-case letters, digits and "-"), e.g. "payments"' })
  .describe('Kubernetes namespace');
const objectName = (what: string) =>
  z
    .string({ error: `${what} must be a string: the object's name` })
    .min(1, { error: `${what} must not be empty` })
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: `${what} must be a Kubernetes object name (lower-case letters, digits, "-" and ".")` });

// ---------------------------------------------------------------------------------
// inputs

export const whoamiInput = z.strictObject({});

export const requestAccessInput = z.strictObject({
  role: z
    .string({ error: typed('role', 'a string: one of your allowedRoles (whoami lists them), e.g. "agentgate-edit"') })
    .min(1, { error: 'role must not be empty' })
    .describe("The role to bind, one of the agent's allowedRoles (whoami lists them), e.g. agentgate-edit"),
  roleKind: z
    .enum(['ClusterRole', 'Role'], { error: 'roleKind must be "ClusterRole" (default) or "Role"' })
    .optional()
    .describe('ClusterRole (default) or a Role in the namespace'),
  namespace,
  duration: z
    .string({ error: typed('duration', 'a string: a Go duration such as "30m" or "2h", at most your maxDuration') })
    .regex(GO_DURATION, { error: 'duration must be a Go duration such as "30m" or "2h" (units ns, us, ms, s, m, h)' })
    .describe("How long the window stays open, a Go duration (e.g. 30m); at most the agent's maxDuration"),
  reason: z
    .string({ error: typed('reason', 'a string: why you need the access (approvers read it; it is recorded)') })
    .trim()
    .min(1, { error: 'reason must say why you need the access' })
    .max(1024)
    .describe('Why the access is needed; approvers read it and it is recorded'),
  ticket: z.string().max(256).optional().describe('A change or incident ticket, e.g. CHG-2041'),
  name: objectName('name').optional().describe('The grant name (default: generated from the agent name)'),
});

export const waitInput = z
  .strictObject({
    grant: objectName('grant').optional().describe('Wait for this AccessGrant to become Active (or Denied, Invalid, Expired, Revoked)'),
    approvalRequest: objectName('approvalRequest').optional().describe('Wait for this ApprovalRequest to be Approved or Denied (or to expire)'),
    namespace,
    timeoutSeconds: z
      .number({ error: 'timeoutSeconds must be a number of seconds' })
      .int({ error: 'timeoutSeconds must be a whole number of seconds' })
      .min(1, { error: 'timeoutSeconds must be at least 1' })
      .max(3600, { error: 'timeoutSeconds must be at most 3600; call wait again to keep waiting' })
      .optional()
      .describe('How long to wait (default 50 s, below common client request timeouts; progress notifications are sent every few seconds)'),
  })
  .refine((v) => (v.grant === undefined) !== (v.approvalRequest === undefined), {
    error: 'give exactly one of grant or approvalRequest',
    path: ['grant'],
  });

const statusCause = z.object({ reason: z.string().optional(), message: z.string().optional(), field: z.string().optional() });
const statusShape = z.object({
  kind: z.string().optional(),
  apiVersion: z.string().optional(),
  status: z.string().optional(),
  code: z.number().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  details: z
    .object({
      name: z.string().optional(),
      group: z.string().optional(),
      kind: z.string().optional(),
      uid: z.string().optional(),
      causes: z.array(statusCause).optional(),
      retryAfterSeconds: z.number().optional(),
    })
    .optional(),
});

export const explainInput = z
  .strictObject({
    message: z
      .string()
      .max(20_000)
      .optional()
      .describe('The refused call\'s error text, e.g. what kubectl printed ("Error from server (AgentgateApprovalRequired): ...")'),
    status: statusShape.optional().describe('The metav1.Status the Kubernetes client returned for the refused call'),
    approvalRequest: objectName('approvalRequest').optional().describe('An ApprovalRequest name to explain instead'),
    namespace: namespace.optional().describe('Namespace of the ApprovalRequest or of the refused call'),
  })
  .refine((v) => v.message !== undefined || v.status !== undefined || v.approvalRequest !== undefined, {
    error: 'give message (the error text), status (the metav1.Status) or approvalRequest (a name)',
    path: ['message'],
  });

export const myRequestsInput = z.strictObject({
  namespace: namespace.optional().describe('Only this namespace (default: every namespace you may read)'),
  sinceSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86400)
    .optional()
    .describe('Only requests and grants created this recently (default 86400: one day)'),
});

// ---------------------------------------------------------------------------------
// outputs

const grantView = z.object({
  name: z.string(),
  namespace: z.string(),
  agent: z.string(),
  role: z.string(),
  phase: z.string(),
  reason: z.string(),
  ticket: z.string().optional(),
  duration: z.string().optional(),
  activatedAt: z.string().optional(),
  expiresAt: z.string().optional(),
  secondsLeft: z.number().optional(),
  approvalRequest: z.string().optional(),
  message: z.string().optional(),
});

const approvalView = z.object({
  name: z.string(),
  namespace: z.string(),
  agent: z.string(),
  type: z.string(),
  phase: z.string(),
  summary: z.string(),
  grant: z.string().optional(),
  matchedRules: z.array(z.string()),
  expiresAt: z.string(),
  approvedBy: z.array(z.string()),
  deniedBy: z.array(z.string()),
  decisions: z.array(z.object({ user: z.string(), decision: z.enum(['Approved', 'Denied']), time: z.string() })),
  validUntil: z.string().optional(),
  message: z.string().optional(),
  createdAt: z.string().optional(),
});

const ruleView = z.object({
  name: z.string(),
  action: z.string(),
  source: z.enum(['default', 'agent']),
  expression: z.string(),
  message: z.string().optional(),
});

const identityView = z.object({
  name: z.string(),
  displayName: z.string().optional(),
  suspended: z.boolean(),
  ceiling: z.object({
    allowedRoles: z.array(z.string()),
    allowedNamespaces: z.object({ names: z.array(z.string()), selector: z.record(z.string(), z.unknown()).optional() }),
    maxDuration: z.string(),
  }),
  approvers: z.object({ users: z.array(z.string()), groups: z.array(z.string()) }),
  requiredApprovals: z.number(),
});

const approversView = z.object({ users: z.array(z.string()), groups: z.array(z.string()), required: z.number(), approvedSoFar: z.array(z.string()) });

export const whoamiOutput = z.object({
  user: z.string(),
  groups: z.array(z.string()),
  agent: z.string().nullable().describe('The AgentIdentity this identity maps to, or null'),
  identity: identityView.optional(),
  grants: z.array(grantView),
  activeGrants: z.number(),
  approvalRules: z.array(ruleView).describe('The rules that apply to every call: RequireApproval holds a call for a human, Deny refuses it, Allow exempts it'),
  notes: z.array(z.string()),
});

export const requestAccessOutput = z.object({
  grant: grantView,
  approvalRequest: z
    .object({ name: z.string(), namespace: z.string() })
    .optional()
    .describe('The ApprovalRequest that gates activation; pass it (or the grant) to wait'),
  next: z.string(),
});

export const waitOutput = z.object({
  target: z.object({ kind: z.enum(['AccessGrant', 'ApprovalRequest']), name: z.string(), namespace: z.string() }),
  outcome: z.enum(['Active', 'Approved', 'Denied', 'Invalid', 'Expired', 'Revoked', 'Consumed', 'TimedOut', 'Cancelled']),
  phase: z.string(),
  waitedSeconds: z.number(),
  grant: grantView.optional(),
  approvalRequest: approvalView.optional(),
  deniedBy: z.array(z.string()).optional().describe('Who denied, as the apiserver authenticated them'),
  why: z.string().optional().describe('Why the grant or request ended as it did'),
  next: z.string(),
});

export const explainOutput = z.object({
  refusal: z.enum([
    'NoIdentity',
    'AmbiguousIdentity',
    'Suspended',
    'NotCovered',
    'Expired',
    'OutOfScope',
    'RequestRefused',
    'RuleHeld',
    'ApprovalDenied',
    'RuleDenied',
    'Unavailable',
    'Unknown',
  ]),
  control: z.enum(['identity', 'scope', 'timing', 'approval', 'record', 'unknown']),
  refusedBy: z.enum(['agentgate', 'rbac', 'unknown']),
  reason: z.string().optional().describe('The metav1.Status reason (api/reasons.ts), when agentgate refused'),
  summary: z.string(),
  agent: z.string().optional(),
  namespace: z.string().optional(),
  rules: z.array(z.string()),
  approvalRequest: approvalView.optional(),
  grant: grantView.optional(),
  approvers: approversView.optional().describe('Who may approve (any one of the users, or a member of a group), and how many distinct approvals are needed'),
  retryAfterSeconds: z.number().optional(),
  letThrough: z
    .array(z.object({ step: z.string(), tool: z.string().optional(), arguments: z.record(z.string(), z.unknown()).optional() }))
    .describe('What would let the call through, in order'),
});

export const myRequestsOutput = z.object({
  agent: z.string().nullable(),
  approvalRequests: z.array(approvalView),
  grants: z.array(grantView),
  unreadableNamespaces: z.array(z.string()),
});

export type WhoamiResult = z.infer<typeof whoamiOutput>;
export type RequestAccessResult = z.infer<typeof requestAccessOutput>;
export type WaitResult = z.infer<typeof waitOutput>;
export type ExplainResult = z.infer<typeof explainOutput>;
export type MyRequestsResult = z.infer<typeof myRequestsOutput>;
export type WaitArgs = z.infer<typeof waitInput>;
export type RequestAccessArgs = z.infer<typeof requestAccessInput>;
export type ExplainArgs = z.infer<typeof explainInput>;
export type MyRequestsArgs = z.infer<typeof myRequestsInput>;
