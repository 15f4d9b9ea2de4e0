// The CLI's commands: each talks to the cluster and hands the pure parts to cli/format.ts.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { AgentIdentity, ApprovalRequest, AuditEvent } from '../api/types.js';
import { AGENTGATE_NAMESPACE, ANNOTATION_APPROVED, API_VERSION } from '../api/types.js';
import { approverEligibility, effectivePhase } from '../lib/approval.js';
import type { Approver } from '../lib/approval.js';
import { unconfirmedOriginWarning } from '../lib/approval-confirm.js';
import { ACKNOWLEDGER_ROLE, acknowledgeWriter, listAuditEvents, verifyRecord } from '../audit/client.js';
import { auditPolicyYaml } from '../audit/policy.js';
import { FINGERPRINT_KEY, KEY_SECRET } from '../webhook/tls.js';
import { verifyCluster } from '../boundary/cluster.js';
import { parseDuration } from '../lib/clock.js';
import { AgentgateClient, errorMessage, isForbidden, isNotFound, loadKubeConfig, statusCode } from '../lib/kube.js';
import { byClass, inventory, renderRoutes, unclassified } from '../lib/routes.js';
import { bindableRoles, discover } from '../lib/routes-discovery.js';
import { renderCatalogue } from '../webhook/rules/catalogue.js';
import { observeGrant, submitGrant, waitUntilSettled } from './access.js';
import { outputFormat, str, UsageError } from './args.js';
import { KubeUninstallCluster, uninstall, UninstallTimeout } from './uninstall.js';
import { CliError } from './errors.js';
import type { Parsed } from './args.js';
import { buildGrantRequest, eksAccessEntry, filterAudit, formatAudit, formatChain, formatPending, formatReport, verifyExitCode } from './format.js';
import type { FailOn, PendingItem } from './format.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
  env: NodeJS.ProcessEnv;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export { CliError } from './errors.js';

export interface Ctx {
  parsed: Parsed;
  io: Io;
  kc(): k8s.KubeConfig;
  /** -n, else the context's namespace, else default. */
  namespace(): string;
}

export function makeContext(parsed: Parsed, io: Io): Ctx {
  let kc: k8s.KubeConfig | undefined;
  const get = (): k8s.KubeConfig => {
    if (!kc) {
      const kubeconfig = str(parsed.values, 'kubeconfig');
      const context = str(parsed.values, 'context');
      try {
        kc = loadKubeConfig({ ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}) });
      } catch (e) {
        throw new CliError(`cannot load the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${(e as Error).message}`, 2);
      }
      if (!kc.getCurrentCluster())
        throw new CliError('the kubeconfig names no cluster; pass --kubeconfig FILE or --context NAME (kubectl config get-contexts)', 2);
    }
    return kc;
  };
  return {
    parsed,
    io,
    kc: get,
    namespace: () => str(parsed.values, 'namespace') ?? get().getContextObject(get().getCurrentContext())?.namespace ?? 'default',
  };
}

export async function whoami(kc: k8s.KubeConfig): Promise<Approver> {
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  const res = await api.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  const u = res.status?.userInfo;
  if (!u?.username) throw new CliError('the cluster did not say who you are (SelfSubjectReview returned no user)');
  return { user: u.username, groups: u.groups ?? [] };
}

// ---------------------------------------------------------------------------------

async function verify(ctx: Ctx): Promise<number> {
  const { values, positionals } = ctx.parsed;
  const format = outputFormat(values);
  const failOn = (str(values, 'fail-on') ?? 'critical').toLowerCase();
  if (failOn !== 'critical' && failOn !== 'warning') throw new UsageError(`--fail-on ${failOn}: use critical or warning`, 'verify');
  const agent = positionals[0];
  const kc = ctx.kc();
  if (agent) {
    try {
      await new AgentgateClient(kc).get<AgentIdentity>('AgentIdentity', agent);
    } catch (e) {
      if (isNotFound(e) && !/the server could not find the requested resource/i.test(errorMessage(e))) {
        throw new CliError(`no AgentIdentity named ${agent}; list them with: kubectl get agentidentities`, 2);
      }
      throw e;
    }
  }
  const report = await verifyCluster(kc, { ...(agent ? { agents: [agent] } : {}), probe: values['no-probe'] !== true, now: ctx.io.now() });
  const { reviewErrors, ...rest } = report;
  if (format === 'json') ctx.io.out(JSON.stringify(rest, null, 2) + '\n');
  else ctx.io.out(formatReport(rest));
  for (const e of reviewErrors) ctx.io.err(`warning: ${e}\n`);
  return verifyExitCode(rest, failOn as FailOn);
}

