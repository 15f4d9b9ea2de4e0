// Admission throughput and latency: the same AdmissionReview mix (allow, hold, deny; a
// small ConfigMap and a ~10 KB Pod) against
//   floor   a bare node:https server that always allows,
//   stub    agentgate's webhook (express, handler chain, decide, rules) with the audit
//           write stubbed and the ApprovalRequest store in memory,
//   real    the real webhook process (dist/webhook/main.js) on the local control plane,
//           writing every AuditEvent to the apiserver (the benchmark fails without a
//           control plane: a figure that was not measured is not printed),
// plus the apiserver's own create latency for comparison. Closed loop at 1/10/50
// connections, open loop at 100 and 1000 req/s timed from each request's scheduled
// start. Every request counts: failures and unanswered requests are in the percentiles
// and in the error count; req/s counts answered-200 requests. Servers run as child
// processes so their CPU time per request and RSS can be read from /proc.
//
// This file is also the servers' entry point: `node webhook-bench.js serve floor|express|app|stub`
// (the floor and its server: _floor-webhook.ts).
//
// `node webhook-bench.js allow` measures only the goal of issue #13's admission path: CPU
// per allowed ConfigMap review at 10 autocannon connections (the issue's tool), in alternating rounds of floor, express
// (the floor's work behind a bare express 5 app: express's own cost), app (the HTTP layer
// alone: createWebhook's listener, as run.ts serves it, answering `allowed` without
// deciding) and stub, each against the same round's floor. BENCH_ROUNDS rounds (default 3); BENCH_CHILD_FLAGS are
// node flags for the app and stub servers (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
//
// `node webhook-bench.js rss` measures only memory: the stub and the real webhook under the
// same load, RSS sampled during it and after (rssOnly below).
//
// Every server asks for a client certificate and the load presents one from its own CA,
// as a self-managed cluster's apiserver does; app and stub require it by name
// (--require-client-cert), so the allow path includes the client check.
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdmissionRequest } from '../lib/admission.js';
import { floorAnswer, floorServer, floorTlsOptions } from './_floor-webhook.js';

const SELF = fileURLToPath(import.meta.url);
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
/** The apiserver's client certificate's name, as --client-cert-names would list it. */
const CLIENT_NAME = 'kube-apiserver';
/** The load's client certificate (parent side; children get the CA in BENCH_CLIENT_CA). */
let clientPair: { cert: string; key: string } | undefined;
let clientCa: { cert: string } | undefined;

// ---------------------------------------------------------------------------------
// The mix

function reviews(user: string, ns: string, otherNs: string): { name: string; body: string }[] {
  const review = (request: Partial<AdmissionRequest>) =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u', userInfo: { username: user, groups: ['bench'] }, ...request },
    });
  const cm = (name: string, namespace: string) => ({
    kind: { group: '', version: 'v1', kind: 'ConfigMap' },
    resource: { group: '', version: 'v1', resource: 'configmaps' },
    namespace,
    name,
    operation: 'CREATE' as const,
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { mode: 'fixed' } },
  });
  const containers = Array.from({ length: 6 }, (_, i) => ({
    name: `c${i}`,
    image: `registry.example.com/team/app-${i}:1.2.3`,
    args: ['--port=8080', '--log-level=info', '--feature-gates=A=true,B=false'],
    env: Array.from({ length: 12 }, (_, j) => ({ name: `ENV_${i}_${j}`, value: `value-${'x'.repeat(40)}-${j}` })),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    ports: [{ containerPort: 8080 + i, name: `http${i}` }],
  }));
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: ns, labels: { app: 'web' } }, spec: { containers } };
  const out = [
    { name: 'allow-configmap', body: review(cm('app-config', ns)) },
    {
      name: 'allow-pod-10k',
      body: review({
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: ns,
        name: 'web-0',
        operation: 'CREATE',
        object: pod,
      }),
    },
    {
      name: 'hold-delete',
      body: review({
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        namespace: ns,
        name: 'web',
        operation: 'DELETE',
        oldObject: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns, uid: 'uid-web' }, spec: { replicas: 3 } },
      }),
    },
    { name: 'deny-bypass', body: review(cm('sneaky', otherNs)) },
  ];
  return out;
}

