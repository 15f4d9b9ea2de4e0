import { expect } from 'chai';
import { AUDIT_HEARTBEAT_LEASE } from '../api/types.js';
import { fakeApiserver } from '../testing/fake-apiserver.js';
import { HEARTBEAT_PERIOD_MS, renewAuditHeartbeat } from './heartbeat.js';

const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/ns1/leases/${AUDIT_HEARTBEAT_LEASE}`;
const now = new Date('2030-01-01T00:00:00.123Z');

describe('renewAuditHeartbeat', function () {
  it("renews by a merge patch of the Lease's spec: who, when (microseconds), for how long", async function () {
    const { kube, seen, close } = await fakeApiserver(() => ({ code: 200, body: '{}' }));
    try {
      await renewAuditHeartbeat(kube, 'ns1', 'webhook-0', now);
    } finally {
      close();
    }
    expect(seen.map((s) => `${s.method} ${s.url} ${s.contentType}`)).to.deep.equal([`PATCH ${LEASE_PATH} application/merge-patch+json`]);
    expect(JSON.parse(seen[0]!.body)).to.deep.equal({
      spec: { holderIdentity: 'webhook-0', renewTime: '2030-01-01T00:00:00.123000Z', leaseDurationSeconds: (3 * HEARTBEAT_PERIOD_MS) / 1000 },
    });
  });

  it('creates the Lease when it does not exist, and takes a replica creating it first as done', async function () {
    for (const createCode of [201, 409]) {
      const { kube, seen, close } = await fakeApiserver((s) => (s.method === 'PATCH' ? { code: 404, body: '{}' } : { code: createCode, body: '{}' }));
      try {
        await renewAuditHeartbeat(kube, 'ns1', 'webhook-0', now);
      } finally {
        close();
      }
      expect(seen.map((s) => `${s.method} ${s.url}`)).to.deep.equal([`PATCH ${LEASE_PATH}`, 'POST /apis/coordination.k8s.io/v1/namespaces/ns1/leases']);
      expect(JSON.parse(seen[1]!.body)).to.include({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' });
      expect(JSON.parse(seen[1]!.body).metadata.name).to.equal(AUDIT_HEARTBEAT_LEASE);
    }
  });

  it('fails on anything else (the caller warns with the fix)', async function () {
    const { kube, close } = await fakeApiserver(() => ({ code: 403, body: '{"message":"forbidden"}' }));
    try {
      const err = await renewAuditHeartbeat(kube, 'ns1', 'webhook-0', now).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Error);
    } finally {
      close();
    }
  });
});