async function pending(ctx: Ctx): Promise<number> {
  const { values } = ctx.parsed;
  const format = outputFormat(values);
  const kc = ctx.kc();
  const ag = new AgentgateClient(kc);
  const ns = str(values, 'namespace');
  const [me, list] = await Promise.all([whoami(kc), ag.list<ApprovalRequest>('ApprovalRequest', ns)]);
  const now = ctx.io.now();
  const agents = new Map<string, AgentIdentity | undefined>();
  const items: PendingItem[] = [];
  for (const ar of list.items) {
    if (effectivePhase(ar, now) !== 'Pending') continue;
    if (!agents.has(ar.spec.agent)) {
      try {
        agents.set(ar.spec.agent, await ag.get<AgentIdentity>('AgentIdentity', ar.spec.agent));
      } catch (e) {
        if (!isNotFound(e)) throw e;
        agents.set(ar.spec.agent, undefined);
      }
    }
    const agent = agents.get(ar.spec.agent);
    const el = approverEligibility(ar, agent, me, now);
    const mine = (ar.status?.approvals ?? []).some((a) => a.user === me.user);
    const item: PendingItem = { request: ar, eligible: el.eligible && !mine, required: agent?.spec.requiredApprovals ?? 1 };
    if (!el.eligible) item.reason = el.reason;
    else if (mine) item.reason = 'you already decided it; another approver is needed';
    if (item.eligible || values.all === true) items.push(item);
  }
  items.sort((a, b) => (a.request.spec.expiresAt ?? '').localeCompare(b.request.spec.expiresAt ?? ''));
  if (format === 'json') {
    ctx.io.out(
      JSON.stringify(
        {
          user: me.user,
          groups: me.groups,
          items: items.map((i) => ({ eligible: i.eligible, reason: i.reason, requiredApprovals: i.required, request: i.request })),
        },
        null,
        2,
      ) + '\n',
    );
  } else ctx.io.out(formatPending(items, me.user, now));
  return 0;
}

/** `agentgate approve|deny NAME`: annotates the ApprovalRequest as the caller; the webhook records it. */
async function annotateApproval(ctx: Ctx, approve: boolean): Promise<number> {
  const name = ctx.parsed.positionals[0]!;
  const kc = ctx.kc();
  const ns = ctx.namespace();
  const ag = new AgentgateClient(kc);
  const verb = approve ? 'approve' : 'deny';
  let ar: ApprovalRequest;
  try {
    ar = await ag.get<ApprovalRequest>('ApprovalRequest', name, ns);
  } catch (e) {
    if (isNotFound(e)) throw new CliError(`no ApprovalRequest ${name} in namespace ${ns}; list the ones you may decide with: agentgate pending`);
    throw e;
  }
  const me = await whoami(kc);
  const now = ctx.io.now();
  let agent: AgentIdentity | undefined;
  let agentReadable = true;
  try {
    agent = await ag.get<AgentIdentity>('AgentIdentity', ar.spec.agent);
  } catch (e) {
    if (isForbidden(e))
      agentReadable = false; // the webhook still checks; do not block on our pre-check
    else if (!isNotFound(e)) throw e;
  }
  if (agentReadable) {
    const el = approverEligibility(ar, agent, me, now);
    if (!el.eligible) throw new CliError(`you (${me.user}) cannot ${verb} ${ns}/${name}: ${el.reason}. Nothing was changed.`);
  } else if (me.user === ar.spec.requestedBy || me.user === ar.spec.operation?.user) {
    // Without the AgentIdentity we cannot list approvers, but the request itself names its cause.
    throw new CliError(
      `you (${me.user}) cannot ${verb} ${ns}/${name}: ${me.user} caused this request and cannot approve it; ask another approver. Nothing was changed.`,
    );
  }
  const previous = (ar.status?.approvals ?? []).find((a) => a.user === me.user);
  const unconfirmed = approve ? unconfirmedOriginWarning(ar) : undefined;
  if (unconfirmed) ctx.io.err(`warning: ${unconfirmed}\n`);
  try {
    await ag.mergePatch('ApprovalRequest', name, { metadata: { annotations: { [ANNOTATION_APPROVED]: approve ? 'true' : 'false' } } }, ns);
  } catch (e) {
    const msg = errorMessage(e);
    if (/admission webhook .* denied the request/i.test(msg)) {
      const why = msg.replace(/^.*denied the request:\s*/i, '');
      throw new CliError(`agentgate refused your decision on ${ns}/${name}: ${why}`);
    }
    if (isForbidden(e)) {
      throw new CliError(
        `you (${me.user}) may not annotate approvalrequests in namespace ${ns}: ${msg}. Ask your cluster admin to bind agentgate's approver role to you.`,
      );
    }
    throw e;
  }
  // agentgate records the decision in status; show the result when it arrives.
  const decision = approve ? 'Approved' : 'Denied';
  for (let i = 0; i < 15; i++) {
    const cur = await ag.get<ApprovalRequest>('ApprovalRequest', name, ns);
    const rec = (cur.status?.approvals ?? []).find((a) => a.user === me.user && a.decision === decision && a !== previous);
    if (rec) {
      ctx.io.out(
        `${decision.toLowerCase()} ${ns}/${name} as ${me.user}; request is ${cur.status?.phase ?? 'Pending'}${cur.status?.message ? `: ${cur.status.message}` : ''}\n`,
      );
      return 0;
    }
    await ctx.io.sleep(200);
  }
  ctx.io.out(
    `annotated ${ns}/${name} ${ANNOTATION_APPROVED}=${approve ? 'true' : 'false'} as ${me.user}; agentgate has not recorded it yet (is the webhook running? kubectl -n ${AGENTGATE_NAMESPACE} get pods)\n`,
  );
  return 0;
}

