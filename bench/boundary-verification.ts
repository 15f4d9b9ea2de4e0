// Benchmark: what continuous boundary verification costs the apiserver when nothing
// changes, and how soon it finds a route planted while it runs, at 10, 100 and 1,000
// idle agents. SubjectAccessReviews are counted by the apiserver itself
// (apiserver_request_total), not by the operator.
// Goals: <= 1 SubjectAccessReview/s at 1,000 idle agents; a planted ClusterRoleBinding
// found (the agent's status names it) within 10 s.
// Baseline: before this change, 50 idle agents caused 114 SubjectAccessReviews/s (issue #13).
// The operator's backstop full pass runs once per idle window (--boundary-interval set to
// the window, shorter than the default), so the idle figures include it.
import type { AgentIdentity } from '../api/types.js';
import { kubectl, kubectlOk, uniqueName } from '../harness/cluster.js';
import { componentKubeconfig, installBase } from '../harness/components.js';
import { adminClients, apiserverRequests, cpuSeconds, describeCounts, diff, loadAverage, pool, rssMb, sleep, startOperator, sum } from './_operator-common.js';

const SIZES = (process.env.BENCH_AGENTS ?? '10,100,1000').split(',').map(Number);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const FIRST_PASS_TIMEOUT_MS = 600_000;
const FIND_TIMEOUT_MS = 120_000;

async function one(n: number): Promise<{ sarPerS: number; foundS: number }> {
  const { ag, rbac } = adminClients();
  const prefix = uniqueName('bench-bv');
  const ns = `${prefix}-ns`;
  const lease = `${prefix}-lease`;
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await kubectlOk('admin', ['create', 'namespace', ns]);
  await pool(names, 32, async (name) => {
    const body: AgentIdentity = {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AgentIdentity',
      metadata: { name },
      spec: {
        subjects: [{ kind: 'User', name: `bench:${name}` }],
        maxDuration: '1h',
        allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
        allowedNamespaces: { names: [ns] },
      },
    };
    await ag.create('AgentIdentity', body);
  });
  // The backstop runs within the idle window (every IDLE_S, not the 5m default), so its cost is in the figure.
  const op = startOperator(await componentKubeconfig('operator'), `${prefix}-op`, lease, { args: ['--boundary-interval', `${IDLE_S}s`] });
  const planted = `${prefix}-planted`;
  try {
    // The first pass: every agent carries a BoundaryVerified condition.
    const t0 = Date.now();
    for (;;) {
      const list = await ag.list<AgentIdentity>('AgentIdentity');
      const done = list.items.filter((a) => names.includes(a.metadata.name ?? '') && a.status?.conditions?.some((c) => c.type === 'BoundaryVerified')).length;
      if (done === n) break;
      if (!op.alive) throw new Error(`operator exited:\n${op.log().slice(-2000)}`);
      if (Date.now() - t0 > FIRST_PASS_TIMEOUT_MS)
        throw new Error(`first verification pass incomplete after ${FIRST_PASS_TIMEOUT_MS / 1000} s: ${done}/${n} agents`);
      await sleep(1000);
    }
    const firstPassS = (Date.now() - t0) / 1000;
    const pid = op.child.pid ?? 0;
    const firstPassCpu = cpuSeconds(pid);
    await sleep(5000);

    // Idle: nothing changes; count what the apiserver serves.
    const before = await apiserverRequests();
    const idleCpu0 = cpuSeconds(pid);
    await sleep(IDLE_S * 1000);
    const idleCpu = cpuSeconds(pid) - idleCpu0;
    const idle = diff(before, await apiserverRequests());
    const loadIdle = loadAverage();
    const sars = sum(idle, (k) => k === 'POST subjectaccessreviews');

    // Plant a standing ClusterRoleBinding for the first agent and time until its status names it.
    const target = names[0]!;
    const plantCpu0 = cpuSeconds(pid);
    const tPlant = Date.now();
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: planted },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ kind: 'User', name: `bench:${target}`, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    let foundS = Infinity;
    while (Date.now() - tPlant < FIND_TIMEOUT_MS) {
      const a = await ag.get<AgentIdentity>('AgentIdentity', target);
      if ((a.status?.findings ?? []).some((f) => f.route === 'StandingBinding' && JSON.stringify(f).includes(planted))) {
        foundS = (Date.now() - tPlant) / 1000;
        break;
      }
      await sleep(200);
    }
    const plantCpu = cpuSeconds(pid) - plantCpu0;
    console.log(`boundary-verification: ${n} idle agents`);
    console.log(
      `  first pass (operator start -> every agent verified): ${firstPassS.toFixed(1)} s, operator CPU ${firstPassCpu.toFixed(1)} s (start and caches included) (load ${loadIdle})`,
    );
    console.log(`  idle ${IDLE_S} s: SubjectAccessReviews ${sars} = ${(sars / IDLE_S).toFixed(2)}/s (goal <= 1/s at 1,000 agents; before: 114/s at 50 agents)`);
    console.log(`  idle ${IDLE_S} s: operator CPU ${idleCpu.toFixed(2)} s = ${((idleCpu / IDLE_S) * 100).toFixed(1)} % of a core`);
    console.log(`  idle ${IDLE_S} s: all apiserver requests ${describeCounts(idle)}`);
    console.log(
      `  planted ClusterRoleBinding -> named in the agent's status: ${Number.isFinite(foundS) ? `${foundS.toFixed(1)} s` : `NOT FOUND within ${FIND_TIMEOUT_MS / 1000} s`}, operator CPU ${plantCpu.toFixed(2)} s (goal <= 10 s; load ${loadAverage()})`,
    );
    console.log(`  operator RSS: ${rssMb(op.child.pid ?? 0).toFixed(0)} MB`);
    return { sarPerS: sars / IDLE_S, foundS };
  } finally {
    await op.stop('SIGTERM');
    await kubectl('admin', ['delete', 'clusterrolebinding', planted, '--ignore-not-found']);
    await pool(names, 32, async (name) => void (await kubectl('admin', ['delete', 'agentidentity', name, '--ignore-not-found', '--wait=false'])));
    await kubectl('admin', ['delete', 'namespace', ns, '--wait=false']);
    await kubectl('admin', ['delete', 'lease', lease, '-n', 'agentgate-system', '--ignore-not-found']);
  }
}

async function main(): Promise<void> {
  await installBase();
  const failures: string[] = [];
  for (const n of SIZES) {
    const r = await one(n);
    if (!Number.isFinite(r.foundS)) failures.push(`${n} agents: the planted route was never found`);
  }
  // Never-completed operations fail the benchmark rather than vanish from it.
  if (failures.length) throw new Error(failures.join('; '));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
