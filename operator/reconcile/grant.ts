// The AccessGrant reconciler: reads the cached state, asks planGrant() what to do, and
// executes the actions in order. A lost write race ends the pass with retrySoon(); the
// next pass plans again from the newer object. The planner's header lists the ordering
// rules this executor relies on.
import type * as k8s from '@kubernetes/client-node';
import { activationRequestName, labelValue } from '../../api/names.js';
import { FINALIZER, type AccessGrant, type ApprovalRequest } from '../../api/types.js';
import { errorMessage, isAlreadyExists, isConflict, isNotFound, statusCode } from '../../lib/kube.js';
import { accessEndingStage, ownerUid, planGrant, type GrantAction } from '../plan/grant.js';
import { DONE, key, retrySoon, type ReconcileContext, type Result } from './context.js';
import { deleteBinding, refreshApproval } from './writes.js';

/** The outcome of one action: carry on with this (possibly updated) grant, or stop and look again soon. */
type Step = { grant: AccessGrant | undefined } | { retry: string };

/**
 * What one pass carries between its actions. A binding created in a pass that also moves the
 * grant to a new phase is logged on that phase's line (one line per activation, not two: under
 * bulk the log lines cost the operator more than the writes); one whose phase line never comes
 * (a failed or lost status write) is logged on its own when the pass ends.
 */
interface Pass {
  bindingDeletedAt?: number;
  created?: { roleBinding: string | undefined; role: string };
}

export class GrantReconciler {
  /** Grants whose bindings were removed in the access-ending stage; the next pass does the rest. */
  private readonly finishing = new Set<string>();
  private readonly lagObserved = new Set<string>();

  constructor(private readonly c: ReconcileContext) {}

