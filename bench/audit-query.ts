// `kubectl get auditevents -l agentgate.io/agent=X` for one hour over a large store: the
// store is filled with SQL (INSERT ... SELECT generate_series into day partitions of the
// store's own table, built unindexed and then attached, so PostgreSQL builds the
// store's indexes on each in one pass), at two sizes with the same density of events per
// hour: first one day (a tenth of the events), then the other days. The query's result
// is the same at both sizes, so the two figures show how it scales with the table.
// Timed at each size:
//   api    an HTTPS GET through the real kube-apiserver (aggregation, the audit API's
//          delegated authn/authz, the store) as the admin, Table output and limit=500 as
//          kubectl asks (continue pages followed), each run a different agent;
//   store  the same selectors through AuditStore.listSummaries in this process, the page
//          the API reads for a Table (the baseline: what the store alone costs);
//   kubectl the real kubectl (process start, discovery cache), a few runs, for reference.
// With each, the CPU ms per list of each process (webhook, apiserver, etcd, postgres,
// bench), which a loaded host does not inflate the way it inflates latencies.
// PostgreSQL only (hack/postgres/up.sh): the filled days are partitions of the past that
// the bench owns; it refuses to touch a day holding any other writer's rows, and drops
// its partitions at the end unless AUDIT_QUERY_KEEP=1 (a later run then reuses them).
//   node dist/bench/audit-query.js
// Then the hourly maintenance step clusters the queried (closed) day by (agent, time)
// (store.clusterClosed): its duration is the lock cost, and the same figures again.
// env: AUDIT_QUERY_EVENTS (1000000; 10000000 for the issue's figure), AUDIT_QUERY_DAYS (10),
// AUDIT_QUERY_AGENTS (100), AUDIT_QUERY_RUNS (50), AUDIT_QUERY_SCALING (1; 0 skips the one-day figures),
// AUDIT_QUERY_PROFILE (a directory for agentgate's V8 CPU profiles).
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import { openDb } from '../audit/db.js';
import { PARTITION_PREFIX, TABLE, partitionFor } from '../audit/schema.js';
import { auditResource, columnSpecFields } from '../audit/apiserver/resource.js';
import { AuditStore } from '../audit/store.js';
import { clusterEnv, eventually, kubectl } from '../harness/cluster.js';
import { startAgentgate, stopAgentgate } from '../harness/components.js';
import { systemClock } from '../lib/clock.js';
import { clientFromKubeconfig, CpuAccount, f, FILL_ROWS_SQL, goal, load, pct, pgDsn, request } from './_audit-common.js';

const EVENTS = Number(process.env.AUDIT_QUERY_EVENTS ?? 1_000_000);
const DAYS = Number(process.env.AUDIT_QUERY_DAYS ?? 10);
const AGENTS = Number(process.env.AUDIT_QUERY_AGENTS ?? 100);
const RUNS = Number(process.env.AUDIT_QUERY_RUNS ?? 50);
/** AUDIT_QUERY_SCALING=0 skips the one-day measurement (a shorter run at 10 M). */
const SCALING = process.env.AUDIT_QUERY_SCALING !== '0';
const WRITER = 'bench-fill';
const PER_DAY = Math.floor(EVENTS / DAYS);
const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

const DAY = 86_400_000;
const today = new Date(Math.floor(Date.now() / DAY) * DAY);
/** Day d (0..DAYS-1) of the fill: 2..DAYS+1 days before today (today's partitions are the live store's). */
const dayStart = (d: number) => new Date(today.getTime() - (d + 2) * DAY);
/** The queried hour: 12:00-13:00 of day 0. */
const HOUR_FROM = new Date(dayStart(0).getTime() + 12 * 3_600_000);
const HOUR_TO = new Date(HOUR_FROM.getTime() + 3_600_000);
const agentName = (i: number) => `bench-fill-agent-${String(i).padStart(3, '0')}`;

type Db = Awaited<ReturnType<typeof openDb>>;

