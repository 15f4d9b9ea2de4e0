// Pure builders and formatters for the CLI: no I/O here, so every output is unit-tested.
import type { AccessGrant, AgentIdentity, ApprovalRequest, AuditEvent } from '../api/types.js';
import { API_VERSION } from '../api/types.js';
import { formatErrors, validateObject } from '../api/validate.js';
import type { FieldError } from '../api/validate.js';
import type { AgentReport, BoundaryReport, Finding } from '../boundary/types.js';
import { countFindings } from '../boundary/verify.js';
import { originUnconfirmed } from '../lib/approval-confirm.js';
import { formatDuration, parseDuration } from '../lib/clock.js';
import type { VerifyResult } from '../lib/audit-chain.js';
import type { AcknowledgedWriter } from '../audit/checkpoint.js';
import { KEY_SECRET } from '../webhook/tls.js';
import { UsageError } from './args.js';

// ---------------------------------------------------------------------------------
// Tables

/** kubectl-style columns: upper-case headers, padded with three spaces. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** "in 5m" / "3m ago" relative to now. */
export function relative(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = t - now.getTime();
  return d >= 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
}

// ---------------------------------------------------------------------------------
// verify

function findingLines(f: Finding): string[] {
  return [`  ${f.severity.toUpperCase().padEnd(8)}  ${f.route}${f.object ? `  ${f.object}` : ''}`, `            ${f.message}`, `            fix: ${f.fix}`];
}

function agentSummary(a: AgentReport): string {
  const c = countFindings(a.findings);
  if (!a.findings.length) return `agent ${a.agent}: boundary verified, no findings (${a.reviews} access reviews)`;
  const counts = [c.Critical ? `${c.Critical} critical` : '', c.Warning ? `${c.Warning} warning${c.Warning > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ');
  return `agent ${a.agent}: ${a.verified ? 'boundary verified with' : 'BOUNDARY NOT VERIFIED:'} ${counts} (${a.reviews} access reviews)`;
}

export function formatReport(report: BoundaryReport): string {
  if (!report.agents.length) return 'no AgentIdentities to verify\n';
  const out: string[] = [];
  for (const a of report.agents) {
    out.push(agentSummary(a));
    for (const f of a.findings) out.push(...findingLines(f));
    out.push('');
  }
  return out.join('\n');
}

export type FailOn = 'critical' | 'warning';

export function verifyExitCode(report: BoundaryReport, failOn: FailOn = 'critical'): number {
  const all = report.agents.flatMap((a) => a.findings);
  if (all.some((f) => f.severity === 'Critical')) return 1;
  if (failOn === 'warning' && all.length) return 1;
  return 0;
}

// ---------------------------------------------------------------------------------
// pending

export interface PendingItem {
  request: ApprovalRequest;
  eligible: boolean;
  reason?: string;
  required: number;
}

export function formatPending(items: PendingItem[], me: string, now: Date): string {
  if (!items.length) return `no pending approval requests for ${me}\n`;
  const blocks = items.map(({ request: ar, eligible, reason, required }) => {
    const ns = ar.metadata.namespace ?? '';
    const name = ar.metadata.name ?? '';
    const approvals = (ar.status?.approvals ?? []).filter((a) => a.decision === 'Approved').map((a) => a.user);
    const lines = [
      `${ns}/${name}  agent ${ar.spec.agent}, ${ar.spec.type === 'Activation' ? `activation of grant ${ar.spec.grant ?? ''}` : 'held operation'}, requested by ${ar.spec.requestedBy}`,
      `  summary:   ${ar.spec.summary}`,
    ];
    if (ar.spec.preview) {
      lines.push('  preview:');
      for (const l of ar.spec.preview.split('\n')) lines.push(`    ${l}`);
    }
    if (ar.spec.matchedRules?.length) lines.push(`  rules:     ${ar.spec.matchedRules.join(', ')}`);
    if (ar.spec.type === 'Operation')
      lines.push(
        originUnconfirmed(ar)
          ? `  origin:    UNCONFIRMED: no kube-apiserver audit event shows the agent making this call yet (seconds; minutes on EKS); it may come from a review sent straight to the webhook`
          : `  origin:    confirmed by the kube-apiserver's audit log`,
      );
    lines.push(`  approvals: ${approvals.length} of ${required}${approvals.length ? ` (${approvals.join(', ')})` : ''}`);
    lines.push(`  expires:   ${relative(ar.spec.expiresAt, now)} (${ar.spec.expiresAt})`);
    if (eligible) lines.push(`  approve:   agentgate approve ${name} -n ${ns}`, `  deny:      agentgate deny ${name} -n ${ns}`);
    else lines.push(`  you may not decide it: ${reason ?? 'not an approver'}`);
    return lines.join('\n');
  });
  return blocks.join('\n\n') + '\n';
}

