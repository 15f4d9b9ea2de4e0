// Boundary verification, continuously: the leader re-verifies the agents a change can
// affect soon after it (operator/boundary-scope.ts), every agent on a period as the
// backstop, hands each agent's report to the agent's reconciler (which writes its
// BoundaryVerified condition and findings with the rest of its status, operator/plan/agent.ts),
// and exports the findings as a gauge for alerting. Changes collect in a queue that one pass
// drains, so a burst (a cold start activating thousands of grants) costs a few passes
// over the agents it touched, not a full pass per change. Access questions are answered
// from the listed RBAC objects; SubjectAccessReviews only cross-check a rate-limited
// sample (operator/boundary-reviews.ts), so the apiserver's load does not grow with
// agents x time.
import type * as k8s from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import { planAccessReviews, verifyAgents } from '../boundary/verify.js';
import type { AgentReport, Binding, BoundarySnapshot } from '../boundary/types.js';
import { collectObjects, probeWebhooks, runAccessReviews, type CachedObjects } from '../boundary/snapshot.js';
import { CrossChecker, ReviewBudget } from './boundary-reviews.js';
import { agentsDirtiedBy, clearsOnly, type BoundaryChange, type Scope } from './boundary-scope.js';
import { realTimers, type Clock, type Timers } from '../lib/clock.js';
import { stableStringify } from '../lib/fingerprint.js';
import { apiPath, errorMessage, GV } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import { Informer, type WatchedObject } from '../lib/informer.js';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../api/types.js';

interface BoundaryVerifierOptions {
  kc: k8s.KubeConfig;
  clock: Clock;
  log: Logger;
  namespace: string;
  intervalMs: number;
  registry: Registry;
  /** Each verified agent's report and when it was made, for the agent's status (Operator.boundaryReported). */
  publish: (report: AgentReport, at: Date) => void;
  /** The operator's caches of grants and of its own RoleBindings, so verification does not list them again. */
  cached?: CachedObjects;
  /** SubjectAccessReviews per second, on average, for cross-checking (default 0.5; 0: none). */
  reviewsPerSecond?: number;
  /** SubjectAccessReviews at most in one run (default 20). */
  reviewBurst?: number;
  /** The debounce and clearing timers (tests drive them by hand). */
  timers?: Timers;
  /** One pass over what the changes reach; default: list, answer, cross-check, probe (BoundaryVerifier.verify). Tests pass a fake. */
  pass?: (changes: BoundaryChange[] | 'all') => Promise<PassResult>;
}

/** What one pass found: the reports of the agents in its scope. */
export type PassResult = ReturnType<typeof verifyAgents> & { reviewErrors: string[]; scope: Scope };

/** More pending changes than this and the next pass verifies every agent (cheaper than working out their reach). */
const MAX_PENDING_CHANGES = 2000;

/**
 * How long removals that can only clear findings (boundary-scope.ts clearsOnly) wait
 * before the agents they name are re-verified: the findings they clear may show this much
 * longer; a burst of them costs one pass per agent in this time.
 */
const CLEARING_DELAY_MS = 30_000;

/** Default SubjectAccessReview budget of the cross-check: a background load the apiserver does not notice. */
const DEFAULT_REVIEWS_PER_SECOND = 0.5;
const DEFAULT_REVIEW_BURST = 20;

/**
 * Under a steady stream of changes, the next pass waits at least this many times as long
 * as the last one took, so verification spends at most 1/(1+PASS_PACING) of the
 * operator's time (20%) however costly a pass grows. Measured: one agent activating
 * 50,000 grants made each pass take about a second, and back-to-back passes took half the
 * operator's CPU and slowed activation from ~47 to ~18 grants/s. A cheap pass (most
 * passes: 1,000 idle agents, a planted binding found in ~2.5 s) keeps the 2 s debounce.
 */
const PASS_PACING = 4;

/**
 * When the next pass may start: a change's debounce, stretched by the pacing; 0 (now) stays
 * 0. `lastPassMs` is the last pass of the kind the next one will be (scoped or full): a
 * full backstop pass over 1,000 agents must not hold back the scoped pass that names a
 * planted binding (measured: 8.9 s instead of ~2 s when it did).
 */
