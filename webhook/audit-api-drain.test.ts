// The aggregated API drained on SIGTERM, wired as audit/server.ts and main.ts wire it (the
// handler's stop signal and the webhook's Drain on one HTTPS server): a list in flight
// finishes, a watch ends with a complete response (the client re-watches), readiness goes
// unready, and listening stops once the connections are gone.
import { expect } from 'chai';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { newLogger } from '../lib/log.js';
import { Drain } from './drain.js';
import type { AuditStore } from '../audit/store.js';
import { Authenticator } from '../audit/apiserver/authn.js';
import { frontProxyAuthn, TestCa } from '../audit/apiserver/certs.test-helpers.js';
import { auditApiHandler } from '../audit/apiserver/handler.js';

const list = '/apis/audit.agentgate.io/v1alpha1/namespaces/agentgate-system/auditevents';

describe('audit API: drained on SIGTERM', function () {
  this.timeout(30_000);
  const proxyCa = new TestCa('front-proxy-ca');
  const proxy = proxyCa.client('front-proxy-client');
  const serving = new TestCa('serving-ca').serving('127.0.0.1');
  const as = { 'X-Remote-User': 'alice' };

  /** A list that answers only when released: a request in flight when the drain starts. */
  let releaseList = (): void => undefined;
  let listStarted = (): void => undefined;
  const store = {
    list: (q: { limit?: number }) =>
      q.limit === 1
        ? Promise.resolve({ items: [], resourceVersion: '7' }) // a watch's starting point
        : new Promise((resolve) => {
            listStarted();
            releaseList = () => resolve({ items: [], resourceVersion: '7' });
          }),
    changesSince: async () => [],
  } as unknown as AuditStore;

  function request(path: string, onResponse?: (status: number) => void): Promise<{ status: number; body: string; complete: boolean }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path, ca: serving.ca, cert: proxy.cert, key: proxy.key, headers: as, agent: false }, (res) => {
        onResponse?.(res.statusCode ?? 0);
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  let port = 0;
  let drain: Drain;
  let stopping: AbortController;

  before(async function () {
    stopping = new AbortController();
    const config = frontProxyAuthn(proxyCa);
    const authenticator = new Authenticator(
      () => config,
      async () => undefined,
    );
    const handler = auditApiHandler({
      store,
      namespace: 'agentgate-system',
      authenticator,
      authorize: async () => ({ allowed: true }),
      log: newLogger('test'),
      pollMs: 50,
      stopping: stopping.signal,
    });
    const server = https.createServer({ cert: serving.cert, key: serving.key, requestCert: true, rejectUnauthorized: false, ca: [proxyCa.cert] }, handler);
    drain = new Drain(server, { log: newLogger('test'), drainMs: 20_000, inflightMs: 20_000 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });

  it('finishes the list in flight, ends the watch with a complete response, answers unready meanwhile, then stops listening', async function () {
    expect((await request('/readyz')).status).to.equal(200);
    let watching = (): void => undefined;
    const watchOpen = new Promise<void>((r) => (watching = r));
    const watch = request(`${list}?watch=true`, () => watching());
    let listing = (): void => undefined;
    const listOpen = new Promise<void>((r) => (listing = r));
    listStarted = listing;
    const inFlight = request(list);
    await Promise.all([watchOpen, listOpen]);

    stopping.abort();
    const drained = drain.start();
    const w = await watch;
    expect(w).to.include({ status: 200, complete: true });
    expect((await request('/readyz')).status).to.equal(503);
    releaseList();
    const l = await inFlight;
    expect(l.status).to.equal(200);
    expect(JSON.parse(l.body).kind).to.equal('AuditEventList');
    // Every connection closed by its client or by an answer: nothing was cut.
    expect(await drained).to.deep.equal({ endedBy: 'clients', closedAtBound: 0, cut: 0 });
    const refused = await request('/readyz').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(refused).to.equal('ECONNREFUSED');
  });
});
