// Prometheus metrics on the webhook's own Registry, so a process embedding the webhook
// (tests, benchmarks) never mixes its figures into prom-client's global one.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// ---------------------------------------------------------------------------------
// Series bound once. prom-client validates and hashes the labels on every inc and observe,
// children included, and that was a measurable share of an allowed review (README,
// Benchmarks). These keep one plain object per label tuple (as many as prom-client keeps)
// and render the same exposition (a unit test holds them equal to prom-client's), for the
// counters and histograms the admission path updates on every review.

type Labels<T extends string> = Partial<Record<T, string | number>>;

/** One line of the exposition, as prom-client's metrics hand them to the Registry. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
  exemplar?: null;
}

/** What the Registry reads from a metric (prom-client's get()). */
interface ExportedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: ExportedValue[];
  aggregator: 'sum';
}

interface SeriesMetricConfig<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  registers: Registry[];
}

/** A key no two label tuples share (length-prefixed values). */
const tupleKey = (values: readonly string[]): string => (values.length === 1 ? values[0]! : values.map((v) => `${v.length}:${v}`).join(''));

abstract class SeriesMetric<T extends string, S extends { labels: Record<string, string> }> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly T[];
  /** Every bound series, exported or not. */
  readonly #bound = new Map<string, S>();
  /** The series observed since the last reset, in first-observed order (as prom-client exports them). */
  protected readonly exported = new Set<S>();

  constructor(config: SeriesMetricConfig<T>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const r of config.registers) r.registerMetric(this as never);
  }

  protected abstract create(labels: Record<string, string>): S;

  protected series(values: readonly string[]): S {
    const key = tupleKey(values);
    let s = this.#bound.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i] ?? '';
      });
      s = this.create(labels);
      this.#bound.set(key, s);
    }
    return s;
  }

  protected seriesOf(labels: Labels<T>): S {
    return this.series(this.labelNames.map((n) => String(labels[n] ?? '')));
  }

  abstract reset(): void;
}

class CounterSeries {
  value = 0;
  constructor(
    readonly labels: Record<string, string>,
    private readonly exported: Set<CounterSeries>,
  ) {}
  inc(by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new TypeError(`a counter only goes up by a finite amount, not ${by}`);
    this.value += by;
    this.exported.add(this);
  }
}

/** A counter whose series are bound once (labels(...values)), as prom-client's Counter renders it. */
class SeriesCounter<T extends string> extends SeriesMetric<T, CounterSeries> {
  readonly type = 'counter' as const;
  protected create(labels: Record<string, string>): CounterSeries {
    return new CounterSeries(labels, this.exported);
  }
  labels(...values: string[]): CounterSeries {
    return this.series(values);
  }
  inc(labels: Labels<T>, by = 1): void {
    this.seriesOf(labels).inc(by);
  }
  reset(): void {
    for (const s of this.exported) s.value = 0;
    this.exported.clear();
  }
  async get(): Promise<ExportedMetric> {
    const values = [...this.exported].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

class HistogramSeries {
  sum = 0;
  count = 0;
  /** Per bucket (not cumulative); an observation above every bound is only in count. */
  readonly buckets: number[];
  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
    private readonly exported: Set<HistogramSeries>,
  ) {
    this.buckets = bounds.map(() => 0);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    // The first bound the value does not exceed, in the configured order (as prom-client's findBound).
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.buckets[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
    this.exported.add(this);
  }
}

/** A histogram whose series are bound once (labels(...values)), as prom-client's Histogram renders it. */
class SeriesHistogram<T extends string> extends SeriesMetric<T, HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];
  constructor(config: SeriesMetricConfig<T> & { buckets: readonly number[] }) {
    super(config);
    this.#bounds = Object.freeze([...config.buckets]);
  }
  protected create(labels: Record<string, string>): HistogramSeries {
    return new HistogramSeries(labels, this.#bounds, this.exported);
  }
  labels(...values: string[]): HistogramSeries {
    return this.series(values);
  }
  observe(labels: Labels<T>, value: number): void {
    this.seriesOf(labels).observe(value);
  }
  reset(): void {
    for (const s of this.exported) {
      s.sum = 0;
      s.count = 0;
      s.buckets.fill(0);
    }
    this.exported.clear();
  }
  /** As prom-client's get(): each value's labels carry its series' labels too. */
  async get(): Promise<ExportedMetric> {
    const m = await this.getForPromString();
    return {
      ...m,
      values: m.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    };
  }

  /** What the Registry renders: the series' labels shared by its lines (as prom-client's). */
  async getForPromString(): Promise<ExportedMetric> {
    const bucket = `${this.name}_bucket`;
    const values: ExportedValue[] = [];
    for (const s of this.exported) {
      const shared = s.labels;
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.buckets[i]!;
        values.push({ labels: { le }, sharedLabels: shared, value: acc, metricName: bucket, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: shared, value: s.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels: shared, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: shared, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly decisions: SeriesCounter<'verdict' | 'agent' | 'rule'>;
  readonly admissionSeconds: SeriesHistogram<'path' | 'verdict'>;
  readonly requests: SeriesCounter<'path' | 'code'>;
  readonly pendingApprovals: Gauge;
  readonly holdSeconds: Histogram<'outcome'>;
  readonly auditWrites: SeriesCounter<'result'>;
  readonly auditWriteSeconds: SeriesHistogram<'result'>;
  readonly configurationDrift: Counter<'configuration'>;

  constructor(opts: { pendingApprovals?: () => number; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.decisions = new SeriesCounter({
      name: 'agentgate_webhook_decisions_total',
      help: "Agents' calls by verdict (Allowed, Held, Denied), agent and matched rule ('' when none matched).",
      labelNames: ['verdict', 'agent', 'rule'],
      registers,
    });
    this.admissionSeconds = new SeriesHistogram({
      name: 'agentgate_webhook_admission_duration_seconds',
      help: 'Time from receiving an AdmissionReview to answering it, including the audit write and any hold.',
      labelNames: ['path', 'verdict'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.requests = new SeriesCounter({
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
    this.auditWrites = new SeriesCounter({
      name: 'agentgate_webhook_audit_writes_total',
      help: 'AuditEvent writes by result (ok, error, skipped for dry runs).',
      labelNames: ['result'],
      registers,
    });
    this.auditWriteSeconds = new SeriesHistogram({
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
