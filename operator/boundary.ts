// Boundary verification, continuously: the leader runs boundary/'s checks on a period
// and soon after relevant changes, writes each AgentIdentity's BoundaryVerified condition
// and findings, and exports the findings as a gauge for alerting. Access questions are
// answered from the listed RBAC objects; SubjectAccessReviews only cross-check a
// rate-limited sample (operator/boundary-reviews.ts), so the apiserver's load does not
// grow with agents x time.
import type * as k8s from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AgentIdentity, AgentIdentityStatus } from '../api/types.js';
import { boundaryCondition, planAccessReviews, verifyAgents } from '../boundary/verify.js';
import type { AgentReport, BoundarySnapshot } from '../boundary/types.js';
import { collectObjects, probeWebhooks, runAccessReviews, type CachedObjects } from '../boundary/snapshot.js';
import { CrossChecker, ReviewBudget } from './boundary-reviews.js';
import type { Clock } from '../lib/clock.js';
import { rfc3339 } from '../lib/clock.js';
import { stableStringify } from '../lib/fingerprint.js';
import { type AgentgateClient, apiPath, errorMessage, GV, isConflict, isNotFound } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import { Informer, type WatchedObject } from '../lib/informer.js';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../api/types.js';
import { setCondition } from './conditions.js';

/** Rewrite lastVerified at most this often when nothing else changed, to spare the apiserver. */
export const LAST_VERIFIED_REFRESH_MS = 5 * 60_000;

/** The AgentIdentity status after a verification, or undefined when nothing needs writing. Pure. */
export function planBoundaryStatus(agent: AgentIdentity, report: AgentReport, now: Date): AgentIdentityStatus | undefined {
  const current = agent.status ?? {};
  const next: AgentIdentityStatus = structuredClone(current);
  next.conditions = setCondition(current.conditions, boundaryCondition(report), now, agent.metadata.generation);
  next.findings = report.findings.map((f) => ({ ...f }));
  const unchanged = stableStringify({ c: next.conditions, f: next.findings }) === stableStringify({ c: current.conditions ?? [], f: current.findings ?? [] });
  const last = current.lastVerified ? Date.parse(current.lastVerified) : 0;
  if (unchanged && now.getTime() - last < LAST_VERIFIED_REFRESH_MS) return undefined;
  next.lastVerified = rfc3339(now);
  return next;
}

interface BoundaryVerifierOptions {
  kc: k8s.KubeConfig;
  client: AgentgateClient;
  clock: Clock;
  log: Logger;
  namespace: string;
  intervalMs: number;
  registry: Registry;
  /** Agents as the operator's cache has them, for status writes. */
  agents: () => readonly AgentIdentity[];
  /** The operator's caches of grants and of its own RoleBindings, so verification does not list them again. */
  cached?: CachedObjects;
  /** SubjectAccessReviews per second, on average, for cross-checking (default 0.5; 0: none). */
  reviewsPerSecond?: number;
  /** SubjectAccessReviews at most in one run (default 20). */
  reviewBurst?: number;
}

/** Default SubjectAccessReview budget of the cross-check: a background load the apiserver does not notice. */
const DEFAULT_REVIEWS_PER_SECOND = 0.5;
const DEFAULT_REVIEW_BURST = 20;

export class BoundaryVerifier {
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private readonly findings: Gauge<'agent' | 'severity' | 'route'>;
  private readonly runs: Gauge<'result'>;
  private readonly reviews: Counter<'source'>;
  private readonly mismatches: Counter<'apiserver'>;
  private readonly budget: ReviewBudget;
  private readonly checker = new CrossChecker();

