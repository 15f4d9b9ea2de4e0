// The aggregated API over real TLS: who is believed, and what they may read.
import { expect } from 'chai';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { newLogger } from '../../lib/log.js';
import type { AuditStore, StoredEvent } from '../store.js';
import { Authenticator } from './authn.js';
import type { UserInfo } from './authn.js';
import type { ResourceAttributes } from './authz.js';
import { frontProxyAuthn, TestCa } from './certs.test-helpers.js';
import { auditApiHandler } from './handler.js';

const event: StoredEvent = {
  rv: '7',
  name: 'w-0000000001',
  source: 'admission',
  outcome: 'Completed',
  code: 201,
  spec: {
    time: '2026-01-01T00:00:00Z',
    agent: 'deploy-bot',
    user: 'agent:deploy-bot',
    operation: 'CREATE',
    group: '',
    version: 'v1',
    resource: 'configmaps',
    namespace: 'payments',
    name: 'cm',
    decision: 'Allowed',
    reason: 'covered by grant g',
    requestUID: 'u1',
    chain: { writer: 'w', sequence: 1, previousHash: '0'.repeat(64), hash: 'a'.repeat(64) },
  },
};

/** Which store read served each list: 'list', or 'summaries:<spec fields>'. */
const reads: string[] = [];
/** Set to make the store's change feed fail, as when the database goes away mid-watch. */
let changesFail: Error | undefined;
const fakeStore = {
  list: async () => {
    reads.push('list');
    return { items: [event], resourceVersion: '7' };
  },
  listSummaries: async (_q: unknown, _ns: string, _managedBy: string, fields: string[]) => {
    reads.push(`summaries:${[...fields].sort().join(',')}`);
    return { items: [event], resourceVersion: '7' };
  },
  get: async (name: string) => (name === event.name ? event : undefined),
  changesSince: async () => {
    if (changesFail) throw changesFail;
    return [];
  },
} as unknown as AuditStore;

