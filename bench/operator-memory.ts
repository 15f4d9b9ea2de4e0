// Benchmark: the operator's memory at N grants, and where it goes. One operator process
// runs throughout: its idle figure (caches synced, no grants) is the same-run baseline;
// grants are then added in steps (all Active with their RoleBindings before a step is
// measured), and at the largest step the operator is restarted to measure a cold start
// over N existing grants (the peak a restart must fit under the chart's limit).
// Each figure is split as the process itself reports it (/metrics: V8 heap by space,
// external, the rest), so a change can be aimed at the part that moves.
// Goals (issue #13): <= 150 MB at 10k grants, <= 400 MB at 50k. Needs the local control
// plane (make up). BENCH_MEMORY_GRANTS=1000,3000,10000 sets the steps; BENCH_CLEANUP=0 leaves
// the grants for a control plane thrown away after.
import * as k8s from '@kubernetes/client-node';
import { LABEL_AGENT, type AccessGrant } from '../api/types.js';
import { uniqueName } from '../harness/cluster.js';
import { freePort, type RunningComponent } from '../harness/components.js';
import { Informer } from '../lib/informer.js';
import { agentgatePath } from '../lib/kube.js';
import {
  adminClients,
  CLEANUP,
  cpuSeconds,
  describeMemory,
  grantBody,
  loadAverage,
  operatorMemory,
  pool,
  rssMb,
  setup,
  sleep,
  startOperator,
  teardown,
  type MemoryBreakdown,
} from './_operator-common.js';

const STEPS = (process.env.BENCH_MEMORY_GRANTS ?? '1000,3000,10000').split(',').map(Number);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 10);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_S ?? 20) * 1000;
const STEP_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 900) * 1000;

/** Peak RSS of a process, sampled from /proc while fn runs. */
async function withPeak<T>(op: RunningComponent, fn: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, rssMb(op.child.pid ?? 0) || 0);
      await sleep(200);
    }
  })();
  try {
    return { result: await fn(), peak };
  } finally {
    done = true;
    await sampler;
  }
}

async function waitFor(what: () => string, op: RunningComponent, cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (!op.alive) throw new Error(`operator exited:\n${op.log().slice(-2000)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what()}`);
    await sleep(250);
  }
}

/** One measured state of the operator: a step of grants, idle, or the restart. */
interface Row {
  label: string;
  grants: number;
  peak: number;
  m: MemoryBreakdown;
  rate?: string;
}

