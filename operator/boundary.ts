// Boundary verification, continuously: the leader runs boundary/'s checks on a period
// and soon after relevant changes, writes each AgentIdentity's BoundaryVerified condition
// and findings, and exports the findings as a gauge for alerting.
import type * as k8s from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import type { AgentIdentity, AgentIdentityStatus } from '../api/types.js';
import { boundaryCondition } from '../boundary/verify.js';
import type { AgentReport } from '../boundary/types.js';
import { verifyCluster } from '../boundary/cluster.js';
import type { Clock } from '../lib/clock.js';
import { rfc3339 } from '../lib/clock.js';
import { stableStringify } from '../lib/fingerprint.js';
import { type AgentgateClient, errorMessage, isConflict, isNotFound } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
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

export interface BoundaryVerifierOptions {
  kc: k8s.KubeConfig;
  client: AgentgateClient;
  clock: Clock;
  log: Logger;
  namespace: string;
  intervalMs: number;
  registry: Registry;
  /** Agents as the operator's cache has them, for status writes. */
  agents: () => readonly AgentIdentity[];
}

export class BoundaryVerifier {
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private readonly findings: Gauge<'agent' | 'severity' | 'route'>;
  private readonly runs: Gauge<'result'>;

  constructor(private readonly o: BoundaryVerifierOptions) {
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
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.runOnce(), delayMs);
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
    let report;
    try {
      report = await verifyCluster(this.o.kc, { agentgateNamespace: this.o.namespace });
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
        log.warn('boundary not verified', { agent: a.agent, critical: a.findings.filter((f) => f.severity === 'Critical').map((f) => `${f.route} ${f.object ?? ''}`) });
      }
      await this.writeStatus(a).catch((e: unknown) => log.warn('boundary status write failed', { agent: a.agent, error: errorMessage(e) }));
    }
    if (report.reviewErrors.length) log.warn('some access reviews failed; their checks report ReviewMissing', { errors: report.reviewErrors.slice(0, 5) });
    this.runs.set({ result: 'ok' }, Date.now() / 1000);
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
