// The audit record in a database: appends with group commit and the per-writer hash
// chain, reads by selectors with keyset pagination, changes for watches, the outcome
// join (admitted -> completed/failed) and retention by dropping day partitions.
//
// Group commit: appends queue while one INSERT is in flight; the next INSERT takes the
// whole queue as one multi-row statement (one transaction, one WAL flush), so
// throughput grows with concurrency while each caller still waits for its own row to
// be committed (no record, no call). The chain stays strictly sequential because one
// process has one writer and batches are chained in order.
import type { AuditEventSpec } from '../api/types.js';
import { appendEvent, emptyHead } from '../lib/audit-chain.js';
import type { ChainHead, UnchainedSpec } from '../lib/audit-chain.js';
import type { SettledApprovalCall } from '../lib/approval-confirm.js';
import type { Clock } from '../lib/clock.js';
import type { Db } from './db.js';
import { AGENT_TIME_INDEX, closedPartitions, expiredPartitions, migrate, partitionFor, PARTITION_PREFIX, TABLE } from './schema.js';
import { addFieldSelector, addLabelSelector, specFieldColumn, whereSql } from './selectors.js';
import type { Where } from './selectors.js';

export type Outcome = 'Admitted' | 'Completed' | 'Failed' | 'Recorded';
type Source = 'admission' | 'apiserver';

export interface StoredEvent {
  rv: string;
  name: string;
  spec: AuditEventSpec;
  source: Source;
  outcome: Outcome;
  code?: number;
}

/** What one settle() did: how many records it settled, and those of calls that named an ApprovalRequest. */
interface Settled {
  count: number;
  approvalCalls: SettledApprovalCall[];
}

interface AppendOptions {
  source?: Source;
  outcome?: Outcome;
  code?: number;
}

interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

/**
 * An event with only some top-level fields of its spec (and its chain's writer and
 * sequence; its time as the stored instant, to the microsecond): what a Table of printer
 * columns needs, without parsing each whole spec.
 */
export interface SummaryEvent extends Omit<StoredEvent, 'spec'> {
  spec: Partial<Omit<AuditEventSpec, 'chain'>> &
    Pick<AuditEventSpec, (typeof SUMMARY_SPEC_FIELDS)[number]> & { chain: Pick<AuditEventSpec['chain'], 'writer' | 'sequence'> };
}
/** The spec fields every summary carries: what a served object's metadata is made of (audit/object.ts). */
const SUMMARY_SPEC_FIELDS = ['time', 'agent', 'decision'] as const;

interface ListResult<E = StoredEvent> {
  items: E[];
  resourceVersion: string;
  continue?: string;
}

export class InvalidContinue extends Error {}

/**
 * Rows per INSERT. The statement takes one array per column (INSERT ... SELECT FROM
 * unnest), so its size does not grow with the batch: one apiserver audit batch (400
 * events, the batch backend's default) and the admissions queued beside it fit in one.
 */
const MAX_BATCH = 1000;
/** The inserted columns and their SQL types, in the order of columnValues. */
const COLUMNS = [
  ['time', 'timestamptz'],
  ['writer', 'text'],
  ['sequence', 'bigint'],
  ['name', 'text'],
  ['agent', 'text'],
  ['user_name', 'text'],
  ['namespace', 'text'],
  ['operation', 'text'],
  ['resource', 'text'],
  ['decision', 'text'],
  ['source', 'text'],
  ['outcome', 'text'],
  ['status_code', 'integer'],
  ['request_uid', 'text'],
  ['spec', 'jsonb'],
] as const;
const COLUMN_NAMES = COLUMNS.map(([c]) => c).join(', ');
/**
 * One statement for any number of rows: one array parameter per column. Against a
 * multi-row VALUES list of 15 parameters a row it halves PostgreSQL's CPU per row
 * (measured ~80 -> ~50 us) and its text never changes, so the server plans it once.
 */