async function main(): Promise<void> {
  const agent = uniqueName('bench-mem');
  const lease = uniqueName('bench-lease');
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `${agent}-${i}`);
  const { kc, ag } = adminClients();
  const kubeconfig = await setup(agent, namespaces, 'agentgate-bench/agent');
  const port = await freePort();
  let op: RunningComponent | undefined = startOperator(kubeconfig, uniqueName('bench-mem-op'), lease, { metricsPort: port });
  // Counted from informers (lib/informer.ts), which reconnect: a bare watch is closed by
  // the apiserver when this process falls behind under load, and then counts nothing.
  const grants = new Informer<AccessGrant>({
    kc,
    name: 'bench-grants',
    path: agentgatePath('AccessGrant'),
    list: () => ag.list<AccessGrant>('AccessGrant'),
    transform: (g) =>
      ({ metadata: { name: g.metadata.name, namespace: g.metadata.namespace }, spec: g.spec, status: { phase: g.status?.phase } }) as AccessGrant,
  });
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const selector = `${LABEL_AGENT}=${agent}`;
  const bindings = new Informer<k8s.V1RoleBinding>({
    kc,
    name: 'bench-bindings',
    path: '/apis/rbac.authorization.k8s.io/v1/rolebindings',
    labelSelector: selector,
    list: () => rbac.listRoleBindingForAllNamespaces({ labelSelector: selector }),
    transform: (b) => ({ metadata: { name: b.metadata?.name, namespace: b.metadata?.namespace } }) as k8s.V1RoleBinding,
  });
  const activeCount = (): number => grants.list().filter((g) => g.spec.agent === agent && g.status?.phase === 'Active').length;
  const rows: Row[] = [];
  try {
    await Promise.all([grants.start(), bindings.start()]);
    await Promise.all([grants.synced, bindings.synced]);
    const first = op;
    const idle = await withPeak(first, async () => {
      await waitFor(
        () => 'caches synced',
        first,
        () => first.log().includes('caches synced'),
        120_000,
      );
      await sleep(SETTLE_MS);
      return operatorMemory(port);
    });
    rows.push({ label: 'idle (baseline)', grants: 0, peak: idle.peak, m: idle.result });

    let created = 0;
    for (const n of STEPS) {
      const t0 = Date.now();
      const cpu0 = cpuSeconds(first.child.pid ?? 0);
      let activatedAfter = { s: 0, cpu: 0 };
      const step = await withPeak(first, async () => {
        await pool(
          Array.from({ length: n - created }, (_, i) => created + i),
          50,
          async (i) => {
            const ns = namespaces[i % NAMESPACES]!;
            await ag.create('AccessGrant', grantBody(ns, `g-${i}`, agent, { duration: '2h' }), ns);
          },
        );
        created = n;
        let active = 0;
        await waitFor(
          () => `${n} grants Active with RoleBindings (Active ${active}, RoleBindings ${bindings.size})`,
          first,
          () => (active = activeCount()) >= n && bindings.size >= n,
          STEP_TIMEOUT_MS,
        );
        activatedAfter = { s: (Date.now() - t0) / 1000, cpu: cpuSeconds(first.child.pid ?? 0) - cpu0 };
        await sleep(SETTLE_MS);
        return operatorMemory(port);
      });
      const added = n - rows[rows.length - 1]!.grants;
      rows.push({
        label: 'grants added while running',
        grants: n,
        peak: step.peak,
        m: step.result,
        rate: `${added} activated in ${activatedAfter.s.toFixed(0)} s = ${(added / activatedAfter.s).toFixed(1)} grants/s, operator CPU ${((activatedAfter.cpu / added) * 1000).toFixed(1)} ms per grant (load ${loadAverage()})`,
      });
      console.log(`  step ${n}: ${rows[rows.length - 1]!.rate}`);
    }

    // A restart over the largest set: the peak the chart's limit must hold.
    await first.stop('SIGTERM');
    const second = startOperator(kubeconfig, uniqueName('bench-mem-op'), lease, { metricsPort: port });
    op = second;
    const restart = await withPeak(second, async () => {
      await waitFor(
        () => 'caches synced',
        second,
        () => second.log().includes('caches synced'),
        STEP_TIMEOUT_MS,
      );
      await sleep(SETTLE_MS);
      return operatorMemory(port);
    });
    rows.push({ label: 'restarted over them', grants: created, peak: restart.peak, m: restart.result });
    report(rows);
  } finally {
    await Promise.all([grants.stop(), bindings.stop()]);
    // Without cleanup the operator still stops; its grants go with the control plane.
    await teardown(agent, CLEANUP ? namespaces : [], op, lease);
  }
}

/** The table, printed before the teardown (deleting 50,000 grants takes ~10 minutes here). */
function report(rows: Row[]): void {
  const base = rows[0]!.m;
  console.log(`operator-memory: one operator process, ${NAMESPACES} namespaces; steady = ${SETTLE_MS / 1000} s after the step (measured under contention)`);
  for (const r of rows) {
    const per1k = r.grants ? ` = ${(((r.m.rss - base.rss) / r.grants) * 1000).toFixed(1)} MB per 1,000 grants over idle;` : '';
    console.log(
      `  ${String(r.grants).padStart(6)} grants, ${r.label}: peak ${r.peak.toFixed(0)} MB, steady ${r.m.rss.toFixed(0)} MB (${(r.m.rss / base.rss).toFixed(2)}x idle)${per1k}`,
    );
    console.log(`      ${describeMemory(r.m)}`);
    if (r.rate) console.log(`      ${r.rate}`);
  }
  const last = rows[rows.length - 1]!;
  const n = last.grants;
  const projected = (k: number) => base.rss + ((last.m.rss - base.rss) / n) * k;
  console.log(
    `  projected steady from the slope: 10k ${projected(10_000).toFixed(0)} MB (goal <= 150), 50k ${projected(50_000).toFixed(0)} MB (goal <= 400); restart peak at ${n}: ${last.peak.toFixed(0)} MB`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
