// The boundary report's model: route names, findings, and the snapshot of the cluster
// that verification reads (structural subsets of the Kubernetes objects, compatible
// with client-node's, so boundary/snapshot.ts can hand over what it lists as is).

import type { LiveBinding, LivePolicy } from '../lib/approval-policy.js';
import type { ExposureInput } from '../lib/webhook-exposure.js';
import type { ClassifiedRoute } from '../lib/routes.js';
import type { AccessGrant, AgentIdentity, BoundaryFinding } from '../api/types.js';
import type { PolicyRule, RbacSubject } from '../lib/rbac.js';

/** Route names; stable, they appear in status.findings, metrics and scripts. */
export const Route = {
  /** A (Cluster)RoleBinding names the agent and no active grant of the agent owns it. */
  StandingBinding: 'StandingBinding',
  /** A binding owned by an active grant, but of another agent, names this agent (shared subject). */
  ForeignGrantBinding: 'ForeignGrantBinding',
  /** A grant's RoleBinding was edited to bind a role other than the grant's. */
  TamperedBinding: 'TamperedBinding',
  /** A binding to system:authenticated / system:serviceaccounts reaches every agent. */
  BroadGroupBinding: 'BroadGroupBinding',
  /** SubjectAccessReview says the agent can widen its own access or act as someone else. */
  Escalation: 'Escalation',
  WebhookMissing: 'WebhookMissing',
  WebhookFailOpen: 'WebhookFailOpen',
  WebhookMissingConnect: 'WebhookMissingConnect',
  WebhookMissingOperation: 'WebhookMissingOperation',
  WebhookMissingResources: 'WebhookMissingResources',
  WebhookSubjectNotMatched: 'WebhookSubjectNotMatched',
  WebhookMatchConditionUnverified: 'WebhookMatchConditionUnverified',
  WebhookExemptsNamespaces: 'WebhookExemptsNamespaces',
  WebhookExemptsObjects: 'WebhookExemptsObjects',
  WebhookBadCABundle: 'WebhookBadCABundle',
  WebhookUnreachable: 'WebhookUnreachable',
  ProtectWebhookMissing: 'ProtectWebhookMissing',
  ProtectWebhookFailOpen: 'ProtectWebhookFailOpen',
  /** The ValidatingAdmissionPolicy that makes approver stamps unforgeable is missing or altered: no approval is recorded. */
  ApprovalPolicyMissing: 'ApprovalPolicyMissing',
  /** Pods in the agent's namespaces can reach the webhook's port (NetworkPolicy analysis). */
  WebhookPortExposed: 'WebhookPortExposed',
  /** The agent may create workloads where a more powerful ServiceAccount lives. */
  IndirectPodCreation: 'IndirectPodCreation',
  /** The agent may create Secrets where a more powerful ServiceAccount lives (legacy token). */
  IndirectServiceAccountToken: 'IndirectServiceAccountToken',
  /** A SubjectAccessReview this verification needed has no result: unverified, not safe. */
  ReviewMissing: 'ReviewMissing',
  /** A grant's namespace admits node-level privilege for pods the grant lets the agent start (boundary/effects.ts). */
  IndirectPrivilegedPod: 'IndirectPrivilegedPod',
  /** The apiserver attaches a group to the agent's calls that its AgentIdentity does not declare. */
  UndeclaredGroup: 'UndeclaredGroup',
  /** A role the agent may be granted reaches a route the classification does not know (lib/routes.ts). */
  UnclassifiedRoute: 'UnclassifiedRoute',
} as const;
export type RouteName = (typeof Route)[keyof typeof Route];

export type Severity = BoundaryFinding['severity'];
/** Same shape as AgentIdentity status.findings[]. */
export interface Finding extends BoundaryFinding {
  route: RouteName;
}

// ---------------------------------------------------------------------------------
// Snapshot: structural subsets of the Kubernetes objects, compatible with client-node's.

export interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion?: string; kind: string; name: string; uid?: string; controller?: boolean }>;
}

export interface RoleRef {
  apiGroup?: string;
  kind: string;
  name: string;
}

export interface Binding {
  metadata?: Meta;
  subjects?: RbacSubject[];
  roleRef: RoleRef;
}

export interface RoleObject {
  metadata?: Meta;
  rules?: PolicyRule[];
}

export interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface WebhookRule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

