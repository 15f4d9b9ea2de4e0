// Benchmark: cleanup when namespaces holding many grants are deleted. N Active grants
// (BENCH_GRANTS, default 1,000) of one agent across a few namespaces (BENCH_NAMESPACES,
// default one per 1,000 grants, at least 2); the namespaces are deleted at once, and the
// time until every RoleBinding and every AccessGrant is gone (the namespace controller
// deletes both; the operator removes each grant's finalizer) is set against a bare client
// in the same run deleting as many RoleBindings and AccessGrants and removing as many
// finalizers (32 in flight). Every object counts: one never gone fails the run.
// Goal: <= 1.2x the bare client. Needs the local control plane (make up).
import { kubectl, kubectlOk, uniqueName } from '../harness/cluster.js';
import { agentgatePath, apiPath, GV } from '../lib/kube.js';
import { AUDIT_APISERVICE } from '../api/types.js';
import {
  adminClients,
  apiserverRequests,
  cpuSeconds,
  deletionDelays,
  describeCounts,
  diff,
  grantAndAwaitBindings,
  grantBody,
  loadAverage,
  percentile,
  pool,
  setup,
  sleep,
  startOperator,
  teardown,
  trackObjects,
  trackRoleBindings,
} from './_operator-common.js';

const N = Number(process.env.BENCH_GRANTS ?? 1000);
const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? Math.max(2, Math.ceil(N / 1000)));
/** How long the operator's cleanup may take before the objects still there count as never gone. */
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 120 + N * 0.05) * 1000;
const BASELINE_FINALIZER = 'bench.agentgate.io/baseline';

/** Grants per namespace: N split as evenly as it goes. */
const split = (n: number, parts: number): number[] => Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));

/**
 * The bare client: N RoleBindings and N AccessGrants carrying a finalizer (not agentgate's,
 * and created before the operator starts, so it never touches them), then, timed, each
 * RoleBinding deleted and each grant deleted and its finalizer removed, 32 in flight.
 */