// ---------------------------------------------------------------------------------
// Servers (child side)

async function serve(kind: string): Promise<void> {
  const { generateTls } = await import('../webhook/tls.js');
  const tls = generateTls(['127.0.0.1', 'localhost']);
  // As run.ts: asked for, checked by the HTTP layer (app, stub), never demanded by TLS.
  const clientCa = process.env.BENCH_CLIENT_CA;
  const tlsOptions = floorTlsOptions(tls, clientCa);
  let handler: https.Server;
  if (kind === 'floor') {
    handler = floorServer(tls, { clientCa });
  } else if (kind === 'express') {
    // The floor's work behind a bare express 5 app (one app.use): express's own cost.
    const { default: express } = await import('express');
    const app = express();
    app.use(floorAnswer);
    handler = floorServer(tls, { clientCa }, app);
  } else if (kind === 'app') {
    const { createWebhook } = await import('../webhook/server.js');
    const { WebhookMetrics } = await import('../webhook/metrics.js');
    const { newLogger } = await import('../lib/log.js');
    const webhook = createWebhook({
      log: newLogger('bench', 'warn'),
      metrics: new WebhookMetrics(),
      ready: () => true,
      clientAuth: { names: [CLIENT_NAME], require: true },
      routes: { '/validate/agents': async (request) => ({ uid: request.uid, allowed: true }) },
    });
    handler = https.createServer(tlsOptions, webhook.listener);
  } else {
    const { createWebhook, withMetrics } = await import('../webhook/server.js');
    const { WebhookMetrics } = await import('../webhook/metrics.js');
    const { StaticSnapshot } = await import('../webhook/snapshot.js');
    const { admitAgentCall } = await import('../webhook/admit.js');
    const { NullAuditSink } = await import('../webhook/audit.js');
    const { newLogger } = await import('../lib/log.js');
    const { systemClock } = await import('../lib/clock.js');
    const { activeGrant, agentIdentity, EDIT, NAMESPACES } = await import('../testing/fixtures.js');
    const { FakeClock } = await import('../lib/clock.js');
    const grant = activeGrant(new FakeClock(new Date()), 'g1', { expiresInMs: 24 * 3600_000 });
    const snapshot = new StaticSnapshot({
      agents: [agentIdentity('deploy-bot', { allowedNamespaces: { names: ['prod'] } })],
      grants: [grant],
      clusterRoles: [EDIT],
      namespaces: NAMESPACES,
    });
    const ars = new Map<string, unknown>();
    const approvals = {
      get: async (ns: string, name: string) => ars.get(`${ns}/${name}`) as never,
      create: async (ar: { metadata: { namespace?: string; name?: string } }) => {
        const k = `${ar.metadata.namespace}/${ar.metadata.name}`;
        if (ars.has(k)) throw Object.assign(new Error('exists'), { code: 409 });
        ars.set(k, { ...ar, metadata: { ...ar.metadata, resourceVersion: '1' } });
        return ars.get(k) as never;
      },
      replaceStatus: async (ar: unknown) => ar as never,
      waitDecided: async () => undefined,
    };
    const log = newLogger('bench', 'warn');
    const metrics = new WebhookMetrics();
    const audit = new NullAuditSink();
    const options = { agentgateNamespace: AGENTGATE_NAMESPACE, fingerprintKey: 'k', maxHoldSeconds: 0 };
    const webhook = createWebhook({
      log,
      metrics,
      ready: () => true,
      clientAuth: { names: [CLIENT_NAME], require: true },
      routes: {
        '/validate/agents': withMetrics(
          metrics,
          async (request) =>
            (
              await admitAgentCall(request, {
                snapshot: () => snapshot,
                clock: systemClock,
                options,
                approvals: approvals as never,
                audit,
                log,
                metrics,
                digestKey: 'k',
              })
            ).response,
        ),
      },
    });
    handler = https.createServer(tlsOptions, webhook.listener);
  }
  handler.keepAliveTimeout = 65_000;
  // Exit (not die) when the parent lets go, so --cpu-prof and friends write their output.
  process.on('disconnect', () => process.exit(0));
  handler.listen(0, '127.0.0.1', () => {
    const addr = handler.address();
    process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0 });
  });
}

