// Graceful shutdown of the webhook's HTTPS server without failing a call the apiserver sends.
//
// The apiserver calls webhooks over HTTP/1.1 keep-alive connections (Node's server speaks no
// HTTP/2) and never retries a webhook call: Go's transport retries only idempotent requests
// on a reused connection that breaks, and an AdmissionReview is a POST. So the one unsafe
// move is the server closing an idle keep-alive connection: the apiserver may be writing a
// call on it at that moment, and that call fails (EOF or connection reset). Node makes the
// window wider than the network's: timers run before I/O in its event loop, so when the loop
// lags (CPU load), a request already sitting unread in the socket counts as idle and is reset.
// And since Node 19, server.close() itself closes every idle connection.
//
// So on SIGTERM (after the preStop sleep, the pod already out of the endpoints):
// 1. stop being ready; keep listening and answering, every answer with `Connection: close`,
//    so each connection the apiserver uses again is closed by an answer, never under a call;
// 2. wait until the clients have closed every other connection themselves: the apiserver
//    drops an idle connection after 90 s (client-go's transport: Go's IdleConnTimeout);
// 3. only if --drain-seconds runs out first: stop listening and close the connections that
//    carry no call (after one more turn of the loop, so requests already received are served
//    first), and let calls in flight finish, bounded by the request timeout.
// A --drain-seconds above the apiserver's idle timeout makes step 3 a no-op.
//
// "Carry no call" includes a connection that has not carried one yet: one still in its TLS
// handshake, or past it and unused (Go's transport keeps a connection it dialed for a call
// that another connection served). Node's closeIdleConnections() leaves those open: it knows
// a connection only once the handshake is done, and counts it busy until its first request
// ends. Left open, such a connection held the drain to the request timeout and was reported
// as a cut call, though it cut nothing. So the drain marks each connection that has carried
// a request and closes the others itself. A TLS request's socket is not the raw socket the
// server's 'connection' event gave (node wraps it, and keeps the link private), so the two
// are matched by their TCP address pair, which no two open connections share. (A first
// request whose headers have not all arrived by then goes with its connection, where node
// would wait for it: rare, as the pod is out of the endpoints and headers arrive in one read.)
import type { Logger } from '../lib/log.js';

/** How long the apiserver keeps an idle connection to a webhook (client-go: Go's http.DefaultTransport IdleConnTimeout). */
export const APISERVER_IDLE_CONNECTION_MS = 90_000;

/** keep-alive on the server side outlives the apiserver's: the client, never the server, closes an idle connection. */
export const KEEP_ALIVE_TIMEOUT_MS = APISERVER_IDLE_CONNECTION_MS + 30_000;