describe('audit API: delegated authentication and authorization', function () {
  this.timeout(30_000);
  const proxyCa = new TestCa('front-proxy-ca');
  const clusterCa = new TestCa('cluster-ca');
  const impostorCa = new TestCa('front-proxy-ca'); // same name, other key
  const proxy = proxyCa.client('front-proxy-client');
  const wrongName = proxyCa.client('someone-else');
  const impostor = impostorCa.client('front-proxy-client');
  const alice = clusterCa.client('alice', ['sre-approvers']);
  const serving = new TestCa('serving-ca').serving('127.0.0.1');
  const reviews: Array<{ user: UserInfo; attrs: ResourceAttributes }> = [];
  let server: https.Server;
  let port = 0;

  before(async function () {
    const config = frontProxyAuthn(proxyCa, clusterCa);
    const authenticator = new Authenticator(
      () => config,
      async (token) => (token === 'good-token' ? { username: 'system:serviceaccount:x:y', groups: ['system:serviceaccounts'], extra: {} } : undefined),
    );
    const handler = auditApiHandler({
      store: fakeStore,
      namespace: 'agentgate-system',
      authenticator,
      authorize: async (user, attrs) => {
        reviews.push({ user, attrs });
        return { allowed: user.username === 'alice' || user.groups.includes('system:masters') };
      },
      log: newLogger('test'),
    });
    server = https.createServer(
      { cert: serving.cert, key: serving.key, requestCert: true, rejectUnauthorized: false, ca: [proxyCa.cert, clusterCa.cert] },
      handler,
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });

  after(function () {
    server.close();
  });

  function get(path: string, opts: { cert?: { cert: string; key: string }; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path,
          ca: serving.ca,
          headers: opts.headers ?? {},
          ...(opts.cert ? { cert: opts.cert.cert, key: opts.cert.key } : {}),
          agent: false,
        },
        (res) => {
          let data = '';
          res.on('data', (d: Buffer) => (data += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data.startsWith('{') ? JSON.parse(data) : data }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const list = '/apis/audit.agentgate.io/v1alpha1/namespaces/agentgate-system/auditevents';

  it('refuses a forged X-Remote-User without the front proxy certificate', async function () {
    const r = await get(list, { headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } });
    expect(r.status).to.equal(401);
    expect(r.body.reason).to.equal('Unauthorized');
  });

  it('refuses X-Remote-User from a certificate of another CA with the proxy name', async function () {
    const r = await get(list, { cert: impostor, headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } });
    expect(r.status).to.equal(401);
  });

  it('refuses the proxy CA certificate of a name not allowed', async function () {
    const r = await get(list, { cert: wrongName, headers: { 'X-Remote-User': 'alice' } });
    expect(r.status).to.equal(401);
    expect(r.body.message).to.contain('not an allowed name');
  });

  it('a client certificate of the cluster CA is its own identity: its X-Remote-User is ignored', async function () {
    const r = await get(list, { cert: alice, headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } });
    expect(r.status).to.equal(200);
    expect(reviews.at(-1)!.user).to.include({ username: 'alice' });
  });

  it('believes the front proxy, and asks a SubjectAccessReview for the user it names', async function () {
    const denied = await get(list, { cert: proxy, headers: { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'developers' } });
    expect(denied.status).to.equal(403);
    expect(denied.body.message).to.contain('User "mallory" cannot list resource "auditevents" in API group "audit.agentgate.io"');
    expect(reviews.at(-1)!.attrs).to.deep.include({ verb: 'list', group: 'audit.agentgate.io', resource: 'auditevents', namespace: 'agentgate-system' });
    const ok = await get(list, { cert: proxy, headers: { 'X-Remote-User': 'bob', 'X-Remote-Group': 'system:masters', 'X-Remote-Extra-Scopes': 'a' } });
    expect(ok.status).to.equal(200);
    expect(ok.body.items[0].metadata).to.include({ name: event.name, namespace: 'agentgate-system', resourceVersion: '7' });
    expect(ok.body.items[0].metadata.labels).to.include({
      'agentgate.io/agent': 'deploy-bot',
      'agentgate.io/decision': 'Allowed',
      'agentgate.io/outcome': 'Completed',
    });
    expect(reviews.at(-1)!.user.extra).to.deep.equal({ scopes: ['a'] });
  });

  it('bearer tokens go through TokenReview', async function () {
    expect((await get(list, { headers: { authorization: 'Bearer bad' } })).status).to.equal(401);
    const r = await get(list, { headers: { authorization: 'Bearer good-token' } });
    expect(r.status).to.equal(403);
    expect(reviews.at(-1)!.user.username).to.equal('system:serviceaccount:x:y');
  });

  it('serves discovery, OpenAPI v3 with the GVK, and a Table with the printer columns', async function () {
    const as = { cert: proxy, headers: { 'X-Remote-User': 'alice' } };
    const rl = await get('/apis/audit.agentgate.io/v1alpha1', as);
    expect(rl.body.resources[0]).to.include({ name: 'auditevents', kind: 'AuditEvent', namespaced: true });
    expect(rl.body.resources[0].verbs).to.deep.equal(['get', 'list', 'watch']);
    const idx = await get('/openapi/v3', as);
    const url = idx.body.paths['apis/audit.agentgate.io/v1alpha1'].serverRelativeURL as string;
    const doc = await get(url, as);
    const schema = Object.values(doc.body.components.schemas as Record<string, any>).find(
      (s) => s['x-kubernetes-group-version-kind']?.[0]?.kind === 'AuditEvent',
    );
    expect(schema.properties.spec.properties.agent.description).to.be.a('string');
    const t = await get(list, { cert: proxy, headers: { 'X-Remote-User': 'alice', accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
    expect(t.body.kind).to.equal('Table');
    expect(t.body.columnDefinitions.map((c: any) => c.name)).to.include.members(['Name', 'Agent', 'Decision', 'Outcome', 'Age']);
    const row = t.body.rows[0];
    expect(row.cells[0]).to.equal(event.name);
    expect(row.object.kind).to.equal('PartialObjectMetadata');
  });

  it("a Table without whole objects (kubectl get) reads only the printer columns' spec fields; JSON and includeObject=Object read whole specs", async function () {
    const headers = { 'X-Remote-User': 'alice', accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' };
    reads.length = 0;
    await get(list, { cert: proxy, headers });
    expect(reads).to.deep.equal(['summaries:agent,decision,name,namespace,operation,reason,resource']);
    reads.length = 0;
    const whole = await get(`${list}?includeObject=Object`, { cert: proxy, headers });
    expect(whole.body.rows[0].object.spec.chain.hash).to.equal(event.spec.chain.hash);
    await get(list, { cert: proxy, headers: { 'X-Remote-User': 'alice' } });
    expect(reads).to.deep.equal(['list', 'list']);
  });

  it('ends a watch whose store fails with an ERROR event, never leaving the client hanging', async function () {
    changesFail = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    try {
      // get() resolves only when the response ends: a watch left open fails this test by its timeout.
      const r = await get(`${list}?watch=true&resourceVersion=7`, { cert: proxy, headers: { 'X-Remote-User': 'alice' } });
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.include({ type: 'ERROR' });
      expect(r.body.object).to.include({ kind: 'Status', code: 503 });
      expect(r.body.object.message).to.contain('ECONNREFUSED');
    } finally {
      changesFail = undefined;
    }
  });

  it('is read-only', async function () {
    const r = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: `${list}/${event.name}`,
          method: 'DELETE',
          ca: serving.ca,
          cert: proxy.cert,
          key: proxy.key,
          headers: { 'X-Remote-User': 'alice' },
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(r).to.equal(405);
  });
});
