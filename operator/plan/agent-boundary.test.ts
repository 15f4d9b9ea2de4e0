import { expect } from 'chai';
import type { AgentIdentity } from '../../api/types.js';
import type { AgentReport } from '../../boundary/types.js';
import { agentIdentity, withMeta, withObjectStatus } from '../../testing/fixtures.js';
import { LAST_VERIFIED_REFRESH_MS, planBoundaryStatus } from './agent.js';

const now = new Date('2030-01-01T00:00:00Z');

function agent(status?: AgentIdentity['status']): AgentIdentity {
  return agentIdentity('deploy-bot', withMeta<AgentIdentity>({ generation: 3 }), withObjectStatus<AgentIdentity>(status));
}

const clean: AgentReport = { agent: 'deploy-bot', verified: true, findings: [], reviews: 10 };
const standing: AgentReport = {
  agent: 'deploy-bot',
  verified: false,
  reviews: 10,
  findings: [{ severity: 'Critical', route: 'StandingBinding', object: 'ClusterRoleBinding/x', message: 'm', fix: 'f' }],
};

describe('operator: BoundaryVerified status', function () {
  it('writes the condition, findings and lastVerified for a new agent', function () {
    const s = planBoundaryStatus(agent(), standing, now)!;
    const c = s.conditions!.find((x) => x.type === 'BoundaryVerified')!;
    expect(c).to.include({ status: 'False', reason: 'BypassRoutesFound', observedGeneration: 3, lastTransitionTime: '2030-01-01T00:00:00Z' });
    expect(s.findings).to.have.length(1);
    expect(s.lastVerified).to.equal('2030-01-01T00:00:00Z');
  });

  it('keeps other conditions and the operator-owned fields', function () {
    const before = agent({
      activeGrants: 2,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '2 active grants', lastTransitionTime: '2029-12-31T00:00:00Z' }],
    });
    const s = planBoundaryStatus(before, clean, now)!;
    expect(s.activeGrants).to.equal(2);
    expect(s.conditions!.map((c) => c.type).sort()).to.deep.equal(['BoundaryVerified', 'Ready']);
  });

  it('writes nothing when nothing changed and lastVerified is fresh; refreshes it when stale', function () {
    const written = planBoundaryStatus(agent(), clean, now)!;
    const same = agent(written);
    expect(planBoundaryStatus(same, clean, new Date(now.getTime() + 60_000))).to.equal(undefined);
    const later = planBoundaryStatus(same, clean, new Date(now.getTime() + LAST_VERIFIED_REFRESH_MS + 1000))!;
    expect(later.lastVerified).to.equal('2030-01-01T00:05:01Z');
    // The transition time stays when the status does not change.
    expect(later.conditions!.find((c) => c.type === 'BoundaryVerified')!.lastTransitionTime).to.equal('2030-01-01T00:00:00Z');
  });

  it('writes at once when a finding appears or goes', function () {
    const written = agent(planBoundaryStatus(agent(), clean, now)!);
    const s = planBoundaryStatus(written, standing, new Date(now.getTime() + 1000))!;
    expect(s.conditions!.find((c) => c.type === 'BoundaryVerified')!.status).to.equal('False');
  });
});
