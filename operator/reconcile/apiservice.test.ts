import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { AUDIT_APISERVICE, AUDIT_HEARTBEAT_LEASE } from '../../api/types.js';
import { HEARTBEAT_PERIOD_MS } from '../../audit/heartbeat.js';
import { FakeClock } from '../../lib/clock.js';
import { fakeApiserver } from '../../testing/fake-apiserver.js';
import { quietLogger } from '../../testing/fake-cluster.js';
import { liveAuditApiServiceApi } from '../kube-writes.js';
import { type AuditApiServiceApi, AuditApiServiceReconciler, defaultAuditApiService } from './apiservice.js';

const GRACE = 60_000;

/** The APIService and the heartbeat Lease in memory; the apiserver's availability is set by the test. */
class FakeAuditApi implements AuditApiServiceApi {
  apiService?: k8s.V1APIService;
  available = false;
  lease?: { holderIdentity: string; renewTime: string };
  created: k8s.V1APIService[] = [];
  deleted = 0;
  private uids = 0;

  constructor(initial?: k8s.V1APIService) {
    if (initial) this.install(initial);
  }
  install(a: k8s.V1APIService): void {
    this.apiService = { ...structuredClone(a), metadata: { ...a.metadata, uid: `uid-${++this.uids}` } };
  }
  async read(): Promise<k8s.V1APIService | undefined> {
    if (!this.apiService) return undefined;
    return { ...this.apiService, status: { conditions: [{ type: 'Available', status: this.available ? 'True' : 'False', reason: 'FailedDiscoveryCheck' }] } };
  }
  async heartbeat() {
    return this.lease;
  }
  async create(body: k8s.V1APIService): Promise<void> {
    if (this.apiService) throw Object.assign(new Error('exists'), { code: 409 });
    this.created.push(structuredClone(body));
    this.install(body);
  }
  async delete(uid: string): Promise<void> {
    if (!this.apiService) throw Object.assign(new Error('not found'), { code: 404 });
    if (this.apiService.metadata?.uid !== uid) throw Object.assign(new Error('uid precondition'), { code: 409 });
    this.apiService = undefined;
    this.deleted++;
  }
  /** A webhook replica renews its heartbeat at the clock's time. */
  beat(clock: FakeClock): void {
    this.lease = { holderIdentity: 'webhook-0', renewTime: clock.now().toISOString() };
  }
}

const installed = (): k8s.V1APIService => {
  const a = defaultAuditApiService('agentgate-system');
  a.spec!.caBundle = 'Q0E=';
  a.metadata!.annotations = { 'cert-manager.io/inject-ca-from': 'agentgate-system/agentgate-webhook' };
  return a;
};

