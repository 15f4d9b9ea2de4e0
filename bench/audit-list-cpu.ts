// The audit API's own CPU to serve one list: the handler (audit/apiserver/handler.ts) over
// a real store on PostgreSQL (hack/postgres/up.sh), driven in-process without TLS, authn
// or authz (both stubbed allow), so the figure is the store page's client side (pg
// parsing) plus turning rows into the response (Table for kubectl get, JSON for -o json).
// CPU ms per list of this process (process.cpuUsage), load-robust, and as a ratio to the
// same run's store page alone (what serving adds to reading); latency for reference.
//   node dist/bench/audit-list-cpu.js   env: AUDIT_LIST_ROWS (417), AUDIT_LIST_RUNS (200), AUDIT_LIST_ONLY,
// AUDIT_LIST_KEEP=1 leaves its rows (writer bench-list, two days ago) in the store
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openDb } from '../audit/db.js';
import { partitionFor, TABLE } from '../audit/schema.js';
import { auditApiHandler } from '../audit/apiserver/handler.js';
import { auditResource, columnSpecFields } from '../audit/apiserver/resource.js';
import { AuditStore } from '../audit/store.js';
import { systemClock } from '../lib/clock.js';
import { newLogger } from '../lib/log.js';
import { f, FILL_ROWS_SQL, load, pct, pgDsn } from './_audit-common.js';

const ROWS = Number(process.env.AUDIT_LIST_ROWS ?? 417);
const RUNS = Number(process.env.AUDIT_LIST_RUNS ?? 200);
/** AUDIT_LIST_ONLY=Table or JSON: one of the two (a profile of one). */
const ONLY = process.env.AUDIT_LIST_ONLY;
const NS = 'agentgate-system';
const WRITER = 'bench-list';
const AGENT = 'bench-list-agent-000';
const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const DAY = 86_400_000;
const day = new Date(Math.floor(Date.now() / DAY) * DAY - 2 * DAY);
const from = new Date(day.getTime() + 12 * 3_600_000);
const to = new Date(from.getTime() + 3_600_000);

/** One GET through the handler; resolves with the body's byte count. */
function get(handler: ReturnType<typeof auditApiHandler>, url: string, accept?: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve) => {
    const req = Object.assign(new EventEmitter(), {
      url,
      method: 'GET',
      headers: accept ? { accept } : {},
      socket: { getPeerCertificate: () => ({}) },
    }) as unknown as IncomingMessage;
    let code = 0;
    let sent = false;
    const res = {
      get headersSent() {
        return sent;
      },
      writeHead(c: number) {
        code = c;
        sent = true;
      },
      end(body: string | Buffer) {
        resolve({ code, body: String(body) });
      },
    } as unknown as ServerResponse;
    handler(req, res);
  });
}

async function main(): Promise<void> {
  const dsn = pgDsn();
  if (!dsn) throw new Error('needs PostgreSQL: hack/postgres/up.sh');
  const store = new AuditStore(await openDb({ engine: 'postgres', dsn }), `bench-list-${process.pid}`, systemClock);
  await store.open();
  const p = partitionFor(day);
  await store.db.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF ${TABLE} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
  await store.db.query(`DELETE FROM ${TABLE} WHERE writer = $1`, [WRITER]);
  // ROWS events of one agent in the hour, with the same plausible specs as audit-query.ts.
  await store.db.query(
    `INSERT INTO ${TABLE} ${FILL_ROWS_SQL}
     FROM (
       SELECT i, $1::timestamptz + (i * 3600000.0 / $3) * interval '1 millisecond' AS t, $4::text AS a, 'team-' || (i % 50) AS ns,
         (ARRAY['CREATE','UPDATE','PATCH','DELETE','CREATE','UPDATE'])[1 + i % 6] AS op,
         (ARRAY['configmaps','deployments','services','secrets','pods'])[1 + i % 5] AS res,
         CASE WHEN i % 20 = 0 THEN 'Denied' WHEN i % 50 = 1 THEN 'Held' ELSE 'Allowed' END AS dec,
         md5(i::text || 'uid') AS uid
       FROM generate_series(0, $3::int - 1) AS i) g`,
    [from.toISOString(), WRITER, ROWS, AGENT],
  );
  const handler = auditApiHandler({
    store,
    namespace: NS,
    authenticator: { authenticate: async () => ({ ok: true, user: { username: 'admin', groups: ['system:masters'], extra: {} } }) } as never,
    authorize: async () => ({ allowed: true }),
    log: newLogger('bench'),
  });
  const q = new URLSearchParams({
    labelSelector: `agentgate.io/agent=${AGENT}`,
    fieldSelector: `spec.time>=${from.toISOString()},spec.time<${to.toISOString()}`,
    limit: '500',
  });
  const url = `/apis/audit.agentgate.io/v1alpha1/namespaces/${NS}/auditevents?${q}`;
  const out: string[] = [];
  for (const [label, accept] of [
    ['Table', TABLE_ACCEPT],
    ['JSON', undefined],
  ] as const) {
    if (ONLY && ONLY !== label) continue;
    const first = await get(handler, url, accept);
    const parsed = JSON.parse(first.body) as { rows?: unknown[]; items?: unknown[] };
    const n = (parsed.rows ?? parsed.items ?? []).length;
    if (first.code !== 200 || n !== ROWS) throw new Error(`${label}: ${first.code}, ${n} rows of ${ROWS}: ${first.body.slice(0, 300)}`);
    for (let i = 0; i < 20; i++) await get(handler, url, accept);
    const lat: number[] = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await get(handler, url, accept);
      lat.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    // The same-run baseline: the store's page alone, as the handler reads it for this output.
    const lq = { labelSelector: q.get('labelSelector')!, fieldSelector: q.get('fieldSelector')!, limit: 500 };
    const s0 = process.cpuUsage();
    for (let i = 0; i < RUNS; i++)
      await (label === 'Table' ? store.listSummaries(lq, NS, 'agentgate', columnSpecFields(auditResource())) : store.list(lq, NS, 'agentgate'));
    const sc = process.cpuUsage(s0);
    const storeMs = (sc.user + sc.system) / 1000 / RUNS;
    out.push(
      `${label}: ${f((c.user + c.system) / 1000 / RUNS, 2)} ms CPU per list of ${ROWS} rows (${first.body.length} bytes), ${f((c.user + c.system) / 1000 / RUNS / storeMs)}x the store's page alone (${f(storeMs, 2)} ms); p50 ${f(pct(lat, 50))} ms p99 ${f(pct(lat, 99))} ms; load ${load()}`,
    );
  }
  console.log(out.join('\n'));
  if (!process.env.AUDIT_LIST_KEEP) await store.db.query(`DELETE FROM ${TABLE} WHERE writer = $1`, [WRITER]);
  await store.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