// ---------------------------------------------------------------------------------
// Load (parent side)

interface Stats {
  /** Requests answered 200. */
  reqs: number;
  /** Non-200 answers, connection errors, and requests never answered within REQUEST_TIMEOUT_MS. */
  errors: number;
  /** Answered-200 requests per second of wall time. */
  rps: number;
  /** Percentiles over EVERY request (failed ones at the time they failed, unanswered ones as +Infinity). */
  p50: number;
  p99: number;
}

/** A request unanswered this long counts as failed, at +Infinity latency. */
const REQUEST_TIMEOUT_MS = 10_000;

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * One POST. `from` is when the request was due (fixed-rate load): latency counts from
 * then, not from when it was actually sent, so a stalled sender cannot hide queueing
 * (coordinated omission).
 */
function oneRequest(agent: https.Agent, port: number, pathName: string, body: string, from = performance.now()): Promise<{ ms: number; ok: boolean }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, ms = performance.now() - from): void => {
      if (done) return;
      done = true;
      resolve({ ms, ok });
    };
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: pathName,
        method: 'POST',
        agent,
        rejectUnauthorized: false,
        ...clientPair,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode === 200));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => {
      finish(false, Infinity);
      req.destroy();
    });
    req.on('error', () => finish(false));
    req.end(body);
  });
}

function stats(all: Array<{ ms: number; ok: boolean }>, elapsedMs: number): Stats {
  const lat = all.map((r) => r.ms).sort((a, b) => a - b);
  const ok = all.filter((r) => r.ok).length;
  return { reqs: ok, errors: all.length - ok, rps: ok / (elapsedMs / 1000), p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function closedLoop(port: number, pathName: string, bodies: string[], connections: number): Promise<Stats> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections });
  const all: Array<{ ms: number; ok: boolean }> = [];
  let i = 0;
  const end = Date.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) all.push(await oneRequest(agent, port, pathName, bodies[i++ % bodies.length]!));
    }),
  );
  agent.destroy();
  return stats(all, performance.now() - started);
}

/** Fixed-rate load: request n is due at start + n/rate, and its latency counts from then. */
async function openLoop(send: (due: number) => Promise<{ ms: number; ok: boolean }>, rate: number): Promise<Stats> {
  const total = Math.floor((rate * DURATION_MS) / 1000);
  const started = performance.now();
  const inflight: Promise<{ ms: number; ok: boolean }>[] = [];
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(send(due));
  }
  const all = await Promise.all(inflight);
  return stats(all, performance.now() - started);
}

function procStat(pid: number): { cpuMs: number; rssMb: number; peakRssMb: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
    return { cpuMs: (ticks * 1000) / 100, rssMb: mb('VmRSS'), peakRssMb: mb('VmHWM') };
  } catch {
    return { cpuMs: NaN, rssMb: NaN, peakRssMb: NaN };
  }
}

interface Target {
  name: string;
  port: number;
  pid: number;
  path: string;
  bodies: string[];
}

