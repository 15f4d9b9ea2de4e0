// The agentgate.io/v1alpha1 API as TypeScript types.
// The spec and status shapes are generated from crds/ (the source of truth) into
// api/generated.ts; api/typegen.test.ts fails when they drift. This file names the parts.

export const GROUP = 'agentgate.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** AuditEvents have a group of their own: agentgate's aggregated API (an APIService cannot share a group with CRDs). */
export const AUDIT_GROUP = 'audit.agentgate.io';
export const AUDIT_API_VERSION = `${AUDIT_GROUP}/${VERSION}`;
/** The APIService routing audit.agentgate.io to the webhook's audit API; the installer creates it. */
export const AUDIT_APISERVICE = `${VERSION}.${AUDIT_GROUP}`;
/** The Service the audit APIService routes to (the chart's; port 443), in agentgate's namespace. */
export const AUDIT_SERVICE = 'agentgate-audit';
/**
 * The Lease webhook replicas serving the audit API renew (agentgate's namespace): how the
 * operator hears that one is up while the APIService is withdrawn (operator/plan/apiservice.ts).
 */
export const AUDIT_HEARTBEAT_LEASE = 'agentgate-audit-api';

interface ObjectMeta {
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

import type {
  AccessGrantSpec,
  AccessGrantStatus,
  AgentIdentitySpec,
  AgentIdentityStatus,
  ApprovalRequestDecisions,
  ApprovalRequestSpec,
  ApprovalRequestStatus,
  AuditEventSpec,
  AuditEventStatus,
} from './generated.js';

export type {
  AccessGrantSpec,
  AccessGrantStatus,
  AgentIdentitySpec,
  AgentIdentityStatus,
  ApprovalRequestDecisions,
  ApprovalRequestSpec,
  ApprovalRequestStatus,
  AuditEventSpec,
  AuditEventStatus,
};

/** metav1.Condition */
export type Condition = NonNullable<AccessGrantStatus['conditions']>[number];
export type Subject = AgentIdentitySpec['subjects'][number];
export type LabelSelector = NonNullable<AgentIdentitySpec['allowedNamespaces']['selector']>;
/** A CEL rule over request, object, oldObject, agent, grant. */
export type ApprovalRule = NonNullable<AgentIdentitySpec['approvalRules']>[number];
export type RuleAction = ApprovalRule['action'];
export type BoundaryFinding = NonNullable<AgentIdentityStatus['findings']>[number];
export type GrantPhase = NonNullable<AccessGrantStatus['phase']>;
export type ApprovalPhase = NonNullable<ApprovalRequestStatus['phase']>;
export type ApprovalRecord = NonNullable<ApprovalRequestStatus['approvals']>[number];
/** One approver's decision as the apiserver authenticated it (ApprovalRequest.decisions). */
export type ApproverStamp = NonNullable<ApprovalRequestDecisions>[number];
export type Decision = AuditEventSpec['decision'];

export interface AgentIdentity {
  apiVersion: typeof API_VERSION;
  kind: 'AgentIdentity';
  metadata: ObjectMeta;
  spec: AgentIdentitySpec;
  status?: AgentIdentityStatus;
}

export interface AccessGrant {
  apiVersion: typeof API_VERSION;
  kind: 'AccessGrant';
  metadata: ObjectMeta;
  spec: AccessGrantSpec;
  status?: AccessGrantStatus;
}

export interface ApprovalRequest {
  apiVersion: typeof API_VERSION;
  kind: 'ApprovalRequest';
  metadata: ObjectMeta;
  spec: ApprovalRequestSpec;
  /** Stamped by the mutating webhook, verified by the ValidatingAdmissionPolicy; see lib/approval-policy.ts. */
  decisions?: ApprovalRequestDecisions;
  status?: ApprovalRequestStatus;
}

export interface AuditEvent {
  apiVersion: typeof AUDIT_API_VERSION;
  kind: 'AuditEvent';
  metadata: ObjectMeta;
  spec: AuditEventSpec;
  status?: AuditEventStatus;
}

/** Labels and annotations agentgate owns. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'agentgate';
/** Label values are object names through api/names.ts labelValue() (hashed above 63 characters). */
export const LABEL_GRANT = 'agentgate.io/grant';
export const LABEL_AGENT = 'agentgate.io/agent';
export const LABEL_FINGERPRINT = 'agentgate.io/fingerprint';
/** AuditEvent labels: the writer's hash chain and the verdict. */
export const LABEL_WRITER = 'agentgate.io/writer';
export const LABEL_DECISION = 'agentgate.io/decision';
/** AuditEvents (audit.agentgate.io): Completed | Failed | Admitted, from the apiserver's own audit event. */
export const LABEL_OUTCOME = 'agentgate.io/outcome';
/** AuditEvents: webhook (the admission record) or apiserver (a read or refused call from its audit log). */
export const LABEL_SOURCE = 'agentgate.io/source';
export const ANNOTATION_APPROVED = 'approved';
/** Who created an AccessGrant, stamped by the mutating webhook; never changes. */
export const ANNOTATION_REQUESTED_BY = 'agentgate.io/requested-by';
/** When the RoleBinding's window opened and closes, stamped on the binding. */
export const ANNOTATION_ACTIVATED_AT = 'agentgate.io/activated-at';
export const ANNOTATION_EXPIRES_AT = 'agentgate.io/expires-at';
export const FINALIZER = 'agentgate.io/revoke-access';

/** The namespace agentgate runs in by default (flags and the chart may choose another). */
export const AGENTGATE_NAMESPACE = 'agentgate-system';

/** The webhook configurations the webhook process keeps; boundary verification checks them. */
export const AGENTS_WEBHOOK = 'agentgate-agents';
export const PROTECT_WEBHOOK = 'agentgate-protect';
export const STAMP_WEBHOOK = 'agentgate-stamp';
export const WEBHOOK_CONFIGURATIONS = [
  { kind: 'ValidatingWebhookConfiguration', name: AGENTS_WEBHOOK },
  { kind: 'ValidatingWebhookConfiguration', name: PROTECT_WEBHOOK },
  { kind: 'MutatingWebhookConfiguration', name: STAMP_WEBHOOK },
] as const;
