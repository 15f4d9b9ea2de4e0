// Benchmark: cleanup when namespaces holding many grants are deleted. N Active grants
// (BENCH_GRANTS, default 1,000) of one agent across a few namespaces (BENCH_NAMESPACES,
// default one per 1,000 grants, at least 2) are deleted with their namespaces at once; the
// figure is the time until every RoleBinding and every AccessGrant is gone. The namespace
// controller deletes both kinds at its own pace (kube-apiserver deletes a collection one
// object at a time); the operator deletes each marked grant's RoleBinding and removes its
// finalizer. Baseline, same run, after the operator stopped: as many namespaces holding
// as many copies of the operator's RoleBindings and AccessGrants (status included, a
// finalizer of the bench's own) deleted the same way, with a bare client in the operator's
// place (watch the grants; for each marked one, delete its RoleBinding and remove its
// finalizer; 32 in flight). Every object counts: one never gone fails the run.
// Goal: <= 1.2x the bare client. Needs the local control plane (make up).
import type { V1RoleBinding } from '@kubernetes/client-node';
import { AUDIT_APISERVICE, LABEL_GRANT, type AccessGrant } from '../api/types.js';
import { kubectlOk, uniqueName } from '../harness/cluster.js';
import { agentgatePath, apiPath, GV, isNotFound } from '../lib/kube.js';
import {
  adminClients,
  apiserverRequests,
  cpuSeconds,
  deletionDelays,
  describeCounts,
  diff,
  grantAndAwaitBindings,
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
/** How long a cleanup may take before the objects still there count as never gone. */
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? 120 + N * 0.05) * 1000;
const BASELINE_FINALIZER = 'bench.agentgate.io/baseline';

/** Grants per namespace: N split as evenly as it goes. */
const perNamespace = Array.from({ length: NAMESPACES }, (_, i) => Math.floor(N / NAMESPACES) + (i < N % NAMESPACES ? 1 : 0));

type Tracker = ReturnType<typeof trackObjects>;

interface Cleanup {
  /** From the namespaces' deletion, sorted; +Infinity for an object never seen gone. */
  bindings: number[];
  grants: number[];
  /** When the namespace controller's deletions first reached a grant or binding. */
  firstReachedMs: number;
  /** Per grant seen marked for deletion (the namespace controller's pace): mark -> gone, sorted; +Infinity if never gone. */
  finalizerLagMs: number[];
  allMs: number;
}

/** Deletes the namespaces and waits until every tracked binding and grant is gone (or the deadline). */
async function deleteAndAwait(namespaces: string[], rbs: Tracker[], grants: Tracker[]): Promise<Cleanup> {
  const t0 = Date.now();
  await kubectlOk('admin', ['delete', 'namespace', ...namespaces, '--wait=false']);
  const gone = (): number => [...rbs, ...grants].reduce((a, t) => a + t.deletedAt.size, 0);
  while (gone() < 2 * N && Date.now() - t0 < DEADLINE_MS) await sleep(100);
  for (const t of [...rbs, ...grants]) t.stop();
  const bindings = namespaces.flatMap((_, i) => deletionDelays(rbs[i]!.deletedAt, perNamespace[i]!, t0)).sort((a, b) => a - b);
  const grantsGone = namespaces.flatMap((_, i) => deletionDelays(grants[i]!.deletedAt, perNamespace[i]!, t0, 'g-')).sort((a, b) => a - b);
  const reached = [...rbs, ...grants].flatMap((t) => [...t.deletedAt.values(), ...t.markedAt.values()]).filter((x) => x >= t0);
  const finalizerLagMs = grants.flatMap((t) => [...t.markedAt].map(([name, at]) => (t.deletedAt.get(name) ?? Infinity) - at)).sort((a, b) => a - b);
  return {
    finalizerLagMs,
    bindings,
    grants: grantsGone,
    firstReachedMs: Math.min(...reached) - t0,
    allMs: Math.max(bindings[bindings.length - 1]!, grantsGone[grantsGone.length - 1]!),
  };
}

