import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { TestCa } from '../audit/apiserver/certs.test-helpers.js';
import { newLogger } from '../lib/log.js';
import { Drain, type DrainResult, type DrainServer, type DrainSocket } from './drain.js';

const log = newLogger('test', 'error');

/** A connection: idle between calls, busy while one is in flight; unused until its first call. */
class FakeSocket extends EventEmitter implements DrainSocket {
  destroyed = false;
  busy = false;
  used = false;
  readonly remoteAddress = '10.0.0.1';
  readonly localAddress = '10.0.0.2';
  readonly localPort = 8443;
  constructor(readonly remotePort: number) {
    super();
  }
  /** The client closes it, or the server after an answer with Connection: close. */
  closeNow(): void {
    this.destroyed = true;
    this.emit('close');
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
  }
}

/**
 * node's http.Server as the drain uses it; close() closes idle connections, as Node >= 19
 * does, and, as node, counts a connection that has not carried a request yet as busy.
 */
class FakeServer extends EventEmitter implements DrainServer {
  readonly calls: string[] = [];
  readonly sockets: FakeSocket[] = [];
  connect(busy = false): FakeSocket {
    const s = new FakeSocket(40_000 + this.sockets.length);
    this.sockets.push(s);
    this.emit('connection', s);
    if (busy) this.call(s);
    return s;
  }
  /** A call arrives on s (through the socket node hands the request, which is not s under TLS); returns the answer's headers. */
  call(s: FakeSocket): Record<string, string> {
    s.used = true;
    s.busy = true;
    const headers: Record<string, string> = {};
    const requestSocket = { remoteAddress: s.remoteAddress, remotePort: s.remotePort, localAddress: s.localAddress, localPort: s.localPort };
    this.emit('request', { socket: requestSocket }, { setHeader: (k: string, v: string) => void (headers[k] = v) });
    return headers;
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
    for (const s of this.sockets.filter((x) => x.used && !x.busy)) s.destroy();
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

  it('answers with Connection: close only once draining, and is not ready meanwhile', async function () {
    const { server, drain } = setup();
    const s = server.connect();
    expect(server.call(s)).to.deep.equal({});
    expect(drain.isDraining).to.equal(false);
    void drain.start();
    expect(drain.isDraining).to.equal(true);
    expect(server.call(s)).to.deep.equal({ Connection: 'close' });
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
    for (const s of [idle, late]) {
      server.call(s);
      s.busy = false; // answered, kept alive
    }
    let result: DrainResult | undefined;
    void drain.start().then((r) => (result = r));
    await tick();
    timers.fire(95_000);
    await tick();
    // Nothing is closed before the I/O that has arrived is read.
    expect(server.calls).to.deep.equal([]);
    server.call(late); // a call that had reached the socket when the bound ran out
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

  it('at the bound, closes the connections that never carried a request (in the TLS handshake, or unused after it), which node counts as busy', async function () {
    const { server, timers, drain } = setup();
    const [unused, inFlight] = [server.connect(), server.connect(true)];
    let result: DrainResult | undefined;
    void drain.start().then((r) => (result = r));
    await tick();
    timers.fire(95_000);
    await tick();
    expect(unused.destroyed).to.equal(false);
    timers.runIo();
    expect([unused.destroyed, inFlight.destroyed]).to.deep.equal([true, false]);
    await tick();
    // The call in flight is waited for; the unused connection does not count as one.
    expect(timers.live).to.deep.equal([15_000]);
    expect(result).to.equal(undefined);
    inFlight.closeNow();
    await tick();
    expect(result).to.deep.equal({ endedBy: 'bound', closedAtBound: 1, cut: 0 });
  });

  it('at the bound, keeps a connection whose first call arrived just then (the I/O read before closing)', async function () {
    const { server, timers, drain } = setup();
    const first = server.connect();
    let result: DrainResult | undefined;
    void drain.start().then((r) => (result = r));
    await tick();
    timers.fire(95_000);
    await tick();
    server.call(first);
    timers.runIo();
    expect(first.destroyed).to.equal(false);
    first.closeNow(); // answered with Connection: close
    await tick();
    expect(result).to.deep.equal({ endedBy: 'bound', closedAtBound: 0, cut: 0 });
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

describe('webhook drain on a real HTTPS server (loopback)', function () {
  const serving = new TestCa('drain-ca').serving('127.0.0.1');
  const GET = 'GET /validate HTTP/1.1\r\nHost: x\r\n\r\n';

  /**
   * An HTTPS server whose calls to /hold answer only when released, its drain (bounds fired
   * by hand, reads on the real loop), and four connections: one that never speaks (in its TLS
   * handshake), one past the handshake that never sent a request (as Go's transport keeps one
   * it dialed for a call another connection served), one idle after a call, one with a call in flight.
   */
  async function fourConnections() {
    let release = (): void => undefined;
    let holding = (): void => undefined;
    const held = new Promise<void>((r) => (holding = r));
    const server = https.createServer({ cert: serving.cert, key: serving.key }, (req, res) => {
      if (req.url !== '/hold') return void res.end('{}');
      release = () => res.end('{}');
      holding();
    });
    const timers = new ManualTimers();
    const drain = new Drain(server, { log, drainMs: 95_000, inflightMs: 15_000, after: timers.after });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const watch = (socket: net.Socket) => {
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('error', () => undefined);
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      return { socket, closed, received: () => received };
    };
    const secure = async () => {
      const socket = tls.connect({ port, host: '127.0.0.1', ca: serving.ca });
      await new Promise<void>((r) => socket.once('secureConnect', () => r()));
      return watch(socket);
    };
    const handshaking = watch(net.connect(port, '127.0.0.1'));
    await new Promise<void>((r) => handshaking.socket.once('connect', () => r()));
    const unused = await secure();
    const idle = await secure();
    idle.socket.write(GET);
    await new Promise<void>((r) => idle.socket.once('data', () => r()));
    const inFlight = await secure();
    inFlight.socket.write(GET.replace('/validate', '/hold'));
    await held;
    return { server, timers, drain, handshaking, unused, idle, inFlight, release: () => release() };
  }

  it('at the bound, closes the connections carrying no call, those that never carried one too, and waits for the call in flight only', async function () {
    const c = await fourConnections();
    const done = c.drain.start();
    await tick();
    c.timers.fire(95_000);
    // Closed by the server, though the clients keep them open: none carried a call.
    await Promise.all([c.handshaking.closed, c.unused.closed, c.idle.closed]);
    expect(c.inFlight.socket.destroyed).to.equal(false);
    expect(c.timers.live).to.deep.equal([15_000]);
    c.release();
    await c.inFlight.closed;
    expect(c.inFlight.received()).to.match(/^HTTP\/1\.1 200/);
    expect(await done).to.deep.equal({ endedBy: 'bound', closedAtBound: 3, cut: 0 });
    expect(c.server.listening).to.equal(false);
  });

  it('reports the call still in flight when the request timeout runs out as cut, and only it', async function () {
    const c = await fourConnections();
    const done = c.drain.start();
    await tick();
    c.timers.fire(95_000);
    await Promise.all([c.handshaking.closed, c.unused.closed, c.idle.closed]);
    c.timers.fire(15_000);
    expect(await done).to.deep.equal({ endedBy: 'bound', closedAtBound: 3, cut: 1 });
    c.release();
    c.inFlight.socket.destroy();
  });
});
