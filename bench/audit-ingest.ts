// Ingestion of the kube-apiserver's audit batches: audit.k8s.io/v1 EventLists of 400
// events (the batch backend's default --audit-webhook-batch-max-size) POSTed to the
// running webhook's /audit/events with the audit-sink client certificate, as the
// apiserver's batch backend posts them, 1 and 4 batches in flight (the backend sends
// batches concurrently, throttled by --audit-webhook-batch-throttle-qps). Two mixes:
//   reads    an agent's GET/LIST/WATCH and RBAC-refused calls: each becomes a record;
//   joins    ResponseComplete events of admitted mutations, naming their records in the
//            audit-event annotation: each settles its record (Completed/Failed);
//            PostgreSQL only (the records are written first from this process).
// Baseline, same run: the same batches through audit/apiserver/sink.ts ingest() in this
// process on the same engine (no HTTP, TLS or JSON), i.e. the store's own rate.
//   node dist/bench/audit-ingest.js
// env: AUDIT_INGEST_BATCHES (25 batches per cell).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AGENTGATE_NAMESPACE, type AgentIdentity } from '../api/types.js';
import { ingest, type ApiserverAuditEvent } from '../audit/apiserver/sink.js';
import { CHECKPOINT_CONFIGMAP } from '../audit/checkpoint.js';
import { openDb, type StoreConfig } from '../audit/db.js';
import { AuditStore } from '../audit/store.js';
import { clusterEnv, kubectl } from '../harness/cluster.js';
import { runDir, startAgentgate, stopAgentgate } from '../harness/components.js';
import { systemClock } from '../lib/clock.js';
import {
  AGENT_NAME,
  AGENT_USER,
  agentAndPlainIdentity,
  clientFromFiles,
  clientFromKubeconfig,
  controlPlaneEnv,
  CpuAccount,
  f,
  goal,
  load,
  pgDsn,
  removeAgentAndPlainIdentity,
  request,
} from './_audit-common.js';

const BATCHES = Number(process.env.AUDIT_INGEST_BATCHES ?? 25);
const BATCH = 400;

function readEvent(i: number): ApiserverAuditEvent {
  const verb = (['get', 'list', 'watch', 'get'] as const)[i % 4]!;
  const refused = i % 10 === 9;
  const now = new Date().toISOString();
  return {
    auditID: randomUUID(),
    stage: 'ResponseComplete',
    verb: refused ? 'list' : verb,
    requestURI: refused ? '/api/v1/namespaces/kube-system/secrets' : `/api/v1/namespaces/bench/configmaps${verb === 'get' ? `/cm-${i % 100}` : ''}`,
    user: { username: AGENT_USER, groups: ['agentgate:agents', 'system:authenticated'] },
    objectRef: refused
      ? { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' }
      : { resource: 'configmaps', namespace: 'bench', apiVersion: 'v1', ...(verb === 'get' ? { name: `cm-${i % 100}` } : {}) },
    responseStatus: refused
      ? { code: 403, reason: 'Forbidden', message: 'secrets is forbidden: User "agent:deploy-bot" cannot list resource "secrets"' }
      : { code: 200 },
    requestReceivedTimestamp: now,
    stageTimestamp: now,
    annotations: { 'authorization.k8s.io/decision': refused ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' },
  };
}

function joinEvent(record: string): ApiserverAuditEvent {
  const now = new Date().toISOString();
  return {
    auditID: randomUUID(),
    stage: 'ResponseComplete',
    verb: 'create',
    requestURI: '/api/v1/namespaces/bench/configmaps',
    user: { username: AGENT_USER, groups: ['agentgate:agents', 'system:authenticated'] },
    objectRef: { resource: 'configmaps', namespace: 'bench', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    requestReceivedTimestamp: now,
    stageTimestamp: now,
    annotations: { 'agents.agentgate.io/audit-event': record },
  };
}

const batchBody = (items: ApiserverAuditEvent[]) => JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });

let cpu: CpuAccount | undefined;
/** CPU ms per event, by process, of the last run(). */
let lastCpu: Record<string, number> = {};

/** Runs batches with inFlight at a time; returns events per second. */
async function run(batches: ApiserverAuditEvent[][], inFlight: number, send: (b: ApiserverAuditEvent[]) => Promise<void>): Promise<number> {
  let next = 0;
  const c0 = cpu?.snapshot();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches.length) await send(batches[next++]!);
    }),
  );
  const ms = performance.now() - t0;
  lastCpu = {};
  if (cpu && c0) CpuAccount.add(lastCpu, c0, cpu.snapshot());
  for (const k of Object.keys(lastCpu)) lastCpu[k]! /= batches.length * BATCH;
  return (batches.length * BATCH * 1000) / ms;
}

