// The gate's desk: the access workflow as the agent's own identity (its kubeconfig or
// in-cluster ServiceAccount). Every read and write here is made with the agent's
// credentials, so the desk can never do more than the agent could with kubectl; it adds
// no rights and impersonates no one. Kubernetes operations themselves stay with the
// agent's usual tools.
import type * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../../api/types.js';
import type { Status } from '../../lib/admission.js';
import { approveCommand, effectivePhase } from '../../lib/approval.js';
import { AgentgateClient, errorMessage, isForbidden, isNotFound } from '../../lib/kube.js';
import { agentsForUser } from '../../webhook/decide.js';
import { observeApproval, observeGrant, submitGrant, waitUntilSettled } from '../access.js';
import { whoami as selfSubjectReview } from '../commands.js';
import { CliError } from '../errors.js';
import { buildGrantRequest } from '../format.js';
import type { Refusal } from './explain.js';
import { CONTROL, parseRefusal } from './explain.js';
import type {
  ExplainArgs,
  ExplainResult,
  MyRequestsArgs,
  MyRequestsResult,
  RequestAccessArgs,
  RequestAccessResult,
  WaitArgs,
  WaitResult,
  WhoamiResult,
} from './schemas.js';
import { approvalView, grantView, identityView, rulesView } from './views.js';
import type { GrantView } from './views.js';

const IDENTITY_READER_ROLE = 'agentgate-identity-reader';
const REQUESTER_ROLE = 'agentgate-requester';
const DEFAULT_WAIT_SECONDS = 50;
const PROGRESS_EVERY_MS = 5000;

interface DeskOptions {
  kc: k8s.KubeConfig;
  /** The AgentIdentity to act for when this identity may not read AgentIdentities (--agent). */
  agentName?: string;
  /** Namespace to look in when AgentIdentities are unreadable (the kubeconfig's, or -n). */
  defaultNamespace?: string;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export interface Progress {
  progress: number;
  total?: number;
  message: string;
}

interface Me {
  user: string;
  groups: string[];
  agent?: AgentIdentity;
  agentName?: string;
  notes: string[];
}

export class Desk {
  private readonly ag: AgentgateClient;
  constructor(private readonly o: DeskOptions) {
    this.ag = new AgentgateClient(o.kc);
  }

  /** Who the apiserver says we are, and the AgentIdentity that names us. */
  private async me(): Promise<Me> {
    const { user, groups: readonlyGroups } = await selfSubjectReview(this.o.kc);
    const groups = [...(readonlyGroups ?? [])];
    const notes: string[] = [];
    try {
      const list = await this.ag.list<AgentIdentity>('AgentIdentity');
      const matches = agentsForUser(list.items, { username: user, groups });
      if (matches.length > 1)
        notes.push(
          `ambiguous identity: ${user} matches AgentIdentities ${matches.map((a) => a.metadata.name).join(', ')}; agentgate refuses every call until only one does`,
        );
      const agent = matches.length === 1 ? matches[0] : undefined;
      if (!agent)
        notes.push(
          matches.length ? '' : `${user} matches no AgentIdentity: agentgate does not know this identity as an agent; ask the platform team to register it`,
        );
      return { user, groups, ...(agent ? { agent, agentName: agent.metadata.name ?? '' } : {}), notes: notes.filter(Boolean) };
    } catch (e) {
      if (!isForbidden(e)) throw e;
      notes.push(
        `you may not read AgentIdentities, so your ceiling, approvers and rules are unknown here; ask the platform team for ClusterRole ${IDENTITY_READER_ROLE} (kubectl create clusterrolebinding NAME --clusterrole=${IDENTITY_READER_ROLE} --user=${user})`,
      );
      return { user, groups, ...(this.o.agentName ? { agentName: this.o.agentName } : {}), notes };
    }
  }

  private requireAgent(me: Me): string {
    if (me.agentName) return me.agentName;
    throw new CliError(
      `${me.user} maps to no AgentIdentity${me.notes.length ? ` (${me.notes.join('; ')})` : ''}; start agentgate mcp with --agent NAME if your AgentIdentity is not readable`,
    );
  }

  /** Namespaces to look in: one given, else every namespace (if the agent may list them all), else its ceiling's names and the default. */
  private namespaces(me: Me, given?: string): string[] | undefined {
    if (given) return [given];
    const names = new Set<string>(me.agent?.spec.allowedNamespaces.names ?? []);
    if (this.o.defaultNamespace) names.add(this.o.defaultNamespace);
    return [...names].sort();
  }

