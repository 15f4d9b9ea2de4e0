// The audit store's append path alone (no cluster): records committed per second and
// per-record latency with 1 and 16 appends in flight, on PostgreSQL (when
// hack/postgres/up.sh runs) and on PGlite. 16 in flight against 1 shows what group
// commit buys: concurrent appends share one INSERT and one WAL flush.
//   node dist/bench/audit-store.js [appends per cell, default 2000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb } from '../audit/db.js';
import type { StoreConfig } from '../audit/db.js';
import { AuditStore } from '../audit/store.js';
import { readRunEnv } from '../harness/cluster.js';
import { systemClock } from '../lib/clock.js';

const N = Number(process.argv[2] ?? 2000);
const spec = (i: number) => ({
  time: new Date().toISOString(),
  agent: 'bench-bot',
  user: 'agent:bench',
  operation: 'CREATE',
  group: '',
  version: 'v1',
  resource: 'configmaps',
  namespace: 'bench',
  name: `cm-${i}`,
  decision: 'Allowed' as const,
  reason: 'covered by grant bench',
  requestUID: `uid-${i}`,
});

async function cell(store: AuditStore, inFlight: number): Promise<{ rps: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < N) {
        const i = next++;
        const s = process.hrtime.bigint();
        await store.append(spec(i));
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { rps: N / secs, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

async function main(): Promise<void> {
  const engines: Array<[string, StoreConfig, () => void]> = [];
  const dsn = readRunEnv('postgres').PG_DSN;
  if (dsn) engines.push(['postgres', { engine: 'postgres', dsn }, () => undefined]);
  else console.log('postgres: skipped (start one with hack/postgres/up.sh)');
  const dir = mkdtempSync(path.join(tmpdir(), 'agentgate-pglite-bench-'));
  engines.push(['pglite', { engine: 'pglite', dataDir: dir }, () => rmSync(dir, { recursive: true, force: true })]);
  console.log(`audit store append: ${N} records per cell; load generator and database share this host's CPUs`);
  for (const [name, config, cleanup] of engines) {
    const store = new AuditStore(await openDb(config), `bench-${process.pid}`, systemClock);
    try {
      await store.open();
      await cell(store, 16); // warm-up
      const one = await cell(store, 1);
      const sixteen = await cell(store, 16);
      const f = (x: number, d = 2) => x.toFixed(d);
      console.log(`${name.padEnd(8)} 1 in flight:  ${f(one.rps, 0).padStart(6)} records/s  p50 ${f(one.p50)} ms  p99 ${f(one.p99)} ms`);
      console.log(
        `${name.padEnd(8)} 16 in flight: ${f(sixteen.rps, 0).padStart(6)} records/s  p50 ${f(sixteen.p50)} ms  p99 ${f(sixteen.p99)} ms  (${f(sixteen.rps / one.rps)}x the 1-in-flight rate: group commit)`,
      );
      await store.db.query(`DELETE FROM agentgate_audit_events WHERE writer = $1`, [store.writer]);
    } finally {
      await store.close();
      cleanup();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