const cpuLine = () =>
  Object.entries(lastCpu)
    .filter(([, v]) => v > 0.001)
    .map(([k, v]) => `${k} ${f(v, 3)}`)
    .join(', ');

const reads = () => Array.from({ length: BATCHES }, (_, b) => Array.from({ length: BATCH }, (_, i) => readEvent(b * BATCH + i)));

/** Admitted records to join, written from this process (PostgreSQL: the webhook's store sees them). */
async function admittedRecords(store: AuditStore, n: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i += 200) {
    const stored = await Promise.all(
      Array.from({ length: Math.min(200, n - i) }, (_, j) =>
        store.append({
          time: new Date().toISOString(),
          agent: AGENT_NAME,
          user: AGENT_USER,
          operation: 'CREATE',
          group: '',
          version: 'v1',
          resource: 'configmaps',
          namespace: 'bench',
          name: `cm-${i + j}`,
          decision: 'Allowed',
          reason: 'covered by grant bench',
          requestUID: randomUUID(),
        }),
      ),
    );
    names.push(...stored.map((s) => s.name));
  }
  return names;
}

const toBatches = (events: ApiserverAuditEvent[]) =>
  Array.from({ length: Math.ceil(events.length / BATCH) }, (_, b) => events.slice(b * BATCH, (b + 1) * BATCH));

async function countRecords(labelSelector: string, fieldSelector: string): Promise<number> {
  const admin = clientFromKubeconfig(clusterEnv().kubeconfigs.admin);
  let n = 0;
  let cont = '';
  do {
    const q = new URLSearchParams({ labelSelector, fieldSelector, limit: '5000' });
    if (cont) q.set('continue', cont);
    const a = await request(admin, 'GET', `/apis/audit.agentgate.io/v1alpha1/namespaces/${AGENTGATE_NAMESPACE}/auditevents?${q}`);
    if (a.status !== 200) throw new Error(`listing records: ${a.status} ${a.body.slice(0, 300)}`);
    const list = JSON.parse(a.body) as { items: unknown[]; metadata?: { continue?: string } };
    n += list.items.length;
    cont = list.metadata?.continue ?? '';
  } while (cont);
  admin.agent.destroy();
  return n;
}

