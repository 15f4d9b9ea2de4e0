// Reading a refusal: which of agentgate's controls (or Kubernetes RBAC) refused a call,
// from whatever the agent has: the metav1.Status a client library returned, or the text
// kubectl printed. Pure; the desk (desk.ts) adds what the cluster says about it.
import { CAUSE, isAgentgateReason, REASON } from '../../api/reasons.js';
import type { AgentgateReason } from '../../api/reasons.js';
import type { Status } from '../../lib/admission.js';

/** What refused the call, in the terms of the issue: one value per distinct way out. */
export type Refusal =
  | 'NoIdentity'
  | 'AmbiguousIdentity'
  | 'Suspended'
  | 'NotCovered'
  | 'Expired'
  | 'OutOfScope'
  | 'RequestRefused'
  | 'RuleHeld'
  | 'ApprovalDenied'
  | 'RuleDenied'
  | 'Unavailable'
  | 'Unknown';

/** The control of design.md's five that the refusal belongs to. */
export type Control = 'identity' | 'scope' | 'timing' | 'approval' | 'record' | 'unknown';

const BY_REASON: Record<AgentgateReason, Refusal> = {
  [REASON.ApprovalRequired]: 'RuleHeld',
  [REASON.ApprovalDenied]: 'ApprovalDenied',
  [REASON.RuleDenied]: 'RuleDenied',
  [REASON.NotCovered]: 'NotCovered',
  [REASON.GrantExpired]: 'Expired',
  [REASON.OutOfScope]: 'OutOfScope',
  [REASON.RequestRefused]: 'RequestRefused',
  [REASON.AgentSuspended]: 'Suspended',
  [REASON.AmbiguousIdentity]: 'AmbiguousIdentity',
  [REASON.Unavailable]: 'Unavailable',
};

export const CONTROL: Record<Refusal, Control> = {
  NoIdentity: 'identity',
  AmbiguousIdentity: 'identity',
  Suspended: 'identity',
  NotCovered: 'scope',
  OutOfScope: 'scope',
  RequestRefused: 'scope',
  Expired: 'timing',
  RuleHeld: 'approval',
  ApprovalDenied: 'approval',
  RuleDenied: 'approval',
  Unavailable: 'record',
  Unknown: 'unknown',
};

interface ParsedRefusal {
  refusal: Refusal;
  /** Who said no: agentgate's webhook, Kubernetes RBAC (agentgate never saw the call), or neither we know of. */
  refusedBy: 'agentgate' | 'rbac' | 'unknown';
  reason?: string;
  message: string;
  approvalRequest?: { name: string; namespace?: string };
  grant?: { name: string; namespace: string };
  agent?: string;
  rules: string[];
  namespace?: string;
  retryAfterSeconds?: number;
  until?: string;
  /** For RBAC refusals: what the call was. */
  attempted?: { user: string; verb: string; resource: string; group: string; namespace?: string };
}

