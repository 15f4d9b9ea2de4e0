// The store on a real PGlite database (on its worker thread, as the webhook runs it).
import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import type { Db } from './db.js';
import { openDb } from './db.js';
import { AuditStore } from './store.js';

const created = (name: string) => ({
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
});

describe('audit store: settling admitted records with the apiserver outcome', function () {
  this.timeout(30_000);
  let db: Db;
  let store: AuditStore;

  before(async function () {
    this.timeout(180_000); // initdb in WASM, on a busy host
    db = await openDb({ engine: 'pglite' });
    store = new AuditStore(db, 'settle-test', new FakeClock(new Date('2026-11-30T12:00:00Z')));
    await store.open();
  });

  after(async function () {
    await db?.close();
  });

  it('settles a whole batch in one statement: 2xx Completed, else Failed, the first result of a record wins, unknown names ignored', async function () {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => store.append(created(n))));
    const { count: n } = await store.settle([
      { name: a!.name, code: 201 },
      { name: b!.name, code: 500 },
      { name: a!.name, code: 404 },
      { name: 'no-such-record', code: 200 },
    ]);
    expect(n).to.equal(2);
    expect(await store.get(a!.name)).to.include({ outcome: 'Completed', code: 201 });
    expect(await store.get(b!.name)).to.include({ outcome: 'Failed', code: 500 });
    expect((await store.get(c!.name))?.outcome).to.equal('Admitted');
  });

  it('never settles a record twice', async function () {
    const d = await store.append(created('d'));
    expect((await store.settle([{ name: d.name, code: 201 }])).count).to.equal(1);
    expect((await store.settle([{ name: d.name, code: 403 }])).count).to.equal(0);
    expect(await store.get(d.name)).to.include({ outcome: 'Completed', code: 201 });
    expect((await store.settle([])).count).to.equal(0);
  });

  it('returns the settled records of calls that named an ApprovalRequest, with their outcome, and only those', async function () {
    const fp = 'f'.repeat(64);
    const held = await store.append({ ...created('held'), decision: 'Held', approvalRequest: 'payments/ar-x', objectDigest: fp, requestUID: 'uid-held' });
    const used = await store.append({ ...created('used'), approvalRequest: 'payments/ar-x', objectDigest: fp, requestUID: 'uid-used' });
    const plain = await store.append(created('plain'));
    const r = await store.settle([
      { name: held.name, code: 403 },
      { name: used.name, code: 200 },
      { name: plain.name, code: 201 },
    ]);
    expect(r.count).to.equal(3);
    const byRecord = new Map(r.approvalCalls.map((c) => [c.record, c]));
    expect(byRecord.size).to.equal(2);
    expect(byRecord.get(held.name)).to.deep.equal({
      record: held.name,
      approvalRequest: 'payments/ar-x',
      agent: 'deploy-bot',
      decision: 'Held',
      requestUID: 'uid-held',
      fingerprint: fp,
      outcome: 'Failed',
    });
    expect(byRecord.get(used.name)).to.include({ decision: 'Allowed', requestUID: 'uid-used', outcome: 'Completed' });
  });
});