async function listAudit(ctx: Ctx, fieldSelector?: string): Promise<AuditEvent[]> {
  const ns = str(ctx.parsed.values, 'namespace') ?? AGENTGATE_NAMESPACE;
  const labelSelector = str(ctx.parsed.values, 'selector');
  // Through the aggregated API (audit.agentgate.io), filtered by the store.
  return listAuditEvents(ctx.kc(), ns, { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) });
}

async function audit(ctx: Ctx): Promise<number> {
  const { values } = ctx.parsed;
  const format = outputFormat(values);
  const since = str(values, 'since');
  const agent = str(values, 'agent');
  if (since && parseDuration(since) === undefined)
    throw new UsageError(`--since ${since} is not a duration; use a Go duration such as 15m, 1h or 24h`, 'audit');
  const fields = [agent ? `spec.agent=${agent}` : '', since ? `spec.time>=${new Date(ctx.io.now().getTime() - parseDuration(since)!).toISOString()}` : '']
    .filter(Boolean)
    .join(',');
  const events = filterAudit(await listAudit(ctx, fields || undefined), { ...(agent ? { agent } : {}), ...(since ? { since } : {}) }, ctx.io.now());
  ctx.io.out(format === 'json' ? JSON.stringify(events, null, 2) + '\n' : formatAudit(events));
  return 0;
}

async function auditVerify(ctx: Ctx): Promise<number> {
  const format = outputFormat(ctx.parsed.values);
  const events = await listAudit(ctx);
  const ns = str(ctx.parsed.values, 'namespace') ?? AGENTGATE_NAMESPACE;
  const result = await verifyRecord(ctx.kc(), ns, events, {
    partial: !!str(ctx.parsed.values, 'selector'),
    secretName: KEY_SECRET,
    secretKey: FINGERPRINT_KEY,
  });
  ctx.io.out(
    format === 'json'
      ? JSON.stringify({ events: events.length, ...result }, null, 2) + '\n'
      : formatChain(result, events.length, result.checkpoints, result.acknowledged),
  );
  return result.ok ? 0 : 1;
}

async function auditAcknowledge(ctx: Ctx): Promise<number> {
  const writer = str(ctx.parsed.values, 'writer') ?? '';
  const reason = str(ctx.parsed.values, 'reason') ?? '';
  const ns = str(ctx.parsed.values, 'namespace') ?? AGENTGATE_NAMESPACE;
  if (!writer.trim() || !reason.trim())
    throw new UsageError(
      `${!writer.trim() ? "--writer WRITER (from audit verify's WRITER-DELETED)" : '--reason TEXT (why its events are gone)'} is required`,
      'audit acknowledge',
    );
  const kc = ctx.kc();
  const me = await whoami(kc);
  const at = ctx.io.now();
  try {
    await acknowledgeWriter(kc, ns, { writer, reason, by: me.user, at, secretName: KEY_SECRET, secretKey: FINGERPRINT_KEY });
  } catch (err) {
    const fix = isForbidden(err) ? `; bind the Role ${ACKNOWLEDGER_ROLE} in ${ns} (config/rbac/approver.yaml) to whoever may retire writers` : '';
    throw new CliError(`${errorMessage(err)}${fix}`);
  }
  ctx.io.out(
    `writer ${writer} acknowledged as retired by ${me.user} at ${at.toISOString()}: audit verify shows it as ACKNOWLEDGED; a later checkpoint of ${writer} is not covered\n`,
  );
  return 0;
}