describe('AuditApiServiceReconciler', function () {
  let clock: FakeClock;
  let api: FakeAuditApi;
  let events: string[];
  let r: AuditApiServiceReconciler;

  beforeEach(function () {
    clock = new FakeClock();
    api = new FakeAuditApi(installed());
    events = [];
    const recorder = {
      emit: (o: { kind: string; metadata: { name?: string } }, type: string, reason: string) => events.push(`${o.kind}/${o.metadata.name} ${type} ${reason}`),
    };
    r = new AuditApiServiceReconciler({ clock, log: quietLogger(), recorder, namespace: 'agentgate-system' }, api, GRACE);
  });

  /** Reconciles as the queue would: at each requeue, until the clock reaches `until`. */
  async function runUntil(untilMs: number, each?: () => void): Promise<void> {
    const end = clock.now().getTime() + untilMs;
    while (clock.now().getTime() < end) {
      each?.();
      const { requeueAfterMs } = await r.reconcile();
      clock.advance(requeueAfterMs ?? 1_000);
    }
  }

  it('never withdraws an Available APIService, even with no heartbeat at all', async function () {
    api.available = true;
    await runUntil(10 * GRACE);
    expect(api.deleted).to.equal(0);
    expect(events).to.deep.equal([]);
  });

  it('withdraws it once it has not been Available for the grace period, not before, with a Warning event saying why', async function () {
    await runUntil(GRACE - 1_000);
    expect(api.apiService, 'still there before the grace').to.not.equal(undefined);
    await runUntil(2_000);
    expect(api.apiService).to.equal(undefined);
    expect(events).to.deep.equal([`APIService/${AUDIT_APISERVICE} Warning AuditAPIWithdrawn`]);
  });

  it('an outage shorter than the grace resets the count', async function () {
    await runUntil(GRACE - 10_000);
    api.available = true;
    await r.reconcile();
    api.available = false;
    await runUntil(GRACE - 10_000);
    expect(api.deleted).to.equal(0);
  });

  it('stays withdrawn while nothing is heard, and a heartbeat left by a dead replica does not count', async function () {
    api.beat(clock); // written before the replica died: never seen changing
    await runUntil(GRACE + 1_000);
    expect(api.apiService).to.equal(undefined);
    await runUntil(10 * GRACE);
    expect(api.created).to.deep.equal([]);
  });

  it('restores it as it was (spec, caBundle, annotations) as soon as a replica is heard again', async function () {
    await runUntil(GRACE + 1_000);
    expect(api.apiService).to.equal(undefined);
    await r.reconcile(); // the old heartbeat (none) seen
    api.beat(clock);
    await r.reconcile();
    expect(api.created).to.have.length(1);
    expect(api.created[0]!.spec).to.deep.equal(installed().spec);
    expect(api.created[0]!.metadata?.annotations).to.deep.equal(installed().metadata?.annotations);
    expect(events.at(-1)).to.equal(`APIService/${AUDIT_APISERVICE} Normal AuditAPIRestored`);
  });

  it('a heartbeat stops counting three renewal periods after it last changed', async function () {
    await runUntil(GRACE + 1_000);
    api.beat(clock); // heard from now...
    clock.advance(3 * HEARTBEAT_PERIOD_MS);
    const withdrawnAt = api.created.length;
    await r.reconcile(); // ...but first seen now, so heard: restored
    expect(api.created).to.have.length(withdrawnAt + 1);
    await runUntil(GRACE + 1_000); // never Available: withdrawn again, the heartbeat unchanged since
    expect(api.apiService).to.equal(undefined);
    await runUntil(10 * GRACE);
    expect(api.created, 'a heartbeat that stopped changing is not heard').to.have.length(withdrawnAt + 1);
  });

  it('with no APIService ever seen it restores the chart default', async function () {
    api = new FakeAuditApi();
    r = new AuditApiServiceReconciler({ clock, log: quietLogger(), recorder: { emit: () => undefined }, namespace: 'ns1' }, api, GRACE);
    await r.reconcile();
    api.beat(clock);
    clock.advance(1_000);
    await r.reconcile();
    expect(api.created[0]).to.deep.equal(defaultAuditApiService('ns1'));
    expect(api.created[0]!.spec?.service).to.deep.equal({ name: 'agentgate-audit', namespace: 'ns1', port: 443 });
  });

  it("with no APIService ever seen and cert-manager injecting the CA, the restored default keeps cainjector's annotation", async function () {
    api = new FakeAuditApi();
    const c = { clock, log: quietLogger(), recorder: { emit: () => undefined }, namespace: 'ns1' };
    r = new AuditApiServiceReconciler(c, api, GRACE, 'ns1/agentgate-webhook');
    await r.reconcile();
    api.beat(clock);
    clock.advance(1_000);
    await r.reconcile();
    expect(api.created[0]!.metadata?.annotations).to.deep.equal({ 'cert-manager.io/inject-ca-from': 'ns1/agentgate-webhook' });
    expect(api.created[0]!.spec?.caBundle).to.equal(undefined);
  });

  it('backs off restores that never become Available (grace, then doubling), and resets once one does', async function () {
    const restores: number[] = [];
    const t0 = clock.now().getTime();
    // A replica that beats but the apiserver cannot reach.
    await runUntil(12 * GRACE, () => {
      api.beat(clock);
      if (api.created.length > restores.length) restores.push(clock.now().getTime() - t0);
    });
    const gaps = restores.slice(1).map((t, i) => t - restores[i]!);
    // Each cycle: grace unavailable, then a wait that doubles (0, grace, 2 grace, ...).
    expect(gaps.length).to.be.at.least(2);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).to.be.greaterThan(gaps[i - 1]!);
    api.available = true;
    const before = api.created.length;
    if (!api.apiService) await runUntil(20 * GRACE, () => api.beat(clock));
    await r.reconcile();
    expect(api.apiService, 'restored and Available').to.not.equal(undefined);
    api.available = false;
    const n = api.created.length;
    await runUntil(GRACE + 1_000, () => api.beat(clock));
    await runUntil(5_000, () => api.beat(clock));
    expect(api.created.length, 'after an Available spell the next restore is immediate again').to.equal(n + 1);
    expect(before).to.be.greaterThan(0);
  });

  it('leaves alone an APIService re-created meanwhile (a helm upgrade): the delete carries the uid it saw', async function () {
    const read = api.read.bind(api);
    api.read = async () => {
      const seen = await read();
      api.install(installed()); // re-created between the read and the delete
      return seen;
    };
    await runUntil(GRACE + 1_000);
    expect(api.apiService).to.not.equal(undefined);
    expect(events).to.deep.equal([]);
  });
});

describe('liveAuditApiServiceApi', function () {
  const path = `/apis/apiregistration.k8s.io/v1/apiservices/${AUDIT_APISERVICE}`;

  it('reads by name (absent: undefined), the heartbeat Lease in its namespace, and deletes with the uid it saw', async function () {
    const { kube, seen, close } = await fakeApiserver((s) =>
      s.url?.includes('/leases/')
        ? { code: 200, body: '{"spec":{"holderIdentity":"w","renewTime":"2030-01-01T00:00:00.000000Z"}}' }
        : s.method === 'GET'
          ? { code: 404, body: '{}' }
          : { code: 200, body: '{}' },
    );
    try {
      const api = liveAuditApiServiceApi(kube, 'ns1');
      expect(await api.read()).to.equal(undefined);
      expect(await api.heartbeat()).to.deep.equal({ holderIdentity: 'w', renewTime: '2030-01-01T00:00:00.000000Z' });
      await api.delete('uid-1');
      await api.create(defaultAuditApiService('ns1'));
    } finally {
      close();
    }
    expect(seen.map((s) => `${s.method} ${s.url}`)).to.deep.equal([
      `GET ${path}`,
      `GET /apis/coordination.k8s.io/v1/namespaces/ns1/leases/${AUDIT_HEARTBEAT_LEASE}`,
      `DELETE ${path}`,
      'POST /apis/apiregistration.k8s.io/v1/apiservices',
    ]);
    expect(JSON.parse(seen[2]!.body)).to.deep.equal({ preconditions: { uid: 'uid-1' } });
  });
});
