// Shared fixtures: API object builders for unit tests, e2e and benchmarks, and the
// webhook's request and role fixtures (not a test file itself).
import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../api/types.js';
import type { AdmissionRequest, JsonObject } from '../lib/admission.js';
import type { SettledApprovalCall } from '../lib/approval-confirm.js';
import type { FakeClock } from '../lib/clock.js';
import type { RoleLike, NamespaceLike } from '../webhook/snapshot.js';

export const AGENT_USER = { username: 'agent:deploy-bot', groups: ['agentgate:agents', 'system:authenticated'] };

/** A change to a fixture: a partial spec merged in, or a function that edits the object. */
export type Mod<T extends { spec: object }> = Partial<T['spec']> | ((o: T) => void);

function applyMods<T extends { spec: object }>(o: T, mods: ReadonlyArray<Mod<T>>): T {
  for (const m of mods) {
    if (typeof m === 'function') m(o);
    else o.spec = { ...o.spec, ...m };
  }
  return o;
}

/** Sets metadata fields (uid, generation, labels...). */
export const withMeta =
  <T extends { metadata: object }>(meta: Partial<T['metadata']>) =>
  (o: T): void => {
    o.metadata = { ...o.metadata, ...meta };
  };

/** Sets status; undefined leaves it absent. */
export const withObjectStatus =
  <T extends { status?: unknown }>(status: T['status'] | undefined) =>
  (o: T): void => {
    if (status !== undefined) o.status = status;
  };

/** Drops what the apiserver sets (uid, resourceVersion): an object to create in a real cluster. */
export const asNew = (o: { metadata: { uid?: string; resourceVersion?: string } }): void => {
  delete o.metadata.uid;
  delete o.metadata.resourceVersion;
};

/**
 * The one AgentIdentity builder of unit tests, e2e and benchmarks: deploy-bot's subject,
 * an 8h ceiling of edit/view (and Role deployer) in prod and staging, approvers
 * sre-approvers; each mod is a partial spec or an edit, applied in order.
 */
export function agentIdentity(name = 'deploy-bot', ...mods: Array<Mod<AgentIdentity>>): AgentIdentity {
  return applyMods<AgentIdentity>(
    {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AgentIdentity',
      metadata: { name, uid: `uid-${name}`, resourceVersion: '1' },
      spec: {
        subjects: [{ kind: 'User', name: 'agent:deploy-bot' }],
        maxDuration: '8h',
        allowedRoles: [
          { kind: 'ClusterRole', name: 'edit' },
          { kind: 'ClusterRole', name: 'view' },
          { kind: 'Role', name: 'deployer' },
        ],
        allowedNamespaces: { names: ['prod', 'staging'] },
        approvers: { groups: ['sre-approvers'] },
        requiredApprovals: 1,
      },
    },
    mods,
  );
}

/** The one AccessGrant builder: deploy-bot asks for ClusterRole edit for 30m, Immediate; mods as for agentIdentity. */
export function accessGrant(name = 'hotfix', namespace = 'prod', ...mods: Array<Mod<AccessGrant>>): AccessGrant {
  return applyMods<AccessGrant>(
    {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name, namespace, uid: `uid-${name}` },
      spec: { agent: 'deploy-bot', roleRef: { kind: 'ClusterRole', name: 'edit' }, duration: '30m', reason: 'roll out the hotfix', activation: 'Immediate' },
    },
    mods,
  );
}

export function activeGrant(
  clock: FakeClock,
  name = 'g1',
  over: {
    namespace?: string;
    role?: AccessGrant['spec']['roleRef'];
    expiresInMs?: number;
    agent?: string;
    phase?: NonNullable<AccessGrant['status']>['phase'];
    approvalRules?: AccessGrant['spec']['approvalRules'];
  } = {},
): AccessGrant {
  const now = clock.now().getTime();
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AccessGrant',
    metadata: { name, namespace: over.namespace ?? 'prod', uid: `uid-${name}`, resourceVersion: '5' },
    spec: {
      agent: over.agent ?? 'deploy-bot',
      roleRef: over.role ?? { kind: 'ClusterRole', name: 'edit' },
      duration: '1h',
      reason: 'hotfix',
      activation: 'Immediate',
      ...(over.approvalRules ? { approvalRules: over.approvalRules } : {}),
    },
    status: {
      phase: over.phase ?? 'Active',
      activatedAt: new Date(now - 60_000).toISOString(),
      expiresAt: new Date(now + (over.expiresInMs ?? 3600_000)).toISOString(),
      roleBinding: `agentgate-${name}`,
    },
  };
}