export function nextPassDelayMs(requestedMs: number, lastPassMs: number): number {
  return requestedMs > 0 ? Math.max(requestedMs, lastPassMs * PASS_PACING) : 0;
}

export class BoundaryVerifier {
  private timer?: NodeJS.Timeout;
  private debounce?: unknown;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  /** How long the last full and the last scoped pass took (clock time), for PASS_PACING. */
  private readonly lastPassMs = { full: 0, scoped: 0 };
  private readonly findings: Gauge<'agent' | 'severity' | 'route'>;
  private readonly runs: Gauge<'result'>;
  private readonly reviews: Counter<'source'>;
  private readonly mismatches: Counter<'apiserver'>;
  private readonly budget: ReviewBudget;
  private readonly checker = new CrossChecker();
  /** Changes since the last pass began; 'all' once any of them reaches every agent. */
  private pending: BoundaryChange[] | 'all' = 'all';
  /** Removals that can only clear findings, by the subjects they named (the agents to re-verify), until CLEARING_DELAY_MS. */
  private readonly clearing = new Map<string, BoundaryChange>();
  private clearingTimer?: unknown;
  /** The findings series set per agent, so a pass over some agents replaces only theirs. */
  private readonly series = new Map<string, Array<Record<'agent' | 'severity' | 'route', string>>>();

  private readonly timers: Timers;
  private readonly pass: (changes: BoundaryChange[] | 'all') => Promise<PassResult>;

  constructor(private readonly o: BoundaryVerifierOptions) {
    this.timers = o.timers ?? realTimers;
    this.pass = o.pass ?? ((changes) => this.verify(changes));
    const rate = o.reviewsPerSecond ?? DEFAULT_REVIEWS_PER_SECOND;
    this.budget = new ReviewBudget(rate, rate > 0 ? (o.reviewBurst ?? DEFAULT_REVIEW_BURST) : 0, o.clock);
    this.reviews = new Counter({
      name: 'agentgate_boundary_access_reviews_total',
      help: 'Access questions of boundary verification, by who answered: local (RBAC objects) or apiserver (SubjectAccessReview).',
      labelNames: ['source'],
      registers: [o.registry],
    });
    this.mismatches = new Counter({
      name: 'agentgate_boundary_review_mismatches_total',
      help: 'Cross-checked access questions where the apiserver disagreed with local RBAC evaluation (apiserver=allows: an authorizer the RBAC objects do not show).',
      labelNames: ['apiserver'],
      registers: [o.registry],
    });
    this.findings = new Gauge({
      name: 'agentgate_boundary_findings',
      help: 'Routes by which an agent could skip a control, from the last boundary verification, by agent, severity and route.',
      labelNames: ['agent', 'severity', 'route'],
      registers: [o.registry],
    });
    this.runs = new Gauge({
      name: 'agentgate_boundary_last_run_timestamp_seconds',
      help: 'When boundary verification last finished, by result (ok, error).',
      labelNames: ['result'],
      registers: [o.registry],
    });
  }

  start(): void {
    this.stopped = false;
    this.pending = 'all';
    this.trigger(0);
    this.timer = setInterval(() => this.changed({ kind: 'Everything', why: 'periodic backstop' }, 0), this.o.intervalMs);
    this.timer.unref();
  }

  /** Record a change (each version of a changed object) and verify what it can affect soon. */
  changed(c: BoundaryChange, delayMs?: number): void {
    if (c.kind === 'RemovedGrantBinding' && clearsOnly(c)) this.clearLater(c.binding);
    if (this.pending !== 'all') {
      if (c.kind === 'Everything' || this.pending.length >= MAX_PENDING_CHANGES) this.pending = 'all';
      else this.pending.push(c);
    }
    this.trigger(delayMs);
  }

  /** The agents a clearing removal names are re-verified after CLEARING_DELAY_MS, once for a burst. */
  private clearLater(binding: Binding): void {
    this.clearing.set(stableStringify(binding.subjects ?? []), { kind: 'RoleBinding', binding });
    if (this.clearingTimer || this.stopped) return;
    this.clearingTimer = this.timers.setTimeout(() => {
      this.clearingTimer = undefined;
      const due = [...this.clearing.values()];
      this.clearing.clear();
      for (const c of due) this.changed(c);
    }, CLEARING_DELAY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.clearingTimer) this.timers.clearTimeout(this.clearingTimer);
    this.clearingTimer = undefined;
    if (this.debounce) this.timers.clearTimeout(this.debounce);
    this.debounce = undefined;
    await this.running;
  }

