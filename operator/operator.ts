// The operator's moving parts: informers feed a keyed work queue; one reconciler per
// kind reads the cached state, asks a pure planner what to do, and executes the plan.
// Writes carry resourceVersion; a conflict re-reads the object and plans again.
import * as k8s from '@kubernetes/client-node';
import {
  FINALIZER,
  LABEL_AGENT,
  LABEL_GRANT,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type AccessGrant,
  type AgentIdentity,
  type ApprovalRequest,
  type AuditEvent,
} from '../api/types.js';
import type { Clock } from '../lib/clock.js';
import { Informer, dropManagedFields } from '../lib/informer.js';
import { AgentgateClient, agentgatePath, errorMessage, isAlreadyExists, isConflict, isNotFound, statusCode } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import type { Recorder } from './events.js';
import type { OperatorMetrics } from './metrics.js';
import { activationRequestName, labelValue } from './names.js';
import { planAgent } from './plan/agent.js';
import { planApproval } from './plan/approval.js';
import { planAuditRetention } from './plan/audit.js';
import { ownerUid, planGrant, type GrantAction } from './plan/grant.js';
import { WorkQueue } from './queue.js';

export interface OperatorOptions {
  kc: k8s.KubeConfig;
  clock: Clock;
  log: Logger;
  /** Where AuditEvents live (and the lease). */
  namespace: string;
  approvalTtlMs: number;
  auditRetentionMs: number;
  sweepIntervalMs: number;
  workers?: number;
  /** Informer relist period. */
  resyncMs?: number;
  metrics: OperatorMetrics;
  recorder: Recorder;
}

type Kind = 'AccessGrant' | 'AgentIdentity' | 'ApprovalRequest' | 'AuditEvent' | 'RoleBinding';

const key = (kind: Kind, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;
function parseKey(k: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, ...rest] = k.split('/');
  return { kind: kind as Kind, namespace: namespace ?? '', name: rest.join('/') };
}

interface ExecContext {
  bindingDeletedAt?: number;
}

/** Raised to requeue at once without counting as a failure (an optimistic-concurrency loss). */
class Requeue extends Error {}

/**
 * Objects we wrote, kept until the informer catches up: a reconcile right after our own
 * write must not plan from the older cached copy. Entry: the rv we wrote over and the result.
 */
class Fresher<T extends { metadata?: { resourceVersion?: string } }> {
  private readonly m = new Map<string, { prevRv: string | undefined; obj: T }>();
  wrote(k: string, prevRv: string | undefined, obj: T): void {
    this.m.set(k, { prevRv, obj });
  }
  pick(k: string, cached: T | undefined): T | undefined {
    const e = this.m.get(k);
    if (!e) return cached;
    if (cached && cached.metadata?.resourceVersion === e.prevRv) return e.obj;
    this.m.delete(k);
    return cached;
  }
  forget(k: string): void {
    this.m.delete(k);
  }
  /** The informer saw a version other than the one we wrote over: the cache has caught up. */
  observe(k: string, obj: T | undefined): void {
    const e = this.m.get(k);
    if (e && obj?.metadata?.resourceVersion !== e.prevRv) this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}

/** A secondary index over an informer: index key -> object key -> object. */
class Index<T extends { metadata?: { name?: string; namespace?: string } }> {
  private readonly byIndex = new Map<string, Map<string, T>>();
  private readonly keysOf = new Map<string, string[]>();
  constructor(private readonly indexKeys: (o: T) => string[]) {}
  upsert(o: T): void {
    this.remove(o);
    const ok = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const ks = this.indexKeys(o);
    this.keysOf.set(ok, ks);
    for (const k of ks) {
      let m = this.byIndex.get(k);
      if (!m) this.byIndex.set(k, (m = new Map()));
      m.set(ok, o);
    }
  }
  remove(o: T): void {
    const ok = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    for (const k of this.keysOf.get(ok) ?? []) {
      const m = this.byIndex.get(k);
      m?.delete(ok);
      if (m && m.size === 0) this.byIndex.delete(k);
    }
    this.keysOf.delete(ok);
  }
  get(k: string): T[] {
    return [...(this.byIndex.get(k)?.values() ?? [])];
  }
}

export class Operator {
  readonly client: AgentgateClient;
  private readonly rbac: k8s.RbacAuthorizationV1Api;
  private readonly core: k8s.CoreV1Api;
  readonly grants: Informer<AccessGrant>;
  readonly agents: Informer<AgentIdentity>;
  readonly approvals: Informer<ApprovalRequest>;
  readonly bindings: Informer<k8s.V1RoleBinding>;
  readonly namespaces: Informer<k8s.V1Namespace>;
  readonly queue: WorkQueue;
  private readonly freshGrants = new Fresher<AccessGrant>();
  private readonly freshApprovals = new Fresher<ApprovalRequest>();
  private readonly freshAgents = new Fresher<AgentIdentity>();
  // Bindings by `ns/grant-label` and by agent label; grants by agent.
  private readonly bindingsByGrant = new Index<k8s.V1RoleBinding>((b) => {
    const g = b.metadata?.labels?.[LABEL_GRANT];
    return g ? [`${b.metadata?.namespace ?? ''}/${g}`] : [];
  });
  private readonly bindingsByAgent = new Index<k8s.V1RoleBinding>((b) => {
    const a = b.metadata?.labels?.[LABEL_AGENT];
    return a ? [a] : [];
  });
  private readonly grantsByAgent = new Index<AccessGrant>((g) => (g.spec?.agent ? [g.spec.agent] : []));
  private sweepTimer?: NodeJS.Timeout;
  /** Grants whose bindings were removed on the urgent path; the next pass does the rest. */
  private readonly finishing = new Set<string>();
  private readonly lagObserved = new Set<string>();
  private started = false;
  private ready = false;