export const EDIT: RoleLike = {
  metadata: { name: 'edit', uid: 'uid-edit', resourceVersion: '1' },
  rules: [
    {
      verbs: ['create', 'delete', 'deletecollection', 'patch', 'update'],
      apiGroups: [''],
      resources: ['configmaps', 'pods', 'secrets', 'services', 'persistentvolumeclaims', 'pods/exec', 'pods/attach', 'pods/portforward'],
    },
    {
      verbs: ['create', 'delete', 'deletecollection', 'patch', 'update'],
      apiGroups: ['apps'],
      resources: ['deployments', 'deployments/scale', 'statefulsets'],
    },
  ],
};
export const VIEW: RoleLike = {
  metadata: { name: 'view', uid: 'uid-view', resourceVersion: '1' },
  rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: ['', 'apps'], resources: ['*'] }],
};
export const DEPLOYER: RoleLike = {
  metadata: { name: 'deployer', namespace: 'prod', uid: 'uid-deployer', resourceVersion: '1' },
  rules: [{ verbs: ['update', 'patch'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }],
};
export const NAMESPACES: NamespaceLike[] = [
  { metadata: { name: 'prod', labels: { env: 'prod' } } },
  { metadata: { name: 'staging' } },
  { metadata: { name: 'other' } },
];

let uidCounter = 0;

export function request(
  over: Partial<Omit<AdmissionRequest, 'resource'>> & { op?: AdmissionRequest['operation']; group?: string; resource?: string; version?: string } = {},
): AdmissionRequest {
  const { op, group, resource, version, ...rest } = over;
  const r: AdmissionRequest = {
    uid: `req-${++uidCounter}`,
    kind: { group: group ?? '', version: version ?? 'v1', kind: 'ConfigMap' },
    resource: { group: group ?? '', version: version ?? 'v1', resource: resource ?? 'configmaps' },
    namespace: 'prod',
    operation: op ?? 'CREATE',
    userInfo: AGENT_USER,
    ...rest,
  };
  return r;
}

export function configMapCreate(name = 'cm', namespace = 'prod'): AdmissionRequest {
  return request({ name, namespace, object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { a: '1' } } });
}

export function deploymentObject(name: string, replicas = 3, uid = `uid-${name}`): JsonObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'prod', uid, resourceVersion: '10' }, spec: { replicas } };
}

export function deploymentDelete(name = 'web', namespace = 'prod'): AdmissionRequest {
  return request({
    op: 'DELETE',
    group: 'apps',
    resource: 'deployments',
    name,
    namespace,
    oldObject: deploymentObject(name),
    object: null,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', propagationPolicy: 'Background' },
  });
}

export function withStatus(ar: ApprovalRequest, status: ApprovalRequest['status'], rv = '42'): ApprovalRequest {
  return { ...ar, metadata: { ...ar.metadata, resourceVersion: rv }, ...(status ? { status } : {}) };
}

/** The fingerprint of heldRequest() and settledCall(). */
const HELD_FINGERPRINT = 'c'.repeat(64);

/** ApprovalRequest prod/ar-1: deploy-bot's held operation (or an activation), with this status. */
export function heldRequest(status?: ApprovalRequest['status'], type: 'Operation' | 'Activation' = 'Operation'): ApprovalRequest {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'ar-1', namespace: 'prod', resourceVersion: '7' },
    spec: { agent: 'deploy-bot', type, fingerprint: HELD_FINGERPRINT, summary: 's', requestedBy: 'agent:deploy-bot', expiresAt: '2030-01-01T01:00:00Z' },
    ...(status ? { status } : {}),
  };
}

/** The settled record of deploy-bot's held call of heldRequest() (the webhook denied it: Failed at the apiserver). */
export function settledCall(over: Partial<SettledApprovalCall> = {}): SettledApprovalCall {
  return {
    record: 'rec-1',
    approvalRequest: 'prod/ar-1',
    agent: 'deploy-bot',
    decision: 'Held',
    requestUID: 'uid-1',
    fingerprint: HELD_FINGERPRINT,
    outcome: 'Failed',
    ...over,
  };
}
