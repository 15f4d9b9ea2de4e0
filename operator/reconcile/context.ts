// What a reconciler sees and returns (controller-runtime's shape): it reads a cached view
// of the cluster, writes through a narrow client, and returns a Result instead of
// throwing to be requeued. An error return is a failure the queue retries with backoff.
import type * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, ApprovalRequest, AuditEvent } from '../../api/types.js';
import type { PolicyState } from '../../lib/approval-policy.js';
import type { AgentgateKind } from '../../lib/kube.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import type { Recorder } from '../events.js';
import type { OperatorMetrics } from '../metrics.js';

export type FreshKind = 'AccessGrant' | 'AgentIdentity' | 'ApprovalRequest';

export type Kind = 'AccessGrant' | 'AgentIdentity' | 'ApprovalRequest' | 'AuditEvent' | 'RoleBinding' | 'APIService';

export const key = (kind: Kind, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

export function parseKey(k: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, ...rest] = k.split('/');
  return { kind: kind as Kind, namespace: namespace ?? '', name: rest.join('/') };
}

/** A reconcile's outcome: done, or look again after requeueAfterMs (urgent: a timer on access). */
export interface Result {
  requeueAfterMs?: number;
  /** Taken before routine work when due (a window opens or closes now). */
  urgent?: boolean;
}

export const DONE: Result = {};

/**
 * Lost an optimistic-concurrency race, or our cache is behind our own write: look again
 * shortly, not at once (the informer is usually a few ms behind), and not as a failure.
 */
export const CONFLICT_RETRY_MS = 50;
export const retrySoon = (): Result => ({ requeueAfterMs: CONFLICT_RETRY_MS });

/**
 * The cached cluster as reconcilers read it. Objects this operator wrote are returned as
 * written until the informer shows a newer version (a reconcile right after our own
 * write must not plan from the older cached copy).
 */
export interface OperatorCache {
  grant(namespace: string, name: string): AccessGrant | undefined;
  agent(name: string): AgentIdentity | undefined;
  approval(namespace: string, name: string): ApprovalRequest | undefined;
  /** undefined when the Namespace is not known. */
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  binding(namespace: string, name: string): k8s.V1RoleBinding | undefined;
  bindingsOfGrant(namespace: string, grant: string): k8s.V1RoleBinding[];
  bindingsOfAgent(agent: string): k8s.V1RoleBinding[];
  grantsOfAgent(agent: string): AccessGrant[];
  /** We wrote obj over the version prevRv. */
  wrote(kind: FreshKind, prevRv: string | undefined, obj: AccessGrant | AgentIdentity | ApprovalRequest): void;
  /** We re-read obj after a lost race: newer than what the informer holds. */
  refreshed(kind: FreshKind, obj: AccessGrant | AgentIdentity | ApprovalRequest): void;
  forget(kind: 'ApprovalRequest', namespace: string, name: string): void;
}

/** The writes reconcilers make; errors carry the HTTP status (lib/kube.ts isConflict...). */
export interface ClusterWrites {
  createRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void>;
  readRoleBinding(namespace: string, name: string): Promise<k8s.V1RoleBinding>;
  replaceRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void>;
  /** With a uid precondition when given: a newer binding of the same name is left alone (409). */
  deleteRoleBinding(namespace: string, name: string, uid?: string): Promise<void>;
  get<T>(kind: AgentgateKind, name: string, namespace?: string): Promise<T>;
  create<T>(kind: AgentgateKind, body: T, namespace?: string): Promise<T>;
  /**
   * A JSON merge patch (RFC 7386). The caches hold trimmed objects (operator/cache-shapes.ts),
   * so metadata writes must be patches of what changes, never whole objects written back;
   * a metadata.resourceVersion in the patch makes it conditional (409 when it moved on).
   */
  mergePatch<T>(kind: AgentgateKind, name: string, patch: object, namespace?: string): Promise<T>;
  replaceStatus<T>(kind: AgentgateKind, name: string, body: T, namespace?: string): Promise<T>;
  delete(kind: AgentgateKind, name: string, namespace?: string): Promise<void>;
  /** One page of AuditEvents (no informer: the largest and coldest set). */
  listAuditEvents(namespace: string, limit: number, cont?: string): Promise<{ items: AuditEvent[]; continue?: string }>;
}

export interface ReconcileContext {
  cache: OperatorCache;
  writes: ClusterWrites;
  clock: Clock;
  log: Logger;
  metrics: OperatorMetrics;
  recorder: Recorder;
  /** agentgate's namespace: AuditEvents and the lease; no grant may open access there. */
  namespace: string;
  approvalTtlMs: number;
  /** status.validUntil = decidedAt + this, for approvals recorded from stamps. */
  approvalValidityMs?: number;
  /** The approval-stamps policy as it is now: why it is not in force, or its epoch. */
  approvalPolicy(): Promise<PolicyState>;
  auditRetentionMs: number;
  /** Another key to reconcile (e.g. the grant an approval gates). */
  enqueue(key: string): void;
}
