import { expect } from 'chai';
import { fakeApiserver } from '../testing/fake-apiserver.js';
import { apiPath, GV, errorMessage, statusCode } from './kube.js';

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
