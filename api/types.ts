// The agentgate.io/v1alpha1 API as TypeScript types.
// The CRDs in crds/ are the source of truth; api/schema-drift.test.ts fails when a
// property here and a property there disagree.

export const GROUP = 'agentgate.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
}

/** metav1.Condition */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  /** required for ServiceAccount */
  namespace?: string;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

export type RuleAction = 'Deny' | 'RequireApproval' | 'Allow';

/** A CEL rule over request, object, oldObject, agent, grant. */
export interface ApprovalRule {
  name: string;
  expression: string;
  action: RuleAction;
  message?: string;
}

export interface AgentIdentitySpec {
  displayName?: string;
  description?: string;
  subjects: Subject[];
  eks?: { roleArn: string; clusterName?: string };
  maxDuration: string;
  allowedRoles: Array<{ kind: 'ClusterRole' | 'Role'; name: string }>;
  allowedNamespaces: { names?: string[]; selector?: LabelSelector };
  approvers?: { users?: string[]; groups?: string[] };
  requiredApprovals?: number;
  approvalRules?: ApprovalRule[];
  /** built-in default rules by name that do not apply to this agent */
  disabledDefaultRules?: string[];
  holdSeconds?: number;
  suspended?: boolean;
}

export interface AgentIdentityStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  activeGrants?: number;
  findings?: BoundaryFinding[];
  lastVerified?: string;
}

export interface BoundaryFinding {
  severity: 'Critical' | 'Warning';
  route: string;
  object?: string;
  message: string;
  fix: string;
}

export interface AgentIdentity {
  apiVersion: typeof API_VERSION;
  kind: 'AgentIdentity';
  metadata: ObjectMeta;
  spec: AgentIdentitySpec;
  status?: AgentIdentityStatus;
}

export type GrantPhase = 'Pending' | 'AwaitingApproval' | 'Active' | 'Expired' | 'Revoked' | 'Denied' | 'Invalid';

export interface AccessGrantSpec {
  agent: string;
  roleRef: { kind: 'ClusterRole' | 'Role'; name: string };
  duration?: string;
  notBefore?: string;
  notAfter?: string;
  reason: string;
  ticket?: string;
  activation?: 'Immediate' | 'RequiresApproval';
  approvalRules?: ApprovalRule[];
}

export interface AccessGrantStatus {
  phase?: GrantPhase;
  activatedAt?: string;
  expiresAt?: string;
  roleBinding?: string;
  approvalRequest?: string;
  requestedBy?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

export interface AccessGrant {
  apiVersion: typeof API_VERSION;
  kind: 'AccessGrant';
  metadata: ObjectMeta;
  spec: AccessGrantSpec;
  status?: AccessGrantStatus;
}

export type ApprovalPhase = 'Pending' | 'Approved' | 'Denied' | 'Expired' | 'Consumed';

export interface OperationRef {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  user: string;
  groups?: string[];
}

export interface ApprovalRequestSpec {
  agent: string;
  type: 'Operation' | 'Activation';
  grant?: string;
  operation?: OperationRef;
  fingerprint: string;
  summary: string;
  preview?: string;
  matchedRules?: string[];
  requestedBy: string;
  expiresAt: string;
}

export interface ApprovalRecord {
  user: string;
  groups?: string[];
  decision: 'Approved' | 'Denied';
  time: string;
}

export interface ApprovalRequestStatus {
  phase?: ApprovalPhase;
  approvals?: ApprovalRecord[];
  decidedAt?: string;
  consumedAt?: string;
  consumedBy?: string;
  validUntil?: string;
  message?: string;
  conditions?: Condition[];
}

export interface ApprovalRequest {
  apiVersion: typeof API_VERSION;
  kind: 'ApprovalRequest';
  metadata: ObjectMeta;
  spec: ApprovalRequestSpec;
  status?: ApprovalRequestStatus;
}

export type Decision = 'Allowed' | 'Held' | 'Denied';

export interface AuditEventSpec {
  time: string;
  agent?: string;
  user: string;
  groups?: string[];
  operation: string;
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  command?: string[];
  decision: Decision;
  reason: string;
  matchedRules?: string[];
  grant?: string;
  approvalRequest?: string;
  requestUID: string;
  objectDigest?: string;
  chain: { writer: string; sequence: number; previousHash: string; hash: string };
}

export interface AuditEvent {
  apiVersion: typeof API_VERSION;
  kind: 'AuditEvent';
  metadata: ObjectMeta;
  spec: AuditEventSpec;
}

/** Labels and annotations agentgate owns. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'agentgate';
export const LABEL_GRANT = 'agentgate.io/grant';
export const LABEL_AGENT = 'agentgate.io/agent';
export const LABEL_FINGERPRINT = 'agentgate.io/fingerprint';
export const ANNOTATION_APPROVED = 'approved';
export const FINALIZER = 'agentgate.io/revoke-access';