  /** Verify soon; bursts of changes collapse into one run. */
  private trigger(delayMs = 2000): void {
    if (this.stopped) return;
    delayMs = nextPassDelayMs(delayMs, this.pending === 'all' ? this.lastPassMs.full : this.lastPassMs.scoped);
    // A run already scheduled takes this change too; not postponed, so a steady stream of
    // changes (grants activating) cannot starve verification.
    if (this.debounce && delayMs > 0) return;
    if (this.debounce) this.timers.clearTimeout(this.debounce);
    this.debounce = this.timers.setTimeout(() => {
      this.debounce = undefined;
      void this.runOnce();
    }, delayMs);
  }

  private async runOnce(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.verifyAndPublish().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.trigger();
      }
    });
    await this.running;
  }

  private async verifyAndPublish(): Promise<void> {
    const { log } = this.o;
    const changes = this.pending;
    this.pending = [];
    let report: PassResult;
    const began = this.o.clock.now().getTime();
    try {
      report = await this.pass(changes);
    } catch (e) {
      this.lastPassMs[changes === 'all' ? 'full' : 'scoped'] = this.o.clock.now().getTime() - began;
      // What this pass was to verify is still to verify: the next pass verifies everyone.
      this.pending = 'all';
      this.runs.set({ result: 'error' }, Date.now() / 1000);
      log.warn('boundary verification failed', { error: errorMessage(e) });
      return;
    }
    this.lastPassMs[changes === 'all' ? 'full' : 'scoped'] = this.o.clock.now().getTime() - began;
    this.clearSeries(report.scope);
    const at = this.o.clock.now();
    for (const a of report.agents) {
      const counts = new Map<string, number>();
      for (const f of a.findings) counts.set(`${f.severity}\u0000${f.route}`, (counts.get(`${f.severity}\u0000${f.route}`) ?? 0) + 1);
      const series: Array<Record<'agent' | 'severity' | 'route', string>> = [];
      for (const [k, n] of counts) {
        const [severity, route] = k.split('\u0000') as [string, string];
        this.findings.set({ agent: a.agent, severity, route }, n);
        series.push({ agent: a.agent, severity, route });
      }
      this.series.set(a.agent, series);
      if (a.findings.some((f) => f.severity === 'Critical')) {
        log.warn('boundary not verified', {
          agent: a.agent,
          critical: a.findings.filter((f) => f.severity === 'Critical').map((f) => `${f.route} ${f.object ?? ''}`),
        });
      }
      this.o.publish(a, at);
    }
    if (report.reviewErrors.length) log.warn('some access reviews failed; their checks report ReviewMissing', { errors: report.reviewErrors.slice(0, 5) });
    this.runs.set({ result: 'ok' }, Date.now() / 1000);
  }

  /** Drops the findings series of the agents a pass covered (all of them for a full pass). */
  private clearSeries(scope: Scope): void {
    if (scope === 'all') {
      this.findings.reset();
      this.series.clear();
      return;
    }
    for (const agent of scope) {
      for (const labels of this.series.get(agent) ?? []) this.findings.remove(labels);
      this.series.delete(agent);
    }
  }

  /** One pass: list, work out which agents the changes reach, answer locally, cross-check a sample with the apiserver, probe, verify. */
  private async verify(changes: BoundaryChange[] | 'all'): Promise<PassResult> {
    const { kc } = this.o;
    const objects = await collectObjects(kc, { agentgateNamespace: this.o.namespace, ...(this.o.cached ? { cached: this.o.cached } : {}) });
    const scope = changes === 'all' ? 'all' : agentsDirtiedBy(changes, objects);
    const only = scope === 'all' ? {} : { agents: [...scope] };
    if (scope !== 'all' && scope.size === 0) return { generatedAt: this.o.clock.now().toISOString(), agents: [], reviewErrors: [], scope };
    const plan = planAccessReviews(objects, only);
    const sample = this.checker.sample(plan, this.budget.take(plan.length), scope);
    const [{ results: fromApiserver, errors }, probes] = await Promise.all([runAccessReviews(kc, sample), probeWebhooks(kc, objects.webhooks.agents)]);
    const { results, mismatches } = this.checker.answer(plan, objects, fromApiserver);
    this.reviews.inc({ source: 'apiserver' }, fromApiserver.length);
    this.reviews.inc({ source: 'local' }, plan.length);
    if (mismatches.apiserverAllows) this.mismatches.inc({ apiserver: 'allows' }, mismatches.apiserverAllows);
    if (mismatches.apiserverDenies) this.mismatches.inc({ apiserver: 'denies' }, mismatches.apiserverDenies);
    if (mismatches.apiserverAllows) {
      this.o.log.warn('the apiserver allows what the RBAC objects do not: another authorizer grants access; those answers now come from SubjectAccessReviews', {
        reviews: mismatches.apiserverAllows,
      });
    }
    const snapshot: BoundarySnapshot = { ...objects, accessReviews: results, webhookProbes: probes };
    return { ...verifyAgents(snapshot, only), reviewErrors: errors, scope };
  }
}