async function baseline(n: number, agent: string): Promise<{ ms: number }> {
  const { ag } = adminClients();
  const ns = uniqueName('bench-nsdel-base');
  await kubectlOk('admin', ['create', 'namespace', ns]);
  const ids = Array.from({ length: n }, (_, i) => i);
  try {
    await pool(ids, 32, async (i) => {
      await ag.kube.create(apiPath(GV.rbac, 'rolebindings', ns), {
        metadata: { name: `b-${i}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'User', name: 'bench:nobody', apiGroup: 'rbac.authorization.k8s.io' }],
      });
      const g = grantBody(ns, `g-${i}`, agent, { duration: '1h' });
      g.metadata.finalizers = [BASELINE_FINALIZER];
      await ag.create('AccessGrant', g, ns);
    });
    const t0 = Date.now();
    await pool(ids, 32, async (i) => {
      await Promise.all([
        ag.kube.delete(apiPath(GV.rbac, 'rolebindings', ns, `b-${i}`)),
        (async () => {
          await ag.delete('AccessGrant', `g-${i}`, ns);
          await ag.mergePatch('AccessGrant', `g-${i}`, { metadata: { finalizers: null } }, ns);
        })(),
      ]);
    });
    return { ms: Date.now() - t0 };
  } finally {
    await kubectl('admin', ['delete', 'namespace', ns, '--wait=false']);
  }
}

async function main(): Promise<void> {
  const agent = uniqueName('bench-nsdel');
  const namespaces = Array.from({ length: NAMESPACES }, () => uniqueName('bench-nsdel'));
  const lease = uniqueName('bench-lease');
  const { kc, ag } = adminClients();
  const kubeconfig = await setup(agent, namespaces, 'agentgate-bench/agent');
  // No webhook runs in this benchmark, so the audit API's APIService (installed by setup)
  // has no server; the namespace controller's discovery would then fail and keep every
  // deleted namespace Terminating. The figure is the grants' cleanup, not the namespace
  // object, but a namespace controller that never gets going deletes nothing.
  await kubectlOk('admin', ['delete', 'apiservice', AUDIT_APISERVICE, '--ignore-not-found']);
  console.error(`operator-namespace-deletion: baseline (bare client, ${N} RoleBindings + ${N} AccessGrants with a finalizer)...`);
  const base = await baseline(N, agent);
  const loadAtBaseline = loadAverage();

  const op = startOperator(kubeconfig, uniqueName('bench-nsdel-op'), lease);
  try {
    const perNs = split(N, NAMESPACES);
    const rbs = namespaces.map((ns) => trackRoleBindings(kc, ns));
    const grants = namespaces.map((ns) => trackObjects(kc, agentgatePath('AccessGrant', ns)));
    const t1 = Date.now();
    for (const [i, ns] of namespaces.entries()) {
      await grantAndAwaitBindings(ag, rbs[i]!, ns, agent, perNs[i]!, { duration: '2h' }, t1 + 600_000 + N * 200);
    }
    console.error(`operator-namespace-deletion: ${N} grants Active in ${NAMESPACES} namespaces after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    // Let verification and status writes of the activation settle, so they are not timed as cleanup.
    await sleep(10_000);

    const cpu0 = cpuSeconds(op.child.pid!);
    const req0 = await apiserverRequests();
    const t0 = Date.now();
    await kubectlOk('admin', ['delete', 'namespace', ...namespaces, '--wait=false']);
    const gone = (): number => rbs.reduce((a, t) => a + t.deletedAt.size, 0) + grants.reduce((a, t) => a + t.deletedAt.size, 0);
    while (gone() < 2 * N && Date.now() - t0 < DEADLINE_MS) await sleep(100);
    const cpu = cpuSeconds(op.child.pid!) - cpu0;
    const requests = diff(req0, await apiserverRequests());
    for (const t of [...rbs, ...grants]) t.stop();

    // Every object counts: one never seen gone is +Infinity.
    const rbLat = namespaces.flatMap((_, i) => deletionDelays(rbs[i]!.deletedAt, perNs[i]!, t0)).sort((a, b) => a - b);
    const grantLat = namespaces.flatMap((_, i) => deletionDelays(grants[i]!.deletedAt, perNs[i]!, t0, 'g-')).sort((a, b) => a - b);
    const missingRb = rbLat.filter((l) => !Number.isFinite(l)).length;
    const missingGrants = grantLat.filter((l) => !Number.isFinite(l)).length;
    const all = Math.max(rbLat[rbLat.length - 1]!, grantLat[grantLat.length - 1]!);
    // The namespace controller paces itself (kube-controller-manager's client is rate limited,
    // ~2 requests per resource type per namespace): the cleanup proper starts when its
    // deletions first reach a grant or a binding.
    const firstReached =
      Math.min(...[...rbs, ...grants].flatMap((t) => [...t.deletedAt.values(), ...t.markedAt.values()]).filter((t) => t >= t0)) - t0;
    const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : 'never');
    console.log(`operator-namespace-deletion: ${N} Active grants in ${NAMESPACES} namespaces, the namespaces deleted at once (measured under contention)`);
    console.log(`  RoleBindings gone: ${N - missingRb}/${N}; p50 ${fmt(percentile(rbLat, 50))}, p99 ${fmt(percentile(rbLat, 99))}, all ${fmt(rbLat[rbLat.length - 1]!)}`);
    console.log(
      `  AccessGrants gone: ${N - missingGrants}/${N}; p50 ${fmt(percentile(grantLat, 50))}, p99 ${fmt(percentile(grantLat, 99))}, all ${fmt(grantLat[grantLat.length - 1]!)}`,
    );
    const marked = grants.flatMap((t) => [...t.markedAt.values()].map((x) => x - t0)).sort((a, b) => a - b);
    console.log(
      `  AccessGrants seen marked for deletion by the namespace controller: ${marked.length}/${N} (the rest went before a watcher saw the mark); p50 ${fmt(percentile(marked, 50))}, last ${fmt(marked[marked.length - 1] ?? NaN)}`,
    );
    console.log(`  operator CPU in the cleanup: ${cpu.toFixed(1)} s (${((cpu * 1000) / N).toFixed(1)} ms per grant); load ${loadAverage()}`);
    console.log(`  apiserver requests in the cleanup (all clients): ${describeCounts(requests)}`);
    console.log(
      `  baseline, same run: a bare client deletes ${N} RoleBindings and ${N} AccessGrants and removes their finalizers (32 in flight) in ${base.ms} ms; load ${loadAtBaseline}`,
    );
    console.log(
      `  the namespace controller's deletions first reached a grant or binding ${fmt(firstReached)} after the namespaces' deletion; from then until all gone: ${fmt(all - firstReached)}`,
    );
    console.log(
      `  operator cleanup (first reached -> all gone) / bare client = ${((all - firstReached) / base.ms).toFixed(2)} (goal <= 1.2); end to end from the namespaces' deletion: ${(all / base.ms).toFixed(2)}`,
    );
    if (missingRb || missingGrants) {
      throw new Error(`${missingRb} RoleBindings and ${missingGrants} AccessGrants of ${N} each were still there ${DEADLINE_MS / 1000} s after the namespaces' deletion`);
    }
  } finally {
    await teardown(agent, namespaces, op, lease);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
