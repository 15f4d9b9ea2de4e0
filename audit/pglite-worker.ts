// PGlite (PostgreSQL compiled to WASM) runs synchronously on the thread that calls it: in
// the webhook's own thread every commit would stall every admission answer (measured:
// agents got 0.18x the throughput of other identities). This worker owns the database;
// the webhook's thread only posts statements to it (audit/db.ts, PgliteWorkerDb).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'transaction'; statements: string[] }
  | { id: number; op: 'close' };
export type WorkerReply = { id: number; rows?: unknown[]; error?: string };

/**
 * PostgreSQL settings over PGlite's defaults. shared_buffers: initdb writes 128MB, all of it
 * inside the WASM memory and so in the webhook's RSS (measured: PGlite alone 280 -> 166 MB
 * RSS with 16MB; the records' pages are still cached by the kernel's page cache below it).
 */
const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB'];

const port = parentPort;
if (port) {
  const { dataDir } = workerData as { dataDir?: string };
  const ready = PGlite.create({ ...(dataDir ? { dataDir } : {}), startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
  port.on('message', (m: WorkerRequest) => {
    void (async (): Promise<WorkerReply> => {
      const db = await ready;
      switch (m.op) {
        case 'query':
          return { id: m.id, rows: (await db.query(m.sql, m.params)).rows };
        case 'transaction':
          await db.transaction(async (tx) => {
            for (const s of m.statements) await tx.exec(s);
          });
          return { id: m.id };
        case 'close':
          await db.close();
          return { id: m.id };
      }
    })()
      .catch((err: unknown) => ({ id: m.id, error: err instanceof Error ? err.message : String(err) }))
      .then((reply) => port.postMessage(reply));
  });
}
