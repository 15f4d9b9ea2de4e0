// What the MCP tools return about agentgate objects: small, stable JSON views (the
// structuredContent of each tool), built purely from the objects and a time.
import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../../api/types.js';
import { effectivePhase } from '../../lib/approval.js';
import { DEFAULT_RULES } from '../../webhook/rules/catalogue.js';

export interface GrantView {
  name: string;
  namespace: string;
  agent: string;
  role: string;
  phase: string;
  reason: string;
  ticket?: string;
  duration?: string;
  activatedAt?: string;
  expiresAt?: string;
  secondsLeft?: number;
  approvalRequest?: string;
  message?: string;
}

interface DecisionView {
  user: string;
  decision: 'Approved' | 'Denied';
  time: string;
}

interface ApprovalView {
  name: string;
  namespace: string;
  agent: string;
  type: string;
  phase: string;
  summary: string;
  grant?: string;
  matchedRules: string[];
  expiresAt: string;
  approvedBy: string[];
  deniedBy: string[];
  decisions: DecisionView[];
  validUntil?: string;
  message?: string;
  createdAt?: string;
}

interface RuleView {
  name: string;
  action: string;
  source: 'default' | 'agent';
  expression: string;
  message?: string;
}

interface CeilingView {
  allowedRoles: string[];
  allowedNamespaces: { names: string[]; selector?: Record<string, unknown> };
  maxDuration: string;
}

interface IdentityView {
  name: string;
  displayName?: string;
  suspended: boolean;
  ceiling: CeilingView;
  approvers: { users: string[]; groups: string[] };
  requiredApprovals: number;
}

const roleText = (r: { kind: string; name: string }): string => `${r.kind}/${r.name}`;

export function grantView(g: AccessGrant, now: Date): GrantView {
  const phase = g.status?.phase ?? 'Pending';
  const v: GrantView = {
    name: g.metadata.name ?? '',
    namespace: g.metadata.namespace ?? '',
    agent: g.spec.agent,
    role: roleText(g.spec.roleRef),
    phase,
    reason: g.spec.reason,
  };
  if (g.spec.ticket) v.ticket = g.spec.ticket;
  if (g.spec.duration) v.duration = g.spec.duration;
  if (g.status?.activatedAt) v.activatedAt = g.status.activatedAt;
  if (g.status?.expiresAt) {
    v.expiresAt = g.status.expiresAt;
    if (phase === 'Active') v.secondsLeft = Math.max(0, Math.floor((Date.parse(g.status.expiresAt) - now.getTime()) / 1000));
  }
  if (g.status?.approvalRequest) v.approvalRequest = g.status.approvalRequest;
  const why = (g.status?.conditions ?? []).find((c) => c.status === 'False')?.message;
  if (why) v.message = why;
  return v;
}

export function approvalView(ar: ApprovalRequest, now: Date): ApprovalView {
  const decisions = (ar.status?.approvals ?? []).map((a) => ({ user: a.user, decision: a.decision, time: a.time }));
  const v: ApprovalView = {
    name: ar.metadata.name ?? '',
    namespace: ar.metadata.namespace ?? '',
    agent: ar.spec.agent,
    type: ar.spec.type,
    phase: effectivePhase(ar, now),
    summary: ar.spec.summary ?? '',
    matchedRules: [...(ar.spec.matchedRules ?? [])],
    expiresAt: ar.spec.expiresAt,
    approvedBy: [...new Set(decisions.filter((d) => d.decision === 'Approved').map((d) => d.user))],
    deniedBy: [...new Set(decisions.filter((d) => d.decision === 'Denied').map((d) => d.user))],
    decisions,
  };
  if (ar.spec.grant) v.grant = ar.spec.grant;
  if (ar.status?.validUntil) v.validUntil = ar.status.validUntil;
  if (ar.status?.message) v.message = ar.status.message;
  if (ar.metadata.creationTimestamp) v.createdAt = ar.metadata.creationTimestamp;
  return v;
}

export function identityView(a: AgentIdentity): IdentityView {
  const selector = a.spec.allowedNamespaces.selector;
  const v: IdentityView = {
    name: a.metadata.name ?? '',
    suspended: a.spec.suspended === true,
    ceiling: {
      allowedRoles: a.spec.allowedRoles.map(roleText),
      allowedNamespaces: { names: [...(a.spec.allowedNamespaces.names ?? [])], ...(selector ? { selector: selector as Record<string, unknown> } : {}) },
      maxDuration: a.spec.maxDuration,
    },
    approvers: { users: [...(a.spec.approvers?.users ?? [])], groups: [...(a.spec.approvers?.groups ?? [])] },
    requiredApprovals: a.spec.requiredApprovals ?? 1,
  };
  if (a.spec.displayName) v.displayName = a.spec.displayName;
  return v;
}

/** The rules that apply to every call of the agent: the defaults it keeps, then its own. */
export function rulesView(a: AgentIdentity | undefined): RuleView[] {
  const own = a?.spec.approvalRules ?? [];
  const disabled = new Set([...(a?.spec.disabledDefaultRules ?? []), ...own.map((r) => r.name)]);
  const defaults: RuleView[] = DEFAULT_RULES.filter((r) => !disabled.has(r.name)).map((r) => ({
    name: r.name,
    action: r.action,
    source: 'default',
    expression: r.expression,
    ...(r.message ? { message: r.message } : {}),
  }));
  return [
    ...defaults,
    ...own.map((r): RuleView => ({ name: r.name, action: r.action, source: 'agent', expression: r.expression, ...(r.message ? { message: r.message } : {}) })),
  ];
}
