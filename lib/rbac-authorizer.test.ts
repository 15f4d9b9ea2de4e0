import { expect } from 'chai';
import { LocalRbacAuthorizer, type RbacObjects } from './rbac-authorizer.js';

const G = 'rbac.authorization.k8s.io';
const objects = (over: Partial<RbacObjects> = {}): RbacObjects => ({ roleBindings: [], clusterRoleBindings: [], roles: [], clusterRoles: [], ...over });
const ask = { user: 'agent:bot', groups: ['system:authenticated'], verb: 'create', group: '', resource: 'pods', namespace: 'payments' };
const podsWriter = { metadata: { name: 'pods-writer' }, rules: [{ verbs: ['create'], apiGroups: [''], resources: ['pods'] }] };

describe('LocalRbacAuthorizer', function () {
  it('allows through a ClusterRoleBinding everywhere, naming the binding as the apiserver does', function () {
    const a = new LocalRbacAuthorizer(
      objects({
        clusterRoles: [podsWriter],
        clusterRoleBindings: [
          { metadata: { name: 'crb' }, roleRef: { kind: 'ClusterRole', name: 'pods-writer' }, subjects: [{ kind: 'User', name: 'agent:bot', apiGroup: G }] },
        ],
      }),
    );
    expect(a.review(ask)).to.deep.equal({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "crb" of ClusterRole "pods-writer" to User "agent:bot"',
    });
    expect(a.review({ ...ask, namespace: '' }).allowed).to.equal(true);
    expect(a.review({ ...ask, verb: 'delete' }).allowed).to.equal(false);
  });

  it('scopes a RoleBinding to its namespace and resolves Role and ClusterRole references', function () {
    const a = new LocalRbacAuthorizer(
      objects({
        roles: [{ metadata: { name: 'r', namespace: 'payments' }, rules: podsWriter.rules }],
        clusterRoles: [podsWriter],
        roleBindings: [
          {
            metadata: { name: 'rb', namespace: 'payments' },
            roleRef: { kind: 'Role', name: 'r' },
            subjects: [{ kind: 'Group', name: 'system:authenticated', apiGroup: G }],
          },
          {
            metadata: { name: 'rb2', namespace: 'web' },
            roleRef: { kind: 'ClusterRole', name: 'pods-writer' },
            subjects: [{ kind: 'ServiceAccount', name: 'bot' }],
          },
        ],
      }),
    );
    expect(a.review(ask).reason).to.equal('RBAC: allowed by RoleBinding "rb/payments" of Role "r" to Group "system:authenticated"');
    expect(a.review({ ...ask, namespace: 'other' }).allowed).to.equal(false);
    expect(a.review({ ...ask, namespace: '' }).allowed, 'a RoleBinding never answers a cluster-wide question').to.equal(false);
    // A ServiceAccount subject without a namespace is the binding's namespace.
    expect(a.review({ ...ask, user: 'system:serviceaccount:web:bot', namespace: 'web' }).allowed).to.equal(true);
    expect(a.review({ ...ask, user: 'system:serviceaccount:payments:bot', groups: [], namespace: 'web' }).allowed).to.equal(false);
  });

  it('counts the rules an aggregationRule selects before the controller-manager copies them in', function () {
    const aggregate = {
      metadata: { name: 'agg' },
      rules: [],
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-agg': 'true' } }] },
    };
    const planted = { ...podsWriter, metadata: { name: 'planted', labels: { 'example.com/aggregate-to-agg': 'true' } } };
    const crb = { metadata: { name: 'crb' }, roleRef: { kind: 'ClusterRole', name: 'agg' }, subjects: [{ kind: 'User', name: 'agent:bot', apiGroup: G }] };
    expect(new LocalRbacAuthorizer(objects({ clusterRoles: [aggregate], clusterRoleBindings: [crb] })).review(ask).allowed).to.equal(false);
    expect(new LocalRbacAuthorizer(objects({ clusterRoles: [aggregate, planted], clusterRoleBindings: [crb] })).review(ask).allowed).to.equal(true);
  });

  it('ignores a ClusterRoleBinding to a Role and a binding to a missing role', function () {
    const a = new LocalRbacAuthorizer(
      objects({
        clusterRoleBindings: [
          { metadata: { name: 'x' }, roleRef: { kind: 'Role', name: 'pods-writer' }, subjects: [{ kind: 'User', name: 'agent:bot' }] },
          { metadata: { name: 'y' }, roleRef: { kind: 'ClusterRole', name: 'gone' }, subjects: [{ kind: 'User', name: 'agent:bot' }] },
        ],
        roles: [{ metadata: { name: 'pods-writer', namespace: '' }, rules: podsWriter.rules }],
      }),
    );
    expect(a.review(ask).allowed).to.equal(false);
  });
  it('walks one binding per role: a grant-per-binding agent costs its roles, and every role still counts', function () {
    const configMaps = { metadata: { name: 'cm-writer' }, rules: [{ verbs: ['create'], apiGroups: [''], resources: ['configmaps'] }] };
    const rb = (name: string, role: string, who: string) => ({
      metadata: { name, namespace: 'payments' },
      roleRef: { kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'User', name: who, apiGroup: G }],
    });
    const a = new LocalRbacAuthorizer(
      objects({
        clusterRoles: [podsWriter, configMaps],
        roleBindings: [
          // The first of its role names someone else: the first that names the agent is the one named.
          rb('a-other', 'cm-writer', 'agent:other'),
          ...Array.from({ length: 500 }, (_, i) => rb(`b-${String(i).padStart(3, '0')}`, 'cm-writer', 'agent:bot')),
          // After 500 bindings of another role, a binding of a role that covers the question.
          rb('z-pods', 'pods-writer', 'agent:bot'),
        ],
      }),
    );
    expect(a.review(ask).reason).to.equal('RBAC: allowed by RoleBinding "z-pods/payments" of ClusterRole "pods-writer" to User "agent:bot"');
    expect(a.review({ ...ask, resource: 'configmaps' }).reason).to.equal(
      'RBAC: allowed by RoleBinding "b-000/payments" of ClusterRole "cm-writer" to User "agent:bot"',
    );
    expect(a.review({ ...ask, user: 'agent:other' }).allowed, 'agent:other holds only cm-writer').to.equal(false);
    expect(a.review({ ...ask, user: 'agent:other', resource: 'configmaps' }).reason).to.equal(
      'RBAC: allowed by RoleBinding "a-other/payments" of ClusterRole "cm-writer" to User "agent:other"',
    );
    expect(a.review({ ...ask, verb: 'delete' }).allowed).to.equal(false);
  });
});
