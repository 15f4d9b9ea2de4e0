// The audit component's last steps at shutdown, on a real PGlite store.
import { expect } from 'chai';
import { openDb } from './db.js';
import { closeAuditStore } from './server.js';
import { AuditStore } from './store.js';
import { FakeClock } from '../lib/clock.js';
import { admittedCreate } from '../testing/audit-store.js';

describe('audit shutdown: group commit flushed, then the last checkpoint, then the database closed', function () {
  this.timeout(180_000);

  it('the final checkpoint sees every queued append committed; the database is closed after it', async function () {
    const db = await openDb({ engine: 'pglite' });
    const store = new AuditStore(db, 'shutdown-test', new FakeClock(new Date('2026-11-30T12:00:00Z')));
    await store.open();
    const appends = Array.from({ length: 50 }, (_, i) => store.append(admittedCreate(`cm-${i}`)));
    let checkpointed: { head: number; rows: number } | undefined;
    await closeAuditStore(store, async () => {
      const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM agentgate_audit_events`);
      checkpointed = { head: store.chainHead.sequence, rows: rows[0]!.n };
    });
    expect(checkpointed).to.deep.equal({ head: 50, rows: 50 });
    expect((await Promise.all(appends)).map((e) => e.spec.chain.sequence)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
    const afterClose = await db.query('SELECT 1').then(
      () => 'open',
      () => 'closed',
    );
    expect(afterClose).to.equal('closed');
  });
});