/** Runs at most n of the functions at once. */
function limiter(n: number): (f: () => Promise<void>) => void {
  let running = 0;
  const waiting: Array<() => Promise<void>> = [];
  const next = (): void => {
    while (running < n && waiting.length) {
      const f = waiting.shift()!;
      running++;
      void f()
        .catch((e: unknown) => console.error(`bare client: ${String(e)}`))
        .finally(() => {
          running--;
          next();
        });
    }
  };
  return (f) => {
    waiting.push(f);
    next();
  };
}

/** One of the operator's grants and its RoleBinding as they stood, for the baseline to copy. */
interface Template {
  grant: AccessGrant;
  binding: V1RoleBinding;
}

/**
 * The bare client in the operator's place, run after the operator stopped: the same
 * objects (a copy of an operator's grant, status included, as g-i with a finalizer of its
 * own, and of its RoleBinding, owner reference included, as agentgate-g-i) in as many
 * namespaces; then the namespaces are deleted, and for each grant seen marked, its binding
 * is deleted and its finalizer removed.
 */
async function baseline(t: Template): Promise<Cleanup> {
  const { kc, ag } = adminClients();
  const namespaces = perNamespace.map(() => uniqueName('bench-nsdel-base'));
  const run = limiter(32);
  const ignoreGone = (e: unknown): void => {
    if (!isNotFound(e)) throw e;
  };
  const rbs: Tracker[] = [];
  const grants: Tracker[] = [];
  for (const [k, ns] of namespaces.entries()) {
    await kubectlOk('admin', ['create', 'namespace', ns]);
    rbs.push(trackRoleBindings(kc, ns));
    grants.push(
      trackObjects(kc, agentgatePath('AccessGrant', ns), {
        onMarked: (name) =>
          run(async () => {
            await ag.kube.delete(apiPath(GV.rbac, 'rolebindings', ns, `agentgate-${name}`)).catch(ignoreGone);
            await ag.mergePatch('AccessGrant', name, { metadata: { finalizers: null } }, ns).catch(ignoreGone);
          }),
      }),
    );
    await pool(
      Array.from({ length: perNamespace[k]! }, (_, i) => i),
      32,
      async (i) => {
        const name = `g-${i}`;
        const created = await ag.create<AccessGrant>(
          'AccessGrant',
          { apiVersion: t.grant.apiVersion, kind: t.grant.kind, metadata: { name, namespace: ns, finalizers: [BASELINE_FINALIZER] }, spec: t.grant.spec },
          ns,
        );
        await ag.replaceStatus('AccessGrant', name, { ...created, status: t.grant.status }, ns);
        const m = t.binding.metadata!;
        await ag.kube.create(apiPath(GV.rbac, 'rolebindings', ns), {
          metadata: {
            name: `agentgate-${name}`,
            labels: { ...m.labels, [LABEL_GRANT]: name },
            annotations: m.annotations,
            ownerReferences: (m.ownerReferences ?? []).map((o) => ({ ...o, name, uid: created.metadata.uid ?? '' })),
          },
          roleRef: t.binding.roleRef,
          subjects: t.binding.subjects,
        });
      },
    );
  }
  while ([...rbs, ...grants].reduce((a, x) => a + x.created(), 0) < 2 * N) await sleep(200);
  return deleteAndAwait(namespaces, rbs, grants);
}

