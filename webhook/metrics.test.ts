import { expect } from 'chai';
import { Counter, Histogram, Registry } from 'prom-client';
import { WebhookMetrics } from './metrics.js';

// The admission path's counters and histograms bind their series once instead of going
// through prom-client on every review; scraped, they must read exactly as prom-client's.
describe('WebhookMetrics series', () => {
  const names = ['agentgate_webhook_http_requests_total', 'agentgate_webhook_admission_duration_seconds'];
  const render = async (r: Registry) => (await Promise.all(names.map((x) => r.getSingleMetricAsString(x)))).join('\n');
  const buckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

  async function both(
    ops: (m: { counter: (l: Record<string, string>) => void; observe: (l: Record<string, string>, v: number) => void }) => void,
  ): Promise<[string, string]> {
    const reference = new Registry();
    const c = new Counter({
      name: 'agentgate_webhook_http_requests_total',
      help: 'HTTP requests by path and status code.',
      labelNames: ['path', 'code'],
      registers: [reference],
    });
    const h = new Histogram({
      name: 'agentgate_webhook_admission_duration_seconds',
      help: 'Time from receiving an AdmissionReview to answering it, including the audit write and any hold.',
      labelNames: ['path', 'verdict'],
      buckets,
      registers: [reference],
    });
    ops({ counter: (l) => c.inc(l), observe: (l, v) => h.observe(l, v) });
    const ours = new WebhookMetrics();
    // Half through bound series, half through label objects: both are in use.
    let n = 0;
    ops({
      counter: (l) => (n++ % 2 ? ours.requests.labels(l['path']!, l['code']!).inc() : ours.requests.inc(l)),
      observe: (l, v) => (n++ % 2 ? ours.admissionSeconds.labels(l['path']!, l['verdict']!).observe(v) : ours.admissionSeconds.observe(l, v)),
    });
    return [await render(reference), await render(ours.registry)];
  }

  it('render what prom-client renders: every bucket, bounds themselves, above the last bound, odd label values, first-seen order', async () => {
    const [reference, ours] = await both(({ counter, observe }) => {
      const paths = ['/validate/agents', '/validate/protect', 'other', 'a"b\\c\nd', '1:x', ''];
      let i = 0;
      for (const value of [0, 0.0001, 0.0005, 0.00051, 0.003, 0.01, 0.7, 1, 2.5, 9.99, 10, 10.0001, 400, 0.02, 0.02]) {
        const path = paths[i++ % paths.length]!;
        observe({ path, verdict: i % 3 ? 'allowed' : 'denied' }, value);
        counter({ path, code: i % 4 ? '200' : '400' });
      }
    });
    expect(ours).to.equal(reference);
    expect(ours).to.contain('agentgate_webhook_admission_duration_seconds_count{path="/validate/agents",verdict="allowed"}');
  });

  it('export nothing for a series bound but never used, as prom-client exports nothing before the first observation', async () => {
    const [reference] = await both(() => undefined);
    const m = new WebhookMetrics();
    m.admissionSeconds.labels('/validate/agents', 'allowed');
    m.requests.labels('/validate/agents', '200');
    expect(await render(m.registry)).to.equal(reference);
  });

  it('refuse what prom-client refuses: a non-finite observation, a counter going down', () => {
    const m = new WebhookMetrics();
    expect(() => m.admissionSeconds.labels('/p', 'allowed').observe(Number.NaN)).to.throw(TypeError);
    expect(() => m.auditWriteSeconds.observe({ result: 'ok' }, Number.POSITIVE_INFINITY)).to.throw(TypeError);
    expect(() => m.decisions.labels('Allowed', 'a', '').inc(-1)).to.throw(TypeError);
  });

  it('reset drops every series; a bound series counts again from zero', async () => {
    const m = new WebhookMetrics();
    const s = m.auditWrites.labels('ok');
    s.inc();
    s.inc();
    m.auditWrites.reset();
    expect(await m.registry.getSingleMetricAsString('agentgate_webhook_audit_writes_total')).to.not.contain('result=');
    s.inc();
    expect(await m.registry.getSingleMetricAsString('agentgate_webhook_audit_writes_total')).to.contain('agentgate_webhook_audit_writes_total{result="ok"} 1');
  });
});

describe('WebhookMetrics get()', () => {
  it('gives each histogram line its series labels, as prom-client does', async () => {
    const reference = new Histogram({ name: 'h', help: 'h', labelNames: ['result'], buckets: [0.1, 1], registers: [new Registry()] });
    reference.observe({ result: 'ok' }, 0.5);
    const ours = new WebhookMetrics();
    ours.auditWriteSeconds.labels('ok').observe(0.5);
    const lines = (m: { values: Array<{ labels: object; metricName?: string; value: number }> }) =>
      m.values.filter((v) => !('le' in v.labels)).map((v) => [v.metricName?.replace(/^.*_(sum|count)$/, '$1'), v.labels, v.value]);
    expect(lines(await ours.auditWriteSeconds.get())).to.deep.equal(lines(await reference.get()));
  });
});
