// The access workflow as the caller's own identity, shared by the CLI (`agentgate request`)
// and the MCP server (`agentgate mcp`): submit a grant request, and wait for a grant or an
// ApprovalRequest to settle. Errors are CliErrors whose message says what to do.
import type { AccessGrant, ApprovalRequest } from '../api/types.js';
import { effectivePhase } from '../lib/approval.js';
import type { AgentgateClient } from '../lib/kube.js';
import { errorMessage, isForbidden, isNotFound, statusCode } from '../lib/kube.js';
import { CliError } from './errors.js';
import { describeGrant, grantSettled } from './format.js';

/** Creates the AccessGrant (built and checked by buildGrantRequest) as the caller. */
export async function submitGrant(ag: AgentgateClient, grant: AccessGrant): Promise<AccessGrant> {
  const ns = grant.metadata.namespace ?? '';
  try {
    return await ag.create<AccessGrant>('AccessGrant', grant, ns);
  } catch (e) {
    const msg = errorMessage(e);
    if (isForbidden(e) && !/admission webhook/i.test(msg)) {
      throw new CliError(
        `you may not create accessgrants in namespace ${ns}: ${msg}. Ask your cluster admin for create on accessgrants.agentgate.io there (ClusterRole agentgate-requester).`,
      );
    }
    if (statusCode(e) === 422 || /admission webhook/i.test(msg)) throw new CliError(`the cluster refused the grant: ${msg}`);
    throw e;
  }
}

/** One observation while waiting: what to show, and whether it is final. */
export interface Observation<T> {
  object: T;
  line: string;
  settled: boolean;
}

interface WaitOptions {
  deadline: number;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Called on every poll; `changed` when the line differs from the previous one. */
  onPoll?(line: string, changed: boolean): void | Promise<void>;
  signal?: AbortSignal;
  intervalMs?: number;
}

/** Polls until settled, the deadline, or the signal; returns the last observation and whether it settled. */
export async function waitUntilSettled<T>(observe: () => Promise<Observation<T>>, o: WaitOptions): Promise<Observation<T> & { timedOut: boolean }> {
  let last = '';
  for (;;) {
    const cur = await observe();
    const changed = cur.line !== last;
    last = cur.line;
    if (cur.settled) return { ...cur, timedOut: false };
    await o.onPoll?.(cur.line, changed);
    if (o.now().getTime() >= o.deadline || o.signal?.aborted) return { ...cur, timedOut: true };
    await o.sleep(Math.min(o.intervalMs ?? 1000, Math.max(0, o.deadline - o.now().getTime())));
  }
}

async function getOrExplain<T>(ag: AgentgateClient, kind: 'AccessGrant' | 'ApprovalRequest', name: string, ns: string): Promise<T> {
  try {
    return await ag.get<T>(kind, name, ns);
  } catch (e) {
    if (isNotFound(e) && !/could not find the requested resource/i.test(errorMessage(e))) {
      throw new CliError(`no ${kind} ${name} in namespace ${ns}`);
    }
    if (isForbidden(e))
      throw new CliError(
        `you may not read ${kind === 'AccessGrant' ? 'accessgrants' : 'approvalrequests'} in namespace ${ns}: ${errorMessage(e)}. Ask your cluster admin to bind ClusterRole agentgate-requester to you there.`,
      );
    throw e;
  }
}

export function observeGrant(ag: AgentgateClient, name: string, ns: string, now: () => Date): () => Promise<Observation<AccessGrant>> {
  return async () => {
    const g = await getOrExplain<AccessGrant>(ag, 'AccessGrant', name, ns);
    return { object: g, line: describeGrant(g, now()), settled: grantSettled(g) };
  };
}

function describeApproval(ar: ApprovalRequest, now: Date): string {
  const ref = `${ar.metadata.namespace}/${ar.metadata.name}`;
  const phase = effectivePhase(ar, now);
  const approvals = (ar.status?.approvals ?? []).filter((a) => a.decision === 'Approved').map((a) => a.user);
  switch (phase) {
    case 'Pending':
      return `ApprovalRequest ${ref} is Pending${approvals.length ? ` (approved so far by ${approvals.join(', ')})` : ''}; it expires at ${ar.spec.expiresAt}`;
    case 'Approved':
      return `ApprovalRequest ${ref} is Approved${ar.status?.validUntil ? `, usable once until ${ar.status.validUntil}` : ''}`;
    default:
      return `ApprovalRequest ${ref} is ${phase}${ar.status?.message ? `: ${ar.status.message}` : ''}`;
  }
}

export function observeApproval(ag: AgentgateClient, name: string, ns: string, now: () => Date): () => Promise<Observation<ApprovalRequest>> {
  return async () => {
    const ar = await getOrExplain<ApprovalRequest>(ag, 'ApprovalRequest', name, ns);
    return { object: ar, line: describeApproval(ar, now()), settled: effectivePhase(ar, now()) !== 'Pending' };
  };
}
