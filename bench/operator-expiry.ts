// Benchmark: 1,000 grants expiring in the same second. Prints p50 / p99 / max of the lag
// between expiresAt and the moment the RoleBinding's deletion reaches a watcher.
// Goal: p99 <= 1 s. Needs the local control plane (make up; honours AGENTGATE_RUN_DIR).
import * as k8s from '@kubernetes/client-node';
import { uniqueName } from '../harness/cluster.js';
import { rfc3339 } from '../lib/clock.js';
import { adminClients, baselineRoleBindings, grantBody, percentile, pool, setup, sleep, startOperator, teardown } from './_operator-common.js';

const N = Number(process.env.BENCH_GRANTS ?? 1000);

async function main(): Promise<void> {
  const agent = uniqueName('bench-exp');
  const ns = uniqueName('bench-exp');
  const lease = uniqueName('bench-lease');
  const { kc, ag } = adminClients();
  const kubeconfig = await setup(agent, [ns], 'agentgate-bench/agent');
  const op = startOperator(kubeconfig, uniqueName('bench-expiry-op'), lease);
  try {
    // One expiresAt for all: notAfter, far enough out to create and activate every grant first.
    const t0 = Date.now();
    const expiresAtMs = Math.ceil((t0 + 60_000 + N * 40) / 1000) * 1000;
    const notAfter = rfc3339(new Date(expiresAtMs));

    const deletedAt = new Map<string, number>();
    let created = 0;
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
      {},
      (type: string, obj: k8s.V1RoleBinding) => {
        if (type === 'ADDED') created++;
        if (type === 'DELETED') deletedAt.set(obj.metadata?.name ?? '', Date.now());
      },
      () => undefined,
    );

    await pool(Array.from({ length: N }, (_, i) => i), 50, async (i) => {
      await ag.create('AccessGrant', grantBody(ns, `g-${i}`, agent, { notAfter }), ns);
    });
    const createdIn = (Date.now() - t0) / 1000;
    while (created < N && Date.now() < expiresAtMs - 1000) await sleep(200);
    const activeIn = (Date.now() - t0) / 1000;
    if (created < N) throw new Error(`only ${created}/${N} RoleBindings existed before expiresAt; raise the margin`);
    console.error(`operator-expiry: ${N} grants created in ${createdIn.toFixed(1)} s, all bound after ${activeIn.toFixed(1)} s; all expire at ${notAfter}`);

    while (deletedAt.size < N && Date.now() < expiresAtMs + 120_000) await sleep(100);
    req.abort();
    const lags = [...deletedAt.values()].map((t) => (t - expiresAtMs) / 1000).sort((a, b) => a - b);
    const fmt = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    console.log(`operator-expiry: ${N} grants expiring at the same second`);
    console.log(`  RoleBindings deleted: ${lags.length}/${N}`);
    console.log(`  lag expiresAt -> RoleBinding deletion: p50 ${fmt(percentile(lags, 50))}, p99 ${fmt(percentile(lags, 99))}, max ${fmt(lags[lags.length - 1] ?? NaN)}  (goal p99 <= 1000 ms)`);
    console.log(`  min ${fmt(lags[0] ?? NaN)} (a negative value would mean access ended early)`);
    const base = await baselineRoleBindings(N);
    console.log(`  baseline, same run: a bare client deletes ${N} RoleBindings (32 in flight) in ${base.deleteMs} ms; operator p99 / baseline = ${((percentile(lags, 99) * 1000) / base.deleteMs).toFixed(2)}`);
  } finally {
    await teardown(agent, [ns], op, lease);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
