import { expect } from 'chai';
import type { AccessGrant } from '../api/types.js';
import { FINALIZER, PROTECT_WEBHOOK } from '../api/types.js';
import { uninstall, UninstallTimeout, type BindingRef, type UninstallCluster } from './uninstall.js';

/** A fake cluster that records the order of changes; an operator pod can linger for a while. */
class FakeCluster implements UninstallCluster {
  events: string[] = [];
  configurations = new Set(['agentgate-agents', 'agentgate-protect', 'agentgate-stamp']);
  bindings: BindingRef[] = [
    { namespace: 'payments', name: 'agentgate-hotfix' },
    { namespace: 'shop', name: 'agentgate-deploy' },
  ];
  grants: AccessGrant[] = [grant('payments', 'hotfix'), grant('shop', 'deploy')];
  operatorDeployment = true;
  podsLeft = 2;
  /** Bindings an operator replica that acted late re-creates after the first deletion pass. */
  lateBindings: BindingRef[] = [];
  conflictsLeft = 0;

  async scaleOperatorToZero(): Promise<boolean> {
    this.events.push('scale');
    return this.operatorDeployment;
  }
  async operatorPods(): Promise<number> {
    return this.podsLeft-- > 0 ? this.podsLeft + 1 : 0;
  }
  async deleteConfiguration(_kind: 'Validating' | 'Mutating', name: string): Promise<boolean> {
    this.events.push(`delete ${name}`);
    return this.configurations.delete(name);
  }
  async managedBindings(): Promise<BindingRef[]> {
    return [...this.bindings];
  }
  async deleteBinding(b: BindingRef): Promise<void> {
    if (this.configurations.has(PROTECT_WEBHOOK)) throw new Error('the protect webhook refuses: it must be gone first');
    this.events.push(`delete binding ${b.namespace}/${b.name}`);
    this.bindings = this.bindings.filter((x) => x.name !== b.name || x.namespace !== b.namespace);
    if (this.bindings.length === 0 && this.lateBindings.length) {
      this.bindings = this.lateBindings;
      this.lateBindings = [];
    }
  }
  async grantsWithFinalizer(): Promise<AccessGrant[]> {
    return this.grants.filter((g) => g.metadata.finalizers?.includes(FINALIZER));
  }
  async releaseGrant(g: AccessGrant): Promise<void> {
    if (this.conflictsLeft-- > 0) throw Object.assign(new Error('conflict'), { code: 409 });
    this.events.push(`release ${g.metadata.namespace}/${g.metadata.name}`);
    g.metadata.finalizers = [];
  }
}

function grant(namespace: string, name: string): AccessGrant {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AccessGrant',
    metadata: { name, namespace, finalizers: [FINALIZER] },
    spec: {},
  } as unknown as AccessGrant;
}

function options(revoke: boolean, lines: string[] = [], timeoutMs = 60_000) {
  let t = 0;
  return {
    namespace: 'agentgate-system',
    revoke,
    timeoutMs,
    sleep: async (ms: number) => void (t += ms),
    now: () => t,
    out: (l: string) => void lines.push(l),
  };
}

describe('agentgate uninstall', function () {
  it('stops the operator, drops the protect configuration, revokes, releases grants, then removes the rest — in that order', async function () {
    const c = new FakeCluster();
    const report = await uninstall(c, options(true));
    expect(c.events).to.deep.equal([
      'scale',
      'delete agentgate-protect',
      'delete binding payments/agentgate-hotfix',
      'delete binding shop/agentgate-deploy',
      'release payments/hotfix',
      'release shop/deploy',
      'delete agentgate-agents',
      'delete agentgate-stamp',
      'delete agentgate-protect',
    ]);
    expect(report).to.deep.equal({
      operatorStopped: true,
      bindingsDeleted: 2,
      grantsReleased: 2,
      configurationsDeleted: ['agentgate-protect', 'agentgate-agents', 'agentgate-stamp'],
    });
    expect(c.bindings).to.deep.equal([]);
    expect(c.configurations.size).to.equal(0);
  });

  it('keeps revoking until a pass finds nothing (a binding re-created late, a grant changed meanwhile)', async function () {
    const c = new FakeCluster();
    c.lateBindings = [{ namespace: 'payments', name: 'agentgate-late' }];
    c.conflictsLeft = 1;
    const report = await uninstall(c, options(true));
    expect(report.bindingsDeleted).to.equal(3);
    expect(report.grantsReleased).to.equal(2);
    expect(c.bindings).to.deep.equal([]);
    expect(await c.grantsWithFinalizer()).to.deep.equal([]);
  });

  it('changes nothing without --revoke and says what it would do', async function () {
    const c = new FakeCluster();
    const lines: string[] = [];
    await uninstall(c, options(false, lines));
    expect(c.events).to.deep.equal([]);
    expect(lines.join('\n')).to.contain('would delete 2 RoleBinding(s)').and.contain('pass --revoke');
  });

  it('works without an operator Deployment (components run elsewhere), saying so', async function () {
    const c = new FakeCluster();
    c.operatorDeployment = false;
    const lines: string[] = [];
    const report = await uninstall(c, options(true, lines));
    expect(report.operatorStopped).to.equal(false);
    expect(lines[0]).to.contain('stop the operator yourself');
  });

  it('gives up after --timeout when the operator pods do not stop, naming what it waited for', async function () {
    const c = new FakeCluster();
    c.podsLeft = 1_000;
    const err = await uninstall(c, options(true, [], 5_000)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UninstallTimeout);
    expect((err as Error).message).to.contain('operator pods');
    expect(c.configurations.size, 'nothing removed while the operator may still act').to.equal(3);
  });
});
