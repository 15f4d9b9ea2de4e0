import { expect } from 'chai';
import type { ApprovalRequest } from '../api/types.js';
import { FakeClock } from '../lib/clock.js';
import { approvalRequestName, isDns1123Label, isLabelValue, labelValue } from '../api/names.js';
import { LABEL_AGENT } from '../api/types.js';
import { fingerprint } from '../lib/fingerprint.js';
import { decide } from './decide.js';
import type { Decision, DecideOptions } from './decide.js';
import { StaticSnapshot } from './snapshot.js';
import type { SnapshotData } from './snapshot.js';
import {
  activeGrant,
  agentIdentity,
  configMapCreate,
  DEPLOYER,
  deploymentDelete,
  deploymentObject,
  EDIT,
  NAMESPACES,
  request,
  VIEW,
  withStatus,
} from '../testing/fixtures.js';

const OPTS: DecideOptions = { agentgateNamespace: 'agentgate-system', fingerprintKey: 'k', maxHoldSeconds: 8 };

function snap(clock: FakeClock, over: SnapshotData = {}): StaticSnapshot {
  return new StaticSnapshot({
    agents: [agentIdentity()],
    grants: [activeGrant(clock)],
    clusterRoles: [EDIT, VIEW],
    roles: [DEPLOYER],
    namespaces: NAMESPACES,
    ...over,
  });
}

function createdAR(d: Decision): ApprovalRequest {
  expect(d.effect.kind, d.message).to.equal('create');
  return (d.effect as { approvalRequest: ApprovalRequest }).approvalRequest;
}

