// What an agent pays for being recorded, seen from the kube-apiserver: the same ConfigMap
// creates in one namespace, over HTTPS with each identity's client certificate, by
//   agent      agent:deploy-bot, matched by an AgentIdentity with an active grant of
//              agentgate-edit: every create goes through agentgate's webhook, whose record
//              is committed to the audit store before it answers;
//   non-agent  mallory, bound to the same ClusterRole in the same namespace by a
//              RoleBinding: no webhook (the matchConditions select agents only);
//   hop        hop, a non-agent bound the same way whose creates go through a bare webhook
//              (bench/_floor-webhook.ts, a child process that parses the review and allows
//              it), registered by its own ValidatingWebhookConfiguration whose one
//              matchCondition selects hop only: what any admission webhook costs on this
//              host (the apiserver's call: TLS, its Go client, scheduling), so agent - hop
//              is what agentgate adds. Served as agentgate is: TLS 1.2+, and where the
//              control plane presents a client certificate to webhooks, both require it
//              by name (--require-client-cert).
// Throughput at 16 in flight and sequential latency, the identities taking turns in
// rounds (throughput) and request by request (sequential) so load drift hits all alike;
// and etcd's growth per call (db size in use, bytes and count of puts) over the same
// rounds. Once with PGlite and once with PostgreSQL when hack/postgres/up.sh runs.
// Extra rows, beside (never instead of) the same-host figures: the throughput ratio again
// with agentgate and its database pinned to one CPU and the apiserver, etcd and this load
// generator to the other (taskset; a model of the deployed topology, where the control
// plane runs on other machines), and the sequential p50 overhead split into the durable
// append's commit wait (fsync: the store's append with synchronous_commit on minus off,
// same run, after an idle pause as between sequential calls) and the rest, and the
// apiserver's call to the webhook into the handler's audit write, the handler's other work
// and what lies outside the handler.
//   node dist/bench/audit-agent-overhead.js
// env: AUDIT_BENCH_ROUNDS (4), AUDIT_BENCH_ROUND_CALLS (200 creates per identity and
// round), AUDIT_BENCH_SEQUENTIAL (150 turns of the three), AUDIT_BENCH_ENGINES (pglite,postgres),
// AUDIT_BENCH_PROFILE (a directory for agentgate's V8 CPU profiles). Needs taskset and 2 CPUs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb, type StoreConfig } from '../audit/db.js';
import { AuditStore } from '../audit/store.js';
import { systemClock } from '../lib/clock.js';
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import { clusterEnv, kubectl, kubectlOk } from '../harness/cluster.js';
import { runDir, startAgentgate, stopAgentgate } from '../harness/components.js';
import {
  AGENT_NAME,
  agentAndPlainIdentity,
  bindPlainUser,
  clientFromKubeconfig,
  type Client,
  controlPlaneEnv,
  CpuAccount,
  etcdMetrics,
  f,
  goal,
  load,
  pct,
  pgDsn,
  promSum,
  removeAgentAndPlainIdentity,
  request,
} from './_audit-common.js';
import { startFloor } from './_floor-webhook.js';

const ROUNDS = Number(process.env.AUDIT_BENCH_ROUNDS ?? 4);
const ROUND_CALLS = Number(process.env.AUDIT_BENCH_ROUND_CALLS ?? 200);
const SEQUENTIAL = Number(process.env.AUDIT_BENCH_SEQUENTIAL ?? 150);
const IN_FLIGHT = 16;

type Who = 'agent' | 'hop' | 'plain';
const WHO: readonly Who[] = ['agent', 'hop', 'plain'];
/** Turn n's order: each identity first, middle and last in turn. */
const turn = (n: number): Who[] => WHO.map((_, i) => WHO[(i + n) % WHO.length]!);
const LABEL: Record<Who, string> = { agent: 'agent    ', hop: 'hop      ', plain: 'non-agent' };

/** The hop identity (hack/controlplane/up.sh makes its certificate) and its webhook. */
const HOP_USER = 'hop';
const HOP_WEBHOOK = 'agentgate-bench-hop';
const HOP_HOOK = 'hop.bench.agentgate.io';

