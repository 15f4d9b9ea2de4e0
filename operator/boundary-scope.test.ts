import { expect } from 'chai';
import type { AgentIdentity } from '../api/types.js';
import type { Binding, BoundarySnapshot, RoleObject } from '../boundary/types.js';
import { verifyAgents } from '../boundary/verify.js';
import { planAccessReviews } from '../boundary/verify.js';
import { agent, base, grant, grantBinding, NOW } from '../testing/boundary.js';
import { LocalRbacAuthorizer } from '../lib/rbac-authorizer.js';
import { agentChangeMatters, agentsDirtiedBy, clearsOnly, type BoundaryChange } from './boundary-scope.js';

// Three agents: a and b work in payments, c only in default; c may be granted view only.
const A = agent('a', [{ kind: 'User', name: 'agent:a' }]);
const B = agent('b', [{ kind: 'User', name: 'agent:b' }]);
const C = agent('c', [{ kind: 'User', name: 'agent:c' }], { allowedNamespaces: { names: ['default'] }, allowedRoles: [{ kind: 'ClusterRole', name: 'view' }] });
const AGENTS = [A, B, C];

function cluster(over: Partial<BoundarySnapshot> = {}): BoundarySnapshot {
  return base({ agents: AGENTS, ...over });
}

const userBinding = (name: string, user: string, namespace?: string, role = 'edit'): Binding => ({
  metadata: namespace ? { name, namespace } : { name },
  subjects: [{ kind: 'User', name: user }],
  roleRef: { kind: 'ClusterRole', name: role },
});

const scope = (changes: BoundaryChange[], s = cluster()): string[] | 'all' => {
  const r = agentsDirtiedBy(changes, s);
  return r === 'all' ? r : [...r].sort();
};

/** Every agent's findings, with the access reviews answered by local RBAC. */
function reports(s: BoundarySnapshot): Map<string, string> {
  const local = new LocalRbacAuthorizer(s);
  const accessReviews = planAccessReviews(s).map((r) => ({
    ...r,
    allowed: local.review({ ...r, user: r.principal.user, groups: r.principal.groups }).allowed,
  }));
  return new Map(verifyAgents({ ...s, accessReviews }, { now: NOW }).agents.map((a) => [a.agent, JSON.stringify(a.findings)]));
}

/** Fail closed: every agent whose report changes between before and after is in the scope. */
function expectScopeCovers(before: BoundarySnapshot, after: BoundarySnapshot, changes: BoundaryChange[]): void {
  const r = agentsDirtiedBy(changes, after);
  if (r === 'all') return;
  const b = reports(before);
  const changed = [...reports(after)].filter(([name, f]) => b.get(name) !== f).map(([name]) => name);
  expect(changed.length, 'the change should change some report, or the check proves nothing').to.be.greaterThan(0);
  for (const name of changed) expect([...r], `${name}'s report changed`).to.include(name);
}

