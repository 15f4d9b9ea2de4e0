// The agentgate.io/v1alpha1 API as TypeScript types.
// The spec and status shapes are generated from crds/ (the source of truth) into
// api/generated.ts; api/typegen.test.ts fails when they drift. This file names the parts.

export const GROUP = 'agentgate.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** AuditEvents have a group of their own: agentgate's aggregated API (an APIService cannot share a group with CRDs). */
export const AUDIT_GROUP = 'audit.agentgate.io';
export const AUDIT_API_VERSION = `${AUDIT_GROUP}/${VERSION}`;

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

import type {
  AccessGrantSpec,
  AccessGrantStatus,
  AgentIdentitySpec,
  AgentIdentityStatus,
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
export type OperationRef = NonNullable<ApprovalRequestSpec['operation']>;
export type ApprovalRecord = NonNullable<ApprovalRequestStatus['approvals']>[number];
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
export const LABEL_GRANT = 'agentgate.io/grant';
export const LABEL_AGENT = 'agentgate.io/agent';
export const LABEL_FINGERPRINT = 'agentgate.io/fingerprint';
export const ANNOTATION_APPROVED = 'approved';
export const FINALIZER = 'agentgate.io/revoke-access';

/** The webhook configurations the webhook process keeps; boundary verification checks them. */
export const AGENTS_WEBHOOK = 'agentgate-agents';
export const PROTECT_WEBHOOK = 'agentgate-protect';
export const STAMP_WEBHOOK = 'agentgate-stamp';