async function auditPolicyCommand(ctx: Ctx): Promise<number> {
  const agents = (await new AgentgateClient(ctx.kc()).list<AgentIdentity>('AgentIdentity')).items;
  ctx.io.out(auditPolicyYaml(agents));
  return 0;
}

async function request(ctx: Ctx): Promise<number> {
  const { values } = ctx.parsed;
  const format = outputFormat(values);
  const timeoutText = str(values, 'timeout') ?? '15m';
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined) throw new UsageError(`--timeout ${timeoutText} is not a duration; use e.g. 10m`, 'request');
  const kind = str(values, 'kind');
  const ticket = str(values, 'ticket');
  const name = str(values, 'name');
  const grant = buildGrantRequest({
    ...(str(values, 'agent') ? { agent: str(values, 'agent') } : {}),
    ...(str(values, 'role') ? { role: str(values, 'role') } : {}),
    ...(kind ? { kind } : {}),
    namespace: ctx.namespace(),
    ...(str(values, 'duration') ? { duration: str(values, 'duration') } : {}),
    ...(str(values, 'reason') !== undefined ? { reason: str(values, 'reason') } : {}),
    ...(ticket ? { ticket } : {}),
    ...(name ? { name } : {}),
  });
  const ag = new AgentgateClient(ctx.kc());
  const ns = grant.metadata.namespace!;
  const created = await submitGrant(ag, grant);
  const ref = `${ns}/${created.metadata.name}`;
  if (values.wait !== true) {
    if (format === 'json') ctx.io.out(JSON.stringify(created, null, 2) + '\n');
    else
      ctx.io.out(
        `requested grant ${ref}: ${created.spec.roleRef.kind} ${created.spec.roleRef.name} for ${created.spec.duration}, needs approval. Follow it with: kubectl get accessgrant ${created.metadata.name} -n ${ns} -w\n`,
      );
    return 0;
  }
  if (format !== 'json') ctx.io.err(`requested grant ${ref}; waiting up to ${timeoutText} for it to become Active, Denied or Invalid\n`);
  const result = await waitUntilSettled(
    observeGrant(ag, created.metadata.name!, ns, () => ctx.io.now()),
    {
      deadline: ctx.io.now().getTime() + timeoutMs,
      now: () => ctx.io.now(),
      sleep: (ms) => ctx.io.sleep(ms),
      onPoll: (line, changed) => {
        if (changed && format !== 'json') ctx.io.err(line + '\n');
      },
    },
  );
  if (result.timedOut) throw new CliError(`gave up waiting after ${timeoutText}: ${result.line}`);
  if (format === 'json') ctx.io.out(JSON.stringify(result.object, null, 2) + '\n');
  else ctx.io.out(result.line + '\n');
  return result.object.status?.phase === 'Active' ? 0 : 1;
}

function agentFromFile(file: string, name: string): AgentIdentity {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
  }
  const found = docs.find((d): d is AgentIdentity => {
    const o = d as Partial<AgentIdentity> | null;
    return !!o && o.kind === 'AgentIdentity' && o.apiVersion === API_VERSION && o.metadata?.name === name;
  });
  if (!found) throw new CliError(`${file} holds no AgentIdentity named ${name}`, 2);
  return found;
}

async function eks(ctx: Ctx): Promise<number> {
  const { values, positionals } = ctx.parsed;
  const name = positionals[0]!;
  const file = str(values, 'filename');
  let agent: AgentIdentity;
  if (file) agent = agentFromFile(file, name);
  else {
    try {
      agent = await new AgentgateClient(ctx.kc()).get<AgentIdentity>('AgentIdentity', name);
    } catch (e) {
      if (isNotFound(e)) throw new CliError(`no AgentIdentity named ${name} in the cluster; create it first, or read it from its manifest with -f FILE`);
      throw e;
    }
  }
  const roleArn = str(values, 'role-arn') ?? agent.spec.eks?.roleArn ?? ctx.io.env.EKS_ROLE_ARN;
  const cluster = str(values, 'cluster') ?? agent.spec.eks?.clusterName ?? ctx.io.env.EKS_CLUSTER_NAME;
  ctx.io.out(eksAccessEntry(agent, { ...(roleArn ? { roleArn } : {}), ...(cluster ? { cluster } : {}) }));
  return 0;
}

function rules(ctx: Ctx): number {
  const format = outputFormat(ctx.parsed.values, ['yaml', 'json']) as 'yaml' | 'json';
  ctx.io.out(renderCatalogue(format));
  return 0;
}

