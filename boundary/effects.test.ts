// Why IndirectPodCreation stayed silent for the case, and the class fix: the old
// check only looked at ServiceAccount OBJECTS with a RoleBinding in their OWN namespace
// (or a ClusterRoleBinding) giving WRITE verbs or Secret reads. Each case below was silent.
import { expect } from 'chai';
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { agentIdentity, withObjectStatus } from '../testing/fixtures.js';
import type { Binding, SnapshotWithoutReviews } from './types.js';
import { indirectIdentityFindings, undeclaredGroupFindings, unclassifiedRouteFindings } from './effects.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const agent = (over: Partial<AgentIdentity['spec']> = {}, status?: AgentIdentity['status']): AgentIdentity =>
  agentIdentity(
    'bot',
    {
      subjects: [{ kind: 'User', name: 'agent:bot' }],
      allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
      allowedNamespaces: { names: ['app'] },
      approvers: { groups: ['sre'] },
    },
    over,
    withObjectStatus<AgentIdentity>(status),
  );
const grant: AccessGrant = {
  apiVersion: 'agentgate.io/v1alpha1',
  kind: 'AccessGrant',
  metadata: { name: 'g', namespace: 'app' },
  spec: { agent: 'bot', roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '1h', reason: 'x' },
  status: { phase: 'Active', expiresAt: '2030-01-01T13:00:00Z' },
};
const rb = (name: string, ns: string, sa: { name: string; namespace?: string }, role: string): Binding => ({
  metadata: { name, namespace: ns },
  subjects: [{ kind: 'ServiceAccount', ...sa }],
  roleRef: { kind: 'ClusterRole', name: role },
});

function snap(over: Partial<SnapshotWithoutReviews> = {}): SnapshotWithoutReviews {
  return {
    agents: [agent()],
    grants: [grant],
    roleBindings: [],
    clusterRoleBindings: [],
    roles: [],
    clusterRoles: [
      {
        metadata: { name: 'agentgate-edit' },
        rules: [
          { verbs: ['create', 'update', 'patch', 'delete'], apiGroups: ['', 'apps'], resources: ['pods', 'deployments', 'configmaps', 'serviceaccounts'] },
        ],
      },
      { metadata: { name: 'view' }, rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'configmaps'] }] },
      { metadata: { name: 'admin' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] },
      { metadata: { name: 'cm-only' }, rules: [{ verbs: ['create'], apiGroups: [''], resources: ['configmaps'] }] },
    ],
    namespaces: [{ name: 'app', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } }, { name: 'prod' }],
    serviceAccounts: [{ namespace: 'app', name: 'default' }],
    webhooks: {},
    ...over,
  };
}
const routes = (s: SnapshotWithoutReviews, a = agent()) => indirectIdentityFindings(a, s, NOW).map((f) => `${f.severity}:${f.route}`);

describe('boundary-effects: indirect identity and privilege, per grant', () => {
  it('a ServiceAccount that does not exist yet but that a binding already names (the agent can create it)', () => {
    const s = snap({ roleBindings: [rb('future-admin', 'app', { name: 'deployer' }, 'admin')] });
    const f = indirectIdentityFindings(agent(), s, NOW);
    expect(f.map((x) => x.route)).to.deep.equal(['IndirectPodCreation']);
    expect(f[0]!.message).to.contain('ServiceAccount app/deployer');
  });

  it('a RoleBinding in ANOTHER namespace (prod) gives the ServiceAccount of the grant namespace power there', () => {
    const s = snap({ serviceAccounts: [{ namespace: 'app', name: 'ci' }], roleBindings: [rb('ci-prod', 'prod', { name: 'ci', namespace: 'app' }, 'cm-only')] });
    const f = indirectIdentityFindings(agent(), s, NOW);
    expect(f[0]!.message).to.contain('access in namespace prod');
  });

  it('read-only access cluster-wide (no write verb, no Secrets) is still more than a one-namespace grant', () => {
    const s = snap({
      serviceAccounts: [{ namespace: 'app', name: 'reader' }],
      clusterRoleBindings: [rb('reader-view', '', { name: 'reader', namespace: 'app' }, 'view')],
    });
    expect(routes(s)).to.deep.equal(['Warning:IndirectPodCreation']);
  });

  it('nothing when every ServiceAccount holds no more than the grant role', () => {
    const s = snap({ serviceAccounts: [{ namespace: 'app', name: 'cm' }], roleBindings: [rb('cm', 'app', { name: 'cm' }, 'cm-only')] });
    expect(routes(s)).to.deep.equal([]);
  });

  it('Critical when the agent disabled the rule that holds such writes; privilege where Pod Security admits it', () => {
    const s = snap({ roleBindings: [rb('a', 'app', { name: 'deployer' }, 'admin')], namespaces: [{ name: 'app' }] });
    expect(routes(s, agent({ disabledDefaultRules: ['workload-identity', 'workload-privilege'] }))).to.have.members([
      'Critical:IndirectPodCreation',
      'Critical:IndirectPrivilegedPod',
    ]);
    expect(routes(s)).to.deep.equal(['Warning:IndirectPodCreation']);
  });
});

describe('boundary-effects: observed identity', () => {
  const observed = {
    observedIdentity: [
      {
        username: 'agent:bot',
        groups: ['agentgate:agents', 'system:authenticated'],
        extraKeys: [],
        firstSeen: '2030-01-01T11:00:00Z',
        lastSeen: '2030-01-01T11:59:00Z',
      },
    ],
  };
  it('an undeclared group is a Warning, Critical when a binding names it; declared and implicit groups are fine', () => {
    expect(undeclaredGroupFindings(agent({}, observed), snap()).map((f) => `${f.severity} ${f.object}`)).to.deep.equal(['Warning Group agentgate:agents']);
    const bound = snap({
      clusterRoleBindings: [
        { metadata: { name: 'agents-vwc' }, subjects: [{ kind: 'Group', name: 'agentgate:agents' }], roleRef: { kind: 'ClusterRole', name: 'admin' } },
      ],
    });
    const f = undeclaredGroupFindings(agent({}, observed), bound);
    expect(f[0]!.severity).to.equal('Critical');
    expect(f[0]!.message).to.contain('ClusterRoleBinding/agents-vwc');
    const declared = agent(
      {
        subjects: [
          { kind: 'User', name: 'agent:bot' },
          { kind: 'Group', name: 'agentgate:agents' },
        ],
      },
      observed,
    );
    expect(undeclaredGroupFindings(declared, bound)).to.deep.equal([]);
  });
});

describe('boundary-effects: unclassified routes', () => {
  it('reports unclassified routes reached by a role the agent may be granted', () => {
    const r = [
      {
        group: 'example.com',
        resource: 'widgets',
        subresource: 'shell',
        verb: 'create',
        namespaced: true,
        custom: false,
        governedBy: [],
        why: '',
        roles: ['agentgate-edit'],
      },
      {
        group: '',
        resource: 'pods',
        subresource: '',
        verb: 'get',
        namespaced: true,
        custom: false,
        class: 'read' as const,
        governedBy: [],
        why: '',
        roles: ['agentgate-edit'],
      },
      { group: 'x.io', resource: 'y', subresource: '', verb: 'get', namespaced: true, custom: false, governedBy: [], why: '', roles: ['other'] },
    ];
    expect(unclassifiedRouteFindings(agent(), r).map((f) => f.object)).to.deep.equal(['create widgets/shell.example.com']);
  });
});