// ---------------------------------------------------------------------------------
// audit

export function formatAudit(events: AuditEvent[]): string {
  if (!events.length) return 'no audit events\n';
  const rows = events.map((e) => {
    const s = e.spec;
    const res = `${s.resource}${s.subresource ? `/${s.subresource}` : ''}${s.group ? `.${s.group}` : ''}`;
    const target = s.namespace ? `${s.namespace}/${s.name ?? ''}` : (s.name ?? '');
    const what = s.command?.length ? `${target} -- ${s.command.join(' ')}` : target;
    return [s.time, s.agent ?? '-', s.operation, res, truncate(what, 48), s.decision, truncate(s.reason, 80)];
  });
  return table(['TIME', 'AGENT', 'OPERATION', 'RESOURCE', 'OBJECT', 'DECISION', 'REASON'], rows);
}

/** Events of an agent since a time, oldest first (by spec.time, then chain position). */
export function filterAudit(events: AuditEvent[], opts: { agent?: string; since?: string }, now: Date): AuditEvent[] {
  let from = -Infinity;
  if (opts.since) {
    const ms = parseDuration(opts.since);
    if (ms === undefined) throw new UsageError(`--since ${opts.since} is not a duration; use a Go duration such as 15m, 1h or 24h`);
    from = now.getTime() - ms;
  }
  return events
    .filter((e) => !opts.agent || e.spec.agent === opts.agent)
    .filter((e) => Date.parse(e.spec.time) >= from)
    .sort(
      (a, b) =>
        Date.parse(a.spec.time) - Date.parse(b.spec.time) ||
        a.spec.chain.writer.localeCompare(b.spec.chain.writer) ||
        a.spec.chain.sequence - b.spec.chain.sequence,
    );
}

const CHECKPOINT_NOTE: Record<string, string> = {
  verified: 'checkpoints in etcd compared with the store (a deleted tail or a recomputed chain would be listed above)',
  'skipped-selector': 'checkpoints not compared: a label selector shows part of the record (run without -l for the whole check)',
  none: 'no checkpoints found (agentgate-audit-checkpoints): a deleted tail or a recomputed chain cannot be ruled out',
  'no-key': `checkpoints not compared: agentgate's key (Secret ${KEY_SECRET}) is not readable with your credentials`,
};