  async reconcile(namespace: string, name: string): Promise<Result> {
    const { cache, clock, log } = this.c;
    const k = key('AccessGrant', namespace, name);
    let grant = cache.grant(namespace, name);
    const now = clock.now();
    const plan = planGrant({
      namespace,
      name,
      grant,
      agent: grant ? cache.agent(grant.spec.agent) : undefined,
      namespaceLabels: cache.namespaceLabels(namespace),
      namespaceTerminating: cache.namespaceTerminating(namespace),
      bindings: cache.bindingsOfGrant(namespace, labelValue(name)),
      approval: cache.approval(namespace, activationRequestName(name)),
      now,
      agentgateNamespace: this.c.namespace,
      approvalTtlMs: this.c.approvalTtlMs,
    });
    const ctx: Pass = {};
    const first = accessEndingStage(plan);
    if (first.length > 0 && !this.finishing.has(k)) {
      const results = await Promise.all(first.map((a) => deleteBinding(this.c, namespace, a.name, a.uid)));
      ctx.bindingDeletedAt = clock.now().getTime();
      this.observeExpiryLag(grant, ctx.bindingDeletedAt, plan.actions);
      log.info('rolebinding deleted', { grant: `${namespace}/${name}`, roleBindings: first.map((a) => a.name) });
      this.finishing.add(k);
      // A binding replaced under us (uid precondition failed) is re-planned like any conflict.
      return results.includes('conflict') ? retrySoon() : { requeueAfterMs: 0 };
    }
    this.finishing.delete(k);
    try {
      for (const a of plan.actions) {
        const step = await this.exec(a, namespace, name, grant, ctx);
        if ('retry' in step) {
          log.debug('re-planning', { object: k, why: step.retry });
          return retrySoon();
        }
        grant = step.grant;
      }
    } finally {
      if (ctx.created) log.info('rolebinding created', { grant: `${namespace}/${name}`, ...ctx.created });
    }
    // Timers are urgent: when one fires, access is due to change now.
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs, urgent: true } : DONE;
  }

  private observeExpiryLag(grant: AccessGrant | undefined, bindingDeletedAt: number | undefined, actions: readonly GrantAction[]): void {
    const a = actions.find((x) => x.type === 'expiryLag');
    const expiresAt = grant?.status?.expiresAt;
    if (!a || a.type !== 'expiryLag' || !expiresAt) return;
    const k = `${grant?.metadata.uid ?? ''}/${expiresAt}`;
    if (this.lagObserved.has(k)) return;
    this.lagObserved.add(k);
    if (this.lagObserved.size > 10_000) this.lagObserved.clear();
    // Measured at the deletion itself, not at planning: that is when access ended.
    const exp = Date.parse(expiresAt);
    const lag = bindingDeletedAt !== undefined && Number.isFinite(exp) ? Math.max(0, (bindingDeletedAt - exp) / 1000) : a.seconds;
    this.c.metrics.expiryLag.observe(lag);
    this.c.log.info('grant expired', { grant: `${grant?.metadata.namespace}/${grant?.metadata.name}`, expiresAt, lagSeconds: lag });
  }

  private async exec(a: GrantAction, namespace: string, name: string, grant: AccessGrant | undefined, ctx: Pass): Promise<Step> {
    const { log, metrics, recorder, writes, clock } = this.c;
    switch (a.type) {
      case 'deleteRoleBinding': {
        if ((await deleteBinding(this.c, namespace, a.name, a.uid)) === 'conflict') return { retry: 'binding replaced' };
        ctx.bindingDeletedAt = clock.now().getTime();
        log.info('rolebinding deleted', { grant: `${namespace}/${name}`, roleBinding: a.name });
        return { grant };
      }
      case 'createRoleBinding':
        return this.createBinding(a.binding, namespace, name, grant, ctx);
      case 'replaceRoleBinding':
        try {
          await writes.replaceRoleBinding(namespace, a.binding);
        } catch (e) {
          // Planned from an older copy than the apiserver's: plan again from the newer one.
          if (isConflict(e) || isNotFound(e)) return { retry: 'binding changed' };
          throw e;
        }
        metrics.rolebindingOps.inc({ op: 'update' });
        log.info('rolebinding subjects updated', { grant: `${namespace}/${name}`, roleBinding: a.binding.metadata?.name });
        return { grant };
      case 'addFinalizer':
      case 'removeFinalizer': {
        if (!grant) return { grant };
        const fins = (grant.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
        if (a.type === 'addFinalizer') fins.push(FINALIZER);
        // Only the finalizers, so nothing the cache's trimmed copy lacks is written back.
        // A merge patch replaces the list whole: the resourceVersion precondition keeps a
        // finalizer someone else added meanwhile (409, re-read, plan again).
        const patch = { metadata: { resourceVersion: grant.metadata.resourceVersion, finalizers: fins } };
        return this.writeGrant(grant, () => writes.mergePatch<AccessGrant>('AccessGrant', name, patch, namespace));
      }
      case 'writeStatus': {
        if (!grant) return { grant };
        const step = await this.writeGrant(grant, () => writes.replaceStatus<AccessGrant>('AccessGrant', name, { ...grant, status: a.status }, namespace));
        if ('grant' in step && a.status.phase !== grant.status?.phase) {
          log.info('grant phase', {
            grant: `${namespace}/${name}`,
            from: grant.status?.phase ?? '',
            to: a.status.phase,
            agent: grant.spec.agent,
            ...ctx.created,
          });
          ctx.created = undefined;
        }
        return step;
      }
      case 'createApprovalRequest':
        try {
          await writes.create<ApprovalRequest>('ApprovalRequest', a.request, namespace);
          log.info('activation approval requested', { grant: `${namespace}/${name}`, approvalRequest: a.request.metadata.name });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
        }
        return { grant };
      case 'deleteApprovalRequest':
        try {
          await writes.delete('ApprovalRequest', a.name, namespace);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        return { grant };
      case 'writeApprovalStatus': {
        const cur = this.c.cache.approval(namespace, a.name);
        if (!cur) return { grant };
        try {
          const updated = await writes.replaceStatus<ApprovalRequest>('ApprovalRequest', a.name, { ...cur, status: a.status }, namespace);
          this.c.cache.wrote('ApprovalRequest', cur.metadata.resourceVersion, updated);
          if (a.status.phase === 'Consumed') log.info('activation approval consumed', { grant: `${namespace}/${name}`, approvalRequest: a.name });
        } catch (e) {
          if (!isConflict(e)) throw e;
          await refreshApproval(this.c, namespace, a.name);
          return { retry: 'approval changed' };
        }
        return { grant };
      }
      case 'event':
        if (grant) recorder.emit(grant, a.eventType, a.reason, a.message);
        return { grant };
      case 'expiryLag':
        // grant is post-status-write here; the window is the same.
        this.observeExpiryLag(grant, ctx.bindingDeletedAt, [a]);
        return { grant };
    }
  }

  private async createBinding(binding: k8s.V1RoleBinding, namespace: string, name: string, grant: AccessGrant | undefined, ctx: Pass): Promise<Step> {
    const { writes, metrics, recorder } = this.c;
    try {
      await writes.createRoleBinding(namespace, binding);
      metrics.rolebindingOps.inc({ op: 'create' });
      // Logged with the phase it leads to, or when the pass ends (Pass).
      ctx.created = { roleBinding: binding.metadata?.name, role: binding.roleRef.name };
      return { grant };
    } catch (e) {
      if (isAlreadyExists(e)) {
        const have = await writes.readRoleBinding(namespace, binding.metadata?.name ?? '');
        if (ownerUid(have) === grant?.metadata.uid) return { retry: 'binding exists; cache behind' };
        throw new Error(
          `RoleBinding ${namespace}/${binding.metadata?.name} exists and does not belong to this grant; delete it to let agentgate manage access`,
        );
      }
      if (grant && statusCode(e) === 403) {
        recorder.emit(
          grant,
          'Warning',
          'RoleBindingFailed',
          `cannot bind ${binding.roleRef.kind}/${binding.roleRef.name}: the operator lacks 'bind' on it (add it to ClusterRole agentgate-operator-bind): ${errorMessage(e)}`,
        );
      }
      throw e;
    }
  }

  /** A write with optimistic concurrency: on conflict, re-read and plan again. */
  private async writeGrant(grant: AccessGrant, write: () => Promise<AccessGrant>): Promise<Step> {
    const { cache, writes } = this.c;
    const namespace = grant.metadata.namespace ?? '';
    const name = grant.metadata.name ?? '';
    try {
      const updated = await write();
      cache.wrote('AccessGrant', grant.metadata.resourceVersion, updated);
      return { grant: updated };
    } catch (e) {
      if (isNotFound(e)) return { retry: 'grant gone' };
      if (!isConflict(e)) throw e;
      try {
        cache.refreshed('AccessGrant', await writes.get<AccessGrant>('AccessGrant', name, namespace));
      } catch (ge) {
        if (!isNotFound(ge)) throw ge;
      }
      return { retry: 'conflict' };
    }
  }
}
