import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { apiPath, GV, KubeApi, errorMessage, statusCode } from './kube.js';

interface Seen {
  method?: string;
  url?: string;
  contentType?: string;
  body: string;
}

/** A local apiserver stand-in that records each request and answers with `reply`. */
async function fakeApiserver(reply: (s: Seen) => { code: number; body: string }): Promise<{ kube: KubeApi; seen: Seen[]; close: () => void }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method, url: req.url, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.code, { 'content-type': 'application/json' }).end(r.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kube: new KubeApi(kc), seen, close: () => server.close() };
}

describe('KubeApi', function () {
  it('sends a DELETE body the server reads, and the next request on the connection intact', async function () {
    const { kube, seen, close } = await fakeApiserver(() => ({ code: 200, body: '{}' }));
    try {
      const rb = apiPath(GV.rbac, 'rolebindings', 'team', 'rb');
      await kube.delete(rb, { preconditions: { uid: 'u-1' } });
      await kube.mergePatch(rb, { metadata: { finalizers: null } });
      expect(seen.map((s) => [s.method, s.url, s.body])).to.deep.equal([
        ['DELETE', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/rb', '{"preconditions":{"uid":"u-1"}}'],
        ['PATCH', '/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/rb', '{"metadata":{"finalizers":null}}'],
      ]);
      expect(seen[1]!.contentType).to.equal('application/merge-patch+json');
    } finally {
      close();
    }
  });

  it("fails with the apiserver's status code and message", async function () {
    const status = { kind: 'Status', code: 409, message: 'the object has been modified' };
    const { kube, close } = await fakeApiserver(() => ({ code: 409, body: JSON.stringify(status) }));
    try {
      const err = await kube.get(apiPath(GV.core, 'namespaces'), { labelSelector: 'a=b' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(statusCode(err)).to.equal(409);
      expect(errorMessage(err)).to.equal('the object has been modified');
    } finally {
      close();
    }
  });
});