export function formatChain(result: VerifyResult, total: number, checkpoints?: string, acknowledged: readonly AcknowledgedWriter[] = []): string {
  const lines: string[] = [];
  for (const w of result.writers) {
    lines.push(`writer ${w.writer}: ${w.count} event(s), sequence ${w.first}..${w.last}${w.pruned ? ' (older events removed by retention)' : ''}`);
  }
  const retired = acknowledged.length ? `; ${acknowledged.length} retired writer(s) acknowledged, not verified (below)` : '';
  if (result.ok) lines.push(`audit chain intact: ${total} event(s) from ${result.writers.length} writer(s) verified${retired}`);
  else {
    lines.push(`AUDIT CHAIN BROKEN: ${result.problems.length} problem(s)${retired}`);
    for (const p of result.problems) lines.push(`  ${p.kind.toUpperCase()}: ${p.message}`);
  }
  // Never silently OK: every acknowledged writer is said, with who, when and why.
  for (const a of acknowledged) lines.push(`  ACKNOWLEDGED: ${a.message}`);
  if (checkpoints && CHECKPOINT_NOTE[checkpoints]) lines.push(CHECKPOINT_NOTE[checkpoints]);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------
// request

interface GrantRequestOptions {
  agent?: string;
  role?: string;
  kind?: string;
  namespace: string;
  duration?: string;
  reason?: string;
  ticket?: string;
  name?: string;
}

const REQUIRED_FLAGS: Array<[keyof GrantRequestOptions, string]> = [
  ['agent', '--agent: the AgentIdentity the grant is for'],
  ['role', "--role: the role to bind (one of the agent's allowedRoles, e.g. edit)"],
  ['duration', '--duration: how long the window stays open, e.g. 30m'],
  ['reason', '--reason: why the access is needed (shown to approvers, recorded)'],
];

/** The AccessGrant a request creates, checked against the CRD schema; throws UsageError naming the field. */
export function buildGrantRequest(o: GrantRequestOptions): AccessGrant {
  const missing = REQUIRED_FLAGS.filter(([k]) => !o[k] || !String(o[k]).trim()).map(([, help]) => help);
  if (missing.length) throw new UsageError(`missing ${missing.join('; ')}`, 'request');
  const grant: AccessGrant = {
    apiVersion: API_VERSION,
    kind: 'AccessGrant',
    metadata: { namespace: o.namespace },
    spec: {
      agent: o.agent!,
      roleRef: { kind: (o.kind ?? 'ClusterRole') as 'ClusterRole' | 'Role', name: o.role! },
      duration: o.duration!,
      reason: o.reason!,
      activation: 'RequiresApproval',
      ...(o.ticket ? { ticket: o.ticket } : {}),
    },
  };
  if (o.name) grant.metadata.name = o.name;
  else (grant.metadata as Record<string, unknown>).generateName = `${o.agent}-`;
  const errors: FieldError[] = validateObject('AccessGrant', grant);
  if (o.duration && parseDuration(o.duration) === undefined && !errors.some((e) => e.field === 'spec.duration')) {
    errors.push({ field: 'spec.duration', message: `"${o.duration}" is not a Go duration (e.g. 20s, 30m, 2h)` });
  }
  if (errors.length) throw new UsageError(`the grant would be invalid: ${formatErrors(errors.map(flagName))}`, 'request');
  return grant;
}

const FIELD_FLAGS: Record<string, string> = {
  'spec.agent': '--agent',
  'spec.roleRef.kind': '--kind',
  'spec.roleRef.name': '--role',
  'spec.duration': '--duration',
  'spec.reason': '--reason',
  'spec.ticket': '--ticket',
  'metadata.name': '--name',
};

function flagName(e: FieldError): FieldError {
  const flag = FIELD_FLAGS[e.field];
  return flag ? { field: `${e.field} (${flag})`, message: e.message } : e;
}

const FINAL_PHASES = new Set(['Active', 'Denied', 'Invalid', 'Expired', 'Revoked']);

export function grantSettled(g: AccessGrant): boolean {
  return FINAL_PHASES.has(g.status?.phase ?? '');
}

export function describeGrant(g: AccessGrant, now: Date): string {
  const ref = `${g.metadata.namespace}/${g.metadata.name}`;
  const phase = g.status?.phase ?? 'Pending';
  const why = (g.status?.conditions ?? []).find((c) => c.status === 'False')?.message;
  switch (phase) {
    case 'Active':
      return `grant ${ref} is Active: ${g.spec.roleRef.kind} ${g.spec.roleRef.name} in ${g.metadata.namespace} until ${g.status?.expiresAt ?? '?'} (${relative(g.status?.expiresAt, now)})`;
    case 'AwaitingApproval':
      return `grant ${ref} is awaiting approval${g.status?.approvalRequest ? `: an approver runs agentgate approve ${g.status.approvalRequest} -n ${g.metadata.namespace}` : ''}`;
    case 'Denied':
    case 'Invalid':
    case 'Expired':
    case 'Revoked':
      return `grant ${ref} is ${phase}${why ? `: ${why}` : ''}`;
    default:
      return `grant ${ref} is ${phase}`;
  }
}

// ---------------------------------------------------------------------------------
// eks access-entry

interface EksOptions {
  cluster?: string;
  roleArn?: string;
}

const ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;

function shellArg(s: string): string {
  return /^[A-Za-z0-9_:/.@=+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The aws CLI lines that map the agent's IAM role to its Kubernetes username and groups. */
export function eksAccessEntry(agent: AgentIdentity, o: EksOptions): string {
  const name = agent.metadata.name ?? '';
  const roleArn = o.roleArn ?? agent.spec.eks?.roleArn;
  if (!roleArn)
    throw new UsageError(`no IAM role for agent ${name}: pass --role-arn, set spec.eks.roleArn in the AgentIdentity, or set EKS_ROLE_ARN`, 'eks access-entry');
  if (!ARN.test(roleArn)) throw new UsageError(`"${roleArn}" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`, 'eks access-entry');
  const cluster = o.cluster ?? agent.spec.eks?.clusterName;
  if (!cluster) throw new UsageError(`no EKS cluster name: pass --cluster, set spec.eks.clusterName, or set EKS_CLUSTER_NAME`, 'eks access-entry');
  const users = agent.spec.subjects.filter((s) => s.kind === 'User').map((s) => s.name);
  const groups = agent.spec.subjects.filter((s) => s.kind === 'Group').map((s) => s.name);
  if (users.length !== 1) {
    throw new UsageError(
      users.length === 0
        ? `agent ${name} has no User subject: an EKS access entry maps the IAM role to one username; add spec.subjects[] {kind: User, name: ...} (e.g. agent:${name})`
        : `agent ${name} has ${users.length} User subjects (${users.join(', ')}); an access entry maps one IAM role to one username, so run this per role with one User subject each`,
      'eks access-entry',
    );
  }
  const user = users[0]!;
  const reserved = [user, ...groups].filter((n) => n.startsWith('system:') || n.startsWith('eks:') || n.startsWith('amazon:') || n.startsWith('aws:'));
  if (reserved.length)
    throw new UsageError(
      `EKS refuses usernames and groups starting with system:, eks:, aws: or amazon: (${reserved.join(', ')}); rename them in the AgentIdentity`,
      'eks access-entry',
    );
  const lines = [
    `# Map IAM role ${roleArn} to agent ${name}'s Kubernetes identity on cluster ${cluster}.`,
    [
      'aws eks create-access-entry',
      `--cluster-name ${shellArg(cluster)}`,
      `--principal-arn ${shellArg(roleArn)}`,
      '--type STANDARD',
      `--username ${shellArg(user)}`,
      ...(groups.length ? [`--kubernetes-groups ${groups.map(shellArg).join(' ')}`] : []),
    ].join(' \\\n    '),
    '',
    '# Do not run `aws eks associate-access-policy` for this entry: an EKS access policy is standing',
    '# access that bypasses agentgate. agentgate creates the RBAC RoleBindings itself, per grant,',
    '# only while a grant is active. `agentgate verify` reports any other binding of the agent.',
    '#',
    "# The access entry's kubernetesGroups are the AgentIdentity's Group subjects. Keep them in sync: a group the",
    '# access entry adds but the AgentIdentity does not declare shows in its status.observedIdentity',
    '# and is an UndeclaredGroup finding (Critical when anything is bound to that group).',
    '',
  ];
  return lines.join('\n');
}