describe('operator: which agents a change re-verifies', function () {
  it('an AgentIdentity change: that agent only', function () {
    expect(scope([{ kind: 'AgentIdentity', name: 'b' }])).to.deep.equal(['b']);
  });

  it('a binding to one agent’s user: that agent, from either version of the binding', function () {
    expect(scope([{ kind: 'ClusterRoleBinding', binding: userBinding('x', 'agent:a') }])).to.deep.equal(['a']);
    // An update moved the binding from a to c: both versions are recorded, both agents re-verified.
    const moved: BoundaryChange[] = [
      { kind: 'RoleBinding', binding: userBinding('x', 'agent:a', 'payments') },
      { kind: 'RoleBinding', binding: userBinding('x', 'agent:c', 'payments') },
    ];
    expect(scope(moved)).to.deep.equal(['a', 'c']);
  });

  it('a binding to nobody the agents are: no agent', function () {
    expect(scope([{ kind: 'ClusterRoleBinding', binding: userBinding('x', 'alice') }])).to.deep.equal([]);
  });

  it('a binding to system:authenticated: every agent (a broad group)', function () {
    const b: Binding = { metadata: { name: 'x' }, subjects: [{ kind: 'Group', name: 'system:authenticated' }], roleRef: { kind: 'ClusterRole', name: 'view' } };
    expect(scope([{ kind: 'ClusterRoleBinding', binding: b }])).to.deep.equal(['a', 'b', 'c']);
  });

  it('a binding that can name a ServiceAccount: all agents (it may make a ServiceAccount more powerful)', function () {
    const sa: Binding = {
      metadata: { name: 'x', namespace: 'payments' },
      subjects: [{ kind: 'ServiceAccount', name: 'default' }],
      roleRef: { kind: 'ClusterRole', name: 'edit' },
    };
    const group: Binding = {
      metadata: { name: 'y' },
      subjects: [{ kind: 'Group', name: 'system:serviceaccounts:payments' }],
      roleRef: { kind: 'ClusterRole', name: 'edit' },
    };
    expect(scope([{ kind: 'RoleBinding', binding: sa }])).to.equal('all');
    expect(scope([{ kind: 'ClusterRoleBinding', binding: group }])).to.equal('all');
  });

  it("a grant's RoleBinding: its agent, and agents whose by-name grant reviews may name the grant", function () {
    const g = grant('g1', 'payments', 'b');
    const s = cluster({ grants: [g], roleBindings: [grantBinding(g, [{ kind: 'User', name: 'agent:b', apiGroup: 'rbac.authorization.k8s.io' }])] });
    // a reviews payments and its window of other agents' grants is not full: a too. c does not work in payments.
    expect(scope([{ kind: 'RoleBinding', binding: s.roleBindings[0]! }], s)).to.deep.equal(['a', 'b']);
  });

  it("a grant that sorts after a full window of other agents' grants does not re-verify the window's owner", function () {
    const others = Array.from({ length: 25 }, (_, i) => grant(`a-${String(i).padStart(2, '0')}`, 'payments', 'c'));
    const late = grant('z-late', 'payments', 'b');
    const early = grant('a-00a', 'payments', 'b');
    const s = cluster({ grants: [...others, late, early] });
    const bindingOf = (g: typeof late): Binding => grantBinding(g, [{ kind: 'User', name: 'agent:b', apiGroup: 'rbac.authorization.k8s.io' }]);
    expect(scope([{ kind: 'RoleBinding', binding: bindingOf(late) }], s)).to.deep.equal(['b']);
    expect(scope([{ kind: 'RoleBinding', binding: bindingOf(early) }], s)).to.deep.equal(['a', 'b']);
  });

  it('a ClusterRole change: agents bound to it and agents that may be granted it', function () {
    const s = cluster({ clusterRoleBindings: [userBinding('c-admin', 'agent:c', undefined, 'cluster-admin')] });
    expect(scope([{ kind: 'ClusterRole', role: { metadata: { name: 'cluster-admin' } } }], s)).to.deep.equal(['c']);
    expect(scope([{ kind: 'ClusterRole', role: { metadata: { name: 'view' } } }], s)).to.deep.equal(['c']);
    expect(scope([{ kind: 'ClusterRole', role: { metadata: { name: 'edit' } } }], s)).to.deep.equal(['a', 'b']);
  });

  it('a Role bound to a ServiceAccount: all agents', function () {
    const s = cluster({
      roleBindings: [
        { metadata: { name: 'x', namespace: 'payments' }, subjects: [{ kind: 'ServiceAccount', name: 'default' }], roleRef: { kind: 'Role', name: 'ops' } },
      ],
    });
    expect(scope([{ kind: 'Role', role: { metadata: { name: 'ops', namespace: 'payments' } } }], s)).to.equal('all');
    expect(scope([{ kind: 'Role', role: { metadata: { name: 'ops', namespace: 'default' } } }], s)).to.deep.equal([]);
  });

  it('a ClusterRole in an aggregation (aggregating, or selected by labels): all agents', function () {
    const aggregating = { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/agg': 'true' } }] }, rules: [] };
    const s = cluster({ clusterRoles: [...cluster().clusterRoles, aggregating as RoleObject] });
    expect(scope([{ kind: 'ClusterRole', role: aggregating }], s)).to.equal('all');
    expect(scope([{ kind: 'ClusterRole', role: { metadata: { name: 'piece', labels: { 'example.com/agg': 'true' } } } }], s)).to.equal('all');
    expect(scope([{ kind: 'ClusterRole', role: { metadata: { name: 'piece', labels: { other: 'x' } } } }], s)).to.deep.equal([]);
  });

  it('an AgentIdentity update matters when its spec or observed identity changes, not its other status', function () {
    const verified: AgentIdentity = {
      ...A,
      status: { conditions: [{ type: 'BoundaryVerified', status: 'True', reason: 'Verified', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }] },
    };
    expect(agentChangeMatters(A, verified)).to.equal(false);
    expect(agentChangeMatters(A, { ...A, spec: { ...A.spec, suspended: true } })).to.equal(true);
    const seen = (groups: string[], lastSeen: string): AgentIdentity => ({
      ...A,
      status: { observedIdentity: [{ username: 'agent:a', groups, firstSeen: '2030-01-01T00:00:00Z', lastSeen }] },
    });
    expect(agentChangeMatters(A, seen(['extra'], '2030-01-01T00:00:00Z'))).to.equal(true);
    expect(agentChangeMatters(seen(['extra'], '2030-01-01T00:00:00Z'), seen(['extra'], '2030-01-01T00:01:00Z'))).to.equal(false);
    expect(agentChangeMatters(undefined, A)).to.equal(true);
  });

  it('webhook configurations, the backstop and anything else: all agents', function () {
    expect(scope([{ kind: 'Everything', why: 'webhook configuration' }])).to.equal('all');
  });

  describe("the removal of one of agentgate's own bindings", function () {
    const bUser = [{ kind: 'User', name: 'agent:b', apiGroup: 'rbac.authorization.k8s.io' }];
    const removed = (binding: Binding): BoundaryChange[] => [{ kind: 'RemovedGrantBinding', binding }];

    /** Per agent, finding -> severity rank (Critical 2, Warning 1), to compare before and after. */
    function findingsByAgent(s: BoundarySnapshot): Map<string, Map<string, number>> {
      const out = new Map<string, Map<string, number>>();
      for (const [agentName, json] of reports(s)) {
        const m = new Map<string, number>();
        for (const f of JSON.parse(json) as Array<{ route: string; object?: string; severity: string }>) {
          const k = `${f.route} ${f.object ?? ''}`;
          m.set(k, Math.max(m.get(k) ?? 0, f.severity === 'Critical' ? 2 : 1));
        }
        out.set(agentName, m);
      }
      return out;
    }

    /**
     * A clearing removal: no agent outside the scope of now gains a finding or a more severe
     * one, and some agent loses one (else the case proves nothing).
     */
    function expectOnlyClears(before: BoundarySnapshot, after: BoundarySnapshot, binding: Binding): void {
      expect(clearsOnly(removed(binding)[0]!)).to.equal(true);
      const now = agentsDirtiedBy(removed(binding), after);
      expect(now).to.not.equal('all');
      const b = findingsByAgent(before);
      let cleared = 0;
      for (const [agentName, after_] of findingsByAgent(after)) {
        const before_ = b.get(agentName)!;
        for (const [k, sev] of before_) if ((after_.get(k) ?? 0) < sev) cleared++;
        if ((now as Set<string>).has(agentName)) continue;
        for (const [k, sev] of after_) expect(before_.get(k) ?? 0, `${agentName} gained ${k}`).to.be.at.least(sev);
      }
      expect(cleared, 'the removal should clear some finding, or the case proves nothing').to.be.greaterThan(0);
    }

    it("of an agent's live grant binding in a namespace its ceiling allows: no agent now", function () {
      const g = grant('g1', 'payments', 'b');
      const rb = grantBinding(g, bUser);
      expect(scope(removed(rb), cluster({ grants: [g] }))).to.deep.equal([]);
    });

    it('in a namespace the named agent’s ceiling does not allow (its reviewed namespaces may shrink): that agent now', function () {
      const g = grant('g1', 'payments', 'c');
      const rb = grantBinding(g, [{ kind: 'User', name: 'agent:c', apiGroup: 'rbac.authorization.k8s.io' }]);
      expect(scope(removed(rb), cluster({ grants: [g] }))).to.deep.equal(['c']);
      // A namespace that is gone is allowed by no one.
      expect(scope(removed(grantBinding(grant('g2', 'gone', 'b'), bUser)), cluster())).to.deep.equal(['b']);
    });

    it('naming a ServiceAccount (it may have made one more powerful): as any binding change', function () {
      const g = grant('g1', 'payments', 'b');
      const rb: Binding = { ...grantBinding(g), subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'payments' }] };
      expect(clearsOnly(removed(rb)[0]!)).to.equal(false);
      expect(scope(removed(rb), cluster({ grants: [g] }))).to.equal('all');
    });

    it('a binding that is not agentgate’s: as any binding change', function () {
      expect(clearsOnly(removed(userBinding('x', 'agent:a', 'payments'))[0]!)).to.equal(false);
    });

    describe('can only clear findings', function () {
      it('a standing binding whose grant expired', function () {
        const g = grant('g1', 'payments', 'b', { phase: 'Expired', expiresAt: '2030-01-01T00:00:00Z' });
        const rb = grantBinding(g, bUser);
        expectOnlyClears(cluster({ grants: [g], roleBindings: [rb] }), cluster({ grants: [g] }), rb);
      });

      it("one agent's grant binding tampered to name another agent's user", function () {
        const g = grant('g1', 'payments', 'b');
        const rb = grantBinding(g, [{ kind: 'User', name: 'agent:a', apiGroup: 'rbac.authorization.k8s.io' }]);
        expectOnlyClears(cluster({ grants: [g], roleBindings: [rb] }), cluster({ grants: [g] }), rb);
      });

      it('a grant binding of an escalating role', function () {
        const g = grant('g1', 'payments', 'b');
        const rb = grantBinding(g, bUser, 'cluster-admin');
        expectOnlyClears(cluster({ grants: [g], roleBindings: [rb] }), cluster({ grants: [g] }), rb);
      });

      it('a grant binding tampered to name a broad group (every agent)', function () {
        const g = grant('g1', 'payments', 'b');
        const rb = grantBinding(g, [{ kind: 'Group', name: 'system:authenticated', apiGroup: 'rbac.authorization.k8s.io' }], 'cluster-admin');
        expectOnlyClears(cluster({ grants: [g], roleBindings: [rb] }), cluster({ grants: [g] }), rb);
      });
    });
  });

  describe('fail closed: every agent whose findings change is re-verified', function () {
    it('a planted ClusterRoleBinding', function () {
      const b = userBinding('planted', 'agent:a', undefined, 'cluster-admin');
      expectScopeCovers(cluster(), cluster({ clusterRoleBindings: [...cluster().clusterRoleBindings, b] }), [{ kind: 'ClusterRoleBinding', binding: b }]);
    });

    it("a grant's RoleBinding tampered to bind another agent's user", function () {
      const g = grant('g1', 'payments', 'b');
      const own = grantBinding(g, [{ kind: 'User', name: 'agent:b', apiGroup: 'rbac.authorization.k8s.io' }]);
      const tampered = grantBinding(g, [{ kind: 'User', name: 'agent:a', apiGroup: 'rbac.authorization.k8s.io' }]);
      expectScopeCovers(cluster({ grants: [g], roleBindings: [own] }), cluster({ grants: [g], roleBindings: [tampered] }), [
        { kind: 'RoleBinding', binding: own },
        { kind: 'RoleBinding', binding: tampered },
      ]);
    });

    it('a ClusterRole widened to escalation', function () {
      const bound = userBinding('c-view', 'agent:c', undefined, 'view');
      const before = cluster({ clusterRoleBindings: [bound] });
      const widened = before.clusterRoles.map((r) =>
        r.metadata?.name === 'view'
          ? { ...r, rules: [{ verbs: ['create'], apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterrolebindings'] }] }
          : r,
      );
      expectScopeCovers(before, cluster({ clusterRoleBindings: [bound], clusterRoles: widened }), [
        { kind: 'ClusterRole', role: { metadata: { name: 'view' } } },
      ]);
    });

    it('an agent suspended with a live grant binding', function () {
      const g = grant('g1', 'payments', 'b');
      const rb = grantBinding(g, [{ kind: 'User', name: 'agent:b', apiGroup: 'rbac.authorization.k8s.io' }]);
      const suspended: AgentIdentity = { ...B, spec: { ...B.spec, suspended: true } };
      expectScopeCovers(cluster({ grants: [g], roleBindings: [rb] }), cluster({ agents: [A, suspended, C], grants: [g], roleBindings: [rb] }), [
        { kind: 'AgentIdentity', name: 'b' },
      ]);
    });
  });
});