async function startChild(kind: string): Promise<{ child: ChildProcess; port: number }> {
  if (!clientCa) {
    const { TestCa } = await import('../audit/apiserver/certs.test-helpers.js');
    const ca = new TestCa('bench-client-ca');
    clientPair = ca.client(CLIENT_NAME);
    clientCa = ca;
  }
  const execArgv = kind === 'floor' ? [] : (process.env.BENCH_CHILD_FLAGS?.split(' ').filter(Boolean) ?? []);
  const child = fork(SELF, ['serve', kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
    env: { ...process.env, BENCH_CLIENT_CA: clientCa.cert },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
}

/**
 * node sizes V8's heap from the memory it may use: under the chart's webhook limit (1Gi)
 * node 20 reports a heap_size_limit of 524 MB, exactly what these two flags give it, where
 * this unconstrained host gives 4,144 MB. The larger heap lets old space grow to ~4x what
 * is live before a mark-compact (~95 of 24 MB) and takes a 16 MB semi-space: the pod never
 * runs that way, so the real webhook runs here as in its pod.
 */
const CHART_LIMIT_HEAP_FLAGS = ['--max-old-space-size=512', '--max-semi-space-size=4'];

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');

async function measure(t: Target): Promise<Record<string, Stats & { cpuUsPerReq: number; rssMb: number }>> {
  const out: Record<string, Stats & { cpuUsPerReq: number; rssMb: number }> = {};
  await closedLoop(t.port, t.path, t.bodies, 10); // warm-up (JIT, TLS sessions, caches)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  let i = 0;
  const cells: Array<[string, () => Promise<Stats>]> = [
    ['c1', () => closedLoop(t.port, t.path, t.bodies, 1)],
    ['c10', () => closedLoop(t.port, t.path, t.bodies, 10)],
    ['c50', () => closedLoop(t.port, t.path, t.bodies, 50)],
    ['r100', () => openLoop((due) => oneRequest(agent, t.port, t.path, t.bodies[i++ % t.bodies.length]!, due), 100)],
    ['r1000', () => openLoop((due) => oneRequest(agent, t.port, t.path, t.bodies[i++ % t.bodies.length]!, due), 1000)],
  ];
  for (const [cell, run] of cells) {
    const before = procStat(t.pid);
    // BENCH_SIGNAL_CELL=c50: SIGUSR2 to the server halfway through that cell (start it with
    // --heapsnapshot-signal=SIGUSR2 for a heap snapshot of what a load holds).
    const signal = process.env.BENCH_SIGNAL_CELL === cell ? setTimeout(() => process.kill(t.pid, 'SIGUSR2'), DURATION_MS / 2) : undefined;
    const s = await run();
    clearTimeout(signal);
    const after = procStat(t.pid);
    out[cell] = { ...s, cpuUsPerReq: ((after.cpuMs - before.cpuMs) * 1000) / Math.max(1, s.reqs + s.errors), rssMb: after.rssMb };
  }
  agent.destroy();
  return out;
}

function print(name: string, r: Awaited<ReturnType<typeof measure>>, floor?: Awaited<ReturnType<typeof measure>>): void {
  for (const [cell, s] of Object.entries(r)) {
    // Throughput ratios only for closed loops (fixed-rate cells run at the same rate by design).
    // CPU per request against the floor's in the same cell: the figure load moves least.
    const ratio = floor?.[cell]
      ? `${cell.startsWith('c') ? ` ${f(s.rps / floor[cell]!.rps)}x floor req/s,` : ''} ${f(s.cpuUsPerReq / floor[cell]!.cpuUsPerReq)}x floor cpu/req`
      : '';
    console.log(
      `${name.padEnd(6)} ${cell.padEnd(6)} ${f(s.rps, 0).padStart(7)} req/s  p50 ${f(s.p50).padStart(7)} ms  p99 ${f(s.p99).padStart(7)} ms  cpu ${f(s.cpuUsPerReq, 0).padStart(5)} µs/req  rss ${f(s.rssMb, 0)} MB  errors ${s.errors}${ratio}`,
    );
  }
}

async function realWebhook(): Promise<{ target: Target; idleRssMb: number; apiserver: Record<string, Stats>; cleanup: () => Promise<void> } | undefined> {
  const { kubectl, kubectlOk, eventually, clusterEnv, runDirOf } = await import('../harness/cluster.js');
  if (!existsSync(path.join(runDirOf('controlplane'), 'env'))) return undefined;
  const { installBase, componentKubeconfig, freePort, removeWebhookConfigurations, startProcess } = await import('../harness/components.js');
  await installBase();
  const ns = 'agentgate-bench-webhook';
  const other = 'agentgate-bench-webhook-other';
  const port = await freePort();
  const kc = await componentKubeconfig('webhook');
  // The webhook as its pod runs it: the shipped V8 flags, and the heap node sizes from the
  // pod's memory limit (CHART_LIMIT_HEAP_FLAGS). BENCH_WEBHOOK_NODE_FLAGS replaces both ("" =
  // node's defaults on this host).
  const { WEBHOOK_NODE_FLAGS } = await import('../webhook/limits.js');
  const proc = startProcess(
    'webhook',
    'webhook-bench',
    ['--kubeconfig', kc, '--port', String(port), '--url', `https://127.0.0.1:${port}`, '--writer-id', 'bench'],
    port,
    process.env.BENCH_WEBHOOK_NODE_FLAGS?.split(' ').filter(Boolean) ?? [...WEBHOOK_NODE_FLAGS, ...CHART_LIMIT_HEAP_FLAGS],
  );
  await eventually(
    async () => {
      const r = await new Promise<number>((resolve) =>
        https.get({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false }, (res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(0)),
      );
      return r === 200;
    },
    60_000,
    'webhook ready',
  );
  // Stands in for the operator (not started here), as its ServiceAccount: the protect
  // webhook lets only the operator change grants, and fails closed while no webhook runs.
  const asOperator = (args: string[]) =>
    kubectl('admin', ['--as', 'system:serviceaccount:agentgate-system:agentgate-operator', '--as-group', 'system:masters', ...args]);
  // The grant's finalizer (added by the stamp webhook) is the operator's to remove, and a
  // namespace finishes deleting only while a webhook serves the audit API (the apiserver
  // lists every group in a namespace it deletes); so both happen while this one runs.
  const deleteNamespaces = async (): Promise<void> => {
    await asOperator(['patch', 'accessgrant', 'bench', '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    for (const n of [ns, other]) await kubectl('admin', ['delete', 'namespace', n, '--ignore-not-found', '--wait=false']);
    for (const n of [ns, other]) await kubectlOk('admin', ['wait', '--for=delete', `namespace/${n}`, '--timeout=120s']);
  };
  await deleteNamespaces(); // a previous run that ended before its cleanup
  for (const n of [ns, other]) {
    await kubectlOk('admin', ['create', 'namespace', n]);
    await kubectlOk('admin', ['label', '--overwrite', 'namespace', n, 'agentgate-bench=webhook']);
  }
  const ai = {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AgentIdentity',
    metadata: { name: 'bench-webhook' },
    spec: {
      subjects: [{ kind: 'User', name: 'bench:webhook' }],
      maxDuration: '8h',
      allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
      allowedNamespaces: { names: [ns] },
      approvers: { groups: ['sre-approvers'] },
    },
  };
  await kubectlOk('admin', ['apply', '-f', '-'], JSON.stringify(ai));
  const grant = {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AccessGrant',
    metadata: { name: 'bench', namespace: ns },
    spec: { agent: 'bench-webhook', roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '2h', reason: 'bench' },
  };
  await kubectlOk('admin', ['apply', '-f', '-'], JSON.stringify(grant));
  const now = new Date();
  const status = {
    phase: 'Active',
    activatedAt: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    expiresAt: new Date(now.getTime() + 7200_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  const activated = await asOperator(['patch', 'accessgrant', 'bench', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
  if (activated.code !== 0) throw new Error(`activating the bench grant failed: ${activated.stderr}`);
  // The apiserver's own create latency, no webhook involved (the admin is no agent).
  const k8s = await import('@kubernetes/client-node');
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(clusterEnv().kubeconfigs.admin);
  const { withKeepAlive } = await import('../lib/kube.js');
  withKeepAlive(admin);
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const create = async (due = performance.now()) => {
    try {
      await core.createNamespacedConfigMap({ namespace: other, body: { metadata: { generateName: 'bench-' }, data: { a: 'b' } } });
      return { ms: performance.now() - due, ok: true };
    } catch {
      return { ms: performance.now() - due, ok: false };
    }
  };
  await openLoop(create, 100);
  const apiserver = { r100: await openLoop(create, 100), r1000: await openLoop(create, 1000) };
  await eventually(
    async () => {
      const r = await oneRequest(new https.Agent(), port, '/validate/agents', reviews('bench:webhook', ns, other)[0]!.body);
      return r.ok;
    },
    30_000,
    'grant visible',
  );
  return {
    target: { name: 'real', port, pid: proc.child.pid!, path: '/validate/agents', bodies: reviews('bench:webhook', ns, other).map((r) => r.body) },
    idleRssMb: procStat(proc.child.pid!).rssMb,
    apiserver,
    cleanup: async () => {
      try {
        await kubectl('admin', ['delete', 'agentidentity', 'bench-webhook', '--ignore-not-found']);
        await deleteNamespaces();
      } finally {
        await proc.stop();
        // Its configurations fail closed: left behind, they refuse every later write of
        // agentgate objects (the next benchmark's setup failed on the protect webhook).
        await removeWebhookConfigurations();
      }
    },
  };
}

async function main(): Promise<void> {
  console.log(`webhook admission benchmark: ${DURATION_MS / 1000}s per cell; load generator and servers share this host's CPUs`);
  console.log('mix (round robin): allow ConfigMap, allow ~10 KB Pod, hold (DELETE Deployment), deny (bypass)');
  const mix = reviews('agent:deploy-bot', 'prod', 'other');
  console.log(`review sizes: ${mix.map((m) => `${m.name} ${Buffer.byteLength(m.body)} B`).join(', ')}`);
  const allowOnly = [mix[0]!.body, mix[1]!.body];

  const floor = await startChild('floor');
  const stub = await startChild('stub');
  try {
    const floorR = await measure({ name: 'floor', port: floor.port, pid: floor.child.pid!, path: '/', bodies: mix.map((m) => m.body) });
    print('floor', floorR);
    const stubMix = await measure({ name: 'stub', port: stub.port, pid: stub.child.pid!, path: '/validate/agents', bodies: mix.map((m) => m.body) });
    print('stub', stubMix, floorR);
    // Like with like: the allow-only load against the floor under the same allow-only load.
    console.log('allow path only (ConfigMap + Pod), floor under the same load:');
    const floorAllow = await measure({ name: 'floor', port: floor.port, pid: floor.child.pid!, path: '/', bodies: allowOnly });
    print('floor-a', floorAllow);
    const stubAllow = await measure({ name: 'stub', port: stub.port, pid: stub.child.pid!, path: '/validate/agents', bodies: allowOnly });
    print('stub-a', stubAllow, floorAllow);

    // No "skipped": a benchmark that cannot run fails (bench.sh starts the control plane).
    const real = await realWebhook();
    if (!real) throw new Error('real webhook: no local control plane (start one with hack/controlplane/up.sh, or run make bench)');
    try {
      console.log('real webhook, every call writes an AuditEvent to the local apiserver; mix, then allow path only:');
      const r = await measure(real.target);
      print('real', r, floorR);
      const ra = await measure({ ...real.target, bodies: real.target.bodies.slice(0, 2) });
      print('real-a', ra, floorAllow);
      const loaded = procStat(real.target.pid);
      const { postgresDsn } = await import('../harness/audit-store.js');
      await new Promise((r) => setTimeout(r, 10_000));
      console.log(
        `real webhook RSS: idle ${f(real.idleRssMb, 1)} MB (caches synced, before any load); peak ${f(loaded.peakRssMb, 1)} MB (VmHWM, start-up included); ${f(loaded.rssMb, 1)} MB after the load, ${f(procStat(real.target.pid).rssMb, 1)} MB 10 s later; audit store ${postgresDsn() ? 'postgres' : 'pglite'}; node flags ${process.env.BENCH_WEBHOOK_NODE_FLAGS ?? "as shipped, heap as under the chart's 1Gi limit"}`,
      );
      for (const cell of ['r100', 'r1000'] as const) {
        const a = real.apiserver[cell]!;
        console.log(
          `apiserver ConfigMap create ${cell}: p50 ${f(a.p50)} ms p99 ${f(a.p99)} ms (${f(a.rps, 0)} req/s, errors ${a.errors}); webhook p99 - apiserver p99 = ${f(r[cell]!.p99 - a.p99)} ms`,
        );
      }
    } finally {
      await real.cleanup();
    }
    console.log(
      'pepr: not run by this benchmark (npm pepr 1.x pulls eslint, typescript-eslint, ts-morph and quicktype-core and only serves admission from a generated, built Pepr module)',
    );
  } finally {
    floor.child.kill();
    stub.child.kill();
  }
  // The goal's own figure (issue #13), with the issue's load: `allow` runs it alone.
  console.log('\nthe allow-path goal:');
  await allowGoal();
}

/**
 * Closed-loop load from autocannon (the tool issue #13 measured its goal with): HTTP/1.1 on
 * kept TLS connections at ~66 µs of client CPU per request here, where node's https client
 * (closedLoop) takes 125-156 µs. On two cores the heavier client leaves the server fewer
 * requests per wakeup, and its CPU per request rises with that: the goal is measured with
 * the issue's own load.
 */
async function cannon(port: number, pathName: string, body: string, connections: number, seconds: number): Promise<Stats> {
  const r = await autocannon({
    url: `https://127.0.0.1:${port}${pathName}`,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    timeout: REQUEST_TIMEOUT_MS / 1000,
    tlsOptions: { ...clientPair },
  });
  // 2xx only: a review answered with an error status is not a review served.
  const ok = r['2xx'];
  return { reqs: ok, errors: r.non2xx + r.errors + r.timeouts, rps: ok / r.duration, p50: r.latency.p50, p99: r.latency.p99 };
}

/** Issue #13's goal alone: CPU per allowed ConfigMap review, floor / express / app / stub alternating, load from autocannon. */
async function allowGoal(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const seconds = DURATION_MS / 1000;
  const body = reviews('agent:deploy-bot', 'prod', 'other')[0]!.body;
  console.log(`allowed ConfigMap review (${Buffer.byteLength(body)} B), autocannon, 10 connections, ${seconds}s per cell, ${rounds} rounds; load ${loadavg()}`);
  const servers = { floor: await startChild('floor'), express: await startChild('express'), app: await startChild('app'), stub: await startChild('stub') };
  const pathOf = (name: string) => (name === 'floor' || name === 'express' ? '/' : '/validate/agents');
  const cpu: Record<string, number[]> = { floor: [], express: [], app: [], stub: [] };
  try {
    for (const [name, s] of Object.entries(servers)) await cannon(s.port, pathOf(name), body, 10, 2); // warm-up (JIT, TLS sessions, caches)
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      for (const [name, s] of Object.entries(servers)) {
        const before = procStat(s.child.pid!);
        const st = await cannon(s.port, pathOf(name), body, 10, seconds);
        const us = ((procStat(s.child.pid!).cpuMs - before.cpuMs) * 1000) / Math.max(1, st.reqs + st.errors);
        if (st.errors) throw new Error(`${name}: ${st.errors} failed requests`);
        cpu[name]!.push(us);
        line.push(`${name} ${f(us, 0)} µs (${f(st.rps, 0)} req/s)${name === 'floor' ? '' : ` ${f(us / cpu['floor']![round - 1]!)}x`}`);
      }
      console.log(`round ${round}: ${line.join(', ')}; load ${loadavg()}`);
    }
  } finally {
    // Let go rather than kill: the servers exit on disconnect, writing any --cpu-prof output.
    await Promise.all(
      Object.values(servers).map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.child.exitCode !== null || !s.child.connected) return resolve();
            s.child.once('exit', () => resolve());
            s.child.disconnect();
          }),
      ),
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `median CPU per allowed review: floor ${f(median(cpu['floor']!), 0)} µs, express ${f(median(cpu['express']!), 0)} µs, app ${f(median(cpu['app']!), 0)} µs, stub ${f(median(cpu['stub']!), 0)} µs; goal stub <= 150 µs: ${median(cpu['stub']!) <= 150 ? 'met' : 'MISSED'}`,
  );
}

/** Where a process's resident memory is (/proc/PID/smaps): files (node's own text and data), the brk heap (malloc), other anonymous mappings (V8's heap, malloc arenas, stacks). */
function residentParts(pid: number): string {
  const parts = { file: 0, brk: 0, anon: 0 };
  let where: keyof typeof parts = 'anon';
  try {
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
      if (head) where = head[1]!.startsWith('/') ? 'file' : head[1] === '[heap]' ? 'brk' : 'anon';
      else if (line.startsWith('Rss:')) parts[where] += Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
    }
  } catch {
    return 'smaps unreadable';
  }
  return `files ${f(parts.file, 0)} MB, malloc brk heap ${f(parts.brk, 0)} MB, other anonymous (V8 heap, malloc arenas, stacks) ${f(parts.anon, 0)} MB`;
}

/**
 * `node webhook-bench.js rss`: memory alone, the stub and then the real webhook under the
 * same load as main() (the mix, then the allow path, each at 1/10/50 connections and 100 and
 * 1,000 req/s), RSS sampled every 250 ms during it, then every 5 s for BENCH_SETTLE_SECONDS
 * (default 30) while idle: what the pod's memory limit and its working set see.
 */
async function rssOnly(): Promise<void> {
  const settleS = Number(process.env.BENCH_SETTLE_SECONDS ?? 30);
  const mix = reviews('agent:deploy-bot', 'prod', 'other');
  console.log(`webhook RSS benchmark: ${DURATION_MS / 1000}s per cell; load ${loadavg()}`);
  const snapshot = async (pid: number): Promise<void> => {
    if (!process.env.BENCH_SIGNAL_CELL) return;
    process.kill(pid, 'SIGUSR2');
    await new Promise((res) => setTimeout(res, 5000));
  };
  const underLoad = async (t: Target): Promise<void> => {
    await snapshot(t.pid);
    const idle = procStat(t.pid).rssMb;
    const idleParts = residentParts(t.pid);
    let max = 0;
    const sampler = setInterval(() => {
      max = Math.max(max, procStat(t.pid).rssMb);
    }, 250);
    let r: Awaited<ReturnType<typeof measure>>;
    let ra: Awaited<ReturnType<typeof measure>>;
    try {
      r = await measure(t);
      ra = await measure({ ...t, bodies: t.bodies.slice(0, 2) });
    } finally {
      clearInterval(sampler);
    }
    print(t.name, r);
    print(`${t.name}-a`, ra);
    const after = procStat(t.pid);
    const afterParts = residentParts(t.pid);
    await snapshot(t.pid);
    const later: string[] = [];
    for (let s = 5; s <= settleS; s += 5) {
      await new Promise((res) => setTimeout(res, 5000));
      later.push(`${s}s ${f(procStat(t.pid).rssMb, 0)}`);
    }
    console.log(
      `${t.name} RSS: idle ${f(idle, 1)} MB; under load max ${f(max, 1)} MB (sampled every 250 ms), VmHWM ${f(after.peakRssMb, 1)} MB (start-up included); ${f(after.rssMb, 1)} MB after the load; then ${later.join(', ')} MB; load ${loadavg()}`,
    );
    console.log(`${t.name} resident, idle: ${idleParts}; after the load: ${afterParts}`);
  };
  const targets = (process.env.BENCH_RSS_TARGETS ?? 'stub real').split(' ');
  const stub = targets.includes('stub') ? await startChild('stub') : undefined;
  if (stub)
    try {
      await underLoad({ name: 'stub', port: stub.port, pid: stub.child.pid!, path: '/validate/agents', bodies: mix.map((m) => m.body) });
    } finally {
      stub.child.kill();
    }
  if (!targets.includes('real')) return;
  const real = await realWebhook();
  if (!real) throw new Error('real webhook: no local control plane (start one with hack/controlplane/up.sh, or run make bench)');
  try {
    const { postgresDsn } = await import('../harness/audit-store.js');
    console.log(
      `real webhook: audit store ${postgresDsn() ? 'postgres' : 'pglite'}; node flags ${process.env.BENCH_WEBHOOK_NODE_FLAGS ?? "as shipped, heap as under the chart's 1Gi limit"}`,
    );
    await underLoad(real.target);
  } finally {
    await real.cleanup();
  }
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

if (process.argv[2] === 'serve') {
  void serve(process.argv[3] ?? 'floor');
} else {
  (process.argv[2] === 'allow' ? allowGoal() : process.argv[2] === 'rss' ? rssOnly() : main()).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