/**
 * The bare webhook for hop's calls: a floor in a child process, and a configuration like
 * agentgate's agents webhook (all resources and operations, failurePolicy Fail, 10 s) whose
 * one matchCondition selects hop; every other identity's calls never see it, so one left
 * behind stops nothing else. stop() removes both.
 */
async function hopWebhook(): Promise<{ pid: number; stop: () => Promise<void> }> {
  const client = clusterEnv().webhookClient;
  const floor = await startFloor(client ? { clientCa: readFileSync(client.ca, 'utf8'), clientAuth: { names: [client.name], require: true } } : {});
  const stop = async (): Promise<void> => {
    try {
      await kubectl('admin', ['delete', 'validatingwebhookconfiguration', HOP_WEBHOOK, '--ignore-not-found']);
    } finally {
      await floor.stop();
    }
  };
  try {
    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: HOP_WEBHOOK },
        webhooks: [
          {
            name: HOP_HOOK,
            admissionReviewVersions: ['v1'],
            clientConfig: { url: `https://127.0.0.1:${floor.port}/validate`, caBundle: Buffer.from(floor.ca).toString('base64') },
            failurePolicy: 'Fail',
            matchPolicy: 'Equivalent',
            sideEffects: 'None',
            timeoutSeconds: 10,
            rules: [{ apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'], scope: '*' }],
            matchConditions: [{ name: 'hop-only', expression: `request.userInfo.username == '${HOP_USER}'` }],
          },
        ],
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: floor.child.pid!, stop };
}

/** Client-certificate flags for agentgate's webhook, as hopWebhook serves: required by name where the apiserver presents one. */
function webhookClientArgs(): string[] {
  const client = clusterEnv().webhookClient;
  return client ? ['--client-ca', client.ca, '--client-cert-name', client.name, '--require-client-cert=true'] : [];
}

let seq = 0;
function create(c: Client, ns: string, prefix: string): Promise<{ ok: boolean; ms: number; status: number }> {
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${prefix}-${(seq++).toString(36)}` }, data: { mode: 'bench' } });
  return request(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, body).then((a) => ({ ok: a.status === 201, ms: a.ms, status: a.status }));
}

interface Tally {
  calls: number;
  errors: number;
  ms: number;
  inUse: number;
  putBytes: number;
  puts: number;
  statuses: Map<number, number>;
  cpu: Record<string, number>;
}

const tally = (): Tally => ({ calls: 0, errors: 0, ms: 0, inUse: 0, putBytes: 0, puts: 0, statuses: new Map(), cpu: {} });

let cpu: CpuAccount | undefined;

async function round(c: Client, ns: string, prefix: string, n: number, t: Tally): Promise<void> {
  const before = await etcdMetrics();
  const cpu0 = cpu?.snapshot();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        next++;
        const r = await create(c, ns, prefix);
        t.calls++;
        if (!r.ok) {
          t.errors++;
          t.statuses.set(r.status, (t.statuses.get(r.status) ?? 0) + 1);
        }
      }
    }),
  );
  t.ms += performance.now() - t0;
  if (cpu && cpu0) CpuAccount.add(t.cpu, cpu0, cpu.snapshot());
  const after = await etcdMetrics();
  t.inUse += after.inUse - before.inUse;
  t.putBytes += after.putBytes - before.putBytes;
  t.puts += after.puts - before.puts;
}

async function records(admin: Client, ns: string): Promise<number> {
  let n = 0;
  let cont = '';
  for (let failures = 0; ; ) {
    const q = new URLSearchParams({
      labelSelector: 'agentgate.io/source=admission,agentgate.io/decision=Allowed',
      fieldSelector: `spec.namespace=${ns},spec.resource=configmaps,spec.operation=CREATE`,
      limit: '500',
    });
    if (cont) q.set('continue', cont);
    const a = await request(admin, 'GET', `/apis/audit.agentgate.io/v1alpha1/namespaces/${AGENTGATE_NAMESPACE}/auditevents?${q}`);
    if (a.status !== 200) {
      // A busy host: the aggregated API's answer can time out; try the page again.
      if (++failures > 5) throw new Error(`listing records: ${a.status} ${a.body.slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    const list = JSON.parse(a.body) as { items: unknown[]; metadata?: { continue?: string } };
    n += list.items.length;
    cont = list.metadata?.continue ?? '';
    if (!cont) return n;
  }
}

/**
 * The store's own append latency, one at a time, on the same engine (PGlite: a fresh
 * directory in this process). durable false: synchronous_commit off on its one connection,
 * so the commit does not wait for the WAL flush (fsync); the difference is that wait.
 * idleMs: a pause before each append, as between the sequential calls (the disk's flush
 * after an idle spell costs more than back to back on this host).
 */
async function storeBaseline(name: 'pglite' | 'postgres', durable = true, idleMs = 0): Promise<{ p50: number; mean: number }> {
  const dir = name === 'pglite' ? mkdtempSync(path.join(tmpdir(), 'agentgate-bench-pglite-')) : undefined;
  const config: StoreConfig = name === 'postgres' ? { engine: 'postgres', dsn: pgDsn()!, poolSize: 1 } : { engine: 'pglite', dataDir: dir! };
  const store = new AuditStore(await openDb(config), `bench-baseline-${process.pid}`, systemClock);
  try {
    await store.open();
    if (!durable) await store.db.query('SET synchronous_commit = off');
    const lat: number[] = [];
    for (let i = 0; i < 220; i++) {
      if (idleMs) await new Promise((r) => setTimeout(r, idleMs));
      const t0 = performance.now();
      await store.append({
        time: new Date().toISOString(),
        agent: AGENT_NAME,
        user: 'agent:deploy-bot',
        operation: 'CREATE',
        group: '',
        version: 'v1',
        resource: 'configmaps',
        namespace: 'bench',
        name: `cm-${i}`,
        decision: 'Allowed',
        reason: 'covered by grant bench',
        requestUID: `uid-${i}`,
      });
      if (i >= 20) lat.push(performance.now() - t0);
    }
    await store.db.query(`DELETE FROM agentgate_audit_events WHERE writer = $1`, [store.writer]);
    return { p50: pct(lat, 50), mean: lat.reduce((a, b) => a + b, 0) / lat.length };
  } finally {
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const CPUS = { agentgate: '1', controlPlane: '0', all: '0-1' };

/** Pins every thread of these roles' processes to cpus (taskset); a role with no process is skipped. */
function pin(pids: Record<string, number[]>, roles: readonly string[], cpus: string): void {
  for (const role of roles)
    for (const pid of pids[role] ?? []) {
      try {
        execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        throw new Error(`taskset -a -p -c ${cpus} ${pid} (${role}): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
      }
    }
}

async function engine(name: 'pglite' | 'postgres', hop: { pid: number }): Promise<boolean> {
  if (name === 'pglite') process.env.E2E_AUDIT_STORE = 'pglite';
  else delete process.env.E2E_AUDIT_STORE;
  const ns = `bench-audit-${name}-${Date.now().toString(36)}`;
  // AUDIT_BENCH_PROFILE=dir: agentgate's processes write V8 CPU profiles there when they stop
  // (as node flags: node 20 refuses --cpu-prof in NODE_OPTIONS).
  const profile = process.env.AUDIT_BENCH_PROFILE;
  const components = await startAgentgate({
    name: `bench-${name}`,
    webhookArgs: webhookClientArgs(),
    ...(profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profile}`] } : {}),
  });
  const env = clusterEnv();
  const clients: Record<Who, Client> = {
    agent: clientFromKubeconfig(env.kubeconfigs.agent),
    hop: clientFromKubeconfig(hopKubeconfig()),
    plain: clientFromKubeconfig(env.kubeconfigs.mallory),
  };
  const admin = clientFromKubeconfig(env.kubeconfigs.admin);
  try {
    await agentAndPlainIdentity(ns);
    await bindPlainUser(ns, HOP_USER, 'bench-hop-edit');
    // The grant reaches the webhook's informer a moment after RBAC allows the call.
    for (const who of ['agent', 'hop'] as const)
      for (let i = 0; ; i++) {
        const r = await create(clients[who], ns, 'probe');
        if (r.ok) break;
        if (i > 300) throw new Error(`${who}'s creates keep failing (${r.status})`);
        await new Promise((res) => setTimeout(res, 200));
      }
    cpu = new CpuAccount({ webhook: components.webhook.child.pid, operator: components.operator.child.pid, hop: hop.pid });
    console.log(
      `[${name}] load average at start: ${load()}; client certificate ${webhookClientArgs().length ? 'required by both webhooks' : 'not asked (no webhook client certificate)'}`,
    );
    // Warm-up: JIT, TLS sessions, the store's first batches.
    for (const who of WHO) await round(clients[who], ns, `warm-${who}`, 200, tally());

    // Background etcd writes (leases, the checkpoint) over an idle period, to read the deltas against.
    const idle0 = await etcdMetrics();
    const idleCpu0 = cpu.snapshot();
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const idle1 = await etcdMetrics();
    const idleCpu: Record<string, number> = {};
    CpuAccount.add(idleCpu, idleCpu0, cpu.snapshot());
    const idleSecs = (performance.now() - idleStart) / 1000;
    const bg = { putBytes: (idle1.putBytes - idle0.putBytes) / idleSecs, puts: (idle1.puts - idle0.puts) / idleSecs };

    const t: Record<Who, Tally> = { agent: tally(), hop: tally(), plain: tally() };
    for (let r = 0; r < ROUNDS; r++) for (const who of turn(r)) await round(clients[who], ns, `r${r}-${who}`, ROUND_CALLS, t[who]);
    const rps = (x: Tally) => ((x.calls - x.errors) * 1000) / x.ms;
    const ratio = rps(t.agent) / rps(t.plain);
    for (const who of WHO) {
      const x = t[who];
      const errs = x.errors ? ` (${[...x.statuses].map(([s, n]) => `${n}x ${s}`).join(', ')})` : '';
      console.log(
        `[${name}] ${LABEL[who]} ${IN_FLIGHT} in flight: ${f(rps(x), 0).padStart(5)} creates/s over ${x.calls} creates in ${ROUNDS} rounds, errors ${x.errors}${errs}`,
      );
    }
    console.log(
      `[${name}] throughput at ${IN_FLIGHT} in flight: agent/non-agent ${f(ratio)}x, hop/non-agent ${f(rps(t.hop) / rps(t.plain))}x (what any webhook costs here), agent/hop ${f(rps(t.agent) / rps(t.hop))}x (what agentgate adds); load ${load()}`,
    );

    // The deployed topology, modelled: agentgate and its database on one CPU, the control
    // plane and the client on the other. Other tenants of this host still share both.
    // The hop's webhook is a webhook too: it goes with agentgate.
    const roles = { agentgate: ['webhook', 'postgres', 'hop'], controlPlane: ['apiserver', 'etcd', 'bench'] };
    const pinned: Record<Who, Tally> = { agent: tally(), hop: tally(), plain: tally() };
    pin(cpu.pids(), roles.agentgate, CPUS.agentgate);
    pin(cpu.pids(), roles.controlPlane, CPUS.controlPlane);
    try {
      for (let r = 0; r < ROUNDS; r++) for (const who of turn(r)) await round(clients[who], ns, `p${r}-${who}`, ROUND_CALLS, pinned[who]);
    } finally {
      pin(cpu.pids(), [...roles.agentgate, ...roles.controlPlane], CPUS.all);
    }
    console.log(
      `[${name}] pinned (webhook+${name === 'postgres' ? 'PostgreSQL' : 'its PGlite'} on CPU ${CPUS.agentgate}; apiserver, etcd and the client on CPU ${CPUS.controlPlane}), ${IN_FLIGHT} in flight: agent ${f(rps(pinned.agent), 0)}, non-agent ${f(rps(pinned.plain), 0)} creates/s, ratio ${f(rps(pinned.agent) / rps(pinned.plain))}x; hop ${f(rps(pinned.hop), 0)} creates/s, hop/non-agent ${f(rps(pinned.hop) / rps(pinned.plain))}x, agent/hop ${f(rps(pinned.agent) / rps(pinned.hop))}x (errors ${pinned.agent.errors}+${pinned.hop.errors}+${pinned.plain.errors}); the same-host ratios above stay the figures; load ${load()}`,
    );

    // Where the CPU goes: ms of CPU per create by process (the host is CPU-bound, so this decides the ratio).
    const cpuPer = {} as Record<Who, { net: (k: string) => number; total: number }>;
    for (const who of WHO) {
      const x = t[who];
      // Less each process's idle rate over the round's time: a slower round would otherwise carry more background.
      const net = (k: string) => ((x.cpu[k] ?? 0) - ((idleCpu[k] ?? 0) / idleSecs) * (x.ms / 1000)) / x.calls;
      const parts = Object.keys(x.cpu).map((k) => `${k} ${f(net(k))}`);
      const total = Object.keys(x.cpu).reduce((a, k) => a + net(k), 0);
      cpuPer[who] = { net, total };
      console.log(`[${name}] CPU ms per ${LABEL[who].trim()} create, less idle background: ${parts.join(', ')}; total ${f(total)}`);
    }
    // On a CPU-bound host throughput goes as 1 / CPU per create, so the ratio is bounded by
    // the CPU totals; and even with agentgate and its database free, by what the apiserver
    // (calling the webhook, sending the audit batches), etcd and the client spend extra.
    // (PGlite runs in the webhook's process: its CPU is the webhook's.)
    const agentgateCpu = cpuPer.agent.net('webhook') + cpuPer.agent.net('postgres');
    console.log(
      `[${name}] CPU bound of the ratio: non-agent/agent CPU per create ${f(cpuPer.plain.total / cpuPer.agent.total)}x (measured ${f(ratio)}x); with the webhook and its database at zero CPU ${f(cpuPer.plain.total / (cpuPer.agent.total - agentgateCpu))}x`,
    );

    // Sequential: one call at a time, the identities taking turns call by call.
    const apiserverMetrics = async () => (await request(admin, 'GET', '/metrics')).body;
    const webhookMetrics = async () =>
      (await request({ server: new URL(components.webhookUrl), agent: new https.Agent({ rejectUnauthorized: false }) }, 'GET', '/metrics')).body;
    const [am0, wm0] = [await apiserverMetrics(), await webhookMetrics()];
    const lat: Record<Who, number[]> = { agent: [], hop: [], plain: [] };
    // Paired differences within each turn: agent - non-agent, hop - non-agent, agent - hop.
    const diffs: Record<'agent' | 'hop' | 'agentHop', number[]> = { agent: [], hop: [], agentHop: [] };
    for (let i = 0; i < SEQUENTIAL; i++) {
      const one: Partial<Record<Who, number>> = {};
      for (const who of turn(i)) {
        const r = await create(clients[who], ns, `s-${who}`);
        if (r.ok) {
          lat[who].push(r.ms);
          one[who] = r.ms;
        }
      }
      if (one.agent !== undefined && one.plain !== undefined) diffs.agent.push(one.agent - one.plain);
      if (one.hop !== undefined && one.plain !== undefined) diffs.hop.push(one.hop - one.plain);
      if (one.agent !== undefined && one.hop !== undefined) diffs.agentHop.push(one.agent - one.hop);
    }
    const [am1, wm1] = [await apiserverMetrics(), await webhookMetrics()];
    // The apiserver's own timing of its call to a webhook (mean over the sequential calls, ms).
    const apiserverCall = (hookName: string) => {
      const hook = { name: hookName, operation: 'CREATE' };
      const m = (t: string, suffix: string) => promSum(t, `apiserver_admission_webhook_admission_duration_seconds_${suffix}`, hook);
      const count = m(am1, 'count') - m(am0, 'count');
      return { ms: ((m(am1, 'sum') - m(am0, 'sum')) / count) * 1000, count };
    };
    const { ms: call, count: aCount } = apiserverCall('agents.agentgate.io');
    const hopCall = apiserverCall(HOP_HOOK);
    const wm = (t: string, m: string) => promSum(t, m, { path: '/validate/agents' });
    const wSum = wm(wm1, 'agentgate_webhook_admission_duration_seconds_sum') - wm(wm0, 'agentgate_webhook_admission_duration_seconds_sum');
    const wCount = wm(wm1, 'agentgate_webhook_admission_duration_seconds_count') - wm(wm0, 'agentgate_webhook_admission_duration_seconds_count');
    const writeSum = (t: string) => promSum(t, 'agentgate_webhook_audit_write_duration_seconds_sum', { result: 'ok' });
    const writeCount = (t: string) => promSum(t, 'agentgate_webhook_audit_write_duration_seconds_count', { result: 'ok' });
    const write = (writeSum(wm1) - writeSum(wm0)) / (writeCount(wm1) - writeCount(wm0));
    const store = await storeBaseline(name);
    const lazy = await storeBaseline(name, false);
    // The sequential calls come ~every 2 creates: each append follows a few idle ms.
    const IDLE_MS = 5;
    const storeIdle = await storeBaseline(name, true, IDLE_MS);
    const lazyIdle = await storeBaseline(name, false, IDLE_MS);
    const handler = (wSum / wCount) * 1000;
    console.log(
      `[${name}] sequential breakdown (means): the apiserver's call to the webhook ${f(call)} ms (${aCount} calls) = outside the handler (both ways: the review's and the answer's JSON, HTTP, TLS, wake-ups) ${f(call - handler)} ms + the webhook's handler ${f(handler)} ms (${wCount}), of which the audit write ${f(write * 1000)} ms and the rest (decide, the record's spec) ${f(handler - write * 1000)} ms; the apiserver's call to the hop's bare webhook ${f(hopCall.ms)} ms (${hopCall.count} calls), so agentgate's call minus the bare one ${f(call - hopCall.ms)} ms`,
    );
    console.log(
      `[${name}] the store's append alone, in this process, same engine, 1 in flight, p50 (mean): back to back ${f(store.p50)} (${f(store.mean)}) ms, ${f(lazy.p50)} ms with synchronous_commit off; after ${IDLE_MS} ms idle each ${f(storeIdle.p50)} (${f(storeIdle.mean)}) ms, ${f(lazyIdle.p50)} ms off`,
    );
    const p50a = pct(lat.agent, 50);
    const p50h = pct(lat.hop, 50);
    const p50p = pct(lat.plain, 50);
    console.log(
      `[${name}] sequential p50 (p99): non-agent ${f(p50p)} (${f(pct(lat.plain, 99))}) ms, hop ${f(p50h)} (${f(pct(lat.hop, 99))}) ms, agent ${f(p50a)} (${f(pct(lat.agent, 99))}) ms; ${lat.plain.length}+${lat.hop.length}+${lat.agent.length} calls`,
    );
    console.log(
      `[${name}] sequential p50 differences: agent - non-agent ${f(p50a - p50p)} ms (the goal), hop - non-agent ${f(p50h - p50p)} ms (what any webhook costs here), agent - hop ${f(p50a - p50h)} ms (what agentgate adds); medians of the same turn's differences ${f(pct(diffs.agent, 50))}, ${f(pct(diffs.hop, 50))}, ${f(pct(diffs.agentHop, 50))} ms; load ${load()}`,
    );

    // etcd per call, minus the idle background rate over each identity's time.
    const per = (x: Tally) => {
      const secs = x.ms / 1000;
      const ok = x.calls;
      return {
        inUse: x.inUse / ok,
        putBytes: x.putBytes / ok,
        puts: x.puts / ok,
        putBytesNet: (x.putBytes - bg.putBytes * secs) / ok,
        putsNet: (x.puts - bg.puts * secs) / ok,
      };
    };
    const ea = per(t.agent);
    const ep = per(t.plain);
    console.log(`[${name}] etcd background while idle: ${f(bg.puts, 1)} puts/s, ${f(bg.putBytes, 0)} put bytes/s`);
    for (const [who, e] of [
      [LABEL.agent, ea],
      [LABEL.hop, per(t.hop)],
      [LABEL.plain, ep],
    ] as const)
      console.log(
        `[${name}] etcd per ${who} create: db in use ${f(e.inUse, 0).padStart(5)} B, put ${f(e.putBytes, 0).padStart(5)} B in ${f(e.puts, 3)} puts (less background: ${f(e.putBytesNet, 0)} B in ${f(e.putsNet, 3)} puts)`,
      );

    const recorded = await records(admin, ns);
    const agentCalls = 1 + 200 + t.agent.calls - t.agent.errors + pinned.agent.calls - pinned.agent.errors + lat.agent.length;
    console.log(`[${name}] records of the agent's creates in the store (via the aggregated API): ${recorded} for ${agentCalls} successful agent creates`);
    console.log(`[${name}] load average at end: ${load()}`);

    const overhead = p50a - p50p;
    const fsync = storeIdle.p50 - lazyIdle.p50;
    console.log(
      `[${name}] sequential p50 overhead ${f(overhead)} ms = the durable append's commit wait (fsync) after ${IDLE_MS} ms idle ${f(fsync)} ms (back to back ${f(store.p50 - lazy.p50)} ms; append p50 with synchronous_commit on minus off, this run) + the rest ${f(overhead - fsync)} ms (the webhook's handling, the apiserver's call to it, the INSERT itself); load ${load()}`,
    );
    const extraBytes = ea.putBytesNet - ep.putBytesNet;
    goal(ratio >= 0.9, `[${name}] agent/non-agent throughput at ${IN_FLIGHT} in flight ${f(ratio)}x (goal >= 0.9x)`);
    goal(overhead <= 2, `[${name}] sequential p50 overhead ${f(overhead)} ms (goal <= 2 ms)`);
    // A put of the same ConfigMap differs by a few bytes (its name); an AuditEvent in etcd would add ~1 KB.
    goal(
      Math.abs(ea.puts - ep.puts) < 0.05 && extraBytes < 100,
      `[${name}] etcd bytes per agent call minus per non-agent call: ${f(extraBytes, 0)} B put (${f(ea.putsNet - ep.putsNet, 3)} puts), db in use ${f(ea.inUse - ep.inUse, 0)} B (goal 0 extra)`,
    );
    return recorded === agentCalls;
  } finally {
    await removeAgentAndPlainIdentity(ns);
    // A profile is written at exit, and the webhook exits only once its drain ends
    // (--drain-seconds, then its own 10 s bound when the apiserver keeps connections open):
    // later than the harness's 10 s grace before SIGKILL, which left no webhook profile.
    if (profile) await components.webhook.stop('SIGTERM', 30_000);
    await stopAgentgate(components);
    if (name === 'pglite') rmSync(path.join(runDir, `bench-${name}-webhook-audit`), { recursive: true, force: true });
    await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  }
}

/** hop's kubeconfig, which hack/controlplane/up.sh writes beside the others. */
function hopKubeconfig(): string {
  const file = path.join(controlPlaneEnv().RUN_DIR ?? '', 'kubeconfig', 'hop.kubeconfig');
  if (!existsSync(file)) throw new Error(`no ${file}: restart the control plane (hack/controlplane/up.sh makes hop's certificate)`);
  return file;
}

async function main(): Promise<void> {
  console.log(
    `agent vs hop (a bare webhook) vs non-agent ConfigMap creates through the real kube-apiserver; ${ROUNDS} rounds of ${ROUND_CALLS} creates per identity at ${IN_FLIGHT} in flight, ${SEQUENTIAL} sequential turns of the three, the order rotating; load generator, apiserver, etcd, agentgate and the database share this host's CPUs`,
  );
  const engines: Array<'pglite' | 'postgres'> = [];
  const only = process.env.AUDIT_BENCH_ENGINES ?? 'pglite,postgres';
  if (only.includes('pglite')) engines.push('pglite');
  if (only.includes('postgres') && pgDsn()) engines.push('postgres');
  else if (only.includes('postgres'))
    throw new Error('postgres cannot be measured: start one with hack/postgres/up.sh (make bench does), or AUDIT_BENCH_ENGINES=pglite');
  let allRecorded = true;
  const hop = await hopWebhook();
  try {
    for (const e of engines) allRecorded = (await engine(e, hop)) && allRecorded;
  } finally {
    await hop.stop();
  }
  if (!allRecorded) throw new Error('records and agent creates differ (see above)');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
