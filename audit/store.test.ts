// The store on a real PGlite database (on its worker thread, as the webhook runs it).
import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import { admittedCreate as created, usePgliteStore } from '../testing/audit-store.js';
import type { Db } from './db.js';
import { AuditStore, eventName } from './store.js';

describe('audit store: settling admitted records with the apiserver outcome', function () {
  this.timeout(30_000);
  const opened = usePgliteStore('settle-test');

  it('settles a whole batch in one statement: 2xx Completed, else Failed, the first result of a record wins, unknown names ignored', async function () {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => opened.store.append(created(n))));
    const { count: n } = await opened.store.settle([
      { name: a!.name, code: 201 },
      { name: b!.name, code: 500 },
      { name: a!.name, code: 404 },
      { name: 'no-such-record', code: 200 },
    ]);
    expect(n).to.equal(2);
    expect(await opened.store.get(a!.name)).to.include({ outcome: 'Completed', code: 201 });
    expect(await opened.store.get(b!.name)).to.include({ outcome: 'Failed', code: 500 });
    expect((await opened.store.get(c!.name))?.outcome).to.equal('Admitted');
  });

  it('never settles a record twice', async function () {
    const d = await opened.store.append(created('d'));
    expect((await opened.store.settle([{ name: d.name, code: 201 }])).count).to.equal(1);
    expect((await opened.store.settle([{ name: d.name, code: 403 }])).count).to.equal(0);
    expect(await opened.store.get(d.name)).to.include({ outcome: 'Completed', code: 201 });
    expect((await opened.store.settle([])).count).to.equal(0);
  });

  it('returns the settled records of calls that named an ApprovalRequest, with their outcome, and only those', async function () {
    const fp = 'f'.repeat(64);
    const held = await opened.store.append({
      ...created('held'),
      decision: 'Held',
      approvalRequest: 'payments/ar-x',
      objectDigest: fp,
      requestUID: 'uid-held',
    });
    const used = await opened.store.append({ ...created('used'), approvalRequest: 'payments/ar-x', objectDigest: fp, requestUID: 'uid-used' });
    const plain = await opened.store.append(created('plain'));
    const r = await opened.store.settle([
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

describe('audit store: listing pages', function () {
  this.timeout(30_000);
  const opened = usePgliteStore('list-test');
  const agentOf = (i: number) => (i % 2 ? 'deploy-bot' : 'other-bot');

  before(async function () {
    // Two events share each second, so the order needs the writer and sequence too.
    for (let i = 0; i < 10; i++) {
      const { namespace: _ns, ...spec } = created(`cm-${i}`);
      await opened.store.append({ ...spec, agent: agentOf(i), time: `2026-11-30T12:00:0${Math.floor(i / 2)}Z`, ...(i === 3 ? {} : { namespace: 'payments' }) });
    }
  });

  it('pages oldest first with keyset continue tokens; every page carries the first page’s resourceVersion', async function () {
    const names: string[] = [];
    let cont: string | undefined;
    const versions = new Set<string>();
    do {
      const page = await opened.store.list(
        { labelSelector: 'agentgate.io/agent=deploy-bot', limit: 2, ...(cont ? { continue: cont } : {}) },
        'agentgate-system',
        'agentgate',
      );
      names.push(...page.items.map((e) => e.spec.name!));
      versions.add(page.resourceVersion);
      cont = page.continue;
    } while (cont);
    expect(names).to.deep.equal(['cm-1', 'cm-3', 'cm-5', 'cm-7', 'cm-9']);
    expect([...versions]).to.have.length(1);
    const all = await opened.store.list({}, 'agentgate-system', 'agentgate');
    expect(Math.max(...all.items.map((e) => Number(e.rv)))).to.equal(Number([...versions][0]));
  });

  it('an empty page still has the resourceVersion a watch starts from', async function () {
    const none = await opened.store.list({ labelSelector: 'agentgate.io/agent=nobody' }, 'agentgate-system', 'agentgate');
    const all = await opened.store.list({}, 'agentgate-system', 'agentgate');
    expect(none.items).to.deep.equal([]);
    expect(none.resourceVersion).to.equal(all.resourceVersion);
    expect(Number(none.resourceVersion)).to.be.greaterThan(0);
  });

  it('summaries carry only the asked spec fields (absent ones stay absent), the labels’ fields and the chain position', async function () {
    const full = await opened.store.list({ labelSelector: 'agentgate.io/agent=deploy-bot' }, 'agentgate-system', 'agentgate');
    const sums = await opened.store.listSummaries({ labelSelector: 'agentgate.io/agent=deploy-bot' }, 'agentgate-system', 'agentgate', ['namespace', 'reason']);
    expect(sums.items.map((e) => e.name)).to.deep.equal(full.items.map((e) => e.name));
    expect(sums.resourceVersion).to.equal(full.resourceVersion);
    const [f3, s3] = [full.items[1]!, sums.items[1]!];
    // The time is the stored instant, to the microsecond.
    expect(Date.parse(s3.spec.time)).to.equal(Date.parse(f3.spec.time));
    expect(s3.spec).to.deep.equal({
      time: s3.spec.time,
      agent: 'deploy-bot',
      decision: 'Allowed',
      reason: f3.spec.reason,
      chain: { writer: 'list-test', sequence: f3.spec.chain.sequence },
    });
    expect(sums.items[0]!.spec.namespace).to.equal('payments');
    expect(() => opened.store.listSummaries({}, 'agentgate-system', 'agentgate', ["name') FROM x --"])).to.throw('not a top-level spec field name');
  });
});

describe('audit store: prepared statements', function () {
  this.timeout(30_000);
  const opened = usePgliteStore('prepared-test');

  it('prepares the append’s INSERT and the settle’s UPDATE, each under one name with one text for every batch size, and nothing whose text varies', async function () {
    const seen = new Map<string, Set<string>>();
    const db = opened.store.db;
    const query = db.query.bind(db);
    // A name prepared once per connection must always carry the same text: PostgreSQL
    // would run the first text for a second one (or node-postgres refuse it).
    const recording: typeof db.query = (sql, params, prepared) => {
      if (prepared) seen.set(prepared, (seen.get(prepared) ?? new Set()).add(sql));
      return query(sql, params, prepared);
    };
    const store = new AuditStore(
      { ...db, engine: db.engine, query: recording, transaction: db.transaction.bind(db), close: db.close.bind(db) },
      'prepared-test',
      new FakeClock(new Date('2026-11-30T12:00:00Z')),
    );
    await store.open();
    await store.append(created('one'));
    await Promise.all(['a', 'b', 'c', 'd'].map((n) => store.append(created(n))));
    await store.list({ labelSelector: 'agentgate.io/agent=deploy-bot', limit: 2 }, 'agentgate-system', 'agentgate');
    await store.settle([{ name: eventName('prepared-test', 1), code: 201 }]);
    expect(store.lastBatch).to.be.greaterThan(1);
    await store.settle([
      { name: eventName('prepared-test', 2), code: 201 },
      { name: eventName('prepared-test', 3), code: 500 },
    ]);
    // The lone first append as a single row, the three queued behind the next lone one as rows.
    expect([...seen.keys()]).to.have.length(3);
    for (const texts of seen.values()) expect(texts).to.have.length(1);
    expect([...seen.values()].map((t) => [...t][0]!.split(' ')[0])).to.have.members(['INSERT', 'INSERT', 'UPDATE']);
    expect((await opened.store.get(eventName('prepared-test', 5)))?.spec.name).to.equal('d');
  });
});

describe('audit store: group commit', function () {
  /** A database that records each statement (its verb and rows) and answers an INSERT only when released. */
  function gatedDb() {
    const log: Array<{ verb: string; names: string[] }> = [];
    const held: Array<() => void> = [];
    const db: Db = {
      engine: 'postgres',
      async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
        const verb = sql.trimStart().split(' ')[0]!;
        if (verb !== 'INSERT') return [];
        // One row: scalar parameters; several: one array per column. The name is the 4th column.
        const names = Array.isArray(params[3]) ? (params[3] as string[]) : [params[3] as string];
        log.push({ verb, names });
        await new Promise<void>((release) => held.push(release));
        return names.map((name, i) => ({ rv: String(log.length * 100 + i), name })) as R[];
      },
      transaction: async () => undefined,
      close: async () => undefined,
    };
    const releaseAll = (): void => {
      for (const release of held.splice(0)) release();
    };
    return { db, log, releaseAll };
  }

  it('sends a lone append at once as its own statement, and batches only the appends that queue while one is in flight, keeping the chain', async function () {
    const { db, log, releaseAll } = gatedDb();
    const store = new AuditStore(db, 'gc-test', new FakeClock(new Date('2026-11-30T12:00:00Z')));
    // The first append also reads the chain's head and makes the day's partition (not INSERTs).
    const first = store.append(created('a'));
    // Made in the same tick: had the lone append waited for company (a timer, setImmediate,
    // a microtask), the two would share a statement.
    const second = store.append(created('b'));
    await new Promise((r) => setImmediate(r));
    expect(log).to.deep.equal([{ verb: 'INSERT', names: [eventName('gc-test', 1)] }]);
    const more = ['c', 'd'].map((n) => store.append(created(n)));
    releaseAll();
    const a = await first;
    await new Promise((r) => setImmediate(r));
    // Everything queued while the first statement ran goes out together as the next one.
    expect(log.map((s) => s.names)).to.deep.equal([[eventName('gc-test', 1)], [2, 3, 4].map((n) => eventName('gc-test', n))]);
    releaseAll();
    const rest = await Promise.all([second, ...more]);
    expect([a, ...rest].map((e) => e.spec.name)).to.deep.equal(['a', 'b', 'c', 'd']);
    for (const [i, e] of rest.entries()) expect(e.spec.chain.previousHash).to.equal([a, ...rest][i]!.spec.chain.hash);
    expect(store.chainHead.sequence).to.equal(4);
    expect(log).to.have.length(2);
  });
});
