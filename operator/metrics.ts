// Prometheus metrics on the operator's own Registry (never the global one, so tests and
// embedders can create several operators without name clashes).
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GrantPhase } from '../api/types.js';

const GRANT_PHASES: readonly GrantPhase[] = ['Pending', 'AwaitingApproval', 'Active', 'Expired', 'Revoked', 'Denied', 'Invalid'];

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileDuration: Histogram<'kind'>;
  readonly reconcileErrors: Counter<'kind'>;
  readonly expiryLag: Histogram;
  readonly leader: Gauge;
  readonly queueDepth: Gauge;
  readonly rolebindingOps: Counter<'op'>;
  readonly approvalsRecorded: Counter<'phase'>;
  readonly approvalWaitSeconds: Histogram<'outcome'>;

  constructor(opts: { grantPhases?: () => Map<string, number>; queueDepth?: () => number; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    new Gauge({
      name: 'agentgate_grants',
      help: 'AccessGrants by phase, as the operator sees them.',
      labelNames: ['phase'],
      registers,
      collect() {
        const counts = opts.grantPhases?.() ?? new Map<string, number>();
        for (const p of GRANT_PHASES) this.set({ phase: p }, counts.get(p) ?? 0);
        const unknown = counts.get('') ?? 0;
        this.set({ phase: 'Unknown' }, unknown);
      },
    });
    this.reconcileDuration = new Histogram({
      name: 'agentgate_reconcile_duration_seconds',
      help: 'Time to reconcile one object, by kind.',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'agentgate_reconcile_errors_total',
      help: 'Failed reconciles (retried with backoff), by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.expiryLag = new Histogram({
      name: 'agentgate_grant_expiry_lag_seconds',
      help: "Delay between a grant's expiresAt and the removal of its RoleBinding.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    this.leader = new Gauge({ name: 'agentgate_operator_leader', help: '1 while this replica holds the leader lease.', registers });
    this.queueDepth = new Gauge({
      name: 'agentgate_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      registers,
      collect() {
        this.set(opts.queueDepth?.() ?? 0);
      },
    });
    this.rolebindingOps = new Counter({
      name: 'agentgate_rolebinding_operations_total',
      help: 'RoleBindings created, updated and deleted.',
      labelNames: ['op'],
      registers,
    });
    this.approvalsRecorded = new Counter({
      name: 'agentgate_approvals_recorded_total',
      help: 'Approver decisions recorded from persisted stamps, by the resulting phase.',
      labelNames: ['phase'],
      registers,
    });
    this.approvalWaitSeconds = new Histogram({
      name: 'agentgate_approval_wait_seconds',
      help: 'Time from an ApprovalRequest being created to its decision (Approved or Denied).',
      labelNames: ['outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'agentgate_operator_' });
  }

  /** /metrics and /healthz on port (0 = off). */
  serve(port: number, healthy: () => boolean): http.Server | undefined {
    if (!port) return undefined;
    const server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        this.registry
          .metrics()
          .then((body) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(body);
          })
          .catch((e: unknown) => {
            res.writeHead(500);
            res.end(String(e));
          });
        return;
      }
      if (req.url === '/healthz' || req.url === '/readyz') {
        const ok = healthy();
        res.writeHead(ok ? 200 : 503);
        res.end(ok ? 'ok' : 'not ready');
        return;
      }
      res.writeHead(404);
      res.end();
    });
    server.listen(port);
    return server;
  }
}
