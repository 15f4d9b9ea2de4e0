import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { TLSSocket } from 'node:tls';
import { TestCa } from '../audit/apiserver/certs.test-helpers.js';
import type { AdmissionRequest } from '../lib/admission.js';
import { quietLogger } from '../testing/fake-cluster.js';
import { WebhookMetrics } from './metrics.js';
import { createApp, createWebhook, withMetrics } from './server.js';
import type { Handler } from './server.js';

const REVIEW = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u-1', operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'configmaps' }, userInfo: { username: 'agent:bot' } },
};

async function serve(handler: Handler, clientAuth?: { names: string[]; require: boolean }) {
  const metrics = new WebhookMetrics();
  const server = http.createServer(
    createApp({ log: quietLogger(), metrics, ready: () => true, routes: { '/validate/agents': handler }, ...(clientAuth ? { clientAuth } : {}) }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/validate/agents', method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { post, metrics, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('webhook HTTP layer', () => {
  it('answers a review with an AdmissionReview carrying the request uid, and counts it', async () => {
    let seen: AdmissionRequest | undefined;
    const s = await serve(async (request) => {
      seen = request;
      return { uid: 'ignored', allowed: true };
    });
    try {
      const r = await s.post(JSON.stringify(REVIEW), { 'content-type': 'application/json; charset=utf-8' });
      expect(r.status).to.equal(200);
      expect(r.type).to.match(/^application\/json/);
      expect(JSON.parse(r.body)).to.deep.equal({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true } });
      expect(seen?.resource.resource).to.equal('configmaps');
      expect(await s.metrics.registry.getSingleMetricAsString('agentgate_webhook_http_requests_total')).to.contain('path="/validate/agents",code="200"} 1');
    } finally {
      await s.close();
    }
  });

  it('refuses a body that is not JSON by content type (415) or by content (400), without calling the handler', async () => {
    let calls = 0;
    const s = await serve(async () => {
      calls++;
      return { uid: '', allowed: true };
    });
    try {
      const wrongType = await s.post(JSON.stringify(REVIEW), { 'content-type': 'text/plain' });
      expect(wrongType.status).to.equal(415);
      expect(JSON.parse(wrongType.body).error).to.contain('application/json');
      const broken = await s.post('{"apiVersion":');
      expect(broken.status).to.equal(400);
      expect(JSON.parse(broken.body).error).to.equal('body is not valid JSON');
      const notReview = await s.post(JSON.stringify({ ...REVIEW, kind: 'Pod' }));
      expect(notReview.status).to.equal(400);
      expect(JSON.parse(notReview.body).error).to.contain('AdmissionReview');
      expect(calls).to.equal(0);
    } finally {
      await s.close();
    }
  });

  it('refuses a body declared larger than the limit (413)', async () => {
    const s = await serve(async () => ({ uid: '', allowed: true }));
    try {
      const r = await s.post('{}', { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) }).catch(() => ({ status: 413, body: '' }));
      expect(r.status).to.equal(413);
    } finally {
      await s.close();
    }
  });

  it('answers 500 without the error text when the handler fails (the apiserver then fails closed)', async () => {
    const s = await serve(async () => {
      throw new Error('secret detail');
    });
    try {
      const r = await s.post(JSON.stringify(REVIEW));
      expect(r.status).to.equal(500);
      expect(r.body).to.not.contain('secret detail');
    } finally {
      await s.close();
    }
  });

  it('refuses a caller without the apiserver client certificate when one is required (401)', async () => {
    const s = await serve(async () => ({ uid: '', allowed: true }), { names: [], require: true });
    try {
      const r = await s.post(JSON.stringify(REVIEW));
      expect(r.status).to.equal(401);
      expect(JSON.parse(r.body).error).to.contain('client certificate');
    } finally {
      await s.close();
    }
  });

  it("the process's listener answers every admission case as the app does, and hands every other request to the app", async () => {
    const deps = (calls: string[]) => ({
      log: quietLogger(),
      metrics: new WebhookMetrics(),
      ready: () => false,
      routes: {
        '/validate/agents': async (request: AdmissionRequest) => {
          calls.push(request.uid);
          if (request.operation === 'DELETE') throw new Error('secret detail');
          return { uid: 'ignored', allowed: request.operation === 'CREATE' };
        },
      },
    });
    const appCalls: string[] = [];
    const listenerCalls: string[] = [];
    const viaApp = http.createServer(createApp(deps(appCalls)));
    const webhook = createWebhook(deps(listenerCalls));
    const viaListener = http.createServer(webhook.listener);
    const send = (server: http.Server, method: string, path: string, body?: string, type = 'application/json') =>
      new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const port = (server.address() as AddressInfo).port;
        const req = http.request({ host: '127.0.0.1', port, path, method, headers: { 'content-type': type } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const review = (operation: string) => JSON.stringify({ ...REVIEW, request: { ...REVIEW.request, uid: operation, operation } });
    const cases: Array<[string, string, string?, string?]> = [
      ['POST', '/validate/agents', review('CREATE')],
      ['POST', '/validate/agents?timeout=10s', review('UPDATE')],
      ['POST', '/validate/agents', review('DELETE')],
      ['POST', '/validate/agents', review('CREATE'), 'text/plain'],
      ['POST', '/validate/agents', '{"apiVersion":'],
      ['POST', '/validate/agents', JSON.stringify({ ...REVIEW, kind: 'Pod' })],
      ['POST', '/validate/other', review('CREATE')],
      ['GET', '/validate/agents'],
      ['GET', '/healthz'],
      ['GET', '/readyz'],
    ];
    await Promise.all([viaApp, viaListener].map((server) => new Promise<void>((r) => server.listen(0, '127.0.0.1', r))));
    try {
      const answers = { app: [] as unknown[], listener: [] as unknown[] };
      for (const [method, path, body, type] of cases) {
        answers.app.push(await send(viaApp, method, path, body, type));
        answers.listener.push(await send(viaListener, method, path, body, type));
      }
      expect(answers.listener).to.deep.equal(answers.app);
      expect(answers.listener.map((a) => (a as { status: number }).status)).to.deep.equal([200, 200, 500, 415, 400, 400, 404, 404, 200, 503]);
      expect(JSON.parse((answers.listener[1] as { body: string }).body).response).to.deep.equal({ uid: 'UPDATE', allowed: false });
      expect(listenerCalls).to.deep.equal(['CREATE', 'UPDATE', 'DELETE']);
      expect(appCalls).to.deep.equal(listenerCalls);
    } finally {
      await Promise.all([viaApp, viaListener].map((server) => new Promise<void>((r) => server.close(() => r()))));
    }
  });

  it('times each review under its path and verdict (withMetrics)', async () => {
    const metrics = new WebhookMetrics();
    const h = withMetrics(metrics, async (request) => ({ uid: request.uid, allowed: request.operation === 'CREATE' }));
    const request = REVIEW.request as unknown as AdmissionRequest;
    const ctx = (path: string) => ({ path, log: quietLogger(), started: performance.now(), fromApiserver: false });
    await h(request, ctx('/validate/agents'));
    await h(request, ctx('/validate/agents'));
    await h({ ...request, operation: 'DELETE' }, ctx('/validate/agents'));
    await h(request, ctx('/validate/protect'));
    const text = await metrics.registry.getSingleMetricAsString('agentgate_webhook_admission_duration_seconds');
    expect(text).to.contain('agentgate_webhook_admission_duration_seconds_count{path="/validate/agents",verdict="allowed"} 2');
    expect(text).to.contain('agentgate_webhook_admission_duration_seconds_count{path="/validate/agents",verdict="denied"} 1');
    expect(text).to.contain('agentgate_webhook_admission_duration_seconds_count{path="/validate/protect",verdict="allowed"} 1');
  });

  describe('over TLS, with the apiserver client certificate required by name', function () {
    this.timeout(60_000);
    const ca = new TestCa('client-ca');
    const serving = ca.serving('127.0.0.1');
    const apiserver = ca.client('kube-apiserver');
    const mallory = ca.client('mallory');

    it('judges each connection once (a peer read per connection, not per request) and a new connection anew', async () => {
      const seen: boolean[] = [];
      const app = createApp({
        log: quietLogger(),
        metrics: new WebhookMetrics(),
        ready: () => true,
        clientAuth: { names: ['kube-apiserver'], require: true },
        routes: {
          '/validate/agents': async (request, ctx) => {
            seen.push(ctx.fromApiserver);
            return { uid: request.uid, allowed: true };
          },
        },
      });
      const server = https.createServer({ cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false }, app);
      let peerReads = 0;
      server.on('secureConnection', (socket: TLSSocket) => {
        const read = socket.getPeerCertificate.bind(socket);
        socket.getPeerCertificate = ((detailed?: boolean) => {
          peerReads++;
          return read(detailed as true);
        }) as TLSSocket['getPeerCertificate'];
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const post = (agent: https.Agent) =>
        new Promise<number>((resolve, reject) => {
          const req = https.request(
            { host: '127.0.0.1', port, path: '/validate/agents', method: 'POST', agent, ca: ca.cert, headers: { 'content-type': 'application/json' } },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify(REVIEW));
        });
      const asApiserver = new https.Agent({ keepAlive: true, maxSockets: 1, ...apiserver });
      const asMallory = new https.Agent({ keepAlive: true, maxSockets: 1, ...mallory });
      try {
        expect([await post(asApiserver), await post(asApiserver), await post(asApiserver)]).to.deep.equal([200, 200, 200]);
        expect(peerReads).to.equal(1);
        expect([await post(asMallory), await post(asMallory)]).to.deep.equal([401, 401]);
        expect(peerReads).to.equal(2);
        expect(await post(asApiserver)).to.equal(200);
        expect(peerReads).to.equal(2);
        expect(seen).to.deep.equal([true, true, true, true]);
      } finally {
        asApiserver.destroy();
        asMallory.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  });
});