async function engine(name: 'pglite' | 'postgres'): Promise<number> {
  if (name === 'pglite') process.env.E2E_AUDIT_STORE = 'pglite';
  else delete process.env.E2E_AUDIT_STORE;
  const cp = controlPlaneEnv();
  const ns = `bench-ingest-${name}-${Date.now().toString(36)}`;
  const components = await startAgentgate({ name: `bench-ingest-${name}` });
  /** The webhook's writer name (startAgentgate names it after the component). */
  const writer = `bench-ingest-${name}-webhook`;
  const sink = clientFromFiles(
    `https://127.0.0.1:${cp.AUDIT_PORT}`,
    cp.AUDIT_TLS_CA!,
    path.join(cp.RUN_DIR!, 'pki', 'audit-sink-client.crt'),
    path.join(cp.RUN_DIR!, 'pki', 'audit-sink-client.key'),
  );
  const dir = name === 'pglite' ? mkdtempSync(path.join(tmpdir(), 'agentgate-bench-ingest-')) : undefined;
  const config: StoreConfig = name === 'postgres' ? { engine: 'postgres', dsn: pgDsn()! } : { engine: 'pglite', dataDir: dir! };
  const local = new AuditStore(await openDb(config), `bench-ingest-baseline-${process.pid}`, systemClock);
  const identity = { metadata: { name: AGENT_NAME } } as AgentIdentity;
  try {
    await local.open();
    await agentAndPlainIdentity(ns); // the webhook maps agent:deploy-bot to this AgentIdentity
    const post = async (b: ApiserverAuditEvent[]) => {
      const a = await request(sink, 'POST', '/audit/events', batchBody(b));
      if (a.status !== 200) throw new Error(`POST /audit/events: ${a.status} ${a.body.slice(0, 300)}`);
    };
    const inProcess = async (b: ApiserverAuditEvent[]) => {
      await ingest(local, b, (u) => (u.username === AGENT_USER ? identity : undefined));
    };
    const started = new Date(Date.now() - 1000).toISOString(); // this run's records only (a PostgreSQL store keeps earlier runs')
    // Until the webhook's informer knows the AgentIdentity, batches are ignored, not recorded.
    await post(reads()[0]!.slice(0, 10));
    cpu = new CpuAccount({ webhook: components.webhook.child.pid });
    console.log(`[${name}] load average at start: ${load()}`);
    await run(reads().slice(0, 3), 2, post); // warm-up
    await run(reads().slice(0, 3), 2, inProcess);
    let best = 0;
    for (const inFlight of [1, 4]) {
      const base = await run(reads(), inFlight, inProcess);
      const baseCpu = cpuLine();
      const http = await run(reads(), inFlight, post);
      best = Math.max(best, http);
      console.log(
        `[${name}] reads, ${inFlight} batch(es) of ${BATCH} in flight: webhook ${f(http, 0).padStart(6)} events/s; in-process ingest() baseline ${f(base, 0).padStart(6)} events/s (${f(http / base)}x)`,
      );
      console.log(`[${name}]   CPU ms per event: webhook run: ${cpuLine()}; baseline run: ${baseCpu}`);
    }
    // Every read posted became a record: those in namespace bench (9 in 10), through the aggregated API.
    const expected = 9 + (3 + 2 * BATCHES) * BATCH * 0.9;
    const recorded = await countRecords(`agentgate.io/source=apiserver,agentgate.io/writer=${writer}`, `spec.namespace=bench,spec.time>=${started}`);
    console.log(
      `[${name}] records of posted reads in namespace bench: ${recorded} (posted ${expected}; the first 9 only if the webhook already knew the AgentIdentity)`,
    );
    if (recorded < expected - 9) throw new Error('posted reads are missing from the store');
    if (name === 'postgres') {
      const n = BATCHES * BATCH;
      const forWebhook = await admittedRecords(local, n);
      const forLocal = await admittedRecords(local, n);
      for (const inFlight of [4]) {
        const base = await run(toBatches(forLocal.map(joinEvent)), inFlight, inProcess);
        const baseCpu = cpuLine();
        const http = await run(toBatches(forWebhook.map(joinEvent)), inFlight, post);
        console.log(
          `[${name}] joins (settle admitted records), ${inFlight} batches in flight: webhook ${f(http, 0).padStart(6)} events/s; in-process baseline ${f(base, 0).padStart(6)} events/s (${f(http / base)}x)`,
        );
        console.log(`[${name}]   CPU ms per event: webhook run: ${cpuLine()}; baseline run: ${baseCpu}`);
      }
    }
    console.log(`[${name}] load average at end: ${load()}`);
    goal(best >= 5000, `[${name}] apiserver audit batch ingestion ${f(best, 0)} events/s (reads; best of 1 and 4 batches in flight; goal >= 5000)`);
    return best;
  } finally {
    await local.db.query(`DELETE FROM agentgate_audit_events WHERE writer = $1`, [local.writer]).catch(() => undefined);
    await local.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await removeAgentAndPlainIdentity(ns);
    await stopAgentgate(components);
    if (name === 'pglite') {
      rmSync(path.join(runDir, `${writer}-audit`), { recursive: true, force: true });
      // Its records are gone with the PGlite directory: so must its checkpoint, or every
      // later `agentgate audit verify` on this cluster reports the writer deleted.
      await kubectl('admin', [
        'patch',
        'configmap',
        CHECKPOINT_CONFIGMAP,
        '-n',
        AGENTGATE_NAMESPACE,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'remove', path: `/data/${writer}` }]),
      ]);
    }
  }
}

async function main(): Promise<void> {
  console.log(`apiserver audit batch ingestion: ${BATCHES} batches of ${BATCH} events per cell; load generator, webhook and database share this host's CPUs`);
  if (!pgDsn()) throw new Error('postgres cannot be measured: start one with hack/postgres/up.sh (make bench does)');
  const engines: Array<'pglite' | 'postgres'> = ['pglite', 'postgres'];
  for (const e of engines) await engine(e);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
