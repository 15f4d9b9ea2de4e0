import { expect } from 'chai';
import type * as k8s from '@kubernetes/client-node';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { FakeClock } from '../lib/clock.js';
import { newLogger } from '../lib/log.js';
import { EventRecorder, SIMILAR_MAX, SIMILAR_WINDOW_MS, type EventsApi } from './events.js';

function fakeApi(): { api: EventsApi; created: k8s.CoreV1Event[]; patched: Array<{ name: string; body: { count?: number } }> } {
  const created: k8s.CoreV1Event[] = [];
  const patched: Array<{ name: string; body: { count?: number } }> = [];
  const api: EventsApi = {
    create: async (_ns, body) => {
      created.push(body);
      return body;
    },
    mergePatch: async (_ns, name, body) => {
      patched.push({ name, body: { count: body.count } });
      return {};
    },
  };
  return { api, created, patched };
}

const settle = () => new Promise((r) => setTimeout(r, 20));
const grant = (i: number) => ({ apiVersion: 'agentgate.io/v1alpha1', kind: 'AccessGrant', metadata: { name: `g-${i}`, namespace: 'payments', uid: `u-${i}` } });

describe('EventRecorder', function () {
  it('writes the first similar events one by one, then one combined event carrying the count', async function () {
    const clock = new FakeClock('2030-01-01T00:00:00Z');
    const { api, created, patched } = fakeApi();
    const r = new EventRecorder(new KubeConfig(), { component: 'op', instance: 'i', clock, log: newLogger('test'), api });
    for (let i = 0; i < 1000; i++) r.emit(grant(i), 'Normal', 'Activated', `bound g-${i}`);
    await settle();
    expect(created).to.have.length(SIMILAR_MAX);
    r.flushCombined();
    await settle();
    expect(created).to.have.length(SIMILAR_MAX + 1);
    expect(created[SIMILAR_MAX]).to.include({ count: 1000 - SIMILAR_MAX, reason: 'Activated', message: '(combined from similar events): bound g-999' });
    for (let i = 0; i < 5; i++) r.emit(grant(i), 'Normal', 'Activated', 'again');
    r.flushCombined();
    await settle();
    expect(patched).to.have.length(1);
    expect(patched[0]!.body.count).to.equal(1000 - SIMILAR_MAX + 5);
    // Another reason is another stream; a new window starts over.
    r.emit(grant(1), 'Warning', 'Revoked', 'x');
    clock.advance(SIMILAR_WINDOW_MS + 1);
    r.emit(grant(1), 'Normal', 'Activated', 'later');
    await settle();
    expect(created.slice(-2).map((e) => e.reason)).to.deep.equal(['Revoked', 'Activated']);
  });
});
