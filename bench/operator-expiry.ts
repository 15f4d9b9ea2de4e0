// Benchmark: 1,000 grants expiring in the same second. Prints p50 / p99 / max of the lag
// between expiresAt and the moment the RoleBinding's deletion reaches a watcher.
// Every grant counts (a binding never deleted is +Infinity and fails the run); the
// baseline is the same percentile of a bare client's deletions from one common start.
// Needs the local control plane (make up; honours AGENTGATE_RUN_DIR).
import { uniqueName } from '../harness/cluster.js';
import { rfc3339 } from '../lib/clock.js';
import {
  adminClients,
  baselineRoleBindings,
  deletionDelays,
  grantAndAwaitBindings,
  percentile,
  setup,
  sleep,
  startOperator,
  teardown,
  trackRoleBindings,
} from './_operator-common.js';

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

    const rbs = trackRoleBindings(kc, ns);
    const deletedAt = rbs.deletedAt;

    await grantAndAwaitBindings(ag, rbs, ns, agent, N, { notAfter }, expiresAtMs - 1000).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)} before expiresAt; raise the margin`);
    });
    const activeIn = (Date.now() - t0) / 1000;
    console.error(`operator-expiry: ${N} grants created and all bound after ${activeIn.toFixed(1)} s; all expire at ${notAfter}`);

    while (deletedAt.size < N && Date.now() < expiresAtMs + 120_000) await sleep(100);
    rbs.stop();
    // Every grant counts: a binding never seen deleted is +Infinity, not left out.
    const lags = deletionDelays(deletedAt, N, expiresAtMs).map((ms) => ms / 1000);
    const missing = lags.filter((l) => !Number.isFinite(l)).length;
    const fmt = (s: number) => (Number.isFinite(s) ? `${(s * 1000).toFixed(0)} ms` : 'never');
    console.log(`operator-expiry: ${N} grants expiring at the same second (measured under contention)`);
    console.log(`  RoleBindings deleted: ${N - missing}/${N}`);
    console.log(
      `  lag expiresAt -> RoleBinding deletion: p50 ${fmt(percentile(lags, 50))}, p99 ${fmt(percentile(lags, 99))}, max ${fmt(lags[lags.length - 1] ?? NaN)}`,
    );
    console.log(`  min ${fmt(lags[0] ?? NaN)} (a negative value would mean access ended early)`);
    // Like with like: each binding's deletion time from one common start, bare client, same percentiles.
    const base = await baselineRoleBindings(N);
    const bp99 = percentile(base.deleteLatenciesMs, 99);
    console.log(
      `  baseline, same run: a bare client deleting ${N} RoleBindings at once (32 in flight): p50 ${base.deleteLatenciesMs.length ? percentile(base.deleteLatenciesMs, 50).toFixed(0) : '-'} ms, p99 ${bp99.toFixed(0)} ms, all in ${base.deleteMs} ms; operator p99 / baseline p99 = ${((percentile(lags, 99) * 1000) / bp99).toFixed(2)}`,
    );
    if (missing) throw new Error(`${missing}/${N} RoleBindings were never deleted within 120 s of expiresAt`);
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