/** Fills day d (PER_DAY events, sequences d*PER_DAY+1..) unless it is already there; returns seconds spent. */
async function fillDay(db: Db, d: number): Promise<number> {
  const p = partitionFor(dayStart(d));
  const existing = await db
    .query<{ n: number; other: number }>(
      `SELECT count(*) FILTER (WHERE writer = $3)::int AS n, count(*) FILTER (WHERE writer <> $3)::int AS other FROM ${TABLE} WHERE time >= $1 AND time < $2`,
      [p.from, p.to, WRITER],
    )
    .catch(() => [{ n: 0, other: 0 }]);
  if (existing[0]!.other) throw new Error(`${p.name} holds ${existing[0]!.other} rows of other writers; the bench fills only days of its own`);
  if (existing[0]!.n === PER_DAY) return 0;
  const t0 = performance.now();
  await db.query(`DROP TABLE IF EXISTS ${p.name}`);
  await db.query(`CREATE TABLE ${p.name} (LIKE ${TABLE} INCLUDING DEFAULTS)`);
  const first = d * PER_DAY + 1;
  const stepMs = DAY / PER_DAY;
  // Plausible rows: 100 agents, 50 namespaces, a mix of operations and decisions, a chain
  // whose links join up but whose hashes are stand-ins (md5 of the sequence, not the
  // event): `agentgate audit verify` reports these days as altered. A read benchmark.
  await db.query(
    `INSERT INTO ${p.name} ${FILL_ROWS_SQL}
     FROM (
       SELECT i, $1::timestamptz + ((i - $3) * $4::double precision) * interval '1 millisecond' AS t,
         'bench-fill-agent-' || lpad((i % ${AGENTS})::text, 3, '0') AS a,
         'team-' || (i % 50) AS ns,
         (ARRAY['CREATE','UPDATE','PATCH','DELETE','CREATE','UPDATE'])[1 + i % 6] AS op,
         (ARRAY['configmaps','deployments','services','secrets','pods'])[1 + i % 5] AS res,
         CASE WHEN i % 20 = 0 THEN 'Denied' WHEN i % 50 = 1 THEN 'Held' ELSE 'Allowed' END AS dec,
         md5(i::text || 'uid') AS uid
       FROM generate_series($3::bigint, $3::bigint + $5::bigint - 1) AS i
     ) g`,
    [p.from, WRITER, first, stepMs, PER_DAY],
  );
  // Attaching builds the parent's indexes on the partition, each in one sorted pass.
  await db.query(`ALTER TABLE ${p.name} ADD CONSTRAINT ${p.name}_bounds CHECK (time >= '${p.from}' AND time < '${p.to}')`);
  await db.query(`ALTER TABLE ${TABLE} ATTACH PARTITION ${p.name} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
  await db.query(`ALTER TABLE ${p.name} DROP CONSTRAINT ${p.name}_bounds`);
  await db.query(`ANALYZE ${p.name}`);
  return (performance.now() - t0) / 1000;
}

async function dropDays(db: Db): Promise<void> {
  for (let d = 0; d < DAYS; d++) await db.query(`DROP TABLE IF EXISTS ${partitionFor(dayStart(d)).name}`);
}

const selectors = (i: number) => ({
  labelSelector: `agentgate.io/agent=${agentName(i % AGENTS)}`,
  fieldSelector: `spec.time>=${HOUR_FROM.toISOString()},spec.time<${HOUR_TO.toISOString()}`,
});

interface Timing {
  p50: number;
  p99: number;
  items: number;
  /** CPU ms per list by process (load-robust, unlike the latencies). */
  cpu: Record<string, number>;
}

/** Runs fn, returning its result and the CPU ms each process spent on it, per run. */
async function withCpu<T extends Omit<Timing, 'cpu'>>(cpu: CpuAccount, fn: () => Promise<T>): Promise<T & { cpu: Record<string, number> }> {
  const before = cpu.snapshot();
  const r = await fn();
  const spent: Record<string, number> = {};
  CpuAccount.add(spent, before, cpu.snapshot());
  for (const k of Object.keys(spent)) spent[k]! /= RUNS + 5;
  return { ...r, cpu: spent };
}

const cpuLine = (t: Timing) =>
  Object.entries(t.cpu)
    .filter(([, v]) => v >= 0.05)
    .map(([k, v]) => `${k} ${f(v, 1)}`)
    .join(', ');

async function timeApi(asTable: boolean): Promise<Omit<Timing, 'cpu'>> {
  const admin = clientFromKubeconfig(clusterEnv().kubeconfigs.admin);
  const lat: number[] = [];
  let items = 0;
  for (let i = 0; i < RUNS + 5; i++) {
    const t0 = performance.now();
    let cont = '';
    let n = 0;
    do {
      const q = new URLSearchParams({ ...selectors(i), limit: '500' });
      if (cont) q.set('continue', cont);
      const a = await requestAccept(admin, `/apis/audit.agentgate.io/v1alpha1/namespaces/${AGENTGATE_NAMESPACE}/auditevents?${q}`, asTable);
      if (a.status !== 200) throw new Error(`GET auditevents: ${a.status} ${a.body.slice(0, 300)}`);
      const page = JSON.parse(a.body) as { items?: unknown[]; rows?: unknown[]; metadata?: { continue?: string } };
      n += (page.rows ?? page.items ?? []).length;
      cont = page.metadata?.continue ?? '';
    } while (cont);
    if (i >= 5) {
      lat.push(performance.now() - t0);
      items += n;
    }
  }
  admin.agent.destroy();
  return { p50: pct(lat, 50), p99: pct(lat, 99), items: items / RUNS };
}

function requestAccept(c: ReturnType<typeof clientFromKubeconfig>, pathName: string, asTable: boolean) {
  // request() sends no Accept header; the Table variant needs one.
  if (!asTable) return request(c, 'GET', pathName);
  return new Promise<{ status: number; body: string }>((resolve) => {
    import('node:https').then(({ default: https }) => {
      const req = https.request(
        { host: c.server.hostname, port: c.server.port, path: pathName, method: 'GET', agent: c.agent, headers: { accept: TABLE_ACCEPT } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', (e) => resolve({ status: 0, body: String(e) }));
      req.end();
    });
  });
}

/** The store's part of a Table list: the page with the printer columns' spec fields, as the API reads it. */
async function timeStore(store: AuditStore): Promise<Omit<Timing, 'cpu'>> {
  const fields = columnSpecFields(auditResource());
  const lat: number[] = [];
  let items = 0;
  for (let i = 0; i < RUNS + 5; i++) {
    const t0 = performance.now();
    let cont: string | undefined;
    let n = 0;
    do {
      const r = await store.listSummaries({ ...selectors(i), limit: 500, ...(cont ? { continue: cont } : {}) }, AGENTGATE_NAMESPACE, 'agentgate', fields);
      n += r.items.length;
      cont = r.continue;
    } while (cont);
    if (i >= 5) {
      lat.push(performance.now() - t0);
      items += n;
    }
  }
  return { p50: pct(lat, 50), p99: pct(lat, 99), items: items / RUNS };
}

async function timeKubectl(runs: number): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = selectors(i);
    const t0 = performance.now();
    const r = await kubectl('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE, '-l', s.labelSelector, '--field-selector', s.fieldSelector]);
    if (r.code !== 0) throw new Error(`kubectl get auditevents: ${r.stderr}`);
    lat.push(performance.now() - t0);
  }
  return pct(lat, 50);
}

async function plan(db: Db): Promise<string> {
  const rows = await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS) SELECT rv, name, spec FROM ${TABLE} WHERE (agent <> '' AND agent = ANY($1::text[])) AND time >= $2::timestamptz AND time < $3::timestamptz ORDER BY time, writer, sequence LIMIT 501`,
    [[agentName(7)], HOUR_FROM.toISOString(), HOUR_TO.toISOString()],
  );
  const lines = rows.map((r) => r['QUERY PLAN']);
  const scan = lines.find((l) => /Scan/.test(l))?.trim() ?? '';
  return `${scan.replace(/\s+\(cost=[^)]*\)/, '')} | ${lines.find((l) => l.startsWith('Execution Time'))}`;
}

