// The e2e suites' agent set-up in one place: an AgentIdentity and an AccessGrant from the
// shared builders (testing/fixtures.ts), applied as admin, and the waits that say agentgate
// has caught up (the grant Active, the agents webhook routing the agent).
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { eventually, kubectlOk } from '../harness/cluster.js';
import { accessGrant, agentIdentity, asNew, type Mod } from '../testing/fixtures.js';

/** The role the e2e agents hold: the chart's ClusterRole that agentgate may bind. */
const E2E_ROLE = { kind: 'ClusterRole', name: 'agentgate-edit' } as const;

/**
 * Applies (create or update) an AgentIdentity as admin: the builder's deploy-bot subject (the
 * real agent client certificate) and approvers, agentgate-edit for at most 1h in `namespaces`;
 * mods as for agentIdentity. Returns what it applied.
 */
export async function applyAgent(name: string, namespaces: string[], ...mods: Array<Mod<AgentIdentity>>): Promise<AgentIdentity> {
  const agent = agentIdentity(name, { maxDuration: '1h', allowedRoles: [E2E_ROLE], allowedNamespaces: { names: namespaces } }, ...mods, asNew);
  await kubectlOk('admin', ['apply', '-f', '-'], JSON.stringify(agent));
  return agent;
}

/** Applies an AccessGrant as admin: for `agent`, agentgate-edit for 1h, Immediate; mods as for accessGrant. */
export async function applyGrant(name: string, namespace: string, agent: string, ...mods: Array<Mod<AccessGrant>>): Promise<AccessGrant> {
  const grant = accessGrant(name, namespace, { agent, roleRef: E2E_ROLE, duration: '1h' }, ...mods, asNew);
  await kubectlOk('admin', ['apply', '-f', '-'], JSON.stringify(grant));
  return grant;
}

/** Waits until the operator has made the grant Active (it fails when the operator is not running). */
export async function grantActive(name: string, namespace: string, timeoutMs = 60_000): Promise<AccessGrant> {
  return eventually(
    async () => {
      const g = JSON.parse(await kubectlOk('admin', ['get', 'accessgrant', name, '-n', namespace, '-o', 'json'])) as AccessGrant;
      return g.status?.phase === 'Active' ? g : undefined;
    },
    timeoutMs,
    `grant ${namespace}/${name} Active`,
  );
}

/** Waits until the agents webhook configuration routes `user` to agentgate (its matchConditions name them). */
export async function webhookRoutes(user: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () =>
      (
        await kubectlOk('admin', ['get', 'validatingwebhookconfiguration', 'agentgate-agents', '-o', 'jsonpath={.webhooks[0].matchConditions[*].expression}'])
      ).includes(user),
    timeoutMs,
    `the agents webhook routes ${user}`,
  );
}