  constructor(private readonly o: BoundaryVerifierOptions) {
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
    this.trigger(0);
    this.timer = setInterval(() => this.trigger(0), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.running;
  }

  /** Verify soon; bursts of changes collapse into one run. */
  trigger(delayMs = 2000): void {
    if (this.stopped) return;
    // A run already scheduled takes this change too; not postponed, so a steady stream of
    // changes (grants activating) cannot starve verification.
    if (this.debounce && delayMs > 0) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.runOnce();
    }, delayMs);
    this.debounce.unref();
  }

  private async runOnce(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.verifyAndWrite().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.trigger();
      }
    });
    await this.running;
  }

  private async verifyAndWrite(): Promise<void> {
    const { log } = this.o;
    let report: Awaited<ReturnType<typeof this.verify>>;
    try {
      report = await this.verify();
    } catch (e) {
      this.runs.set({ result: 'error' }, Date.now() / 1000);
      log.warn('boundary verification failed', { error: errorMessage(e) });
      return;
    }
    this.findings.reset();
    for (const a of report.agents) {
      const counts = new Map<string, number>();
      for (const f of a.findings) counts.set(`${f.severity}\u0000${f.route}`, (counts.get(`${f.severity}\u0000${f.route}`) ?? 0) + 1);
      for (const [k, n] of counts) {
        const [severity, route] = k.split('\u0000') as [string, string];
        this.findings.set({ agent: a.agent, severity, route }, n);
      }
      if (a.findings.some((f) => f.severity === 'Critical')) {
        log.warn('boundary not verified', {
          agent: a.agent,
          critical: a.findings.filter((f) => f.severity === 'Critical').map((f) => `${f.route} ${f.object ?? ''}`),
        });
      }
      await this.writeStatus(a).catch((e: unknown) => log.warn('boundary status write failed', { agent: a.agent, error: errorMessage(e) }));
    }
    if (report.reviewErrors.length) log.warn('some access reviews failed; their checks report ReviewMissing', { errors: report.reviewErrors.slice(0, 5) });
    this.runs.set({ result: 'ok' }, Date.now() / 1000);
  }

  /** One pass: list, answer locally, cross-check a sample with the apiserver, probe, verify. */
  private async verify(): Promise<ReturnType<typeof verifyAgents> & { reviewErrors: string[] }> {
    const { kc } = this.o;
    const objects = await collectObjects(kc, { agentgateNamespace: this.o.namespace, ...(this.o.cached ? { cached: this.o.cached } : {}) });
    const plan = planAccessReviews(objects);
    const sample = this.checker.sample(plan, this.budget.take(plan.length));
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
    return { ...verifyAgents(snapshot), reviewErrors: errors };
  }

  private async writeStatus(report: AgentReport): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const agent =
        attempt === 0
          ? this.o.agents().find((x) => x.metadata.name === report.agent)
          : await this.o.client.get<AgentIdentity>('AgentIdentity', report.agent).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      if (!agent) return;
      const status = planBoundaryStatus(agent, report, this.o.clock.now());
      if (!status) return;
      try {
        await this.o.client.replaceStatus<AgentIdentity>('AgentIdentity', report.agent, { ...agent, status });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!isConflict(e)) throw e;
      }
    }
  }
}

/** Name and version only: these caches exist to notice changes, not to be read. */
const identityOnly = (o: WatchedObject): WatchedObject => ({
  metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion },
});

/**
 * Watches of everything outside the operator's own caches that can change a boundary
 * answer: RBAC objects (agentgate's own RoleBindings are the operator's cache already)
 * and the webhook configurations. They keep names only.
 */
export function boundaryChangeWatches(kc: k8s.KubeConfig, log: Logger): Informer<WatchedObject>[] {
  const notOurs = `${LABEL_MANAGED_BY}!=${MANAGED_BY}`;
  const watch = (groupVersion: string, resource: string, labelSelector?: string): Informer<WatchedObject> =>
    new Informer<WatchedObject>({
      kc,
      log,
      name: `boundary-${resource}`,
      path: apiPath(groupVersion, resource),
      transform: identityOnly,
      resyncMs: 3_600_000,
      ...(labelSelector ? { labelSelector } : {}),
    });
  return [
    watch(GV.rbac, 'clusterrolebindings'),
    watch(GV.rbac, 'rolebindings', notOurs),
    watch(GV.rbac, 'clusterroles'),
    watch(GV.rbac, 'roles'),
    watch(GV.admission, 'validatingwebhookconfigurations'),
    watch(GV.admission, 'mutatingwebhookconfigurations'),
  ];
}