async function measure(label: string, rows: number, store: AuditStore, db: Db, cpu: CpuAccount): Promise<Timing> {
  const size = await db.query<{ bytes: string }>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c WHERE c.relname LIKE '${PARTITION_PREFIX}%' AND c.relkind = 'r'`,
  );
  console.log(`[${label}] ${rows.toLocaleString('en')} events stored by the bench (${f(Number(size[0]!.bytes) / 2 ** 30)} GiB with indexes); load ${load()}`);
  console.log(`[${label}] plan: ${await plan(db)}`);
  const s = await withCpu(cpu, () => timeStore(store));
  const api = await withCpu(cpu, () => timeApi(true));
  const apiJson = await withCpu(cpu, () => timeApi(false));
  const k = await timeKubectl(5);
  console.log(
    `[${label}] store page alone:       p50 ${f(s.p50)} ms  p99 ${f(s.p99)} ms  (${f(s.items, 0)} events per query, ${RUNS} runs); CPU ms per list: ${cpuLine(s)}`,
  );
  console.log(
    `[${label}] via kube-apiserver Table: p50 ${f(api.p50)} ms  p99 ${f(api.p99)} ms  (${f(api.items, 0)} rows per query); CPU ms per list: ${cpuLine(api)}`,
  );
  console.log(`[${label}] via kube-apiserver JSON:  p50 ${f(apiJson.p50)} ms  p99 ${f(apiJson.p99)} ms; CPU ms per list: ${cpuLine(apiJson)}`);
  console.log(`[${label}] kubectl get (process, for reference): p50 ${f(k)} ms over 5 runs; load ${load()}`);
  return api;
}

async function main(): Promise<void> {
  const dsn = pgDsn();
  if (!dsn) {
    throw new Error('the 10 M-event query needs PostgreSQL: start one with hack/postgres/up.sh (make bench does)');
  }
  console.log(
    `auditevents for one agent and one hour; ${EVENTS.toLocaleString('en')} events over ${DAYS} days (${PER_DAY.toLocaleString('en')} a day), ${AGENTS} agents; the queried hour holds ~${Math.round(PER_DAY / 24 / AGENTS)} events per agent; load average at start ${load()}`,
  );
  const db = await openDb({ engine: 'postgres', dsn, poolSize: 2 });
  delete process.env.E2E_AUDIT_STORE;
  // AUDIT_QUERY_PROFILE=dir: agentgate's processes write V8 CPU profiles there when they stop.
  const profile = process.env.AUDIT_QUERY_PROFILE;
  const components = await startAgentgate({ name: 'bench-query', ...(profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profile}`] } : {}) });
  const store = new AuditStore(await openDb({ engine: 'postgres', dsn }), `bench-query-${process.pid}`, systemClock);
  try {
    await store.open(); // the schema exists once the webhook is up
    await db.query(`SET maintenance_work_mem = '256MB'`).catch(() => undefined);
    const admin = clientFromKubeconfig(clusterEnv().kubeconfigs.admin);
    await eventually(
      async () => (await request(admin, 'GET', `/apis/audit.agentgate.io/v1alpha1/namespaces/${AGENTGATE_NAMESPACE}/auditevents?limit=1`)).status === 200,
      60_000,
      'the audit API through the apiserver',
    );
    admin.agent.destroy();
    console.log(`filling day 0; load ${load()}`);
    let secs = await fillDay(db, 0);
    console.log(`filled day 0 (${PER_DAY.toLocaleString('en')} events) in ${f(secs, 1)} s${secs ? ` (${f(PER_DAY / secs, 0)} events/s)` : ' (reused)'}`);
    const cpu = new CpuAccount({ webhook: components.webhook.child.pid });
    const small = SCALING ? await measure('1 day', PER_DAY, store, db, cpu) : undefined;
    secs = 0;
    for (let d = 1; d < DAYS; d++) secs += await fillDay(db, d);
    console.log(`filled days 1..${DAYS - 1} in ${f(secs, 1)} s${secs ? ` (${f(((DAYS - 1) * PER_DAY) / secs, 0)} events/s)` : ' (reused)'}`);
    const big = await measure(`${DAYS} days`, PER_DAY * DAYS, store, db, cpu);
    if (small) console.log(`scaling: ${DAYS}x the events -> ${f(big.p99 / small.p99)}x the p99 through the apiserver; load average at end ${load()}`);
    // The maintenance step of the webhook's hourly retention run (store.clusterClosed), until
    // the queried day is clustered: it is the newest closed day the bench owns.
    const queried = partitionFor(dayStart(0)).name;
    let cluster: { partition: string; ms: number } | undefined;
    for (let i = 0; i < DAYS + 2 && !cluster; i++) {
      const done = await store.clusterClosed(new Date());
      if (!done.length) break;
      cluster = done.find((c) => c.partition === queried);
    }
    if (!cluster) throw new Error(`the maintenance step did not cluster ${queried}: the clustered figure cannot be measured`);
    console.log(
      `[maintenance] CLUSTER ${queried} (${PER_DAY.toLocaleString('en')} events) by (agent, time) + ANALYZE: ${f(cluster.ms / 1000, 1)} s, the time reads of that day wait on its ACCESS EXCLUSIVE lock; load ${load()}`,
    );
    const clustered = await measure(`${DAYS} days, queried day clustered`, PER_DAY * DAYS, store, db, cpu);
    console.log(
      `clustering: p99 ${f(big.p99)} -> ${f(clustered.p99)} ms through the apiserver (${f(clustered.p99 / big.p99)}x), p50 ${f(big.p50)} -> ${f(clustered.p50)} ms`,
    );
    goal(
      clustered.p99 <= 100,
      `kubectl get auditevents -l agentgate.io/agent=X for one hour over ${(PER_DAY * DAYS).toLocaleString('en')} stored events, closed days clustered: p99 ${f(clustered.p99)} ms through the apiserver (goal <= 100 ms over 10 M${PER_DAY * DAYS < 10_000_000 ? '; fewer events stored here' : ''})`,
    );
  } finally {
    if (!process.env.AUDIT_QUERY_KEEP) await dropDays(db);
    await store.close();
    await db.close();
    await stopAgentgate(components);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