  private async listMine<T extends AccessGrant | ApprovalRequest>(
    kind: 'AccessGrant' | 'ApprovalRequest',
    me: Me,
    given?: string,
  ): Promise<{ items: T[]; unreadable: string[] }> {
    const agentName = me.agentName;
    const mine = (x: T): boolean => (agentName ? x.spec.agent === agentName : (x.spec as { requestedBy?: string }).requestedBy === me.user);
    if (!given) {
      try {
        return { items: (await this.ag.list<T>(kind)).items.filter(mine), unreadable: [] };
      } catch (e) {
        if (!isForbidden(e)) throw e;
      }
    }
    const items: T[] = [];
    const unreadable: string[] = [];
    for (const ns of this.namespaces(me, given) ?? []) {
      try {
        items.push(...(await this.ag.list<T>(kind, ns)).items.filter(mine));
      } catch (e) {
        if (isForbidden(e) || (isNotFound(e) && !/could not find the requested resource/i.test(errorMessage(e)))) unreadable.push(ns);
        else throw e;
      }
    }
    return { items, unreadable };
  }

  async whoami(): Promise<WhoamiResult> {
    const me = await this.me();
    const now = this.o.now();
    const { items, unreadable } = me.agentName ? await this.listMine<AccessGrant>('AccessGrant', me) : { items: [], unreadable: [] };
    const notes = [...me.notes];
    if (unreadable.length) notes.push(`cannot read AccessGrants in ${unreadable.join(', ')}: ask for ClusterRole ${REQUESTER_ROLE} there`);
    if (me.agent?.spec.suspended) notes.push(`agent ${me.agentName} is suspended: every call is refused`);
    const grants = items
      .map((g) => grantView(g, now))
      .filter((g) => !['Expired', 'Revoked', 'Denied', 'Invalid'].includes(g.phase) || recent(g, now))
      .sort((a, b) => (b.secondsLeft ?? -1) - (a.secondsLeft ?? -1) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    return {
      user: me.user,
      groups: me.groups,
      agent: me.agentName ?? null,
      ...(me.agent ? { identity: identityView(me.agent) } : {}),
      grants,
      activeGrants: grants.filter((g) => g.phase === 'Active').length,
      approvalRules: rulesView(me.agent),
      notes,
    };
  }

  async requestAccess(args: RequestAccessArgs): Promise<RequestAccessResult> {
    const me = await this.me();
    const agent = this.requireAgent(me);
    const grant = buildGrantRequest({
      agent,
      role: args.role,
      ...(args.roleKind ? { kind: args.roleKind } : {}),
      namespace: args.namespace,
      duration: args.duration,
      reason: args.reason,
      ...(args.ticket ? { ticket: args.ticket } : {}),
      ...(args.name ? { name: args.name } : {}),
    });
    let created = await submitGrant(this.ag, grant);
    const name = created.metadata.name ?? '';
    // The operator names the activation's ApprovalRequest in status within a moment; wait briefly for it.
    for (let i = 0; i < 20 && !created.status?.approvalRequest && !['Active', 'Invalid', 'Denied'].includes(created.status?.phase ?? ''); i++) {
      await this.o.sleep(250);
      try {
        created = await this.ag.get<AccessGrant>('AccessGrant', name, args.namespace);
      } catch {
        break;
      }
    }
    const view = grantView(created, this.o.now());
    const ar = created.status?.approvalRequest;
    return {
      grant: view,
      ...(ar ? { approvalRequest: { name: ar, namespace: args.namespace } } : {}),
      next:
        view.phase === 'Invalid'
          ? `the grant is Invalid: ${view.message ?? 'outside your ceiling'}; call whoami for your ceiling and request again`
          : `an approver must approve${ar ? ` ApprovalRequest ${ar} (${approveCommand(ar, args.namespace)})` : ' the activation'}; call wait with {"grant": "${name}", "namespace": "${args.namespace}"} to be told when the grant is Active`,
    };
  }

  async wait(args: WaitArgs, progress?: (p: Progress) => Promise<void>, signal?: AbortSignal): Promise<WaitResult> {
    const started = this.o.now().getTime();
    const timeoutSeconds = args.timeoutSeconds ?? DEFAULT_WAIT_SECONDS;
    const ns = args.namespace;
    let sent = 0;
    let lastSentAt = 0;
    const onPoll = async (line: string, changed: boolean): Promise<void> => {
      const t = this.o.now().getTime();
      if (!progress || (!changed && t - lastSentAt < PROGRESS_EVERY_MS)) return;
      lastSentAt = t;
      const elapsed = Math.max(++sent, Math.floor((t - started) / 1000));
      sent = elapsed;
      await progress({ progress: elapsed, total: timeoutSeconds, message: line });
    };
    const opts = {
      deadline: started + timeoutSeconds * 1000,
      now: () => this.o.now(),
      sleep: (ms: number) => this.o.sleep(ms),
      onPoll,
      ...(signal ? { signal } : {}),
    };
    const waited = () => Math.round((this.o.now().getTime() - started) / 1000);
    const now = () => this.o.now();
    if (args.grant) {
      const r = await waitUntilSettled(observeGrant(this.ag, args.grant, ns, now), opts);
      const g = r.object;
      const view = grantView(g, now());
      const phase = view.phase;
      const outcome = r.timedOut ? (signal?.aborted ? 'Cancelled' : 'TimedOut') : (phase as WaitResult['outcome']);
      const activation = g.status?.approvalRequest ? await this.readApproval(g.status.approvalRequest, ns) : undefined;
      const deniedBy = activation?.deniedBy.length ? activation.deniedBy : undefined;
      return {
        target: { kind: 'AccessGrant', name: args.grant, namespace: ns },
        outcome,
        phase,
        waitedSeconds: waited(),
        grant: view,
        ...(activation ? { approvalRequest: activation } : {}),
        ...(deniedBy ? { deniedBy } : {}),
        ...(view.message && phase !== 'Active' ? { why: view.message } : {}),
        next: grantNext(view, outcome),
      };
    }
    const name = args.approvalRequest!;
    const r = await waitUntilSettled(observeApproval(this.ag, name, ns, now), opts);
    const view = approvalView(r.object, now());
    const outcome = r.timedOut ? (signal?.aborted ? 'Cancelled' : 'TimedOut') : (view.phase as WaitResult['outcome']);
    return {
      target: { kind: 'ApprovalRequest', name, namespace: ns },
      outcome,
      phase: view.phase,
      waitedSeconds: waited(),
      approvalRequest: view,
      ...(view.deniedBy.length ? { deniedBy: view.deniedBy } : {}),
      ...(view.message ? { why: view.message } : {}),
      next: approvalNext(view.phase, outcome, view.validUntil),
    };
  }

  private async readApproval(name: string, ns: string) {
    try {
      return approvalView(await this.ag.get<ApprovalRequest>('ApprovalRequest', name, ns), this.o.now());
    } catch (e) {
      if (isForbidden(e) || isNotFound(e)) return undefined;
      throw e;
    }
  }

  async explain(args: ExplainArgs): Promise<ExplainResult> {
    const parsed = parseRefusal({ status: args.status as Partial<Status> | undefined, message: args.message });
    // The text alone says which control refused; the cluster adds who may approve and how
    // the request stands. Without the cluster, say what the text says.
    let me: Me;
    try {
      me = await this.me();
    } catch (e) {
      if (args.approvalRequest && !args.message && !args.status) throw e;
      const refusal = parsed.refusal;
      return {
        refusal,
        control: CONTROL[refusal],
        refusedBy: parsed.refusedBy,
        ...(parsed.reason ? { reason: parsed.reason } : {}),
        summary: `${summarize(refusal, { ar: undefined, grant: undefined, agent: parsed.agent, user: parsed.attempted?.user ?? 'you', ns: parsed.namespace, parsed })} (the cluster could not be asked for more: ${errorMessage(e)})`,
        ...(parsed.agent ? { agent: parsed.agent } : {}),
        ...(parsed.namespace ? { namespace: parsed.namespace } : {}),
        rules: parsed.rules,
        ...(parsed.retryAfterSeconds ? { retryAfterSeconds: parsed.retryAfterSeconds } : {}),
        letThrough: stepsFor(refusal, {
          ns: parsed.namespace,
          ar: undefined,
          grant: undefined,
          agent: undefined,
          retryAfterSeconds: parsed.retryAfterSeconds,
          attempted: parsed.attempted,
          arRef: parsed.approvalRequest,
        }),
      };
    }
    const ns = args.namespace ?? parsed.approvalRequest?.namespace ?? parsed.namespace ?? parsed.grant?.namespace ?? this.o.defaultNamespace;
    let refusal: Refusal = parsed.refusal;
    const arName = args.approvalRequest ?? parsed.approvalRequest?.name;
    const ar = arName && ns ? await this.readApproval(arName, ns) : undefined;
    if (args.approvalRequest && !args.message && !args.status) {
      if (!ar)
        throw new CliError(
          `cannot read ApprovalRequest ${args.approvalRequest} in namespace ${ns ?? '(no namespace given)'}: it does not exist or you may not read approvalrequests there`,
        );
      refusal = ar.phase === 'Denied' ? 'ApprovalDenied' : 'RuleHeld';
    }
    // RBAC said no: agentgate never saw the call. Either no identity, or no RoleBinding because no grant is open.
    let grant: GrantView | undefined;
    if (parsed.refusedBy === 'rbac') {
      if (!me.agentName) refusal = 'NoIdentity';
      else if (ns) {
        const { items } = await this.listMine<AccessGrant>('AccessGrant', me, ns).catch(() => ({ items: [] as AccessGrant[] }));
        const views = items.map((g) => grantView(g, this.o.now()));
        const opening = views.find((g) => g.phase === 'AwaitingApproval' || g.phase === 'Pending');
        const expired = views.filter((g) => g.phase === 'Expired').sort((a, b) => (b.expiresAt ?? '').localeCompare(a.expiresAt ?? ''))[0];
        grant = opening ?? (views.some((g) => g.phase === 'Active') ? undefined : expired);
        if (!opening && expired && !views.some((g) => g.phase === 'Active')) refusal = 'Expired';
      }
    } else if (parsed.grant) {
      try {
        grant = grantView(await this.ag.get<AccessGrant>('AccessGrant', parsed.grant.name, parsed.grant.namespace), this.o.now());
      } catch {
        /* the name from the message is enough */
      }
    }
    const agent = me.agent;
    const approvers = agent
      ? {
          users: [...(agent.spec.approvers?.users ?? [])],
          groups: [...(agent.spec.approvers?.groups ?? [])],
          required: agent.spec.requiredApprovals ?? 1,
          approvedSoFar: ar?.approvedBy ?? [],
        }
      : undefined;
    const letThrough = stepsFor(refusal, {
      ns,
      ar,
      grant,
      agent,
      retryAfterSeconds: parsed.retryAfterSeconds,
      attempted: parsed.attempted,
      arRef: parsed.approvalRequest,
    });
    return {
      refusal,
      control: CONTROL[refusal],
      refusedBy: parsed.refusedBy === 'unknown' && ar ? 'agentgate' : parsed.refusedBy,
      ...(parsed.reason ? { reason: parsed.reason } : {}),
      summary: summarize(refusal, { ar, grant, agent: me.agentName, user: me.user, ns, parsed }),
      ...(me.agentName ? { agent: me.agentName } : {}),
      ...(ns ? { namespace: ns } : {}),
      rules: parsed.rules.length ? parsed.rules : (ar?.matchedRules ?? []),
      ...(ar ? { approvalRequest: ar } : {}),
      ...(grant ? { grant } : {}),
      ...(approvers ? { approvers } : {}),
      ...(parsed.retryAfterSeconds ? { retryAfterSeconds: parsed.retryAfterSeconds } : {}),
      letThrough,
    };
  }

  async myRequests(args: MyRequestsArgs): Promise<MyRequestsResult> {
    const me = await this.me();
    const now = this.o.now();
    const since = now.getTime() - (args.sinceSeconds ?? 86400) * 1000;
    const fresh = (created: string | undefined, live: boolean) => live || !created || Date.parse(created) >= since;
    const [ars, grants] = await Promise.all([
      this.listMine<ApprovalRequest>('ApprovalRequest', me, args.namespace),
      this.listMine<AccessGrant>('AccessGrant', me, args.namespace),
    ]);
    return {
      agent: me.agentName ?? null,
      approvalRequests: ars.items
        .filter((ar) => fresh(ar.metadata.creationTimestamp, effectivePhase(ar, now) === 'Pending'))
        .map((ar) => approvalView(ar, now))
        .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '')),
      grants: grants.items
        .filter((g) => fresh(g.metadata.creationTimestamp, ['Active', 'Pending', 'AwaitingApproval'].includes(g.status?.phase ?? 'Pending')))
        .map((g) => grantView(g, now))
        .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)),
      unreadableNamespaces: [...new Set([...ars.unreadable, ...grants.unreadable])].sort(),
    };
  }
}

