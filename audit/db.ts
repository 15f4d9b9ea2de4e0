// One SQL dialect, two engines: PostgreSQL through node-postgres (production, many
// replicas) and PGlite, PostgreSQL compiled to WASM, in-process on a local directory
// (one replica, `make demo`). Everything above this file speaks only `Db`.
import type { PGlite } from '@electric-sql/pglite';
import type { Pool } from 'pg';

export interface Db {
  /** One statement with $1.. parameters; one statement is one implicit transaction. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements in one transaction (migrations). */
  transaction(statements: readonly string[]): Promise<void>;
  close(): Promise<void>;
  readonly engine: 'postgres' | 'pglite';
}

export type StoreConfig = { engine: 'postgres'; dsn: string; poolSize?: number } | { engine: 'pglite'; dataDir?: string };

class PgDb implements Db {
  readonly engine = 'postgres' as const;
  constructor(private readonly pool: Pool) {}
  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.pool.query(sql, params as unknown[])).rows as R[];
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

class PgliteDb implements Db {
  readonly engine = 'pglite' as const;
  constructor(private readonly db: PGlite) {}
  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.db.query<R>(sql, params as unknown[])).rows;
  }
  async transaction(statements: readonly string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const s of statements) await tx.exec(s);
    });
  }
  close(): Promise<void> {
    return this.db.close();
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
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(config.dataDir ? { dataDir: config.dataDir } : {});
  return new PgliteDb(db);
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
