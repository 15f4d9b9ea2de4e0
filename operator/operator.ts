// The operator's moving parts: informers feed a keyed work queue (operator/queue.ts);
// one reconciler per kind (operator/reconcile/) reads the cached view (operator/cache.ts),
// asks a pure planner what to do, executes the plan through ClusterWrites, and returns a
// Result. This file is the wiring: informers, event handlers, the sweep, and turning a
// Result into the queue's requeue.
import { approvalPolicyState, APPROVAL_POLICY, type PolicyState } from '../lib/approval-policy.js';
import type * as k8s from '@kubernetes/client-node';
import { AUDIT_APISERVICE, LABEL_GRANT, LABEL_MANAGED_BY, MANAGED_BY, type AccessGrant, type AgentIdentity, type ApprovalRequest } from '../api/types.js';
import type { AgentReport } from '../boundary/types.js';
import type { Clock } from '../lib/clock.js';
import { Informer } from '../lib/informer.js';
import { agentShape, approvalShape, grantShape, namespaceShape, roleBindingShape } from './cache-shapes.js';
import { AgentgateClient, agentgatePath, apiPath, GV, errorMessage, isNotFound, type KubeApi } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import { InformerCache } from './cache.js';
import type { Recorder } from './events.js';
import { KubeWrites, liveAuditApiServiceApi } from './kube-writes.js';
import type { OperatorMetrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import { AgentReconciler } from './reconcile/agent.js';
import { grantChangeReachesAgent } from './plan/agent.js';
import { AuditApiServiceReconciler, type AuditApiServiceApi } from './reconcile/apiservice.js';
import { reconcileApproval } from './reconcile/approval.js';
import { reconcileAuditRetention } from './reconcile/audit.js';
import { DONE, key, parseKey, type ClusterWrites, type ReconcileContext, type Result } from './reconcile/context.js';
import { GrantReconciler } from './reconcile/grant.js';
import { reconcileOrphanBinding } from './reconcile/orphan.js';

interface OperatorOptions {
  kc: k8s.KubeConfig;
  clock: Clock;
  log: Logger;
  /** Where AuditEvents live (and the lease). */
  namespace: string;
  approvalTtlMs: number;
  /** status.validUntil = decidedAt + this, for approvals recorded from stamps. */
  approvalValidityMs?: number;
  /**
   * approvalPolicyState() of the live ValidatingAdmissionPolicy; no stamp counts unless it is
   * in force with the request's epoch. Default: read the policy and its binding from the
   * apiserver at each recording.
   */
  approvalPolicy?: () => Promise<PolicyState>;
  auditRetentionMs: number;
  sweepIntervalMs: number;
  workers?: number;
  /** Informer relist period. */
  resyncMs?: number;
  metrics: OperatorMetrics;
  recorder: Recorder;
  /** The write seam; KubeWrites over kc when absent. */
  writes?: ClusterWrites;
  /** Withdraw the audit APIService after this long without a server (0: never; see operator/plan/apiservice.ts). */
  auditApiServiceGraceMs?: number;
  /** Its seam; the live apiserver when absent. */
  auditApiService?: AuditApiServiceApi;
  /** cert-manager's Certificate (namespace/name) injecting the audit APIService's CA, for a restore after a restart. */
  auditApiServiceInjectCaFrom?: string;
}

/**
 * A grant change reaches its agent's reconcile this much later, so a burst of them costs a
 * few reconciles (each counts the agent's grants); the status write itself is coalesced by
 * the agent's plan (operator/plan/agent.ts, STATUS_COALESCE_MS).
 */
const AGENT_COUNT_DELAY_MS = 200;

export class Operator {
  readonly client: AgentgateClient;
  readonly grants: Informer<AccessGrant>;
  readonly agents: Informer<AgentIdentity>;
  readonly approvals: Informer<ApprovalRequest>;
  readonly bindings: Informer<k8s.V1RoleBinding>;
  readonly namespaces: Informer<k8s.V1Namespace>;
  readonly queue: WorkQueue;
  private readonly cache: InformerCache;
  private readonly ctx: ReconcileContext;
  private readonly grantReconciler: GrantReconciler;
  private readonly agentReconciler: AgentReconciler;
  private readonly apiServiceReconciler?: AuditApiServiceReconciler;
  private sweepTimer?: NodeJS.Timeout;
  private started = false;
  private ready = false;

  constructor(private readonly o: OperatorOptions) {
    const { kc, log } = o;
    const writes = o.writes ?? new KubeWrites(kc);
    this.client = new AgentgateClient(kc);
    const resyncMs = o.resyncMs ?? 300_000;
    this.grants = new Informer<AccessGrant>({
      kc,
      name: 'accessgrants',
      path: agentgatePath('AccessGrant'),
      log,
      resyncMs,
      transform: grantShape,
    });
    this.agents = new Informer<AgentIdentity>({
      kc,
      name: 'agentidentities',
      path: agentgatePath('AgentIdentity'),
      log,
      resyncMs,
      transform: agentShape,
    });
    this.approvals = new Informer<ApprovalRequest>({
      kc,
      name: 'approvalrequests',
      path: agentgatePath('ApprovalRequest'),
      log,
      resyncMs,
      transform: approvalShape,
    });
    const selector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
    this.bindings = new Informer<k8s.V1RoleBinding>({
      kc,
      name: 'rolebindings',
      path: apiPath(GV.rbac, 'rolebindings'),
      labelSelector: selector,
      log,
      resyncMs,
      transform: roleBindingShape,
    });
    this.namespaces = new Informer<k8s.V1Namespace>({
      kc,
      name: 'namespaces',
      path: apiPath(GV.core, 'namespaces'),
      log,
      resyncMs,
      transform: namespaceShape,
    });
    this.cache = new InformerCache(this);
    this.queue = new WorkQueue((k) => this.reconcile(k), {
      workers: o.workers ?? 32,
      baseBackoffMs: 200,
      maxBackoffMs: 60_000,
      onError: (k, err, retryInMs) => {
        // Not `key`: the logger redacts fields named like credentials.
        log.warn('reconcile failed; retrying', { object: k, error: errorMessage(err), retryInMs });
      },
    });
    this.ctx = {
      cache: this.cache,
      writes,
      clock: o.clock,
      log,
      metrics: o.metrics,
      recorder: o.recorder,
      namespace: o.namespace,
      approvalTtlMs: o.approvalTtlMs,
      ...(o.approvalValidityMs !== undefined ? { approvalValidityMs: o.approvalValidityMs } : {}),
      approvalPolicy: o.approvalPolicy ?? (() => livePolicyState(this.client.kube)),
      auditRetentionMs: o.auditRetentionMs,
      enqueue: (k) => this.queue.add(k),
    };
    this.grantReconciler = new GrantReconciler(this.ctx);
    this.agentReconciler = new AgentReconciler(this.ctx);
    if (o.auditApiServiceGraceMs)
      this.apiServiceReconciler = new AuditApiServiceReconciler(
        this.ctx,
        o.auditApiService ?? liveAuditApiServiceApi(this.client.kube, o.namespace),
        o.auditApiServiceGraceMs,
        o.auditApiServiceInjectCaFrom,
      );
    this.wireHandlers();
  }

  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Boundary verification's report of an agent: the agent's reconcile writes it, with the
   * rest of its status; one that cannot wait (a new finding) goes before routine work.
   */
  boundaryReported(report: AgentReport, at: Date): void {
    const urgent = this.agentReconciler.reported(report, at);
    if (this.started) this.queue.add(key('AgentIdentity', '', report.agent), urgent);
  }

  /** Phase counts for the grants gauge. */
  grantPhases(): Map<string, number> {
    const m = new Map<string, number>();
    for (const g of this.grants.list()) {
      const p = g.status?.phase ?? '';
      m.set(p, (m.get(p) ?? 0) + 1);
    }
    return m;
  }

  private wireHandlers(): void {
    this.grants.onChange((g, ev, previous) => {
      this.cache.observe('AccessGrant', g, ev === 'delete');
      if (!this.started) return;
      this.queue.add(key('AccessGrant', g.metadata.namespace ?? '', g.metadata.name ?? ''));
      // Its agent's status counts Active grants; an agent that is gone has no status to
      // write. A count, not access: a burst of changes (a namespace deleted) costs one
      // status write a second (the agent's plan coalesces), not one per grant.
      const agent = g.spec?.agent;
      if (agent && ev !== 'resync' && grantChangeReachesAgent(ev, g, previous) && this.cache.agent(agent)) {
        this.queue.addAfter(key('AgentIdentity', '', agent), AGENT_COUNT_DELAY_MS);
      }
    });
    this.agents.onChange((a, ev) => {
      this.cache.observe('AgentIdentity', a, ev === 'delete');
      if (this.started) this.queue.add(key('AgentIdentity', '', a.metadata.name ?? ''));
    });
    this.approvals.onChange((ar, ev) => {
      const ns = ar.metadata.namespace ?? '';
      this.cache.observe('ApprovalRequest', ar, ev === 'delete');
      if (!this.started) return;
      this.queue.add(key('ApprovalRequest', ns, ar.metadata.name ?? ''));
      if (ar.spec?.type === 'Activation' && ar.spec.grant) this.queue.add(key('AccessGrant', ns, ar.spec.grant));
    });
    this.bindings.onChange((b, ev) => {
      this.cache.observeBinding(b, ev === 'delete');
      if (this.started) this.enqueueBindingOwner(b);
    });
    this.namespaces.onChange((ns, ev) => {
      // Labels decide selector-allowed namespaces: re-plan the grants living there.
      if (!this.started || ev === 'resync') return;
      for (const g of this.grants.list(ns.metadata?.name)) this.queue.add(key('AccessGrant', g.metadata.namespace ?? '', g.metadata.name ?? ''));
    });
  }

  /** A managed binding goes back to its grant's reconciler; one naming no grant is an orphan. */
  private enqueueBindingOwner(b: k8s.V1RoleBinding): void {
    const ns = b.metadata?.namespace ?? '';
    const owner = b.metadata?.ownerReferences?.find((r) => r.kind === 'AccessGrant' && r.controller);
    const grant = owner?.name ?? b.metadata?.labels?.[LABEL_GRANT];
    if (grant) this.queue.add(key('AccessGrant', ns, grant));
    else this.queue.add(key('RoleBinding', ns, b.metadata?.name ?? ''));
  }

  async start(): Promise<void> {
    const { log } = this.o;
    log.info('operator starting: syncing caches');
    const t0 = Date.now();
    await Promise.all([this.grants.start(), this.agents.start(), this.approvals.start(), this.bindings.start(), this.namespaces.start()]);
    await Promise.all([this.grants.synced, this.agents.synced, this.approvals.synced, this.bindings.synced, this.namespaces.synced]);
    this.started = true;
    log.info('caches synced; recovering', {
      ms: Date.now() - t0,
      grants: this.grants.list().length,
      agents: this.agents.list().length,
      rolebindings: this.bindings.list().length,
      approvalRequests: this.approvals.list().length,
    });
    // Restart recovery is an ordinary sweep: overdue grants plan to Expired, bindings with
    // no active grant behind them plan to deletion, agents and approvals catch up.
    this.sweep();
    this.ready = true;
    this.sweepTimer = setInterval(() => this.sweep(), this.o.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** Enqueues everything: the backstop for any timer or event that went missing. */
  sweep(): void {
    // Bindings first: on restart these are the ones that may still grant access.
    for (const b of this.bindings.list()) this.enqueueBindingOwner(b);
    for (const g of this.grants.list()) this.queue.add(key('AccessGrant', g.metadata.namespace ?? '', g.metadata.name ?? ''));
    for (const a of this.agents.list()) this.queue.add(key('AgentIdentity', '', a.metadata.name ?? ''));
    for (const ar of this.approvals.list()) this.queue.add(key('ApprovalRequest', ar.metadata.namespace ?? '', ar.metadata.name ?? ''));
    this.queue.add(key('AuditEvent', this.o.namespace, 'retention'));
    if (this.apiServiceReconciler) this.queue.add(key('APIService', '', AUDIT_APISERVICE));
  }

  async stop(): Promise<void> {
    this.started = false;
    this.ready = false;
    clearInterval(this.sweepTimer);
    await this.queue.shutdown();
    await Promise.all([this.grants.stop(), this.agents.stop(), this.approvals.stop(), this.bindings.stop(), this.namespaces.stop()]);
  }

  /** One key through its kind's reconciler; the Result becomes the requeue. */
  private async reconcile(k: string): Promise<void> {
    const { kind, namespace, name } = parseKey(k);
    const end = this.o.metrics.reconcileDuration.startTimer({ kind });
    let result: Result;
    try {
      result = await this.reconcilerFor(kind)(namespace, name);
    } catch (e) {
      this.o.metrics.reconcileErrors.inc({ kind });
      throw e;
    } finally {
      end();
    }
    if (result.requeueAfterMs !== undefined) this.queue.addAfter(k, result.requeueAfterMs, result.urgent ?? false);
  }

  private reconcilerFor(kind: ReturnType<typeof parseKey>['kind']): (namespace: string, name: string) => Promise<Result> {
    switch (kind) {
      case 'AccessGrant':
        return (ns, name) => this.grantReconciler.reconcile(ns, name);
      case 'AgentIdentity':
        return (_ns, name) => this.agentReconciler.reconcile(name);
      case 'ApprovalRequest':
        return (ns, name) => reconcileApproval(this.ctx, ns, name);
      case 'AuditEvent':
        return () => reconcileAuditRetention(this.ctx);
      case 'RoleBinding':
        return (ns, name) => reconcileOrphanBinding(this.ctx, ns, name);
      case 'APIService':
        return async () => (this.apiServiceReconciler ? this.apiServiceReconciler.reconcile() : DONE);
    }
  }
}

/** Reads the approval-stamps policy and binding fresh (rare, human-paced): a deleted policy fails closed at once. */
async function livePolicyState(kube: KubeApi): Promise<PolicyState> {
  const read = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const [policy, binding] = await Promise.all([
    read(() => kube.get(apiPath(GV.admission, 'validatingadmissionpolicies', undefined, APPROVAL_POLICY))),
    read(() => kube.get(apiPath(GV.admission, 'validatingadmissionpolicybindings', undefined, APPROVAL_POLICY))),
  ]);
  return approvalPolicyState(policy as never, binding as never);
}