function recent(g: GrantView, now: Date): boolean {
  const t = Date.parse(g.expiresAt ?? '');
  return !Number.isNaN(t) && now.getTime() - t < 3600_000;
}

function grantNext(g: GrantView, outcome: WaitResult['outcome']): string {
  switch (outcome) {
    case 'Active':
      return `the window is open until ${g.expiresAt} (${g.secondsLeft ?? '?'} s left): run your commands with your usual tools`;
    case 'TimedOut':
    case 'Cancelled':
      return `still ${g.phase}; call wait again with {"grant": "${g.name}", "namespace": "${g.namespace}"}`;
    case 'Denied':
      return 'the request was denied; do not ask again for the same thing without new information (explain the need better, or ask a human)';
    case 'Invalid':
      return 'the request does not fit your ceiling; call whoami for allowedRoles, allowedNamespaces and maxDuration, and request again';
    default:
      return `the grant is ${g.phase}; request a new grant if you still need access`;
  }
}

function approvalNext(phase: string, outcome: WaitResult['outcome'], validUntil: string | undefined): string {
  if (outcome === 'TimedOut' || outcome === 'Cancelled') return 'still Pending; call wait again, or do something else meanwhile';
  switch (phase) {
    case 'Approved':
      return `approved: retry the identical call now; it goes through once${validUntil ? ` (until ${validUntil})` : ''}`;
    case 'Denied':
      return 'denied: do not retry the same call; the identical call is refused until the request expires';
    case 'Consumed':
      return 'the approval was used by a call that went through; the same call needs a new approval next time';
    default:
      return 'the request expired without a decision; retrying the call creates a new one';
  }
}

