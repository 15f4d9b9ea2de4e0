// Prometheus metrics on the webhook's own Registry, so a process embedding the webhook
// (tests, benchmarks) never mixes its figures into prom-client's global one.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly decisions: Counter<'verdict' | 'agent' | 'rule'>;
  readonly admissionSeconds: Histogram<'path' | 'verdict'>;
  readonly requests: Counter<'path' | 'code'>;
  readonly pendingApprovals: Gauge;
  readonly holdSeconds: Histogram<'outcome'>;
  readonly auditWrites: Counter<'result'>;
  readonly auditWriteSeconds: Histogram<'result'>;
  readonly configurationDrift: Counter<'configuration'>;

  constructor(opts: { pendingApprovals?: () => number; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.decisions = new Counter({
      name: 'agentgate_webhook_decisions_total',
      help: "Agents' calls by verdict (Allowed, Held, Denied), agent and matched rule ('' when none matched).",
      labelNames: ['verdict', 'agent', 'rule'],
      registers,
    });
    this.admissionSeconds = new Histogram({
      name: 'agentgate_webhook_admission_duration_seconds',
      help: 'Time from receiving an AdmissionReview to answering it, including the audit write and any hold.',
      labelNames: ['path', 'verdict'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.requests = new Counter({
      name: 'agentgate_webhook_http_requests_total',
      help: 'HTTP requests by path and status code.',
      labelNames: ['path', 'code'],
      registers,
    });
    const pending = opts.pendingApprovals;
    this.pendingApprovals = new Gauge({
      name: 'agentgate_webhook_pending_approvals',
      help: 'ApprovalRequests currently Pending (from the informer cache).',
      registers,
      collect() {
        if (pending) this.set(pending());
      },
    });
    this.holdSeconds = new Histogram({
      name: 'agentgate_webhook_hold_seconds',
      help: 'Time a held call was kept open waiting for a fast approval (holdSeconds).',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 2, 4, 8, 15, 25],
      registers,
    });
    this.auditWrites = new Counter({
      name: 'agentgate_webhook_audit_writes_total',
      help: 'AuditEvent writes by result (ok, error, skipped for dry runs).',
      labelNames: ['result'],
      registers,
    });
    this.auditWriteSeconds = new Histogram({
      name: 'agentgate_webhook_audit_write_duration_seconds',
      help: "Time an agent call's audit record took to be committed (or refused) by the audit store, part of the admission time.",
      labelNames: ['result'],
      buckets: [0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.configurationDrift = new Counter({
      name: 'agentgate_webhook_configuration_drift_restored_total',
      help: "Times someone else changed or deleted one of agentgate's webhook configurations and the webhook restored it.",
      labelNames: ['configuration'],
      registers,
    });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'agentgate_webhook_' });
  }
}
