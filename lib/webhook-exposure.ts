// Whether pods in the agents' namespaces can reach the webhook's port, read from the
// NetworkPolicies that select the webhook's pods (Kubernetes semantics: a pod selected by
// no Ingress policy accepts everything; selected pods accept the union of the policies'
// rules). Pure. Says "exposed" only where it can tell: an ipBlock is judged open only
// when it is 0.0.0.0/0 or ::/0 without exceptions, because pod CIDRs are not in the API.
//
// A reachable webhook no longer grants anything (README, "What the webhook trusts"); this
// is defence in depth: a forged review can still burn an approval or add unconfirmed
// records, and a narrowed port removes even that.
import type { LabelSelector } from './selector.js';
import { selectorMatches } from './selector.js';

interface NetworkPolicyPeerLike {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicyLike {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: Array<{ from?: NetworkPolicyPeerLike[]; ports?: Array<{ port?: number | string; protocol?: string; endPort?: number }> }>;
  };
}

export interface ExposureInput {
  /** The webhook's namespace and the labels of its pods (the Service's selector). */
  webhookNamespace: string;
  podLabels: Record<string, string>;
  /** The container port as the Service targets it: its number (0 when only named) and its name. */
  port: number;
  portName?: string;
  networkPolicies: readonly NetworkPolicyLike[];
  /** Namespaces an agent can create pods in, with their labels. */
  agentNamespaces: ReadonlyArray<{ name: string; labels?: Record<string, string> }>;
}

interface Exposure {
  exposed: boolean;
  /** Which namespaces can reach it, or 'every pod'. */
  from: string[];
  why: string;
}

function isIngress(np: NetworkPolicyLike): boolean {
  const types = np.spec?.policyTypes;
  return types ? types.includes('Ingress') : true;
}

function portMatches(
  ports: NonNullable<NonNullable<NonNullable<NetworkPolicyLike['spec']>['ingress']>[number]['ports']>,
  port: number,
  portName?: string,
): boolean {
  if (!ports.length) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') return p.port === portName || p.port === String(port);
    // A port known only by name (0 here) may be any number: count it as matching.
    if (port === 0) return true;
    return p.endPort ? port >= p.port && port <= p.endPort : p.port === port;
  });
}

export function webhookExposure(input: ExposureInput): Exposure {
  const selecting = input.networkPolicies.filter(
    (np) =>
      (np.metadata?.namespace ?? input.webhookNamespace) === input.webhookNamespace && isIngress(np) && selectorMatches(np.spec?.podSelector, input.podLabels),
  );
  if (!selecting.length) {
    return { exposed: true, from: ['every pod'], why: `no NetworkPolicy in ${input.webhookNamespace} isolates the webhook's pods` };
  }
  const from = new Set<string>();
  for (const np of selecting) {
    for (const rule of np.spec?.ingress ?? []) {
      if (!portMatches(rule.ports ?? [], input.port, input.portName)) continue;
      const peers = rule.from ?? [];
      if (!peers.length)
        return {
          exposed: true,
          from: ['every pod'],
          why: `NetworkPolicy ${input.webhookNamespace}/${np.metadata?.name ?? ''} admits any source to port ${input.port}`,
        };
      for (const peer of peers) {
        if (peer.ipBlock) {
          if ((peer.ipBlock.cidr === '0.0.0.0/0' || peer.ipBlock.cidr === '::/0') && !(peer.ipBlock.except ?? []).length) {
            return {
              exposed: true,
              from: ['every pod'],
              why: `NetworkPolicy ${input.webhookNamespace}/${np.metadata?.name ?? ''} admits ${peer.ipBlock.cidr} to port ${input.port}`,
            };
          }
          continue;
        }
        if (!peer.namespaceSelector) {
          // podSelector alone: pods of the webhook's own namespace.
          if (input.agentNamespaces.some((n) => n.name === input.webhookNamespace)) from.add(input.webhookNamespace);
          continue;
        }
        for (const n of input.agentNamespaces) if (selectorMatches(peer.namespaceSelector, n.labels)) from.add(n.name);
      }
    }
  }
  if (from.size) {
    const list = [...from].sort();
    return { exposed: true, from: list, why: `NetworkPolicies in ${input.webhookNamespace} admit pods of ${list.join(', ')} to port ${input.port}` };
  }
  return { exposed: false, from: [], why: "no NetworkPolicy rule admits the agents' namespaces" };
}
