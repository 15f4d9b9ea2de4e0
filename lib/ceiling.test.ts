import { expect } from 'chai';
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { accessGrant, agentIdentity, withMeta } from '../testing/fixtures.js';
import { CEILING_CHECKS, CEILING_REASON, ceilingProblems, firstCeilingProblem, type CeilingInput } from './ceiling.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const at = (hours: number): string => new Date(NOW.getTime() + hours * 3_600_000).toISOString();

const agent = (): AgentIdentity =>
  agentIdentity('deploy-bot', { maxDuration: '2h', allowedRoles: [{ kind: 'ClusterRole', name: 'edit' }], allowedNamespaces: { names: ['payments'] } });

const grant = (spec: Partial<AccessGrant['spec']> = {}, meta: Partial<AccessGrant['metadata']> = {}): AccessGrant =>
  accessGrant('hotfix', 'payments', spec, withMeta<AccessGrant>(meta));

const input = (g: AccessGrant, over: Partial<CeilingInput> = {}): CeilingInput => ({
  grant: g,
  agent: agent(),
  namespaceLabels: {},
  agentgateNamespace: 'agentgate-system',
  now: NOW,
  ...over,
});

describe('ceiling', function () {
  it('is one ordered chain of named checks', function () {
    expect(CEILING_CHECKS.map((c) => c.name)).to.deep.equal([
      'NotAgentgateNamespace',
      'AllowedNamespace',
      'AllowedRole',
      'MaxDurationValid',
      'WindowWithinMaxDuration',
    ]);
  });

  it('reports every problem, or only the first, from the same checks', function () {
    const bad = grant({ roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, duration: '3h' }, { namespace: 'billing' });
    const all = ceilingProblems(input(bad));
    expect(all.map((p) => p.check)).to.deep.equal(['AllowedNamespace', 'AllowedRole', 'WindowWithinMaxDuration']);
    expect(all.map((p) => p.message.split(':')[0])).to.deep.equal(['metadata.namespace', 'spec.roleRef', 'spec.duration']);
    expect(firstCeilingProblem(input(bad))).to.deep.equal(all[0]);
    expect(ceilingProblems(input(grant()))).to.deep.equal([]);
    expect(firstCeilingProblem(input(grant()))).to.equal(undefined);
  });

  it("refuses agentgate's own namespace before anything else", function () {
    const p = firstCeilingProblem(
      input(grant({}, { namespace: 'agentgate-system' }), {
        agent: { ...agent(), spec: { ...agent().spec, allowedNamespaces: { names: ['agentgate-system'] } } },
      }),
    );
    expect(p).to.include({ check: 'NotAgentgateNamespace', reason: CEILING_REASON.NamespaceNotAllowed });
  });

  it('a selector never matches a namespace whose labels are unknown', function () {
    const a = agent();
    a.spec.allowedNamespaces = { selector: { matchLabels: { team: 'payments' } } };
    expect(firstCeilingProblem(input(grant(), { agent: a, namespaceLabels: { team: 'payments' } }))).to.equal(undefined);
    expect(firstCeilingProblem(input(grant(), { agent: a, namespaceLabels: undefined }))?.check).to.equal('AllowedNamespace');
  });

  describe('a notAfter window (the operator and the webhook once measured it differently)', function () {
    it('runs from notBefore when it is set', function () {
      expect(firstCeilingProblem(input(grant({ duration: undefined, notBefore: at(2), notAfter: at(3) })))).to.equal(undefined);
      expect(firstCeilingProblem(input(grant({ duration: undefined, notBefore: at(0), notAfter: at(3) })))?.reason).to.equal(CEILING_REASON.DurationExceedsMax);
    });

    it('runs from creation without notBefore', function () {
      const g = grant({ duration: undefined, notAfter: at(3) }, { creationTimestamp: at(0) });
      expect(firstCeilingProblem(input(g))).to.include({ reason: CEILING_REASON.DurationExceedsMax });
      expect(firstCeilingProblem(input(grant({ duration: undefined, notAfter: at(3) }, { creationTimestamp: at(1.5) })))).to.equal(undefined);
    });

    it('runs from now for a grant being created (no notBefore, no creationTimestamp yet)', function () {
      const p = ceilingProblems(input(grant({ duration: undefined, notAfter: at(3) })));
      expect(p).to.have.length(1);
      expect(p[0]!.message).to.equal("spec.notAfter: the window of 3h from creation exceeds AgentIdentity deploy-bot's spec.maxDuration 2h");
      expect(ceilingProblems(input(grant({ duration: undefined, notAfter: at(1) })))).to.deep.equal([]);
    });

    it('needs a duration or a notAfter, and a valid notAfter', function () {
      expect(firstCeilingProblem(input(grant({ duration: undefined }))))
        .to.include({ reason: CEILING_REASON.InvalidDuration })
        .and.have.property('message')
        .that.contains('spec.duration or spec.notAfter');
      expect(firstCeilingProblem(input(grant({ duration: undefined, notAfter: 'soon' })))?.message).to.contain('spec.notAfter: soon');
    });
  });
});