describe('webhook/decide', () => {
  describe('identity', () => {
    it('leaves callers that are no agent alone (nothing to record)', () => {
      const clock = new FakeClock();
      const d = decide(configMapCreate(), snap(clock), clock, OPTS);
      expect(d).to.include({ agentCall: true, verdict: 'Allowed' });
      const human = decide({ ...configMapCreate(), userInfo: { username: 'alice', groups: ['sre-approvers'] } }, snap(clock), clock, OPTS);
      expect(human).to.include({ agentCall: false, verdict: 'Allowed' });
    });

    it('leaves kubectl auth can-i / whoami alone: they change nothing', () => {
      const clock = new FakeClock();
      for (const [group, resource] of [
        ['authorization.k8s.io', 'selfsubjectaccessreviews'],
        ['authentication.k8s.io', 'selfsubjectreviews'],
      ] as const) {
        const d = decide(request({ group, resource, namespace: '' }), snap(clock, { agents: [agentIdentity('deploy-bot', { suspended: true })] }), clock, OPTS);
        expect(d).to.include({ agentCall: false, verdict: 'Allowed' });
      }
      expect(decide(request({ group: 'authorization.k8s.io', resource: 'subjectaccessreviews', namespace: '' }), snap(clock), clock, OPTS).verdict).to.equal(
        'Denied',
      );
    });

    it('maps groups and ServiceAccounts to agents', () => {
      const clock = new FakeClock();
      const agents = [
        agentIdentity('by-group', { subjects: [{ kind: 'Group', name: 'agentgate:agents' }] }),
        agentIdentity('by-sa', { subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: 'tools' }] }),
      ];
      const grants = [activeGrant(clock, 'ga', { agent: 'by-group' }), activeGrant(clock, 'gb', { agent: 'by-sa' })];
      const byGroup = decide(configMapCreate(), snap(clock, { agents, grants }), clock, OPTS);
      expect(byGroup).to.include({ agent: 'by-group', verdict: 'Allowed' });
      const sa = { ...configMapCreate(), userInfo: { username: 'system:serviceaccount:tools:bot', groups: ['system:serviceaccounts'] } };
      expect(decide(sa, snap(clock, { agents, grants }), clock, OPTS)).to.include({ agent: 'by-sa', verdict: 'Allowed' });
    });

    it('denies an ambiguous identity, naming both AgentIdentities', () => {
      const clock = new FakeClock();
      const d = decide(configMapCreate(), snap(clock, { agents: [agentIdentity('a'), agentIdentity('b')] }), clock, OPTS);
      expect(d.verdict).to.equal('Denied');
      expect(d.message).to.contain('ambiguous identity').and.contain('a, b');
    });

    it('denies every call of a suspended agent', () => {
      const clock = new FakeClock();
      const d = decide(configMapCreate(), snap(clock, { agents: [agentIdentity('deploy-bot', { suspended: true })] }), clock, OPTS);
      expect(d.verdict).to.equal('Denied');
      expect(d.message).to.contain('suspended');
    });
  });

  describe('coverage', () => {
    it('allows a call covered by an Active, unexpired grant and names the grant', () => {
      const clock = new FakeClock();
      const d = decide(configMapCreate(), snap(clock), clock, OPTS);
      expect(d).to.include({ verdict: 'Allowed', grant: 'prod/g1', agent: 'deploy-bot' });
      expect(d.effect).to.deep.equal({ kind: 'none' });
    });

    it('denies a bypass: RBAC let the call through but no grant exists in the namespace', () => {
      const clock = new FakeClock();
      const d = decide(configMapCreate('cm', 'staging'), snap(clock), clock, OPTS);
      expect(d.verdict).to.equal('Denied');
      expect(d.message).to.contain('no AccessGrant in namespace staging').and.contain('not made by agentgate');
    });

    it('denies once expiresAt has passed by the clock, even though the grant still says Active', () => {
      const clock = new FakeClock();
      const s = snap(clock, { grants: [activeGrant(clock, 'g1', { expiresInMs: 20_000 })] });
      expect(decide(configMapCreate(), s, clock, OPTS).verdict).to.equal('Allowed');
      clock.advance(19_999);
      expect(decide(configMapCreate(), s, clock, OPTS).verdict).to.equal('Allowed');
      clock.advance(1);
      const d = decide(configMapCreate(), s, clock, OPTS);
      expect(d.verdict).to.equal('Denied');
      expect(d.message).to.contain('grant g1 expired at');
    });

    it('denies grants that are not Active', () => {
      const clock = new FakeClock();
      for (const phase of ['Pending', 'AwaitingApproval', 'Expired', 'Revoked'] as const) {
        const d = decide(configMapCreate(), snap(clock, { grants: [activeGrant(clock, 'g1', { phase })] }), clock, OPTS);
        expect(d.verdict, phase).to.equal('Denied');
        expect(d.message).to.contain(`grant g1 is ${phase}`);
      }
    });

    it("denies what the grant's role does not allow, and uses another grant that does", () => {
      const clock = new FakeClock();
      const viewOnly = activeGrant(clock, 'g-view', { role: { kind: 'ClusterRole', name: 'view' } });
      const d = decide(configMapCreate(), snap(clock, { grants: [viewOnly] }), clock, OPTS);
      expect(d.verdict).to.equal('Denied');
      expect(d.message).to.contain('ClusterRole view does not allow create configmaps cm');
      const both = decide(configMapCreate(), snap(clock, { grants: [viewOnly, activeGrant(clock, 'g-edit')] }), clock, OPTS);
      expect(both).to.include({ verdict: 'Allowed', grant: 'prod/g-edit' });
    });

    it('resolves a namespaced Role, including resourceNames', () => {
      const clock = new FakeClock();
      const grant = activeGrant(clock, 'g-role', { role: { kind: 'Role', name: 'deployer' } });
      const upd = (name: string) =>
        request({ op: 'UPDATE', group: 'apps', resource: 'deployments', name, object: deploymentObject(name, 4), oldObject: deploymentObject(name, 3) });
      expect(decide(upd('web'), snap(clock, { grants: [grant] }), clock, OPTS).verdict).to.equal('Allowed');
      expect(decide(upd('api'), snap(clock, { grants: [grant] }), clock, OPTS).verdict).to.equal('Denied');
    });

    it('denies when the role is missing or no longer within the agent ceiling', () => {
      const clock = new FakeClock();
      const missing = decide(configMapCreate(), snap(clock, { clusterRoles: [] }), clock, OPTS);
      expect(missing.message).to.contain('ClusterRole edit does not exist');
      const narrowed = decide(
        configMapCreate(),
        snap(clock, { agents: [agentIdentity('deploy-bot', { allowedRoles: [{ kind: 'ClusterRole', name: 'view' }] })] }),
        clock,
        OPTS,
      );
      expect(narrowed.message).to.contain("no longer in agent deploy-bot's spec.allowedRoles");
    });

    it("denies cluster-scoped mutations and anything in agentgate's namespace", () => {
      const clock = new FakeClock();
      const ns = decide(request({ op: 'DELETE', resource: 'namespaces', name: 'prod', namespace: 'prod' }), snap(clock), clock, OPTS);
      expect(ns.message).to.contain('cluster-scoped');
      const crb = decide(request({ group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'x', namespace: '' }), snap(clock), clock, OPTS);
      expect(crb.message).to.contain('cluster-scoped');
      const own = decide(configMapCreate('cm', 'agentgate-system'), snap(clock), clock, OPTS);
      expect(own.message).to.contain("agentgate's namespace");
    });
  });

  describe('agentgate objects', () => {
    const grantObject = (over: Record<string, unknown> = {}) => ({
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'mine', namespace: 'prod' },
      spec: { agent: 'deploy-bot', roleRef: { kind: 'ClusterRole', name: 'edit' }, duration: '30m', reason: 'deploy', activation: 'RequiresApproval', ...over },
    });
    const grantCreate = (over: Record<string, unknown> = {}) =>
      request({ group: 'agentgate.io', version: 'v1alpha1', resource: 'accessgrants', name: 'mine', object: grantObject(over) });

    it('lets an agent request its own access with RequiresApproval, without coverage', () => {
      const clock = new FakeClock();
      const d = decide(grantCreate(), snap(clock, { grants: [] }), clock, OPTS);
      expect(d.verdict, d.message).to.equal('Allowed');
      expect(d.message).to.contain('requests access');
    });

    it('tells an agent to set RequiresApproval, and refuses grants for another agent or outside the ceiling', () => {
      const clock = new FakeClock();
      const immediate = decide(grantCreate({ activation: 'Immediate' }), snap(clock), clock, OPTS);
      expect(immediate.verdict).to.equal('Denied');
      expect(immediate.message).to.contain('set spec.activation: RequiresApproval');
      const other = decide(grantCreate({ agent: 'other-bot' }), snap(clock), clock, OPTS);
      expect(other.message).to.contain('may only request grants for itself');
      const admin = decide(grantCreate({ roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } }), snap(clock), clock, OPTS);
      expect(admin.message).to.contain('spec.roleRef');
      const long = decide(grantCreate({ duration: '9h' }), snap(clock), clock, OPTS);
      expect(long.message).to.contain('exceeds');
    });

    it('denies agents changing grants, approval requests, audit events and identities', () => {
      const clock = new FakeClock();
      for (const [op, resource, sub] of [
        ['UPDATE', 'accessgrants', ''],
        ['DELETE', 'accessgrants', ''],
        ['UPDATE', 'accessgrants', 'status'],
        ['UPDATE', 'approvalrequests', ''],
        ['CREATE', 'approvalrequests', ''],
        ['DELETE', 'auditevents', ''],
        ['UPDATE', 'agentidentities', ''],
      ] as const) {
        const d = decide(request({ op, group: 'agentgate.io', version: 'v1alpha1', resource, subResource: sub, name: 'x' }), snap(clock), clock, OPTS);
        expect(d.verdict, `${op} ${resource}`).to.equal('Denied');
        expect(d.message).to.contain("cannot change agentgate's objects");
      }
    });

    it("denies agents touching agentgate's RoleBindings, whatever their RBAC", () => {
      const clock = new FakeClock();
      const rb = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'agentgate-g1', namespace: 'prod', labels: { 'app.kubernetes.io/managed-by': 'agentgate' } },
      };
      const del = decide(
        request({ op: 'DELETE', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', name: 'agentgate-g1', oldObject: rb }),
        snap(clock),
        clock,
        OPTS,
      );
      expect(del.message).to.contain('changed only by agentgate');
      const create = decide(request({ group: 'rbac.authorization.k8s.io', resource: 'rolebindings', name: 'sneaky', object: rb }), snap(clock), clock, OPTS);
      expect(create.message).to.contain('changed only by agentgate');
    });
  });

  describe('rules', () => {
    it('applies agent and grant Deny rules with their messages, and denies on evaluation errors', () => {
      const clock = new FakeClock();
      const agent = agentIdentity('deploy-bot', { approvalRules: [{ name: 'no-cm-x', expression: "request.name == 'x'", action: 'Deny', message: 'not x' }] });
      const d = decide(configMapCreate('x'), snap(clock, { agents: [agent] }), clock, OPTS);
      expect(d).to.include({ verdict: 'Denied' });
      expect(d.message).to.contain('not x');
      expect(d.matchedRules).to.deep.equal(['no-cm-x']);
      const broken = agentIdentity('deploy-bot', { approvalRules: [{ name: 'bad', expression: 'object.spec.nope == 1', action: 'Deny' }] });
      const e = decide(configMapCreate('y'), snap(clock, { agents: [broken] }), clock, OPTS);
      expect(e.verdict).to.equal('Denied');
      expect(e.message).to.contain('rule "bad" failed to evaluate');
      const viaGrant = activeGrant(clock, 'g1', { approvalRules: [{ name: 'grant-no', expression: 'true', action: 'Deny', message: 'grant says no' }] });
      expect(decide(configMapCreate('z'), snap(clock, { grants: [viaGrant] }), clock, OPTS).message).to.contain('grant says no');
    });

    it('lets an Allow rule exempt a call from approval', () => {
      const clock = new FakeClock();
      const agent = agentIdentity('deploy-bot', {
        approvalRules: [{ name: 'cm-delete-ok', expression: "request.resource.resource == 'configmaps'", action: 'Allow' }],
      });
      const del = request({ op: 'DELETE', resource: 'configmaps', name: 'cm', oldObject: { metadata: { name: 'cm', uid: 'u' } } });
      const d = decide(del, snap(clock, { agents: [agent] }), clock, OPTS);
      expect(d.verdict).to.equal('Allowed');
      expect(d.message).to.contain('exempted from approval by cm-delete-ok');
    });
  });

  describe('approval', () => {
    it('labels the ApprovalRequest of an agent whose name is over 63 characters with a valid, stable label value', () => {
      const clock = new FakeClock();
      const long = `${'a'.repeat(40)}.${'b'.repeat(40)}`;
      const s = snap(clock, { agents: [agentIdentity(long)], grants: [activeGrant(clock, 'g1', { agent: long })] });
      const ar = createdAR(decide(deploymentDelete('web'), s, clock, OPTS));
      expect(ar.spec.agent).to.equal(long);
      const value = ar.metadata.labels![LABEL_AGENT]!;
      expect(isLabelValue(value), value).to.equal(true);
      expect(value).to.equal(labelValue(long));
      expect(isDns1123Label(ar.metadata.name!), ar.metadata.name).to.equal(true);
      for (const v of Object.values(ar.metadata.labels!)) expect(isLabelValue(v), v).to.equal(true);
    });

    it('holds a delete: creates the ApprovalRequest named from the fingerprint, and says how to approve', () => {
      const clock = new FakeClock();
      const req = deploymentDelete('web');
      const d = decide(req, snap(clock), clock, OPTS);
      expect(d.verdict).to.equal('Held');
      const ar = createdAR(d);
      const fp = fingerprint(req, { key: 'k' });
      expect(ar.metadata.name).to.equal(approvalRequestName(fp, 'deploy-bot'));
      expect(ar.metadata.namespace).to.equal('prod');
      expect(ar.spec).to.include({ agent: 'deploy-bot', type: 'Operation', grant: 'g1', fingerprint: fp, requestedBy: 'agent:deploy-bot' });
      expect(ar.spec.operation).to.include({ operation: 'DELETE', group: 'apps', resource: 'deployments', name: 'web', namespace: 'prod' });
      expect(ar.spec.matchedRules).to.deep.equal(['delete']);
      expect(ar.spec.summary).to.contain('deployments prod/web');
      expect(ar.spec.expiresAt).to.equal('2030-01-01T01:00:00Z');
      expect(d.message).to.contain(ar.metadata.name!).and.contain(`kubectl annotate approvalrequest ${ar.metadata.name} -n prod approved=true`);
      expect(d.approvalRequest).to.equal(`prod/${ar.metadata.name}`);
    });

    it('while pending, holds again without a new request (and waits holdSeconds, clamped)', () => {
      const clock = new FakeClock();
      const req = deploymentDelete('web');
      const ar = createdAR(decide(req, snap(clock), clock, OPTS));
      const agent = agentIdentity('deploy-bot', { holdSeconds: 25 });
      const d = decide({ ...req, uid: 'retry' }, snap(clock, { agents: [agent], approvalRequests: [withStatus(ar, { phase: 'Pending' })] }), clock, OPTS);
      expect(d.verdict).to.equal('Held');
      expect(d.effect).to.deep.equal({ kind: 'await', namespace: 'prod', name: ar.metadata.name });
      expect(d.holdSeconds).to.equal(8);
      expect(d.message).to.contain('is pending (no approvals yet)');
    });

    it('an approved request lets the identical retry through by consuming it at its resourceVersion', () => {
      const clock = new FakeClock();
      const req = deploymentDelete('web');
      const ar = createdAR(decide(req, snap(clock), clock, OPTS));
      const approved = withStatus(
        ar,
        { phase: 'Approved', approvals: [{ user: 'alice', decision: 'Approved', time: '2030-01-01T00:00:00Z' }], validUntil: '2030-01-01T00:10:00Z' },
        '77',
      );
      const d = decide({ ...req, uid: 'retry' }, snap(clock, { approvalRequests: [approved] }), clock, OPTS);
      expect(d.verdict).to.equal('Allowed');
      expect(d.effect).to.deep.equal({ kind: 'consume', namespace: 'prod', name: ar.metadata.name, resourceVersion: '77' });
      expect(d.message).to.contain('approved by alice');
    });

    it('after consumption the same call is held again under the next name', () => {
      const clock = new FakeClock();
      const req = deploymentDelete('web');
      const ar = createdAR(decide(req, snap(clock), clock, OPTS));
      const consumed = withStatus(ar, { phase: 'Consumed', consumedAt: '2030-01-01T00:00:01Z', consumedBy: 'x' });
      const d = decide({ ...req, uid: 'again' }, snap(clock, { approvalRequests: [consumed] }), clock, OPTS);
      expect(d.verdict).to.equal('Held');
      const next = createdAR(d);
      expect(next.metadata.name).to.equal(approvalRequestName(ar.spec.fingerprint, 'deploy-bot', 1));
      expect(next.metadata.name).to.match(/-2$/);
    });

    it('an approval for deployment a never lets b through', () => {
      const clock = new FakeClock();
      const a = createdAR(decide(deploymentDelete('a'), snap(clock), clock, OPTS));
      const approved = withStatus(a, { phase: 'Approved', validUntil: '2030-01-01T00:10:00Z' });
      const d = decide(deploymentDelete('b'), snap(clock, { approvalRequests: [approved] }), clock, OPTS);
      expect(d.verdict).to.equal('Held');
      expect(createdAR(d).metadata.name).to.not.equal(a.metadata.name);
    });

    it('an approval not used before validUntil expires by the clock', () => {
      const clock = new FakeClock();
      const req = deploymentDelete('web');
      const ar = createdAR(decide(req, snap(clock), clock, OPTS));
      const approved = withStatus(ar, { phase: 'Approved', validUntil: '2030-01-01T00:10:00Z' });
      clock.set('2030-01-01T00:10:00Z');
      const d = decide(req, snap(clock, { approvalRequests: [approved] }), clock, OPTS);
      expect(d.verdict).to.equal('Held');
      expect(createdAR(d).metadata.name).to.match(/-2$/);
    });

    it('a denied request refuses the same call until it expires', () => {
      const clock = new FakeClock();
      const req = deploymentDelete('web');
      const ar = createdAR(decide(req, snap(clock), clock, OPTS));
      const denied = withStatus(ar, { phase: 'Denied', approvals: [{ user: 'bob', decision: 'Denied', time: '2030-01-01T00:00:00Z' }] });
      const d = decide(req, snap(clock, { approvalRequests: [denied] }), clock, OPTS);
      expect(d.verdict).to.equal('Denied');
      expect(d.message).to.contain('denied by bob');
      clock.advance(3600_000);
      expect(decide(req, snap(clock, { approvalRequests: [denied] }), clock, OPTS).verdict).to.equal('Held');
    });

    it('dry runs write nothing: no request is created and no approval is consumed', () => {
      const clock = new FakeClock();
      const req = { ...deploymentDelete('web'), dryRun: true };
      const d = decide(req, snap(clock), clock, OPTS);
      expect(d).to.include({ verdict: 'Held' });
      expect(d.effect).to.deep.equal({ kind: 'none' });
      const ar = createdAR(decide(deploymentDelete('web'), snap(clock), clock, OPTS));
      const approved = withStatus(ar, { phase: 'Approved', validUntil: '2030-01-01T00:10:00Z' });
      const ok = decide(req, snap(clock, { approvalRequests: [approved] }), clock, OPTS);
      expect(ok.verdict).to.equal('Allowed');
      expect(ok.effect).to.deep.equal({ kind: 'none' });
    });

    it('holds exec and records nothing sensitive in the request', () => {
      const clock = new FakeClock();
      const exec = request({
        op: 'CONNECT',
        resource: 'pods',
        subResource: 'exec',
        name: 'web-0',
        object: { kind: 'PodExecOptions', apiVersion: 'v1', command: ['sh', '-c', 'rm -rf /data'], container: 'app', stdout: true },
      });
      const d = decide(exec, snap(clock), clock, OPTS);
      expect(d.verdict).to.equal('Held');
      expect(createdAR(d).spec.summary).to.contain('rm -rf /data');
      expect(d.matchedRules).to.include('pod-connect');
    });
  });
});