const INSERT_ROWS = `INSERT INTO ${TABLE} (${COLUMN_NAMES}) SELECT * FROM unnest(${COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) RETURNING rv::text AS rv, name`;
/** INSERT_ROWS is prepared once per connection: re-parsing and planning it cost PostgreSQL ~0.1 ms of CPU per append. */
const INSERT_ROWS_PREPARED = 'agentgate_audit_insert_rows';
/**
 * A batch of one (every append of a lone, sequential call) as plain scalar parameters: no
 * array literals to build and escape, no unnest for PostgreSQL to run (measured back to back:
 * server time ~70 -> ~52 us, round trip ~55 us shorter). Prepared once per connection too.
 */
const INSERT_ROW = `INSERT INTO ${TABLE} (${COLUMN_NAMES}) VALUES (${COLUMNS.map(([, t], i) => `$${i + 1}::${t}`).join(', ')}) RETURNING rv::text AS rv, name`;
const INSERT_ROW_PREPARED = 'agentgate_audit_insert_row';
const DAY_MS = 86_400_000;
/** A day's partition is clustered once it ended this long ago: late events (an apiserver audit batch retried) have arrived. */
const CLUSTER_GRACE_MS = 3_600_000;
const SELECT = `SELECT rv::text AS rv, name, spec, source, outcome, status_code FROM ${TABLE}`;

/** The object name of an event: the writer and its zero-padded sequence (sortable). */
/** One row's values, in COLUMNS order, for a chained event. */
function columnValues(spec: AuditEventSpec, name: string, source: Source, outcome: Outcome, code: number | null): unknown[] {
  return [
    spec.time,
    spec.chain.writer,
    spec.chain.sequence,
    name,
    spec.agent ?? '',
    spec.user ?? '',
    spec.namespace ?? '',
    spec.operation,
    spec.resource ?? '',
    spec.decision,
    source,
    outcome,
    code,
    spec.requestUID ?? '',
    JSON.stringify(spec),
  ];
}

export function eventName(writer: string, sequence: number): string {
  return `${writer}-${String(sequence).padStart(10, '0')}`;
}

interface Pending {
  spec: UnchainedSpec;
  opts: AppendOptions;
  resolve: (e: StoredEvent) => void;
  reject: (err: unknown) => void;
}

interface Row {
  rv: string;
  name: string;
  spec: AuditEventSpec | string;
  source: Source;
  outcome: Outcome;
  status_code: number | null;
}

/** A row of a list page; list_rv only on a first page, name null when it matched nothing. */
type PageRow = Row & { t: string; writer: string; seq: string | number | bigint; list_rv?: string };

function fromRow(r: Row): StoredEvent {
  const spec = typeof r.spec === 'string' ? (JSON.parse(r.spec) as AuditEventSpec) : r.spec;
  return {
    rv: String(r.rv),
    name: r.name,
    spec,
    source: r.source,
    outcome: r.outcome,
    ...(r.status_code !== null && r.status_code !== undefined ? { code: Number(r.status_code) } : {}),
  };
}

export class AuditStore {
  private head: ChainHead;
  private headKnown = false;
  private queue: Pending[] = [];
  private flushing = false;
  /** The group commit's current run (it takes whatever is queued while it runs). */
  private flushRun: Promise<void> = Promise.resolve();
  private readonly partitions = new Set<string>();
  /** Batch sizes of the last commits, for metrics and the bench. */
  lastBatch = 0;

  constructor(
    readonly db: Db,
    readonly writer: string,
    private readonly clock: Clock,
  ) {
    this.head = emptyHead(writer);
  }

  /** Migrates the schema, makes today's and tomorrow's partitions, resumes the chain. */
  async open(): Promise<number[]> {
    const applied = await migrate(this.db);
    await this.ensurePartitions(this.clock.now());
    await this.resumeHead();
    return applied;
  }

  get chainHead(): ChainHead {
    return this.head;
  }