async function main(): Promise<void> {
  const agent = uniqueName('bench-nsdel');
  const namespaces = perNamespace.map(() => uniqueName('bench-nsdel'));
  const lease = uniqueName('bench-lease');
  const { kc, ag } = adminClients();
  const kubeconfig = await setup(agent, namespaces, 'agentgate-bench/agent');
  // No webhook runs in this benchmark, so the audit API's APIService (installed by setup)
  // has no server; the namespace controller's discovery would then fail and keep every
  // deleted namespace Terminating, deleting nothing in it.
  await kubectlOk('admin', ['delete', 'apiservice', AUDIT_APISERVICE, '--ignore-not-found']);

  const op = startOperator(kubeconfig, uniqueName('bench-nsdel-op'), lease);
  try {
    const rbs = namespaces.map((ns) => trackRoleBindings(kc, ns));
    const grants = namespaces.map((ns) => trackObjects(kc, agentgatePath('AccessGrant', ns)));
    const t1 = Date.now();
    for (const [i, ns] of namespaces.entries()) {
      await grantAndAwaitBindings(ag, rbs[i]!, ns, agent, perNamespace[i]!, { duration: '2h' }, t1 + 600_000 + N * 200);
    }
    console.error(`operator-namespace-deletion: ${N} grants Active in ${NAMESPACES} namespaces after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    // Let verification and status writes of the activation settle, so they are not timed as cleanup.
    await sleep(10_000);

    const template: Template = {
      grant: await ag.get<AccessGrant>('AccessGrant', 'g-0', namespaces[0]),
      binding: await ag.kube.get<V1RoleBinding>(apiPath(GV.rbac, 'rolebindings', namespaces[0], 'agentgate-g-0')),
    };
    const cpu0 = cpuSeconds(op.child.pid!);
    const req0 = await apiserverRequests();
    const run = await deleteAndAwait(namespaces, rbs, grants);
    const cpu = cpuSeconds(op.child.pid!) - cpu0;
    const requests = diff(req0, await apiserverRequests());
    const loadAtRun = loadAverage();
    // The baseline's objects must not be the operator's to handle.
    await op.stop('SIGTERM');
    console.error(`operator-namespace-deletion: baseline (bare client in the operator's place, ${N} RoleBindings + ${N} AccessGrants)...`);
    const base = await baseline(template);
    const loadAtBaseline = loadAverage();

    const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : 'never');
    const describe = (c: Cleanup, what: string): void => {
      const missing = (l: number[]) => l.filter((x) => !Number.isFinite(x)).length;
      console.log(
        `  ${what}: all gone ${fmt(c.allMs)} after the namespaces' deletion (the namespace controller first reached one at ${fmt(c.firstReachedMs)})`,
      );
      for (const [kind, l] of [
        ['RoleBindings', c.bindings],
        ['AccessGrants', c.grants],
      ] as const) {
        console.log(`    ${kind} gone: ${N - missing(l)}/${N}; p50 ${fmt(percentile(l, 50))}, p99 ${fmt(percentile(l, 99))}, all ${fmt(l[l.length - 1]!)}`);
      }
      const lag = c.finalizerLagMs;
      console.log(
        `    a grant marked for deletion -> gone (the finalizer's remover alone; ${lag.length} seen marked): p50 ${fmt(percentile(lag, 50))}, p99 ${fmt(percentile(lag, 99))}, max ${fmt(lag[lag.length - 1] ?? NaN)}`,
      );
    };
    console.log(`operator-namespace-deletion: ${N} Active grants in ${NAMESPACES} namespaces, the namespaces deleted at once (measured under contention)`);
    describe(run, 'operator');
    console.log(`    operator CPU in the cleanup: ${cpu.toFixed(1)} s (${((cpu * 1000) / N).toFixed(1)} ms per grant); load ${loadAtRun}`);
    const top = new Map([...requests].sort((x, y) => y[1] - x[1]).slice(0, 10));
    console.log(`    apiserver requests in the cleanup (all clients), the 10 largest: ${describeCounts(top)}`);
    describe(base, "baseline, same run: a bare client in the operator's place (32 in flight)");
    console.log(`    load ${loadAtBaseline}`);
    console.log(`  operator / bare client, all gone = ${(run.allMs / base.allMs).toFixed(2)} (goal <= 1.2)`);
    const never = [run, base].flatMap((c) => [...c.bindings, ...c.grants]).filter((x) => !Number.isFinite(x)).length;
    if (never)
      throw new Error(`${never} objects were still there ${DEADLINE_MS / 1000} s after their namespaces' deletion (operator and baseline runs together)`);
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
