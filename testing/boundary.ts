// Builders of boundary snapshots for tests (boundary's own, and the webhook's contract
// test that its generated configurations pass verification). Not imported by product code.
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { planAccessReviews, verifyAgents } from '../boundary/verify.js';
import { agentIdentity } from './fixtures.js';
import type { AccessReviewResult, Binding, BoundarySnapshot, Finding, PlannedReview, WebhookConfiguration, WebhookEntry } from '../boundary/types.js';

export const NOW = new Date('2030-01-01T12:00:00Z');

// A self-signed CA valid until 2126 (EC P-256), as a webhook's caBundle would carry.
export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBkDCCATWgAwIBAgIUUkPuBKXFrZ5+d4oeHfbUUw7fjxYwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRYWdlbnRnYXRlLXRlc3QtY2EwIBcNMjYxMTI2MDMwODA4WhgP
MjEyNjExMDIwMzA4MDhaMBwxGjAYBgNVBAMMEWFnZW50Z2F0ZS10ZXN0LWNhMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4YNlh07lA68CO4yBZYSGt7L/T51acF0N
bRYDky/Vhg/zky3qURrkhDrYshbVe6Kt0WehR3OSE+xp/IY3SSxLUqNTMFEwHQYD
VR0OBBYEFJ1J2bk/sGzGeSXO/S4USuibzzEKMB8GA1UdIwQYMBaAFJ1J2bk/sGzG
eSXO/S4USuibzzEKMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIh
AOmoYw/SQhycTj3nZO9KosqhJn8Gx/LF279zOspx31lKAiEAl+zfBm4Mt3kNd0EX
a+hmWHfx4pnWl3ZDvBY3K6iK1B8=
-----END CERTIFICATE-----
`;
export const CA_BUNDLE = Buffer.from(CA_PEM).toString('base64');

export function agent(
  name = 'deploy-bot',
  subjects: AgentIdentity['spec']['subjects'] = [{ kind: 'User', name: 'agent:deploy-bot' }],
  extra: Partial<AgentIdentity['spec']> = {},
): AgentIdentity {
  return agentIdentity(
    name,
    { subjects, maxDuration: '2h', allowedRoles: [{ kind: 'ClusterRole', name: 'edit' }], allowedNamespaces: { names: ['payments'] }, ...extra },
    (a) => delete a.spec.requiredApprovals,
  );
}

export function grant(
  name: string,
  namespace: string,
  agentName: string,
  status: AccessGrant['status'] = { phase: 'Active', expiresAt: '2030-01-01T12:30:00Z' },
): AccessGrant {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AccessGrant',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}` },
    spec: { agent: agentName, roleRef: { kind: 'ClusterRole', name: 'edit' }, duration: '30m', reason: 'test' },
    status,
  };
}

export function grantBinding(
  g: AccessGrant,
  subjects = [{ kind: 'User', name: 'agent:deploy-bot', apiGroup: 'rbac.authorization.k8s.io' }],
  roleName = 'edit',
): Binding {
  return {
    metadata: {
      name: `agentgate-${g.metadata.name}`,
      namespace: g.metadata.namespace!,
      labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/grant': g.metadata.name!, 'agentgate.io/agent': g.spec.agent },
      ownerReferences: [{ apiVersion: 'agentgate.io/v1alpha1', kind: 'AccessGrant', name: g.metadata.name!, uid: g.metadata.uid! }],
    },
    subjects,
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
  };
}

export const USER_CONDITION = {
  name: 'agents',
  expression: "request.userInfo.username in ['agent:deploy-bot'] || request.userInfo.groups.exists(g, g in ['agentgate:agents'])",
};
export const NOT_AGENTGATE = {
  name: 'not-agentgate',
  expression:
    "!(request.userInfo.username in ['system:serviceaccount:agentgate-system:agentgate-operator', 'system:serviceaccount:agentgate-system:agentgate-webhook'])",
};

export function entry(over: Partial<WebhookEntry> = {}): WebhookEntry {
  return {
    name: 'agents.agentgate.io',
    clientConfig: { caBundle: CA_BUNDLE, service: { name: 'agentgate-webhook', namespace: 'agentgate-system', path: '/validate', port: 443 } },
    failurePolicy: 'Fail',
    rules: [{ operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], scope: '*' }],
    matchConditions: [USER_CONDITION, NOT_AGENTGATE],
    namespaceSelector: {},
    objectSelector: {},
    ...over,
  };
}

export function vwc(name: string, ...webhooks: WebhookEntry[]): WebhookConfiguration {
  return { metadata: { name }, webhooks };
}

const CLUSTER_ROLES = [
  { metadata: { name: 'edit' }, rules: [{ verbs: ['create', 'update', 'patch', 'delete'], apiGroups: [''], resources: ['pods', 'configmaps', 'secrets'] }] },
  { metadata: { name: 'view' }, rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'configmaps'] }] },
  { metadata: { name: 'cluster-admin' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] },
  { metadata: { name: 'system:basic-user' }, rules: [{ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'] }] },
];

export function base(over: Partial<BoundarySnapshot> = {}): BoundarySnapshot {
  return {
    agents: [agent()],
    grants: [],
    roleBindings: [],
    clusterRoleBindings: [
      {
        metadata: { name: 'system:basic-user', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
        subjects: [{ kind: 'Group', name: 'system:authenticated' }],
        roleRef: { kind: 'ClusterRole', name: 'system:basic-user' },
      },
    ],
    roles: [],
    clusterRoles: CLUSTER_ROLES,
    namespaces: [
      { name: 'payments', labels: { 'kubernetes.io/metadata.name': 'payments' } },
      { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
      { name: 'agentgate-system', labels: { 'kubernetes.io/metadata.name': 'agentgate-system' } },
      { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } },
    ],
    serviceAccounts: [
      { namespace: 'payments', name: 'default' },
      { namespace: 'default', name: 'default' },
    ],
    webhooks: {
      agents: vwc('agentgate-agents', entry()),
      protect: vwc('agentgate-protect', entry({ name: 'protect.agentgate.io', matchConditions: [] })),
    },
    accessReviews: [],
    ...over,
  };
}

/** Answers every planned review: allowed where `allow` says so. */
export function reviewed(s: BoundarySnapshot, allow: (r: PlannedReview) => string | false = () => false): BoundarySnapshot {
  const accessReviews: AccessReviewResult[] = planAccessReviews(s).map((r) => {
    const reason = allow(r);
    return { ...r, allowed: reason !== false, ...(reason ? { reason } : {}) };
  });
  return { ...s, accessReviews };
}

export function findings(s: BoundarySnapshot, name = 'deploy-bot'): Finding[] {
  return verifyAgents(s, { now: NOW }).agents.find((a) => a.agent === name)!.findings;
}

export function routes(f: Finding[]): string[] {
  return f.map((x) => `${x.severity}:${x.route}`);
}