export interface WebhookEntry {
  name: string;
  clientConfig?: { caBundle?: string; url?: string; service?: { name: string; namespace: string; path?: string; port?: number } };
  failurePolicy?: string;
  rules?: WebhookRule[];
  matchConditions?: Array<{ name: string; expression: string }>;
  namespaceSelector?: LabelSelectorLike;
  objectSelector?: LabelSelectorLike;
}

export interface WebhookConfiguration {
  metadata?: Meta;
  webhooks?: WebhookEntry[];
}

interface NamespaceInfo {
  name: string;
  labels?: Record<string, string>;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** Who a SubjectAccessReview asks about: one of the agent's subjects, as the apiserver would authenticate it. */
export interface Principal {
  /** e.g. "User agent:deploy-bot" */
  label: string;
  user?: string;
  groups: string[];
}

/** The attributes of one SubjectAccessReview. namespace '' asks about all namespaces / cluster scope. */
export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace: string;
}

export interface PlannedReview extends AccessAttributes {
  agent: string;
  principal: Principal;
}

export interface AccessReviewResult extends PlannedReview {
  allowed: boolean;
  /** status.reason: for RBAC, which binding allowed it. */
  reason?: string;
  evaluationError?: string;
}

/** The outcome of an HTTPS GET of a webhook's /healthz with its caBundle. */
export interface WebhookProbe {
  configuration: string;
  webhook: string;
  target: string;
  ok: boolean;
  error?: string;
}

export interface BoundarySnapshot {
  agents: AgentIdentity[];
  grants: AccessGrant[];
  roleBindings: Binding[];
  clusterRoleBindings: Binding[];
  roles: RoleObject[];
  clusterRoles: RoleObject[];
  namespaces: NamespaceInfo[];
  serviceAccounts: ServiceAccountRef[];
  webhooks: {
    agents?: WebhookConfiguration;
    protect?: WebhookConfiguration;
    stamp?: WebhookConfiguration;
  };
  /** Results of the reviews planAccessReviews() asked for. */
  accessReviews: AccessReviewResult[];
  /** Absent: the endpoint was not probed, and reachability is not reported. */
  webhookProbes?: WebhookProbe[];
  /** agentgate's namespace; default agentgate-system. */
  agentgateNamespace?: string;
  /** The approval-stamps policy and binding as read; absent: not read, nothing reported. */
  approvalPolicy?: { policy?: LivePolicy; binding?: LiveBinding };
  /** The agents webhook's pods (Service selector, target port) and its namespace's NetworkPolicies; absent: reached by URL or not readable. */
  webhookNetwork?: Omit<ExposureInput, 'agentNamespaces'>;
  /** The route inventory of the roles agents may be granted (lib/routes.ts); absent: not taken. */
  routes?: ClassifiedRoute[];
}

export type SnapshotWithoutReviews = Omit<BoundarySnapshot, 'accessReviews' | 'webhookProbes'>;

export interface VerifyOptions {
  now?: Date;
  /**
   * A grant's RoleBinding may outlive expiresAt by this much before it counts as
   * standing access: the operator deletes it on a timer, and a verification that races
   * that timer should not flap. The webhook denies calls after expiresAt regardless.
   */
  expiryGraceMs?: number;
  /** Only these agents (by name). */
  agents?: string[];
}

export interface AgentReport {
  agent: string;
  /** True when no Critical finding: nothing skips a control. */
  verified: boolean;
  findings: Finding[];
  /** How many SubjectAccessReviews backed this report. */
  reviews: number;
}

export interface BoundaryReport {
  generatedAt: string;
  agents: AgentReport[];
}

export const DEFAULT_EXPIRY_GRACE_MS = 60_000;

/** Workload kinds whose creation lets the creator pick a pod's ServiceAccount (and with it, its rights). */
export const WORKLOAD_RESOURCES: ReadonlyArray<{ group: string; resource: string }> = [
  { group: '', resource: 'pods' },
  { group: '', resource: 'replicationcontrollers' },
  { group: 'apps', resource: 'deployments' },
  { group: 'apps', resource: 'statefulsets' },
  { group: 'apps', resource: 'daemonsets' },
  { group: 'apps', resource: 'replicasets' },
  { group: 'batch', resource: 'jobs' },
  { group: 'batch', resource: 'cronjobs' },
];
