import { expect } from 'chai';
import { FakeTimers } from '../testing/fake-timers.js';
import { WorkQueue } from './queue.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', function () {
  it('dedupes a key queued several times while waiting', async function () {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async (k) => {
        if (k === 'busy') await gate;
        seen.push(k);
      },
      { workers: 1 },
    );
    q.add('busy');
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    expect(q.depth).to.equal(2);
    release();
    await tick();
    await q.idle();
    expect(seen).to.deep.equal(['busy', 'a', 'b']);
  });

  it('never runs one key twice at once; a key added while running runs again after', async function () {
    let running = 0;
    let max = 0;
    let runs = 0;
    let release!: () => void;
    const q = new WorkQueue(
      async () => {
        running++;
        runs++;
        max = Math.max(max, running);
        if (runs === 1) await new Promise<void>((r) => (release = r));
        running--;
      },
      { workers: 4 },
    );
    q.add('k');
    await tick();
    q.add('k');
    q.add('k');
    await tick();
    expect(runs).to.equal(1);
    release();
    await tick();
    await q.idle();
    expect(max).to.equal(1);
    expect(runs).to.equal(2);
  });

  it('runs different keys in parallel up to the worker count', async function () {
    let running = 0;
    let max = 0;
    const q = new WorkQueue(
      async () => {
        running++;
        max = Math.max(max, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
      { workers: 3 },
    );
    for (let i = 0; i < 10; i++) q.add(`k${i}`);
    await q.idle();
    expect(max).to.equal(3);
  });

  it('takes urgent keys (fired timers) before normal ones, and promotes a queued key', async function () {
    const t = new FakeTimers();
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async (k) => {
        if (k === 'busy') await gate;
        seen.push(k);
      },
      { workers: 1, timers: t, nowMs: () => t.now },
    );
    q.add('busy');
    q.add('resync-1');
    q.add('expiring');
    q.add('resync-2');
    q.addAfter('timer', 10, true);
    t.advance(10);
    q.add('expiring', true);
    release();
    await tick();
    await q.idle();
    expect(seen).to.deep.equal(['busy', 'timer', 'expiring', 'resync-1', 'resync-2']);
  });

  it('addAfter keeps one timer per key at the earliest deadline', async function () {
    const t = new FakeTimers();
    const seen: string[] = [];
    const q = new WorkQueue(async (k) => void seen.push(k), { workers: 1, timers: t, nowMs: () => t.now });
    q.addAfter('g', 10_000);
    q.addAfter('g', 5_000);
    q.addAfter('g', 20_000);
    expect(t.count).to.equal(1);
    t.advance(4_999);
    await q.idle();
    expect(seen).to.deep.equal([]);
    t.advance(1);
    await q.idle();
    expect(seen).to.deep.equal(['g']);
    expect(q.pendingTimers).to.equal(0);
  });

  it('retries failures with exponential backoff and forgets on success', async function () {
    const t = new FakeTimers();
    let calls = 0;
    const delays: number[] = [];
    const q = new WorkQueue(
      async () => {
        calls++;
        if (calls < 4) throw new Error('apiserver said no');
      },
      { workers: 1, timers: t, nowMs: () => t.now, baseBackoffMs: 100, maxBackoffMs: 250, onError: (_k, _e, d) => delays.push(d) },
    );
    q.add('x');
    await q.idle();
    for (let i = 0; i < 3; i++) {
      t.advance(1000);
      await tick();
      await q.idle();
    }
    expect(calls).to.equal(4);
    expect(delays).to.deep.equal([100, 200, 250]);
    expect(q.failuresOf('x')).to.equal(0);
  });

  it('shutdown drops timers and waits for in-flight work', async function () {
    const t = new FakeTimers();
    let done = false;
    const q = new WorkQueue(
      async () => {
        await new Promise((r) => setTimeout(r, 10));
        done = true;
      },
      { workers: 1, timers: t, nowMs: () => t.now },
    );
    q.add('a');
    q.addAfter('b', 1000);
    await tick();
    await q.shutdown();
    expect(done).to.equal(true);
    expect(t.count).to.equal(0);
    q.add('c');
    expect(q.depth).to.equal(0);
  });
});