// kubectl: `Error from server (AgentgateApprovalRequired): admission webhook "agents.agentgate.io" denied the request: ...`
const KUBECTL_REASON = /Error from server \((Agentgate[A-Za-z]+)\)/;
const RBAC = /User "([^"]+)" cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)")?/;
const AR_IN_MESSAGE = /ApprovalRequest ([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)(?: in namespace ([a-z0-9-]+))?/;
const GRANT_EXPIRED = /grant ([a-z0-9.-]+) expired at/;
const NAMESPACE_IN_MESSAGE = /in namespace ([a-z0-9-]+)/;

/** Classifies an agentgate message that came without a reason (older servers, or a client that dropped it). */
function refusalFromText(text: string): Refusal {
  if (/ambiguous identity/.test(text)) return 'AmbiguousIdentity';
  if (/is suspended/.test(text)) return 'Suspended';
  if (/audit record could not be written|could not (store the approval request|use the approval)|used concurrently/.test(text)) return 'Unavailable';
  if (/held for approval|would be held for approval|too many approval requests/.test(text)) return 'RuleHeld';
  if (/for this exact call was denied/.test(text)) return 'ApprovalDenied';
  if (/request for access is refused|AccessGrant in the request has no spec/.test(text)) return 'RequestRefused';
  if (/has no AccessGrant in namespace|no active grant of agent/.test(text))
    return GRANT_EXPIRED.test(text) && !/ is (Pending|AwaitingApproval)/.test(text) ? 'Expired' : 'NotCovered';
  if (/may not .*(cluster-scoped|agentgate's objects|agentgate's namespace|managed by agentgate)|may not change anything in agentgate's namespace/.test(text))
    return 'OutOfScope';
  return 'RuleDenied';
}

/** Reads a refusal from a Status object and/or an error text; never throws. */
export function parseRefusal(input: { status?: Partial<Status> | undefined; message?: string | undefined }): ParsedRefusal {
  const status = input.status ?? {};
  const text = [input.message ?? '', status.message ?? ''].filter(Boolean).join('\n');
  const causes = status.details?.causes ?? [];
  const causeValues = (type: string): string[] => causes.filter((c) => c.reason === type && c.message).map((c) => c.message!);
  const reason = isAgentgateReason(status.reason) ? status.reason : (KUBECTL_REASON.exec(text)?.[1] ?? undefined);
  const fromAgentgate = isAgentgateReason(reason) || /denied the request: agentgate: |(^|\s)agentgate: /.test(text);
  const out: ParsedRefusal = { refusal: 'Unknown', refusedBy: 'unknown', message: text, rules: causeValues(CAUSE.Rule) };
  if (reason) out.reason = reason;
  const ns = causeValues(CAUSE.Namespace)[0] ?? NAMESPACE_IN_MESSAGE.exec(text)?.[1];
  if (ns) out.namespace = ns;
  const agent = causeValues(CAUSE.Agent)[0];
  if (agent) out.agent = agent;
  const until = causeValues(CAUSE.Until)[0];
  if (until) out.until = until;
  if (status.details?.retryAfterSeconds) out.retryAfterSeconds = status.details.retryAfterSeconds;

  if (fromAgentgate) {
    out.refusedBy = 'agentgate';
    out.refusal = isAgentgateReason(reason) ? BY_REASON[reason] : refusalFromText(text);
    const kind = status.details?.kind;
    const name = status.details?.name;
    if (kind === 'ApprovalRequest' && name) out.approvalRequest = { name, ...(ns ? { namespace: ns } : {}) };
    else {
      const m = AR_IN_MESSAGE.exec(text);
      if (m?.[1]) out.approvalRequest = { name: m[1], ...((m[2] ?? ns) ? { namespace: (m[2] ?? ns)! } : {}) };
    }
    const grantCause = causeValues(CAUSE.Grant)[0];
    if (kind === 'AccessGrant' && name && ns) out.grant = { name, namespace: ns };
    else if (grantCause?.includes('/')) {
      const [gns, gname] = grantCause.split('/') as [string, string];
      out.grant = { name: gname, namespace: gns };
    } else if (out.refusal === 'Expired' && ns) {
      const g = GRANT_EXPIRED.exec(text)?.[1];
      if (g) out.grant = { name: g, namespace: ns };
    }
    if (out.refusal === 'NotCovered' || out.refusal === 'Expired' || out.refusal === 'Suspended') delete out.approvalRequest;
    return out;
  }

  const rbac = RBAC.exec(text);
  if (rbac || status.reason === 'Forbidden' || status.code === 403) {
    out.refusedBy = 'rbac';
    // Without an identity agentgate knows, or without an active grant, RBAC holds no binding for the call:
    // the desk tells the two apart with whoami. NotCovered until then.
    out.refusal = 'NotCovered';
    if (rbac) {
      out.attempted = { user: rbac[1]!, verb: rbac[2]!, resource: rbac[3]!, group: rbac[4] ?? '', ...(rbac[5] ? { namespace: rbac[5] } : {}) };
      if (rbac[5]) out.namespace = rbac[5];
    }
    return out;
  }
  if (/failed calling webhook "[^"]*agentgate/.test(text)) {
    out.refusedBy = 'agentgate';
    out.refusal = 'Unavailable';
  }
  return out;
}
