import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { newLogger } from '../lib/log.js';
import { Drain, type DrainResult, type DrainServer, type DrainSocket } from './drain.js';

const log = newLogger('test', 'error');

/** A connection: idle between calls, busy while one is in flight. */
class FakeSocket extends EventEmitter implements DrainSocket {
  destroyed = false;
  busy = false;
  /** The client closes it, or the server after an answer with Connection: close. */
  closeNow(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

/** node's http.Server as the drain uses it; close() closes idle connections, as Node >= 19 does. */
class FakeServer extends EventEmitter implements DrainServer {
  readonly calls: string[] = [];
  readonly sockets: FakeSocket[] = [];
  connect(busy = false): FakeSocket {
    const s = new FakeSocket();
    s.busy = busy;
    this.sockets.push(s);
    this.emit('connection', s);
    return s;
  }
  close(): this {
    this.calls.push('close');
    this.destroyIdle();
    return this;
  }
  closeIdleConnections(): void {
    this.calls.push('closeIdleConnections');
    this.destroyIdle();
  }
  private destroyIdle(): void {
    for (const s of this.sockets.filter((x) => !x.destroyed && !x.busy)) {
      s.destroyed = true;
      queueMicrotask(() => s.emit('close'));
    }
  }
}

/** Timers the test fires by hand. */
class ManualTimers {
  pending: Array<{ ms: number; fn: () => void; cancelled: boolean }> = [];
  io: Array<() => void> = [];
  after = (ms: number, fn: () => void) => {
    const t = { ms, fn, cancelled: false };
    this.pending.push(t);
    return () => void (t.cancelled = true);
  };
  afterPendingIo = (fn: () => void) => void this.io.push(fn);
  fire(ms: number): void {
    const t = this.pending.find((x) => x.ms === ms && !x.cancelled);
    if (!t) throw new Error(`no pending ${ms} ms timer`);
    t.cancelled = true;
    t.fn();
  }
  runIo(): void {
    for (const fn of this.io.splice(0)) fn();
  }
  get live(): number[] {
    return this.pending.filter((t) => !t.cancelled).map((t) => t.ms);
  }
}

const tick = () => new Promise((r) => setImmediate(r));

describe('webhook drain on SIGTERM', function () {
  function setup() {
    const server = new FakeServer();
    const timers = new ManualTimers();
    const drain = new Drain(server, { log, drainMs: 95_000, inflightMs: 15_000, after: timers.after, afterPendingIo: timers.afterPendingIo });
    return { server, timers, drain };
  }
  function answer(server: FakeServer): Record<string, string> {
    const headers: Record<string, string> = {};
    server.emit('request', {}, { setHeader: (k: string, v: string) => void (headers[k] = v) });
    return headers;
  }

  it('answers with Connection: close only once draining, and is not ready meanwhile', async function () {
    const { server, drain } = setup();
    server.connect();
    expect(answer(server)).to.deep.equal({});
    expect(drain.isDraining).to.equal(false);
    void drain.start();
    expect(drain.isDraining).to.equal(true);
    expect(answer(server)).to.deep.equal({ Connection: 'close' });
  });

  it('waits for the clients to close every keep-alive connection and closes none itself', async function () {
    const { server, timers, drain } = setup();
    const [a, b] = [server.connect(), server.connect()];
    let result: DrainResult | undefined;
    void drain.start().then((r) => (result = r));
    await tick();
    // Idle connections stay open: the apiserver may be sending a call on them right now.
    expect(server.calls).to.deep.equal([]);
    expect(timers.live).to.deep.equal([95_000]);
    a.closeNow(); // answered with Connection: close
    await tick();
    expect(result).to.equal(undefined);
    b.closeNow(); // the apiserver's idle timeout
    await tick();
    expect(server.calls).to.deep.equal(['close']);
    expect(result).to.deep.equal({ endedBy: 'clients', closedAtBound: 0, cut: 0 });
    expect(timers.live).to.deep.equal([]);
  });

  it('ends at once when nothing is connected', async function () {
    const { server, drain } = setup();
    expect(await drain.start()).to.deep.equal({ endedBy: 'clients', closedAtBound: 0, cut: 0 });
    expect(server.calls).to.deep.equal(['close']);
  });

  it('at the bound, reads the calls already received before it closes the idle connections, then lets them finish', async function () {
    const { server, timers, drain } = setup();
    const [idle, late, inFlight] = [server.connect(), server.connect(), server.connect(true)];
    let result: DrainResult | undefined;
    void drain.start().then((r) => (result = r));
    await tick();
    timers.fire(95_000);
    await tick();
    // Nothing is closed before the I/O that has arrived is read.
    expect(server.calls).to.deep.equal([]);
    late.busy = true; // a call that had reached the socket when the bound ran out
    timers.runIo();
    expect(server.calls).to.deep.equal(['close', 'closeIdleConnections']);
    expect([idle.destroyed, late.destroyed, inFlight.destroyed]).to.deep.equal([true, false, false]);
    await tick();
    expect(timers.live).to.deep.equal([15_000]);
    late.closeNow();
    inFlight.closeNow();
    await tick();
    expect(result).to.deep.equal({ endedBy: 'bound', closedAtBound: 1, cut: 0 });
  });

  it('gives up on calls still in flight after the request timeout', async function () {
    const { server, timers, drain } = setup();
    server.connect(true);
    const done = drain.start();
    await tick();
    timers.fire(95_000);
    await tick();
    timers.runIo();
    await tick();
    timers.fire(15_000);
    expect(await done).to.deep.equal({ endedBy: 'bound', closedAtBound: 0, cut: 1 });
  });

  it('drains once, however often it is told to stop', async function () {
    const { drain } = setup();
    expect(drain.start()).to.equal(drain.start());
  });
});

describe('webhook drain on a real HTTP server (loopback)', function () {
  const POST = 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';

  /** A server, one keep-alive connection that has carried a call and is idle now, and the drain's hand-fired timers. */
  async function idleConnection(afterPendingIo?: (fn: () => void) => void) {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    const timers = new ManualTimers();
    const drain = new Drain(server, { log, drainMs: 95_000, inflightMs: 15_000, after: timers.after, ...(afterPendingIo ? { afterPendingIo } : {}) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    let received = '';
    const events: string[] = [];
    client.on('data', (d: Buffer) => (received += d.toString()));
    client.on('error', (e: NodeJS.ErrnoException) => events.push(e.code ?? e.message));
    const closed = new Promise<void>((r) => client.on('close', () => r()));
    client.write(POST);
    await new Promise<void>((r) => client.once('data', () => r()));
    expect(received).to.match(/^HTTP\/1\.1 200/);
    expect(received).to.match(/connection: keep-alive/i);
    received = '';
    return { server, timers, drain, client, closed, events, received: () => received };
  }

  it('answers a call on a reused connection with Connection: close, and ends when the client has closed it', async function () {
    const { timers, drain, client, closed, received } = await idleConnection();
    const done = drain.start();
    client.write(POST);
    await closed;
    expect(received())
      .to.match(/^HTTP\/1\.1 200/)
      .and.match(/connection: close/i);
    expect(await done).to.deep.equal({ endedBy: 'clients', closedAtBound: 0, cut: 0 });
    expect(timers.live).to.deep.equal([]);
  });

  it('serves a call that arrived on an idle connection just as the bound ran out, instead of resetting it', async function () {
    const { server, timers, drain, client, closed, events, received } = await idleConnection();
    const done = drain.start();
    await tick();
    // The apiserver sends a call on its idle connection; before the server's loop reads it, the bound runs out.
    client.write(POST);
    timers.fire(95_000);
    await closed;
    expect(events).to.deep.equal([]);
    expect(received())
      .to.match(/^HTTP\/1\.1 200/)
      .and.match(/connection: close/i);
    // Its answer was written when the idle connections were closed: closing it then loses nothing.
    expect(await done).to.deep.equal({ endedBy: 'bound', closedAtBound: 1, cut: 0 });
    expect(server.listening).to.equal(false);
  });

  it('(why) closing idle connections straight from the timer resets that call: Node runs timers before reading sockets', async function () {
    const { timers, drain, client, closed, events, received } = await idleConnection((fn) => fn());
    const done = drain.start();
    await tick();
    client.write(POST);
    timers.fire(95_000);
    await closed;
    expect(events).to.deep.equal(['ECONNRESET']);
    expect(received()).to.equal('');
    expect((await done).closedAtBound).to.equal(1);
  });
});