  /** The writer's last committed event, from the database (after a restart or an ambiguous failure). */
  private async resumeHead(): Promise<void> {
    // Aliases differ from the columns: ORDER BY an alias of sequence::text would sort as text.
    const rows = await this.db.query<{ seq: string; spec: AuditEventSpec | string }>(
      `SELECT sequence::text AS seq, spec FROM ${TABLE} WHERE writer = $1 ORDER BY sequence DESC LIMIT 1`,
      [this.writer],
    );
    const r = rows[0];
    if (r) {
      const spec = typeof r.spec === 'string' ? (JSON.parse(r.spec) as AuditEventSpec) : r.spec;
      this.head = { writer: this.writer, sequence: Number(r.seq), hash: spec.chain.hash };
    } else this.head = emptyHead(this.writer);
    this.headKnown = true;
  }

  async ensurePartitions(now: Date): Promise<void> {
    for (const t of [now, new Date(now.getTime() + DAY_MS)]) await this.ensurePartition(t);
  }

  private async ensurePartition(t: Date): Promise<void> {
    const p = partitionFor(t);
    if (this.partitions.has(p.name)) return;
    try {
      await this.db.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF ${TABLE} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`);
    } catch (err) {
      // Another replica made it at the same moment.
      const exists = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname = $1`, [p.name]);
      if (!exists[0]?.n) throw err;
    }
    this.partitions.add(p.name);
  }

  /** Appends one event; resolves once it is committed (group commit with concurrent appends). */
  append(spec: UnchainedSpec, opts: AppendOptions = {}): Promise<StoredEvent> {
    return new Promise((resolve, reject) => {
      this.queue.push({ spec, opts, resolve, reject });
      if (!this.flushing) this.flushRun = this.flush();
    });
  }

  /** Resolves once every append queued so far is committed or refused: the group commit is flushed. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushRun;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const stored = await this.commit(batch);
          for (const [i, p] of batch.entries()) p.resolve(stored[i]!);
        } catch (err) {
          // The INSERT may have committed even though we saw an error: the head is
          // re-read before the next batch so the chain never forks or leaves a gap.
          this.headKnown = false;
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(batch: Pending[]): Promise<StoredEvent[]> {
    if (!this.headKnown) await this.resumeHead();
    let head = this.head;
    const columns: unknown[][] = COLUMNS.map(() => []);
    const out: StoredEvent[] = [];
    const days = new Set<number>();
    for (const p of batch) {
      const { spec, head: next } = appendEvent(head, p.spec);
      head = next;
      days.add(Math.floor(Date.parse(spec.time) / DAY_MS));
      const name = eventName(this.writer, next.sequence);
      const source = p.opts.source ?? 'admission';
      const outcome = p.opts.outcome ?? 'Admitted';
      const row = columnValues(spec, name, source, outcome, p.opts.code ?? null);
      for (let c = 0; c < row.length; c++) columns[c]!.push(row[c]);
      out.push({ rv: '', name, spec, source, outcome, ...(p.opts.code !== undefined ? { code: p.opts.code } : {}) });
    }
    // A batch spans a day or two: one partition check per day, not per row.
    for (const d of days) await this.ensurePartition(new Date(d * DAY_MS));
    const rows =
      batch.length === 1
        ? await this.db.query<{ rv: string; name: string }>(
            INSERT_ROW,
            columns.map((c) => c[0]),
            INSERT_ROW_PREPARED,
          )
        : await this.db.query<{ rv: string; name: string }>(INSERT_ROWS, columns, INSERT_ROWS_PREPARED);
    this.head = head;
    this.lastBatch = batch.length;
    const rvByName = new Map(rows.map((r) => [r.name, String(r.rv)]));
    for (const e of out) e.rv = rvByName.get(e.name) ?? '';
    return out;
  }

  private where(q: Pick<ListQuery, 'labelSelector' | 'fieldSelector'>, namespace: string, managedBy: string): Where {
    const w: Where = { clauses: [], params: [] };
    addLabelSelector(w, q.labelSelector, managedBy);
    addFieldSelector(w, q.fieldSelector, namespace);
    return w;
  }

  /** A page of events, oldest first; `continue` is an opaque keyset token. */
  list(q: ListQuery, namespace: string, managedBy: string): Promise<ListResult> {
    return this.listPage(q, namespace, managedBy, 'spec', fromRow);
  }

  /** list() with only these top-level spec fields of each event (names of letters only). */
  listSummaries(q: ListQuery, namespace: string, managedBy: string, specFields: readonly string[]): Promise<ListResult<SummaryEvent>> {
    const fields = [...new Set([...SUMMARY_SPEC_FIELDS, ...specFields])].filter((f) => f !== 'time');
    for (const f of fields) if (!/^[A-Za-z]+$/.test(f)) throw new Error(`listSummaries: "${f}" is not a top-level spec field name`);
    // A field with a column of its own is read from it (free), others out of the jsonb
    // (each extraction costs PostgreSQL ~2 us a row; building one jsonb of all of them
    // cost more than reading the whole spec). The columns hold '' where the spec has no
    // such field.
    const columns = fields.map((f) => specFieldColumn(f));
    const select = fields.map((f, i) => `${columns[i] ?? `spec->'${f}'`} AS f${i}`).join(', ');
    return this.listPage(q, namespace, managedBy, select, (r) => {
      const row = r as PageRow & Record<string, unknown>;
      const spec: Record<string, unknown> = { time: r.t, chain: { writer: r.writer, sequence: Number(r.seq) } };
      fields.forEach((f, i) => {
        const v = row[`f${i}`];
        if (v !== null && v !== undefined && !(columns[i] && v === '')) spec[f] = v;
      });
      return {
        rv: String(r.rv),
        name: r.name,
        spec: spec as SummaryEvent['spec'],
        source: r.source,
        outcome: r.outcome,
        ...(r.status_code !== null && r.status_code !== undefined ? { code: Number(r.status_code) } : {}),
      };
    });
  }

  private async listPage<E>(q: ListQuery, namespace: string, managedBy: string, columnsSql: string, toEvent: (r: PageRow) => E): Promise<ListResult<E>> {
    const w = this.where(q, namespace, managedBy);
    let snapshotRv: string | undefined;
    if (q.continue) {
      let token: { t: string; w: string; s: number; rv: string };
      try {
        token = JSON.parse(Buffer.from(q.continue, 'base64url').toString('utf8'));
        if (typeof token.t !== 'string' || typeof token.w !== 'string' || typeof token.s !== 'number') throw new Error('shape');
      } catch {
        throw new InvalidContinue('the continue token is not valid; start the list again without it');
      }
      w.clauses.push(`(time, writer, sequence) > ($${w.params.length + 1}::timestamptz, $${w.params.length + 2}, $${w.params.length + 3})`);
      w.params.push(token.t, token.w, token.s);
      snapshotRv = token.rv;
    }
    const limit = q.limit && q.limit > 0 ? Math.min(q.limit, 5000) : 0;
    const page = `SELECT rv::text AS rv, name, ${columnsSql}, source, outcome, status_code, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, writer, sequence AS seq FROM ${TABLE} ${whereSql(w)} ORDER BY time, writer, sequence ${limit ? `LIMIT ${limit + 1}` : ''}`;
    // A first page also needs the list's resourceVersion (where a watch resumes): taken in
    // the same statement, so from the same snapshot and without a second round trip. It is
    // max(rv), one index descent per day partition, not the sequence's last value, which
    // counts rows still being inserted and would let a watch from it miss them. The outer
    // order is by t, the time's fixed-width UTC text (its byte order is the time order):
    // a timestamptz column would cost the client a Date per row that nothing reads.
    const rows = snapshotRv
      ? await this.db.query<PageRow>(page, w.params)
      : await this.db.query<PageRow>(
          `SELECT m.list_rv, p.* FROM (SELECT coalesce(max(rv), 0)::text AS list_rv FROM ${TABLE}) AS m LEFT JOIN LATERAL (${page}) AS p ON TRUE ORDER BY p.t COLLATE "C", p.writer, p.seq`,
          w.params,
        );
    const resourceVersion = snapshotRv ?? String(rows[0]?.list_rv ?? '0');
    const found = snapshotRv ? rows : rows.filter((r) => r.name !== null);
    const more = limit > 0 && found.length > limit;
    const items = more ? found.slice(0, limit) : found;
    const last = items[items.length - 1];
    return {
      items: items.map(toEvent),
      resourceVersion,
      ...(more && last
        ? { continue: Buffer.from(JSON.stringify({ t: last.t, w: last.writer, s: Number(last.seq), rv: resourceVersion })).toString('base64url') }
        : {}),
    };
  }

  async get(name: string): Promise<StoredEvent | undefined> {
    const rows = await this.db.query<Row>(`${SELECT} WHERE name = $1 LIMIT 1`, [name]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Events added or changed after rv (watch), in rv order. */
  async changesSince(
    rv: string,
    q: Pick<ListQuery, 'labelSelector' | 'fieldSelector'>,
    namespace: string,
    managedBy: string,
    limit = 500,
  ): Promise<StoredEvent[]> {
    const w = this.where(q, namespace, managedBy);
    w.params.push(rv);
    w.clauses.push(`rv > $${w.params.length}::bigint`);
    const rows = await this.db.query<Row>(`${SELECT} ${whereSql(w)} ORDER BY rv LIMIT ${limit}`, w.params);
    return rows.map(fromRow);
  }

  /**
   * The apiserver's own outcome for admitted calls: Completed (2xx) or Failed, with the
   * status code. Only records still Admitted change, so a replayed audit batch is harmless.
   */
  async settle(results: ReadonlyArray<{ name: string; code: number }>): Promise<Settled> {
    if (!results.length) return { count: 0, approvalCalls: [] };
    // One statement per batch (an audit batch carries hundreds): the first result of a
    // record wins, as the row is settled once (outcome = 'Admitted' guards it). Records of
    // calls that named an ApprovalRequest come back whole enough to confirm it
    // (lib/approval-confirm.ts); every other row returns only its outcome.
    const rows = await this.db.query<{ outcome: 'Completed' | 'Failed'; call: Omit<SettledApprovalCall, 'outcome'> | null }>(
      `UPDATE ${TABLE} AS t SET outcome = CASE WHEN v.code BETWEEN 200 AND 299 THEN 'Completed' ELSE 'Failed' END, status_code = v.code, rv = nextval('agentgate_audit_rv')
       FROM (SELECT DISTINCT ON (name) name, code FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS u(name, code, i) ORDER BY name, i) AS v
       WHERE t.name = v.name AND t.outcome = 'Admitted'
       RETURNING t.outcome, CASE WHEN t.spec ? 'approvalRequest' THEN jsonb_build_object('record', t.name, 'approvalRequest', t.spec->'approvalRequest',
         'agent', COALESCE(t.spec->'agent', '""'), 'decision', t.spec->'decision', 'requestUID', t.spec->'requestUID', 'fingerprint', COALESCE(t.spec->'objectDigest', '""')) END AS call`,
      [results.map((r) => r.name), results.map((r) => r.code)],
      'agentgate_audit_settle',
    );
    const approvalCalls = rows.flatMap((r) => (r.call ? [{ ...r.call, outcome: r.outcome }] : []));
    return { count: rows.length, approvalCalls };
  }

  /** Every writer's last event (for checkpoints and verification). */
  async heads(): Promise<ChainHead[]> {
    const rows = await this.db.query<{ writer: string; seq: string; hash: string }>(
      `SELECT DISTINCT ON (writer) writer, sequence::text AS seq, spec->'chain'->>'hash' AS hash FROM ${TABLE} ORDER BY writer, sequence DESC`,
    );
    return rows.map((r) => ({ writer: r.writer, sequence: Number(r.seq), hash: r.hash }));
  }

  /** Drops day partitions older than the retention; returns their names. */
  async dropExpired(now: Date, retentionMs: number): Promise<string[]> {
    const rows = await this.db.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`,
      [TABLE],
    );
    const drop = expiredPartitions(
      rows.map((r) => r.relname).filter((n) => n.startsWith(PARTITION_PREFIX)),
      now,
      retentionMs,
    );
    for (const name of drop) {
      await this.db.query(`DROP TABLE IF EXISTS ${name}`);
      this.partitions.delete(name);
    }
    return drop;
  }

  /**
   * CLUSTER of closed day partitions on (agent, time): rows arrive in time order with the
   * agents interleaved, so one agent's hour is one heap page per event until the day is
   * rewritten in agent order, after which it is a few adjacent pages. Only days that ended
   * CLUSTER_GRACE_MS ago, newest first, at most max a call, each once (pg_index
   * indisclustered). The cost: CLUSTER rewrites the partition under an ACCESS EXCLUSIVE
   * lock, so reads of that day (and a late write to it) wait for its duration, seconds
   * per million rows (bench/audit-query.ts prints it); writes of today never wait. Not on
   * PGlite: its one connection would hold every append, and so every agent call, meanwhile.
   */
  async clusterClosed(now: Date, max = 1): Promise<Array<{ partition: string; ms: number }>> {
    if (this.db.engine !== 'postgres') return [];
    const rows = await this.db.query<{ partition: string; index: string; clustered: boolean }>(
      `SELECT c.relname AS partition, ic.relname AS index, x.indisclustered AS clustered
         FROM pg_inherits pi
         JOIN pg_class c ON c.oid = pi.inhrelid
         JOIN pg_class p ON p.oid = pi.inhparent AND p.relname = $1
         JOIN pg_index x ON x.indrelid = c.oid
         JOIN pg_class ic ON ic.oid = x.indexrelid
         JOIN pg_inherits ii ON ii.inhrelid = ic.oid
         JOIN pg_class pidx ON pidx.oid = ii.inhparent AND pidx.relname = $2`,
      [TABLE, AGENT_TIME_INDEX],
    );
    const pending = new Map(rows.filter((r) => !r.clustered).map((r) => [r.partition, r.index]));
    const done: Array<{ partition: string; ms: number }> = [];
    for (const partition of closedPartitions([...pending.keys()], now, CLUSTER_GRACE_MS).slice(0, max)) {
      const t0 = performance.now();
      await this.db.query(`CLUSTER ${partition} USING ${pending.get(partition)}`);
      await this.db.query(`ANALYZE ${partition}`);
      done.push({ partition, ms: performance.now() - t0 });
    }
    return done;
  }

  /**
   * Stores an event that already carries its chain (the one-time import of AuditEvent
   * custom resources). Idempotent: an event already present is skipped.
   */
  async importChained(spec: AuditEventSpec, name: string): Promise<boolean> {
    await this.ensurePartition(new Date(spec.time));
    const exists = await this.db.query(`SELECT 1 FROM ${TABLE} WHERE writer = $1 AND sequence = $2 LIMIT 1`, [spec.chain.writer, spec.chain.sequence]);
    if (exists.length) return false;
    const row = columnValues(spec, name, 'admission', 'Admitted', null);
    await this.db.query(INSERT_ROW, row);
    // An imported event of this very writer moves its head: the next append re-reads it.
    if (spec.chain.writer === this.writer) this.headKnown = false;
    return true;
  }

  async getMeta(key: string): Promise<string | undefined> {
    const rows = await this.db.query<{ value: string }>(`SELECT value FROM agentgate_audit_meta WHERE key = $1`, [key]);
    return rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.query(`INSERT INTO agentgate_audit_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]);
  }

  /**
   * Which of these apiserver auditIDs are already recorded (a retried audit batch).
   * within, when every one of the events has its time, bounds the search to the day
   * partitions those times fall in (a retry carries the same times) instead of all of
   * the retention's.
   */
  async knownApiserverIds(ids: readonly string[], within?: { from: Date; to: Date }): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await this.db.query<{ request_uid: string }>(
      `SELECT request_uid FROM ${TABLE} WHERE source = 'apiserver' AND request_uid = ANY($1::text[])${within ? ' AND time >= $2::timestamptz AND time <= $3::timestamptz' : ''}`,
      within ? [ids, within.from.toISOString(), within.to.toISOString()] : [ids],
    );
    return new Set(rows.map((r) => r.request_uid));
  }

  /** Closes the database once the group commit is flushed (a queued append is never dropped). */
  async close(): Promise<void> {
    await this.idle();
    await this.db.close();
  }
}