/**
 * What a change's reach is worked out from (operator/boundary-scope.ts): identity and
 * labels, a binding's subjects and roleRef, a ClusterRole's aggregationRule. Rules are
 * not kept: verification lists the roles it reads.
 */
function changeShape(o: WatchedObject): WatchedObject {
  const src = o as WatchedObject & { metadata?: { labels?: Record<string, string> }; subjects?: unknown; roleRef?: unknown; aggregationRule?: unknown };
  const out: Record<string, unknown> = {
    metadata: { name: src.metadata?.name, namespace: src.metadata?.namespace, resourceVersion: src.metadata?.resourceVersion, labels: src.metadata?.labels },
  };
  if (src.subjects) out.subjects = src.subjects;
  if (src.roleRef) out.roleRef = src.roleRef;
  if (src.aggregationRule) out.aggregationRule = src.aggregationRule;
  return out as WatchedObject;
}

type WatchedKind = 'ClusterRoleBinding' | 'RoleBinding' | 'ClusterRole' | 'Role' | 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

/** A watched object's version as a change verification can scope. */
function asChange(kind: WatchedKind, o: WatchedObject): BoundaryChange {
  switch (kind) {
    case 'ClusterRoleBinding':
    case 'RoleBinding':
      return { kind, binding: o as unknown as Binding };
    case 'ClusterRole':
    case 'Role':
      return { kind, role: o };
    default:
      return { kind: 'Everything', why: kind };
  }
}

/**
 * Watches of everything outside the operator's own caches that can change a boundary
 * answer: RBAC objects (agentgate's own RoleBindings are the operator's cache already)
 * and the webhook configurations. Each change is handed to `changed`, once per version
 * (before and after), so the agents either version reaches are re-verified.
 */
export function boundaryChangeWatches(kc: k8s.KubeConfig, log: Logger, changed: (c: BoundaryChange) => void): Informer<WatchedObject>[] {
  const notOurs = `${LABEL_MANAGED_BY}!=${MANAGED_BY}`;
  const watch = (kind: WatchedKind, groupVersion: string, resource: string, labelSelector?: string): Informer<WatchedObject> => {
    const informer = new Informer<WatchedObject>({
      kc,
      log,
      name: `boundary-${resource}`,
      path: apiPath(groupVersion, resource),
      transform: changeShape,
      resyncMs: 3_600_000,
      ...(labelSelector ? { labelSelector } : {}),
    });
    informer.onChange((o, ev, previous) => {
      if (ev === 'resync') return;
      if (previous) changed(asChange(kind, previous));
      changed(asChange(kind, o));
    });
    return informer;
  };
  return [
    watch('ClusterRoleBinding', GV.rbac, 'clusterrolebindings'),
    watch('RoleBinding', GV.rbac, 'rolebindings', notOurs),
    watch('ClusterRole', GV.rbac, 'clusterroles'),
    watch('Role', GV.rbac, 'roles'),
    watch('ValidatingWebhookConfiguration', GV.admission, 'validatingwebhookconfigurations'),
    watch('MutatingWebhookConfiguration', GV.admission, 'mutatingwebhookconfigurations'),
  ];
}