async function routes(ctx: Ctx): Promise<number> {
  const format = outputFormat(ctx.parsed.values, ['text', 'json']);
  const wanted = (str(ctx.parsed.values, 'role') ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const kc = ctx.kc();
  const [disc, bindable] = await Promise.all([discover(kc), bindableRoles(kc, wanted)]);
  if (wanted.length && bindable.roles.length === 0) throw new CliError(`none of the roles could be read: ${bindable.notes.join('; ')}`, 2);
  const found = inventory(disc.resources, bindable.roles);
  const notes = [...bindable.notes, ...disc.errors.map((e) => `discovery of ${e.groupVersion} failed: ${e.error}`)];
  if (format === 'json') {
    ctx.io.out(
      JSON.stringify({ roles: bindable.roles.map((r) => r.name), classes: byClass(found).map((c) => ({ class: c.class, routes: c.routes })), notes }, null, 2) +
        '\n',
    );
  } else {
    ctx.io.out(`Routes reachable with ${bindable.roles.map((r) => r.name).join(', ') || '(no roles)'} on this cluster, by effect:\n\n`);
    ctx.io.out(renderRoutes(found));
    for (const n of notes) ctx.io.err(`note: ${n}\n`);
  }
  return ctx.parsed.values['fail-on-unclassified'] && unclassified(found).length ? 1 : 0;
}

export async function runCommand(ctx: Ctx): Promise<number> {
  switch (ctx.parsed.command?.words.join(' ')) {
    case 'verify':
      return verify(ctx);
    case 'pending':
      return pending(ctx);
    case 'approve':
      return annotateApproval(ctx, true);
    case 'deny':
      return annotateApproval(ctx, false);
    case 'audit':
      return audit(ctx);
    case 'audit verify':
      return auditVerify(ctx);
    case 'audit acknowledge':
      return auditAcknowledge(ctx);
    case 'audit policy':
      return auditPolicyCommand(ctx);
    case 'request':
      return request(ctx);
    case 'eks access-entry':
      return eks(ctx);
    case 'rules':
      return rules(ctx);
    case 'routes':
      return routes(ctx);
    case 'uninstall':
      return uninstallCommand(ctx);
    case 'mcp':
      // Loaded on demand: the MCP SDK is only needed by this command.
      return (await import('./mcp/serve.js')).runMcp(ctx);
    default:
      throw new UsageError('no command; run agentgate --help');
  }
}

async function uninstallCommand(ctx: Ctx): Promise<number> {
  const v = ctx.parsed.values;
  const timeout = str(v, 'timeout') ?? '5m';
  const timeoutMs = parseDuration(timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout ${timeout} is not a duration such as 5m`, 'uninstall');
  try {
    await uninstall(new KubeUninstallCluster(ctx.kc()), {
      namespace: str(v, 'namespace') ?? AGENTGATE_NAMESPACE,
      revoke: v['revoke'] === true,
      timeoutMs,
      sleep: (ms) => ctx.io.sleep(ms),
      now: () => ctx.io.now().getTime(),
      out: (line) => ctx.io.out(`${line}\n`),
    });
  } catch (e) {
    if (e instanceof UninstallTimeout) throw new CliError(e.message, 1);
    throw e;
  }
  return 0;
}

/** What to tell a person about an error from the cluster. */
export function describeApiError(e: unknown): { message: string; code: number } {
  const code = statusCode(e);
  const msg = errorMessage(e);
  const cause = (e as { cause?: { code?: string } })?.cause?.code ?? (e as { code?: unknown })?.code;
  if (typeof cause === 'string' && /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|CERT|SELF_SIGNED/.test(cause)) {
    return { message: `cannot reach the cluster (${cause}): ${msg}. Check --kubeconfig/--context (kubectl cluster-info)`, code: 2 };
  }
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|socket hang up|fetch failed/.test(msg)) {
    return { message: `cannot reach the cluster: ${msg}. Check --kubeconfig/--context (kubectl cluster-info)`, code: 2 };
  }
  if (code === 401) return { message: `the cluster rejected your credentials: ${msg}. Check --kubeconfig/--context (kubectl auth whoami)`, code: 2 };
  if (code === 403) return { message: `forbidden: ${msg}`, code: 2 };
  if (code === 404 && /could not find the requested resource/i.test(msg)) {
    return { message: 'the agentgate.io API is not installed in this cluster (kubectl get crd | grep agentgate.io); install agentgate first', code: 2 };
  }
  return { message: msg, code: 2 };
}
