// One SQL dialect, two engines: PostgreSQL through node-postgres (production, many
// replicas) and PGlite, PostgreSQL compiled to WASM, in-process on a local directory
// (one replica, `make demo`). Everything above this file speaks only `Db`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Pool } from 'pg';
import type { WorkerReply, WorkerRequest } from './pglite-worker.js';

export interface Db {
  /**
   * One statement with $1.. parameters; one statement is one implicit transaction.
   * prepared: a name to keep this (constant) statement prepared under on each connection,
   * so it is parsed and planned once, not on every call (the append's INSERT). PGlite ignores it.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], prepared?: string): Promise<R[]>;
  /** Several statements in one transaction (migrations). */
  transaction(statements: readonly string[]): Promise<void>;
  close(): Promise<void>;
  readonly engine: 'postgres' | 'pglite';
}

export type StoreConfig = { engine: 'postgres'; dsn: string; poolSize?: number } | { engine: 'pglite'; dataDir?: string };

class PgDb implements Db {
  readonly engine = 'postgres' as const;
  constructor(private readonly pool: Pool) {}
  async query<R>(sql: string, params: readonly unknown[] = [], prepared?: string): Promise<R[]> {
    const values = params as unknown[];
    return (await this.pool.query(prepared ? { name: prepared, text: sql, values } : { text: sql, values })).rows as R[];
  }
  async transaction(statements: readonly string[]): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      for (const s of statements) await c.query(s);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
  close(): Promise<void> {
    return this.pool.end();
  }
}

/** PGlite on a worker thread (audit/pglite-worker.ts): the caller's event loop never waits on WASM. */
class PgliteWorkerDb implements Db {
  readonly engine = 'pglite' as const;
  private next = 0;
  private readonly pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  private failed: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.error !== undefined) p?.reject(new Error(r.error));
      else p?.resolve(r.rows ?? []);
    });
    const fail = (err: Error): void => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the PGlite worker exited (code ${code})`)));
  }

  private call(req: WorkerRequest extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never): Promise<unknown[]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.call({ op: 'query', sql, params: [...params] })) as R[];
  }
  async transaction(statements: readonly string[]): Promise<void> {
    await this.call({ op: 'transaction', statements: [...statements] });
  }
  async close(): Promise<void> {
    await this.call({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

/** Opens the store's database. Loaded lazily so one engine's module never loads for the other. */
export async function openDb(config: StoreConfig): Promise<Db> {
  if (config.engine === 'postgres') {
    const pg = (await import('pg')).default;
    // timestamptz and bigint come back as strings: the store converts them where it needs to.
    const pool = new pg.Pool({ connectionString: config.dsn, max: config.poolSize ?? 8, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    // An idle client losing its server must not crash the process: the next query fails and is reported.
    pool.on('error', () => undefined);
    return new PgDb(pool);
  }
  const start = async (): Promise<PgliteWorkerDb> => {
    const db = new PgliteWorkerDb(new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData: { dataDir: config.dataDir } }));
    await db.query('SELECT 1'); // opened before the store uses it
    return db;
  };
  // A new directory is initialised (initdb, a WASM instance of its own that PGlite never
  // frees: ~500 MB RSS for the life of the process) by a worker that is then ended.
  if (config.dataDir && !existsSync(path.join(config.dataDir, 'PG_VERSION'))) await (await start()).close();
  return start();
}

/** A DSN for logs: the password never leaves the process. */
export function redactDsn(dsn: string): string {
  try {
    const u = new URL(dsn);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable DSN>';
  }
}
