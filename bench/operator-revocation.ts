// Benchmark: mass revocation. An agent with 1,000 Active grants is suspended
// (spec.suspended=true); the time until every one of its RoleBindings is deleted, from
// the moment the suspension was written, against a bare client deleting the same number
// of RoleBindings at once in the same run. Every binding counts: one never deleted fails
// the run. Goal: <= 1.2x the bare client. Needs the local control plane (make up).
// (The webhook's own denial of a suspended agent is immediate by construction: it reads
// the AgentIdentity from its cache on every call; it is not part of this benchmark.)
import { kubectlOk, uniqueName } from '../harness/cluster.js';
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
  const agent = uniqueName('bench-rev');
  const ns = uniqueName('bench-rev');
  const lease = uniqueName('bench-lease');
  const { kc, ag } = adminClients();
  const kubeconfig = await setup(agent, [ns], 'agentgate-bench/agent');
  const op = startOperator(kubeconfig, uniqueName('bench-revoke-op'), lease);
  try {
    const rbs = trackRoleBindings(kc, ns);
    const deletedAt = rbs.deletedAt;
    await grantAndAwaitBindings(ag, rbs, ns, agent, N, { duration: '1h' }, Date.now() + 600_000);
    await sleep(3000);

    const t0 = Date.now();
    await kubectlOk('admin', ['patch', 'agentidentity', agent, '--type=merge', '-p', '{"spec":{"suspended":true}}']);
    while (deletedAt.size < N && Date.now() - t0 < 120_000) await sleep(50);
    rbs.stop();
    const lat = deletionDelays(deletedAt, N, t0);
    const missing = lat.filter((l) => !Number.isFinite(l)).length;
    const all = lat[lat.length - 1]!;
    const base = await baselineRoleBindings(N);
    const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : 'never');
    console.log(`operator-revocation: agent with ${N} Active grants suspended (measured under contention)`);
    console.log(
      `  RoleBindings deleted: ${N - missing}/${N}; from the suspension: p50 ${fmt(percentile(lat, 50))}, p99 ${fmt(percentile(lat, 99))}, all ${fmt(all)}`,
    );
    console.log(
      `  baseline, same run: a bare client deletes ${N} RoleBindings at once (32 in flight): p50 ${fmt(percentile(base.deleteLatenciesMs, 50))}, p99 ${fmt(percentile(base.deleteLatenciesMs, 99))}, all ${base.deleteMs} ms`,
    );
    console.log(`  operator all / bare client all = ${(all / base.deleteMs).toFixed(2)} (goal <= 1.2)`);
    if (missing) throw new Error(`${missing}/${N} RoleBindings were never deleted within 120 s of the suspension`);
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