  constructor(private readonly o: OperatorOptions) {
    const { kc, log } = o;
    this.client = new AgentgateClient(kc);
    this.rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    const resyncMs = o.resyncMs ?? 300_000;
    this.grants = new Informer<AccessGrant>({ kc, name: 'accessgrants', path: agentgatePath('AccessGrant'), list: () => this.client.list<AccessGrant>('AccessGrant'), log, resyncMs, trim: dropManagedFields });
    this.agents = new Informer<AgentIdentity>({ kc, name: 'agentidentities', path: agentgatePath('AgentIdentity'), list: () => this.client.list<AgentIdentity>('AgentIdentity'), log, resyncMs, trim: dropManagedFields });
    this.approvals = new Informer<ApprovalRequest>({ kc, name: 'approvalrequests', path: agentgatePath('ApprovalRequest'), list: () => this.client.list<ApprovalRequest>('ApprovalRequest'), log, resyncMs, trim: dropManagedFields });
    const selector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
    this.bindings = new Informer<k8s.V1RoleBinding>({
      kc,
      name: 'rolebindings',
      path: '/apis/rbac.authorization.k8s.io/v1/rolebindings',
      labelSelector: selector,
      list: () => this.rbac.listRoleBindingForAllNamespaces({ labelSelector: selector }),
      log,
      resyncMs,
      trim: dropManagedFields,
    });
    this.namespaces = new Informer<k8s.V1Namespace>({ kc, name: 'namespaces', path: '/api/v1/namespaces', list: () => this.core.listNamespace(), log, resyncMs, trim: dropManagedFields });
    this.queue = new WorkQueue((k) => this.reconcile(k), {
      workers: o.workers ?? 32,
      baseBackoffMs: 200,
      maxBackoffMs: 60_000,
      onError: (k, err, retryInMs) => {
        if (err instanceof Requeue) return;
        // Not `key`: the logger redacts fields named like credentials.
        log.warn('reconcile failed; retrying', { object: k, error: errorMessage(err), retryInMs });
      },
    });
    this.wireHandlers();
  }