interface StepContext {
  ns: string | undefined;
  ar: ReturnType<typeof approvalView> | undefined;
  grant: GrantView | undefined;
  agent: AgentIdentity | undefined;
  retryAfterSeconds: number | undefined;
  attempted: { verb: string; resource: string; group: string } | undefined;
  /** The ApprovalRequest the message names, when it could not be read. */
  arRef?: { name: string; namespace?: string } | undefined;
}

function stepsFor(refusal: Refusal, c: StepContext): ExplainResult['letThrough'] {
  const role = c.agent?.spec.allowedRoles[0];
  const ask = (why: string): ExplainResult['letThrough'][number] => ({
    step: `request access: ${why}`,
    tool: 'request_access',
    arguments: {
      ...(role ? { role: role.name } : {}),
      ...(role?.kind === 'Role' ? { roleKind: 'Role' } : {}),
      ...(c.ns ? { namespace: c.ns } : {}),
      duration: '30m',
      reason: '<why you need it>',
    },
  });
  switch (refusal) {
    case 'RuleHeld': {
      if (!c.ar && c.arRef?.namespace) {
        return [
          { step: `an approver runs: ${approveCommand(c.arRef.name, c.arRef.namespace)}` },
          { step: 'wait for the decision', tool: 'wait', arguments: { approvalRequest: c.arRef.name, namespace: c.arRef.namespace } },
          { step: 'retry the identical call once it is Approved; it goes through once' },
        ];
      }
      if (!c.ar) return [{ step: 'an approver approves the ApprovalRequest named in the message, then you retry the identical call once' }];
      if (c.ar.phase === 'Approved')
        return [{ step: `retry the identical call now; the approval lets it through once${c.ar.validUntil ? `, until ${c.ar.validUntil}` : ''}` }];
      if (c.ar.phase === 'Consumed' || c.ar.phase === 'Expired')
        return [{ step: `ApprovalRequest ${c.ar.name} is ${c.ar.phase}; retrying the call creates a new request for approval` }];
      return [
        { step: `an approver runs: ${approveCommand(c.ar.name, c.ar.namespace)}` },
        { step: 'wait for the decision', tool: 'wait', arguments: { approvalRequest: c.ar.name, namespace: c.ar.namespace } },
        { step: 'retry the identical call once it is Approved; it goes through once' },
      ];
    }
    case 'ApprovalDenied':
      return [{ step: `nothing lets this exact call through until ${c.ar?.expiresAt ?? 'the request expires'}; ask an approver why, or change what you do` }];
    case 'NotCovered':
      if (c.grant && (c.grant.phase === 'AwaitingApproval' || c.grant.phase === 'Pending')) {
        return [
          { step: `grant ${c.grant.name} is ${c.grant.phase}; wait for it`, tool: 'wait', arguments: { grant: c.grant.name, namespace: c.grant.namespace } },
          { step: 'retry the call once the grant is Active' },
        ];
      }
      return [
        ask(`no open grant covers this call${c.attempted ? ` (${c.attempted.verb} ${c.attempted.resource})` : ''}; ask for a role that allows it`),
        { step: 'wait for the grant to become Active', tool: 'wait' },
        { step: 'retry the call' },
      ];
    case 'Expired':
      return [
        ask(`grant ${c.grant?.name ?? ''} has expired; windows are never extended, ask for a new one`.replace('grant  ', 'your grant ')),
        { step: 'wait for the new grant to become Active', tool: 'wait' },
        { step: 'retry the call' },
      ];
    case 'NoIdentity':
      return [
        {
          step: 'ask the platform team to register this identity as an AgentIdentity (its subjects name your user or group); until then agentgate grants it nothing',
        },
      ];
    case 'AmbiguousIdentity':
      return [{ step: 'ask the platform team to make exactly one AgentIdentity claim your user and groups' }];
    case 'Suspended':
      return [{ step: 'your AgentIdentity is suspended (spec.suspended: true); only the platform team can lift it' }];
    case 'OutOfScope':
      return [
        {
          step: "agents may never do this (cluster-scoped objects, agentgate's own objects or namespace, RoleBindings agentgate manages); ask a human to do it",
        },
      ];
    case 'RequestRefused':
      return [
        {
          step: 'the request does not fit your ceiling: call whoami for allowedRoles, allowedNamespaces and maxDuration, and request within them',
          tool: 'whoami',
        },
      ];
    case 'RuleDenied':
      return [{ step: 'a rule forbids this call outright; no approval lets it through; change the call or ask a human' }];
    case 'Unavailable':
      return [
        {
          step: `agentgate could not record or decide the call (it fails closed); retry${c.retryAfterSeconds ? ` after ${c.retryAfterSeconds} s` : ' shortly'}`,
        },
      ];
    default:
      return [{ step: 'this refusal did not come from agentgate or RBAC as far as can be told; read the message' }];
  }
}

