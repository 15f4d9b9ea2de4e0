import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { AgentReport } from '../boundary/types.js';
import { newLogger } from '../lib/log.js';
import { FakeTimers } from '../testing/fake-timers.js';
import { BoundaryVerifier, nextPassDelayMs, type PassResult } from './boundary.js';
import type { BoundaryChange } from './boundary-scope.js';

describe('boundary verification pacing', function () {
  it('keeps the debounce while passes are cheap', function () {
    expect(nextPassDelayMs(2000, 0)).to.equal(2000);
    expect(nextPassDelayMs(2000, 300)).to.equal(2000);
  });

  it('waits four passes long after a costly pass, so verification takes at most a fifth of the time', function () {
    expect(nextPassDelayMs(2000, 1000)).to.equal(4000);
    expect(nextPassDelayMs(2000, 2500)).to.equal(10_000);
  });

  it('never delays what is asked for now (start, the periodic backstop)', function () {
    expect(nextPassDelayMs(0, 5000)).to.equal(0);
  });
});

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** A pass that records what it was asked and takes `costMs` of (fake) time; `fail` makes the next one throw. */
class FakePass {
  readonly calls: Array<{ changes: BoundaryChange[] | 'all'; at: number }> = [];
  costMs = 0;
  fail = false;
  /** Resolves the pass in progress when `hold` is set. */
  release?: () => void;
  hold = false;
  constructor(private readonly t: FakeTimers) {}

  run = async (changes: BoundaryChange[] | 'all'): Promise<PassResult> => {
    this.calls.push({ changes, at: this.t.now });
    if (this.hold) await new Promise<void>((r) => (this.release = r));
    this.t.now += this.costMs; // time spent inside the pass; due timers fire at the next advance
    if (this.fail) {
      this.fail = false;
      throw new Error('apiserver unavailable');
    }
    const agents: AgentReport[] = changes === 'all' ? [{ agent: 'deploy-bot', verified: true, findings: [], reviews: 0 }] : [];
    return { generatedAt: new Date(this.t.now).toISOString(), agents, reviewErrors: [], scope: changes === 'all' ? 'all' : new Set() };
  };
}

function verifier(t: FakeTimers, pass: FakePass, published: string[] = []): BoundaryVerifier {
  return new BoundaryVerifier({
    kc: {} as k8s.KubeConfig, // never used: the pass is a fake
    clock: t.clock,
    log: newLogger('test', 'error'),
    namespace: 'agentgate-system',
    intervalMs: 3_600_000,
    registry: new Registry(),
    publish: (report) => published.push(report.agent),
    timers: t,
    pass: pass.run,
  });
}

/** A verifier started, its first (full) pass done. */
async function started(t: FakeTimers, pass: FakePass, published?: string[]): Promise<BoundaryVerifier> {
  const v = verifier(t, pass, published);
  v.start();
  t.advance(0);
  await flush();
  return v;
}

/** Moves the fake time on and lets the passes it started finish. */
async function elapse(t: FakeTimers, ms: number): Promise<void> {
  t.advance(ms);
  await flush();
}

const roleChange = (name: string): BoundaryChange => ({ kind: 'ClusterRole', role: { metadata: { name } } });

describe('BoundaryVerifier', function () {
  let v: BoundaryVerifier | undefined;
  afterEach(async function () {
    await v?.stop();
    v = undefined;
  });

  it('verifies every agent at start, at once, and publishes each report', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    const published: string[] = [];
    v = await started(t, pass, published);
    expect(pass.calls.map((c) => c.changes)).to.deep.equal(['all']);
    expect(published).to.deep.equal(['deploy-bot']);
  });

  it('collects a burst of changes into one scoped pass after the 2 s debounce', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = await started(t, pass);
    v.changed(roleChange('a'));
    t.advance(500);
    v.changed(roleChange('b'));
    await elapse(t, 1499);
    expect(pass.calls).to.have.length(1);
    await elapse(t, 1);
    expect(pass.calls).to.have.length(2);
    expect(pass.calls[1]!.changes).to.deep.equal([roleChange('a'), roleChange('b')]);
  });

  it('paces a scoped pass by the last scoped pass: four times its cost', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = await started(t, pass);
    pass.costMs = 1000;
    v.changed(roleChange('a'));
    await elapse(t, 2000);
    expect(pass.calls).to.have.length(2);
    pass.costMs = 0;
    v.changed(roleChange('b'));
    expect(t.nextInMs).to.equal(4000);
    await elapse(t, 3999);
    expect(pass.calls).to.have.length(2);
    await elapse(t, 1);
    expect(pass.calls).to.have.length(3);
  });

  it('does not let a costly full pass delay the scoped pass after it (a planted binding is found in the debounce)', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = verifier(t, pass);
    pass.costMs = 5000; // a full pass over many agents
    v.start();
    await elapse(t, 0);
    pass.costMs = 0;
    v.changed({
      kind: 'ClusterRoleBinding',
      binding: {
        metadata: { name: 'planted' },
        subjects: [{ kind: 'User', name: 'agent:deploy-bot' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      },
    });
    expect(t.nextInMs).to.equal(2000);
    await elapse(t, 2000);
    expect(pass.calls.map((c) => (c.changes === 'all' ? 'all' : 'scoped'))).to.deep.equal(['all', 'scoped']);
  });

  it('runs again after a pass for the changes that arrived while it ran', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = await started(t, pass);
    pass.hold = true;
    v.changed(roleChange('a'));
    await elapse(t, 2000);
    expect(pass.calls).to.have.length(2);
    v.changed(roleChange('b'));
    await elapse(t, 2000); // its debounce fires while the pass runs: it waits for it
    expect(pass.calls).to.have.length(2);
    pass.hold = false;
    pass.release!();
    await flush();
    // The held pass took 2 s of clock time, so the next one is paced to 8 s after it.
    expect(t.nextInMs).to.equal(8000);
    await elapse(t, 8000);
    expect(pass.calls).to.have.length(3);
    expect(pass.calls[2]!.changes).to.deep.equal([roleChange('b')]);
  });

  it('verifies every agent after a failed pass (what it was to verify is still to verify)', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = await started(t, pass);
    pass.fail = true;
    v.changed(roleChange('a'));
    await elapse(t, 2000);
    v.changed(roleChange('b'));
    await elapse(t, 2000);
    expect(pass.calls.map((c) => c.changes)).to.deep.equal(['all', [roleChange('a')], 'all']);
  });

  it('verifies every agent when more changes are pending than working out their reach is worth', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = await started(t, pass);
    for (let i = 0; i <= 2000; i++) v.changed(roleChange(`r${i}`));
    await elapse(t, 2000);
    expect(pass.calls.map((c) => c.changes)).to.deep.equal(['all', 'all']);
  });

  it('leaves no timer behind when stopped, and runs no pass after', async function () {
    const t = new FakeTimers();
    const pass = new FakePass(t);
    v = await started(t, pass);
    v.changed(roleChange('a'));
    await v.stop();
    expect(t.count).to.equal(0);
    v.changed(roleChange('b'));
    await elapse(t, 60_000);
    expect(pass.calls).to.have.length(1);
  });
});
