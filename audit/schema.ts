// The audit store's schema as a small versioned migration table. Each migration runs at
// most once, atomically, under an advisory lock, so replicas starting together agree.
// The same SQL runs on PostgreSQL (15+) and PGlite.
//
// audit_events is range-partitioned by time, one partition per UTC day: retention drops
// whole partitions (no row-by-row DELETE, no bloat), and a query over the last hour
// touches one or two of them. Rows keep the spec exactly as hashed (jsonb) plus the
// columns that selectors use, each indexed with time.
import type { Db } from './db.js';

export const TABLE = 'agentgate_audit_events';
export const PARTITION_PREFIX = `${TABLE}_p`;
/** The index one agent's time range is read through; closed partitions are clustered on it (store.ts clusterClosed). */
export const AGENT_TIME_INDEX = `${TABLE}_agent_time`;

interface Migration {
  version: number;
  name: string;
  statements: string[];
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit events, partitioned by day',
    statements: [
      `CREATE SEQUENCE agentgate_audit_rv`,
      `CREATE TABLE ${TABLE} (
        rv bigint NOT NULL DEFAULT nextval('agentgate_audit_rv'),
        time timestamptz NOT NULL,
        writer text NOT NULL,
        sequence bigint NOT NULL,
        name text NOT NULL,
        agent text NOT NULL DEFAULT '',
        user_name text NOT NULL DEFAULT '',
        namespace text NOT NULL DEFAULT '',
        operation text NOT NULL,
        resource text NOT NULL DEFAULT '',
        decision text NOT NULL,
        source text NOT NULL DEFAULT 'admission',
        outcome text NOT NULL DEFAULT 'Admitted',
        status_code integer,
        request_uid text NOT NULL DEFAULT '',
        spec jsonb NOT NULL,
        PRIMARY KEY (time, writer, sequence)
      ) PARTITION BY RANGE (time)`,
      `CREATE INDEX ${AGENT_TIME_INDEX} ON ${TABLE} (agent, time)`,
      `CREATE INDEX ${TABLE}_namespace_time ON ${TABLE} (namespace, time)`,
      `CREATE INDEX ${TABLE}_decision_time ON ${TABLE} (decision, time)`,
      `CREATE INDEX ${TABLE}_writer_sequence ON ${TABLE} (writer, sequence)`,
      `CREATE INDEX ${TABLE}_request_uid ON ${TABLE} (request_uid)`,
      `CREATE INDEX ${TABLE}_name ON ${TABLE} (name)`,
      `CREATE INDEX ${TABLE}_rv ON ${TABLE} (rv)`,
      `CREATE TABLE agentgate_audit_meta (key text PRIMARY KEY, value text NOT NULL)`,
    ],
  },
];

const LOCK_ID = 0x61676174; // 'agat'

/** Applies the migrations not yet applied; returns the versions it applied. */
export async function migrate(db: Db): Promise<number[]> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS agentgate_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    // One DO block per migration: the check, the DDL and the bookkeeping commit together,
    // after the lock, so a second replica sees the version and skips.
    const body = m.statements.map((s) => `EXECUTE ${dollar(s)};`).join('\n');
    const before = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM agentgate_schema_migrations WHERE version = $1`, [m.version]);
    if (before[0]?.n) continue;
    await db.transaction([
      `SELECT pg_advisory_xact_lock(${LOCK_ID})`,
      `DO $migration$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM agentgate_schema_migrations WHERE version = ${m.version}) THEN
          ${body}
          INSERT INTO agentgate_schema_migrations (version, name) VALUES (${m.version}, ${dollar(m.name)});
        END IF;
      END $migration$`,
    ]);
    applied.push(m.version);
  }
  return applied;
}

function dollar(s: string): string {
  if (s.includes('$q$')) throw new Error('migration text may not contain $q$');
  return `$q$${s}$q$`;
}

/** The partition holding a UTC day, and its bounds. */
export function partitionFor(t: Date): { name: string; from: string; to: string } {
  const day = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const next = new Date(day.getTime() + 86_400_000);
  const ymd = day.toISOString().slice(0, 10).replace(/-/g, '');
  return { name: `${PARTITION_PREFIX}${ymd}`, from: day.toISOString(), to: next.toISOString() };
}

/** The UTC day a partition name stands for, or undefined if the name is not one of ours. */
export function partitionDay(name: string): Date | undefined {
  const m = new RegExp(`^${PARTITION_PREFIX}(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
}

/**
 * Partitions to drop under a retention: those whose whole day ended before now - retention
 * (so nothing younger than the retention is ever dropped; up to a day older is kept).
 */
export function expiredPartitions(names: readonly string[], now: Date, retentionMs: number): string[] {
  const cutoff = now.getTime() - retentionMs;
  return names.filter((n) => {
    const d = partitionDay(n);
    return d !== undefined && d.getTime() + 86_400_000 <= cutoff;
  });
}

/**
 * Partitions closed for clustering: whose day ended at least graceMs before now (late
 * events are rare by then), newest first (the most read).
 */
export function closedPartitions(names: readonly string[], now: Date, graceMs: number): string[] {
  const closed = names.filter((n) => {
    const d = partitionDay(n);
    return d !== undefined && d.getTime() + 86_400_000 + graceMs <= now.getTime();
  });
  return closed.sort().reverse();
}
