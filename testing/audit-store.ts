// A real audit store for unit tests: PGlite in process, opened once per describe block
// (it compiles its WASM on open: seconds, more on a busy host) and closed after it.
import { openDb, type Db } from '../audit/db.js';
import { AuditStore } from '../audit/store.js';
import { FakeClock } from '../lib/clock.js';

interface OpenedStore {
  db: Db;
  store: AuditStore;
}

/** Registers the describe block's before/after hooks; the fields are set once `before` has run. */
export function usePgliteStore(writer: string, now = '2026-11-30T12:00:00Z'): OpenedStore {
  const opened = {} as OpenedStore;
  before(async function () {
    this.timeout(180_000);
    opened.db = await openDb({ engine: 'pglite' });
    opened.store = new AuditStore(opened.db, writer, new FakeClock(new Date(now)));
    await opened.store.open();
  });
  after(async function () {
    await opened.db?.close();
  });
  return opened;
}

/** An allowed agent create of a ConfigMap, as the webhook appends it (name: the object's). */
export function admittedCreate(name: string) {
  return {
    time: '2026-11-30T12:00:00Z',
    agent: 'deploy-bot',
    user: 'agent:deploy-bot',
    operation: 'CREATE' as const,
    group: '',
    version: 'v1',
    resource: 'configmaps',
    namespace: 'payments',
    name,
    decision: 'Allowed' as const,
    reason: 'covered by grant hotfix',
    requestUID: `uid-${name}`,
  };
}