function summarize(
  refusal: Refusal,
  c: {
    ar: ReturnType<typeof approvalView> | undefined;
    grant: GrantView | undefined;
    agent: string | undefined;
    user: string;
    ns: string | undefined;
    parsed: ReturnType<typeof parseRefusal>;
  },
): string {
  const where = c.ns ? ` in namespace ${c.ns}` : '';
  switch (refusal) {
    case 'RuleHeld':
      return c.ar
        ? `held for approval by rule ${c.ar.matchedRules.join(', ') || '(unknown)'}: ApprovalRequest ${c.ar.namespace}/${c.ar.name} is ${c.ar.phase}${c.ar.approvedBy.length ? ` (approved by ${c.ar.approvedBy.join(', ')})` : ''}, expires at ${c.ar.expiresAt}`
        : 'held for approval: a rule requires a human to approve this exact call';
    case 'ApprovalDenied':
      return `an approver denied this exact call${c.ar?.deniedBy.length ? ` (${c.ar.deniedBy.join(', ')})` : ''}`;
    case 'NotCovered':
      return c.parsed.refusedBy === 'rbac'
        ? `Kubernetes RBAC refused the call: agent ${c.agent} holds no open grant${where} that allows it (agentgate binds roles only while a grant is Active)`
        : `no active grant of agent ${c.agent ?? '?'}${where} covers the call`;
    case 'Expired':
      return `the grant${c.grant ? ` ${c.grant.namespace}/${c.grant.name}` : ''} that allowed such calls expired${c.grant?.expiresAt ? ` at ${c.grant.expiresAt}` : ''}`;
    case 'NoIdentity':
      return `${c.user} is not registered as an agent: no AgentIdentity names it, so agentgate grants it nothing`;
    case 'AmbiguousIdentity':
      return `${c.user} matches more than one AgentIdentity; agentgate refuses every call until that is fixed`;
    case 'Suspended':
      return `agent ${c.agent ?? '?'} is suspended; every call is refused`;
    case 'OutOfScope':
      return 'agents may never make this call, with or without a grant';
    case 'RequestRefused':
      return 'your request for access does not fit your ceiling';
    case 'RuleDenied':
      return `a rule denies this call${c.parsed.rules.length ? ` (${c.parsed.rules.join(', ')})` : ''}`;
    case 'Unavailable':
      return 'agentgate could not record or decide the call, so it refused it (fail closed)';
    default:
      return 'not a refusal agentgate recognises';
  }
}
