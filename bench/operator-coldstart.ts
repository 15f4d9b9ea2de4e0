// Benchmark: 10,000 grants waiting when the operator starts. Prints the time from process
// start until every grant is Active with its RoleBinding, and the operator's RSS.
// Goals: <= 60 s and <= 300 MB. Needs the local control plane (make up).
import * as k8s from '@kubernetes/client-node';
import type { AccessGrant } from '../api/types.js';
import { uniqueName } from '../harness/cluster.js';
import { adminClients, baselineRoleBindings, grantBody, pool, rssMb, setup, sleep, startOperator, teardown } from './_operator-common.js';

const N = Number(process.env.BENCH_GRANTS ?? 10_000);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 10);

async function main(): Promise<void> {
  const agent = uniqueName('bench-cold');
  const lease = uniqueName('bench-lease');
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `${agent}-${i}`);
  const { kc, ag } = adminClients();
  const kubeconfig = await setup(agent, namespaces, 'agentgate-bench/agent');
  let op: ReturnType<typeof startOperator> | undefined;
  try {
    const c0 = Date.now();
    await pool(Array.from({ length: N }, (_, i) => i), 100, async (i) => {
      const ns = namespaces[i % NAMESPACES]!;
      await ag.create('AccessGrant', grantBody(ns, `g-${i}`, agent, { duration: '1h' }), ns);
    });
    console.error(`operator-coldstart: ${N} grants created in ${((Date.now() - c0) / 1000).toFixed(1)} s with no operator running`);

    // Count grants turning Active from here on (a watch, not repeated lists of 10k objects).
    const list = (await ag.list<AccessGrant>('AccessGrant')) as { items: AccessGrant[]; metadata: { resourceVersion?: string } };
    const active = new Set(list.items.filter((g) => g.status?.phase === 'Active' && g.spec.agent === agent).map((g) => `${g.metadata.namespace}/${g.metadata.name}`));
    let bindings = 0;
    const watch = new k8s.Watch(kc);
    const grantsWatch = await watch.watch(
      '/apis/agentgate.io/v1alpha1/accessgrants',
      { resourceVersion: list.metadata.resourceVersion },
      (_t: string, g: AccessGrant) => {
        if (g.spec?.agent === agent && g.status?.phase === 'Active') active.add(`${g.metadata.namespace}/${g.metadata.name}`);
      },
      () => undefined,
    );
    const rbWatch = await watch.watch(
      '/apis/rbac.authorization.k8s.io/v1/rolebindings',
      { labelSelector: `agentgate.io/agent=${agent}` },
      (t: string) => {
        if (t === 'ADDED') bindings++;
      },
      () => undefined,
    );

    const t0 = Date.now();
    op = startOperator(kubeconfig, uniqueName('bench-cold-op'), lease);
    let peak = 0;
    let synced = NaN;
    while ((active.size < N || bindings < N) && Date.now() - t0 < 600_000) {
      await sleep(250);
      peak = Math.max(peak, rssMb(op.child.pid ?? 0) || 0);
      if (Number.isNaN(synced) && op.log().includes('caches synced')) synced = (Date.now() - t0) / 1000;
      if (!op.alive) throw new Error(`operator exited:\n${op.log().slice(-2000)}`);
    }
    const total = (Date.now() - t0) / 1000;
    grantsWatch.abort();
    rbWatch.abort();
    // Let it settle (events, status of the agent) and sample the steady state too.
    await sleep(5000);
    const steady = rssMb(op.child.pid ?? 0);
    peak = Math.max(peak, steady || 0);
    console.log(`operator-coldstart: ${N} grants in ${NAMESPACES} namespaces waiting at start`);
    console.log(`  Active: ${active.size}/${N}, RoleBindings: ${bindings}/${N}`);
    console.log(`  process start -> caches synced: ${synced.toFixed(1)} s`);
    console.log(`  process start -> all reconciled: ${total.toFixed(1)} s  (goal <= 60 s)`);
    // Per grant the operator writes 3 times (finalizer, RoleBinding, status) plus an Event.
    const base = await baselineRoleBindings(2000);
    const baseRate = 4000 / ((base.createMs + base.deleteMs) / 1000);
    const opRate = (4 * N) / total;
    console.log(`  requests/s: operator ${opRate.toFixed(0)} (3 writes + 1 Event per grant); bare-client baseline in the same run ${baseRate.toFixed(0)}; ratio ${(opRate / baseRate).toFixed(2)}`);
    console.log(`  operator RSS: peak ${peak.toFixed(0)} MB, steady ${steady.toFixed(0)} MB  (goal <= 300 MB)`);
  } finally {
    const d0 = Date.now();
    await teardown(agent, namespaces, op, lease);
    console.error(`operator-coldstart: cleaned up in ${((Date.now() - d0) / 1000).toFixed(1)} s`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