/** A connection's TCP address pair, as a net.Socket (or the TLS socket over it) tells it. */
interface DrainAddress {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

/** A connection as the drain sees it (a net.Socket). */
export interface DrainSocket extends DrainAddress {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  destroy(): unknown;
}

/** What the drain needs of node's http(s).Server: the seam the unit tests fake. */
export interface DrainServer {
  on(event: 'connection', listener: (socket: DrainSocket) => void): unknown;
  prependListener(
    event: 'request',
    listener: (
      req: { socket: DrainAddress; method?: string | undefined; url?: string | undefined },
      res: { setHeader(name: string, value: string): unknown },
    ) => void,
  ): unknown;
  close(callback?: (err?: Error) => void): unknown;
  closeIdleConnections(): void;
}

interface DrainOptions {
  log: Logger;
  /** Upper bound on waiting for the clients to close their connections (--drain-seconds). */
  drainMs: number;
  /** Upper bound on calls in flight once the idle connections are closed (the request timeout). */
  inflightMs: number;
  /** Runs fn after ms; returns a cancel function. */
  after?: (ms: number, fn: () => void) => () => void;
  /** Runs fn after the I/O already received has been read (setImmediate). */
  afterPendingIo?: (fn: () => void) => void;
}

export interface DrainResult {
  /** clients: every connection was closed by its client or by an answer; bound: --drain-seconds ran out. */
  endedBy: 'clients' | 'bound';
  /** Connections the server closed at the bound: idle ones, ones whose last answer was already written, and ones that never carried a request (0 when endedBy is clients). */
  closedAtBound: number;
  /** Connections still open when the in-flight bound ran out (their calls were cut). */
  cut: number;
}

const realAfter = (ms: number, fn: () => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** The last call a connection carried: what a cut names. Updated in place, no allocation per call. */
interface LastCall {
  method: string | undefined;
  url: string | undefined;
  since: number;
}

/** A call as the drain's warning names it: method, path (never the query), watch or not, age. */
const callName = (c: LastCall, now: number): string => {
  const url = c.url ?? '';
  return `${c.method} ${url.split('?')[0]}${/[?&]watch=(true|1)/.test(url) ? ' (watch)' : ''} for ${Math.round((now - c.since) / 1000)}s`;
};

/** undefined when the socket cannot tell its peer (reset as it connected). */
const addressPair = (s: DrainAddress): string | undefined =>
  s.remotePort === undefined ? undefined : `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;

export class Drain {
  /** Each open connection with its address pair (read when it connects: a closed socket forgets it). */
  private readonly open = new Map<DrainSocket, string | undefined>();
  /** The open connections that have carried a request, by address pair, with their last call. */
  private readonly spoke = new Map<string, LastCall>();
  /** Each request socket's last call (null: its address pair is unknown): a request on a used connection pays one lookup. */
  private readonly calls = new WeakMap<DrainAddress, LastCall | null>();
  private draining = false;
  private allClosed: (() => void) | undefined;
  private readonly after: (ms: number, fn: () => void) => () => void;
  private readonly afterPendingIo: (fn: () => void) => void;

  constructor(
    private readonly server: DrainServer,
    private readonly o: DrainOptions,
  ) {
    this.after = o.after ?? realAfter;
    this.afterPendingIo = o.afterPendingIo ?? ((fn) => void setImmediate(fn));
    server.on('connection', (socket) => {
      const pair = addressPair(socket);
      this.open.set(socket, pair);
      socket.once('close', () => {
        this.open.delete(socket);
        if (pair) this.spoke.delete(pair);
        if (this.open.size === 0) this.allClosed?.();
      });
    });
    server.prependListener('request', (req, res) => {
      let call = this.calls.get(req.socket);
      if (call === undefined) {
        const pair = addressPair(req.socket);
        call = pair ? { method: undefined, url: undefined, since: 0 } : null;
        this.calls.set(req.socket, call);
        if (pair && call) this.spoke.set(pair, call);
      }
      if (call) {
        call.method = req.method;
        call.url = req.url;
        call.since = Date.now();
      }
      // While draining, every answer closes its connection: the apiserver does not reuse it.
      if (this.draining) res.setHeader('Connection', 'close');
    });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  get connections(): number {
    return this.open.size;
  }

  /** Drains once; later calls resolve with the same result. */
  private result: Promise<DrainResult> | undefined;
  start(): Promise<DrainResult> {
    this.result ??= this.run();
    return this.result;
  }

  private async run(): Promise<DrainResult> {
    this.draining = true;
    this.o.log.info('draining', { connections: this.open.size, drainSeconds: this.o.drainMs / 1000 });
    if (await this.untilClosedOr(this.o.drainMs)) {
      // Nothing open: stop listening (a probe that connects meanwhile is answered or cut at the bound).
      this.server.close();
      return { endedBy: 'clients', closedAtBound: 0, cut: await this.cutAfterInflightBound() };
    }
    // The bound ran out with connections open: read what has arrived, then close the ones
    // that carry no call: node's idle ones, and the ones that never carried a request.
    const before = this.open.size;
    const { closedAtBound, unused } = await new Promise<{ closedAtBound: number; unused: number }>((resolve) =>
      this.afterPendingIo(() => {
        const open = [...this.open];
        this.server.close();
        this.server.closeIdleConnections();
        // A connection whose address pair is unknown cannot be told apart: it is left to node.
        const never = open.filter(([s, pair]) => pair && !s.destroyed && !this.spoke.has(pair));
        for (const [s] of never) s.destroy();
        resolve({ closedAtBound: open.filter(([s]) => s.destroyed).length, unused: never.length });
      }),
    );
    // unused: the connections among them that never carried a request.
    this.o.log.warn('drain bound reached with connections open: closed the ones carrying no call', { open: before, closedAtBound, unused });
    return { endedBy: 'bound', closedAtBound, cut: await this.cutAfterInflightBound() };
  }

  /** Waits for the calls in flight, bounded; returns how many connections it cut, named in a warning. */
  private async cutAfterInflightBound(): Promise<number> {
    if (await this.untilClosedOr(this.o.inflightMs)) return 0;
    const now = Date.now();
    const calls = [...this.open.values()].map((pair) => {
      const call = pair ? this.spoke.get(pair) : undefined;
      return call ? callName(call, now) : 'a connection that carried no request';
    });
    this.o.log.warn('drain cut calls in flight at the request timeout', { cut: calls.length, calls });
    return calls.length;
  }

  /** True once no connection is open, false if ms pass first. */
  private untilClosedOr(ms: number): Promise<boolean> {
    if (this.open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const cancel = this.after(ms, () => {
        this.allClosed = undefined;
        resolve(false);
      });
      this.allClosed = () => {
        this.allClosed = undefined;
        cancel();
        resolve(true);
      };
    });
  }
}