  get isReady(): boolean {
    return this.ready;
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
    this.grants.onChange((g, ev) => {
      if (ev === 'delete') this.grantsByAgent.remove(g);
      else this.grantsByAgent.upsert(g);
      this.freshGrants.observe(key('AccessGrant', g.metadata.namespace ?? '', g.metadata.name ?? ''), ev === 'delete' ? undefined : g);
      if (!this.started) return;
      this.queue.add(key('AccessGrant', g.metadata.namespace ?? '', g.metadata.name ?? ''));
      if (g.spec?.agent && ev !== 'resync') this.queue.add(key('AgentIdentity', '', g.spec.agent));
    });
    this.agents.onChange((a, ev) => {
      this.freshAgents.observe(key('AgentIdentity', '', a.metadata.name ?? ''), ev === 'delete' ? undefined : a);
      if (this.started) this.queue.add(key('AgentIdentity', '', a.metadata.name ?? ''));
    });
    this.approvals.onChange((ar, ev) => {
      const ns = ar.metadata.namespace ?? '';
      this.freshApprovals.observe(key('ApprovalRequest', ns, ar.metadata.name ?? ''), ev === 'delete' ? undefined : ar);
      if (!this.started) return;
      this.queue.add(key('ApprovalRequest', ns, ar.metadata.name ?? ''));
      if (ar.spec?.type === 'Activation' && ar.spec.grant) this.queue.add(key('AccessGrant', ns, ar.spec.grant));
    });
    this.bindings.onChange((b, ev) => {
      if (ev === 'delete') {
        this.bindingsByGrant.remove(b);
        this.bindingsByAgent.remove(b);
      } else {
        this.bindingsByGrant.upsert(b);
        this.bindingsByAgent.upsert(b);
      }
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
  }

  async stop(): Promise<void> {
    this.started = false;
    this.ready = false;
    clearInterval(this.sweepTimer);
    await this.queue.shutdown();
    await Promise.all([this.grants.stop(), this.agents.stop(), this.approvals.stop(), this.bindings.stop(), this.namespaces.stop()]);
  }

  private async reconcile(k: string): Promise<void> {
    const { kind, namespace, name } = parseKey(k);
    const end = this.o.metrics.reconcileDuration.startTimer({ kind });
    try {
      switch (kind) {
        case 'AccessGrant':
          return await this.reconcileGrant(namespace, name, k);
        case 'AgentIdentity':
          return await this.reconcileAgent(name, k);
        case 'ApprovalRequest':
          return await this.reconcileApproval(namespace, name, k);
        case 'AuditEvent':
          return await this.reconcileAudit(k);
        case 'RoleBinding':
          return await this.reconcileOrphan(namespace, name);
      }
    } catch (e) {
      if (e instanceof Requeue) {
        // Shortly, not at once: the informer is usually a few ms behind our own writes.
        this.queue.addAfter(k, 50);
        return;
      }
      this.o.metrics.reconcileErrors.inc({ kind });
      throw e;
    } finally {
      end();
    }
  }

  // --- AccessGrant ------------------------------------------------------------------------

  private async reconcileGrant(namespace: string, name: string, k: string): Promise<void> {
    let grant = this.freshGrants.pick(k, this.grants.get(name, namespace));
    const agent = grant ? this.agents.get(grant.spec.agent) : undefined;
    const approval = this.freshApprovals.pick(key('ApprovalRequest', namespace, activationRequestName(name)), this.approvals.get(activationRequestName(name), namespace));
    const now = this.o.clock.now();
    const plan = planGrant({
      namespace,
      name,
      grant,
      agent,
      namespaceLabels: this.namespaces.get(namespace)?.metadata?.labels ?? (this.namespaces.get(namespace) ? {} : undefined),
      bindings: this.bindingsByGrant.get(`${namespace}/${labelValue(name)}`),
      approval,
      now,
      approvalTtlMs: this.o.approvalTtlMs,
    });
    const ctx: ExecContext = {};
    const deletes = plan.actions.filter((a): a is Extract<GrantAction, { type: 'deleteRoleBinding' }> => a.type === 'deleteRoleBinding');
    const ending = plan.actions.some((a) => a.type === 'writeStatus' && (a.status.phase === 'Expired' || a.status.phase === 'Revoked'));
    if (ending && deletes.length > 0 && !this.finishing.has(k)) {
      // Access ends first, for every grant due: the finalizer, status and events of this
      // grant wait in the normal lane behind other grants' revocations (a burst of 1,000
      // expiries then costs one write each before any bookkeeping).
      await Promise.all(deletes.map((a) => this.deleteBinding(namespace, a.name, a.uid)));
      ctx.bindingDeletedAt = this.o.clock.now().getTime();
      this.observeExpiryLag(grant, ctx, plan.actions);
      this.o.log.info('rolebinding deleted', { grant: `${namespace}/${name}`, roleBindings: deletes.map((a) => a.name) });
      this.finishing.add(k);
      this.queue.add(k);
      return;
    }
    this.finishing.delete(k);
    for (const a of plan.actions) {
      grant = await this.execGrantAction(a, namespace, name, k, grant, ctx);
    }
    // Timers are urgent: when one fires, access is due to change now.
    if (plan.requeueAfterMs !== undefined) this.queue.addAfter(k, plan.requeueAfterMs, true);
  }

  private observeExpiryLag(grant: AccessGrant | undefined, ctx: ExecContext, actions: readonly GrantAction[]): void {
    const a = actions.find((x) => x.type === 'expiryLag');
    const expiresAt = grant?.status?.expiresAt;
    if (!a || a.type !== 'expiryLag' || !expiresAt) return;
    const k = `${grant?.metadata.uid ?? ''}/${expiresAt}`;
    if (this.lagObserved.has(k)) return;
    this.lagObserved.add(k);
    if (this.lagObserved.size > 10_000) this.lagObserved.clear();
    // Measured at the deletion itself, not at planning: that is when access ended.
    const exp = Date.parse(expiresAt);
    const lag = ctx.bindingDeletedAt !== undefined && Number.isFinite(exp) ? Math.max(0, (ctx.bindingDeletedAt - exp) / 1000) : a.seconds;
    this.o.metrics.expiryLag.observe(lag);
    this.o.log.info('grant expired', { grant: `${grant?.metadata.namespace}/${grant?.metadata.name}`, expiresAt, lagSeconds: lag });
  }

  private async execGrantAction(a: GrantAction, namespace: string, name: string, k: string, grant: AccessGrant | undefined, ctx: ExecContext): Promise<AccessGrant | undefined> {
    const { log, metrics, recorder } = this.o;
    switch (a.type) {
      case 'deleteRoleBinding':
        await this.deleteBinding(namespace, a.name, a.uid);
        ctx.bindingDeletedAt = this.o.clock.now().getTime();
        log.info('rolebinding deleted', { grant: `${namespace}/${name}`, roleBinding: a.name });
        return grant;
      case 'createRoleBinding':
        try {
          await this.rbac.createNamespacedRoleBinding({ namespace, body: a.binding });
          metrics.rolebindingOps.inc({ op: 'create' });
          log.info('rolebinding created', { grant: `${namespace}/${name}`, roleBinding: a.binding.metadata?.name, role: a.binding.roleRef.name });
        } catch (e) {
          if (isAlreadyExists(e)) {
            const have = await this.rbac.readNamespacedRoleBinding({ name: a.binding.metadata?.name ?? '', namespace });
            if (ownerUid(have) === grant?.metadata.uid) throw new Requeue('binding exists; cache behind');
            throw new Error(`RoleBinding ${namespace}/${a.binding.metadata?.name} exists and does not belong to this grant; delete it to let agentgate manage access`);
          }
          if (grant && statusCode(e) === 403) {
            recorder.emit(grant, 'Warning', 'RoleBindingFailed', `cannot bind ${a.binding.roleRef.kind}/${a.binding.roleRef.name}: the operator lacks 'bind' on it (add it to ClusterRole agentgate-operator-bind): ${errorMessage(e)}`);
          }
          throw e;
        }
        return grant;
      case 'replaceRoleBinding':
        try {
          await this.rbac.replaceNamespacedRoleBinding({ name: a.binding.metadata?.name ?? '', namespace, body: a.binding });
        } catch (e) {
          // Planned from an older copy than the apiserver's: plan again from the newer one.
          if (isConflict(e) || isNotFound(e)) throw new Requeue('binding changed');
          throw e;
        }
        metrics.rolebindingOps.inc({ op: 'update' });
        log.info('rolebinding subjects updated', { grant: `${namespace}/${name}`, roleBinding: a.binding.metadata?.name });
        return grant;
      case 'addFinalizer':
      case 'removeFinalizer': {
        if (!grant) return grant;
        const body = structuredClone(grant);
        const fins = (body.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
        if (a.type === 'addFinalizer') fins.push(FINALIZER);
        body.metadata.finalizers = fins;
        const updated = await this.writeGrant(k, grant, () => this.client.replace<AccessGrant>('AccessGrant', name, body, namespace), true);
        return updated;
      }
      case 'writeStatus': {
        if (!grant) return grant;
        const body = { ...grant, status: a.status };
        const updated = await this.writeGrant(k, grant, () => this.client.replaceStatus<AccessGrant>('AccessGrant', name, body, namespace), false);
        if (a.status.phase !== grant.status?.phase) log.info('grant phase', { grant: `${namespace}/${name}`, from: grant.status?.phase ?? '', to: a.status.phase, agent: grant.spec.agent });
        return updated;
      }
      case 'createApprovalRequest':
        try {
          await this.client.create<ApprovalRequest>('ApprovalRequest', a.request, namespace);
          log.info('activation approval requested', { grant: `${namespace}/${name}`, approvalRequest: a.request.metadata.name });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
        return grant;
      case 'deleteApprovalRequest':
        try {
          await this.client.delete('ApprovalRequest', a.name, namespace);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        return grant;
      case 'writeApprovalStatus': {
        const ark = key('ApprovalRequest', namespace, a.name);
        const cur = this.freshApprovals.pick(ark, this.approvals.get(a.name, namespace));
        if (!cur) return grant;
        try {
          const updated = await this.client.replaceStatus<ApprovalRequest>('ApprovalRequest', a.name, { ...cur, status: a.status }, namespace);
          this.freshApprovals.wrote(ark, cur.metadata.resourceVersion, updated);
          if (a.status.phase === 'Consumed') log.info('activation approval consumed', { grant: `${namespace}/${name}`, approvalRequest: a.name });
        } catch (e) {
          if (!isConflict(e)) throw e;
          await this.refreshApproval(namespace, a.name);
          throw new Requeue('approval changed');
        }
        return grant;
      }
      case 'event':
        if (grant) recorder.emit(grant, a.eventType, a.reason, a.message);
        return grant;
      case 'expiryLag':
        // grant is post-status-write here; the window is the same.
        this.observeExpiryLag(grant, ctx, [a]);
        return grant;
    }
  }

  /** A write with optimistic concurrency: on conflict, re-read and plan again. */
  private async writeGrant(k: string, grant: AccessGrant, write: () => Promise<AccessGrant>, metadata: boolean): Promise<AccessGrant> {
    try {
      const updated = await write();
      this.freshGrants.wrote(k, grant.metadata.resourceVersion, updated);
      return updated;
    } catch (e) {
      if (isNotFound(e)) throw new Requeue('grant gone');
      if (!isConflict(e)) throw e;
      const { namespace, name } = parseKey(k);
      try {
        const fresh = await this.client.get<AccessGrant>('AccessGrant', name, namespace);
        this.freshGrants.wrote(k, this.grants.get(name, namespace)?.metadata.resourceVersion, fresh);
      } catch (ge) {
        if (!isNotFound(ge)) throw ge;
      }
      this.o.log.debug('write conflict; re-planning', { object: k, metadata });
      throw new Requeue('conflict');
    }
  }

  private async refreshApproval(namespace: string, name: string): Promise<void> {
    const ark = key('ApprovalRequest', namespace, name);
    try {
      const fresh = await this.client.get<ApprovalRequest>('ApprovalRequest', name, namespace);
      this.freshApprovals.wrote(ark, this.approvals.get(name, namespace)?.metadata.resourceVersion, fresh);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async deleteBinding(namespace: string, name: string, uid?: string): Promise<void> {
    try {
      await this.rbac.deleteNamespacedRoleBinding({ name, namespace, body: uid ? { preconditions: { uid } } : {} });
      this.o.metrics.rolebindingOps.inc({ op: 'delete' });
    } catch (e) {
      // Gone already is what we wanted; a uid mismatch means a newer binding we will re-plan.
      if (isNotFound(e)) return;
      if (isConflict(e)) throw new Requeue('binding replaced');
      throw e;
    }
  }

  // --- AgentIdentity ---------------------------------------------------------------------

  private async reconcileAgent(name: string, k: string): Promise<void> {
    const agent = this.freshAgents.pick(k, this.agents.get(name));
    const grants = this.grantsByAgent.get(name).map((g) => this.freshGrants.pick(key('AccessGrant', g.metadata.namespace ?? '', g.metadata.name ?? ''), g) ?? g);
    const plan = planAgent({ name, agent, grants, bindings: this.bindingsByAgent.get(labelValue(name)), now: this.o.clock.now() });
    for (const a of plan.actions) {
      switch (a.type) {
        case 'deleteRoleBindings': {
          // At once: every binding in parallel, so the kill switch does not take N round trips.
          const results = await Promise.allSettled(a.bindings.map((b) => this.deleteBinding(b.namespace, b.name, b.uid)));
          this.o.log.info('agent access removed', { agent: name, rolebindings: a.bindings.length, suspended: agent?.spec.suspended ?? 'deleted' });
          const failed = results.find((r) => r.status === 'rejected');
          if (failed) throw (failed as PromiseRejectedResult).reason;
          break;
        }
        case 'enqueueGrants':
          for (const g of a.grants) this.queue.add(key('AccessGrant', g.namespace, g.name));
          break;
        case 'writeStatus':
          if (!agent) break;
          try {
            const updated = await this.client.replaceStatus<AgentIdentity>('AgentIdentity', name, { ...agent, status: a.status });
            this.freshAgents.wrote(k, agent.metadata.resourceVersion, updated);
          } catch (e) {
            if (isNotFound(e)) return;
            if (!isConflict(e)) throw e;
            const fresh = await this.client.get<AgentIdentity>('AgentIdentity', name);
            this.freshAgents.wrote(k, agent.metadata.resourceVersion, fresh);
            throw new Requeue('conflict');
          }
          break;
        case 'event':
          if (agent) this.o.recorder.emit(agent, a.eventType, a.reason, a.message);
          break;
      }
    }
  }

  // --- ApprovalRequest ---------------------------------------------------------------------

  private async reconcileApproval(namespace: string, name: string, k: string): Promise<void> {
    const ar = this.freshApprovals.pick(k, this.approvals.get(name, namespace));
    if (!ar) {
      this.freshApprovals.forget(k);
      return;
    }
    const plan = planApproval(ar, this.o.clock.now());
    for (const a of plan.actions) {
      if (a.type === 'writeStatus') {
        try {
          const updated = await this.client.replaceStatus<ApprovalRequest>('ApprovalRequest', name, { ...ar, status: a.status }, namespace);
          this.freshApprovals.wrote(k, ar.metadata.resourceVersion, updated);
          if (a.status.phase === 'Expired') this.o.log.info('approval request expired', { approvalRequest: `${namespace}/${name}`, message: a.status.message });
        } catch (e) {
          if (isNotFound(e)) return;
          if (!isConflict(e)) throw e;
          await this.refreshApproval(namespace, name);
          throw new Requeue('conflict');
        }
      } else {
        this.o.recorder.emit(ar, a.eventType, a.reason, a.message);
      }
    }
    // The grant waiting on it reacts to the new phase.
    if (plan.actions.length && ar.spec.type === 'Activation' && ar.spec.grant) this.queue.add(key('AccessGrant', namespace, ar.spec.grant));
    if (plan.requeueAfterMs !== undefined) this.queue.addAfter(k, plan.requeueAfterMs);
  }

  // --- AuditEvent retention --------------------------------------------------------------

  private async reconcileAudit(_k: string): Promise<void> {
    // Legacy: AuditEvent custom resources written before the audit store (audit/) took
    // the record out of etcd. The webhook imports them once; until the CRD is deleted
    // this keeps their retention. Without the CRD (every new install) there is nothing to do.
    // Paged list, no informer: audit records are the largest and coldest set, so they are
    // never cached; the sweep period bounds how long an expired record outlives retention.
    let cont: string | undefined;
    let deleted = 0;
    do {
      const res = (await this.client.api
        .listNamespacedCustomObject({
          group: 'agentgate.io',
          version: 'v1alpha1',
          namespace: this.o.namespace,
          plural: 'auditevents',
          limit: 500,
          _continue: cont,
        })
        .catch((e: unknown) => {
          if (isNotFound(e)) return { items: [] };
          throw e;
        })) as { items: AuditEvent[]; metadata?: { _continue?: string; continue?: string } };
      const names = planAuditRetention(res.items, this.o.clock.now(), this.o.auditRetentionMs);
      await Promise.all(
        names.map(async (n) => {
          try {
            await this.client.delete('AuditEvent', n, this.o.namespace);
            deleted++;
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        }),
      );
      cont = res.metadata?.continue ?? res.metadata?._continue;
    } while (cont);
    if (deleted) this.o.log.info('audit retention: deleted old AuditEvents', { deleted, retentionMs: this.o.auditRetentionMs });
  }

  // --- Orphan RoleBindings -------------------------------------------------------------------

  /** A binding labelled as agentgate's that names no grant at all: nothing can justify it. */
  private async reconcileOrphan(namespace: string, name: string): Promise<void> {
    const b = this.bindings.get(name, namespace);
    if (!b) return;
    const owner = b.metadata?.ownerReferences?.find((r) => r.kind === 'AccessGrant' && r.controller);
    if (owner || b.metadata?.labels?.[LABEL_GRANT]) return;
    await this.deleteBinding(namespace, name, b.metadata?.uid);
    this.o.log.warn('orphan rolebinding deleted', { roleBinding: `${namespace}/${name}`, why: 'labelled as managed by agentgate but names no AccessGrant' });
  }
}

