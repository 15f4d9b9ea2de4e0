import { expect } from 'chai';
import { FINALIZER, LABEL_AGENT, LABEL_GRANT, LABEL_MANAGED_BY } from '../../api/types.js';
import { CONDITION, REASON, findCondition } from '../conditions.js';
import { activationRequestName, isLabelValue, labelValue } from '../../api/names.js';
import { ANNOTATION_ACTIVATED_AT, ANNOTATION_EXPIRES_AT } from '../../api/types.js';
import { activationFingerprint } from '../../lib/fingerprint.js';
import { agent, apply, approve, clockAt, find, grant, state, types, T0 } from './fixtures.test-helpers.js';
import { desiredApprovalRequest, desiredRoleBinding, planGrant, validateGrant, type GrantState } from './grant.js';

/** Plans and applies until nothing is left to do (at most n rounds), like repeated reconciles at one instant. */
function settle(s: GrantState, n = 5): GrantState {
  for (let i = 0; i < n; i++) {
    const p = planGrant(s);
    const effective = p.actions.filter((a) => a.type !== 'event' && a.type !== 'expiryLag');
    if (effective.length === 0) return s;
    s = apply(s, p);
  }
  throw new Error('plan did not settle');
}

const NOW = new Date(T0);

describe('planGrant', function () {
  describe('validation against the ceiling', function () {
    it('accepts a grant inside the ceiling', function () {
      expect(validateGrant(grant(), agent(), {}, NOW).ok).to.equal(true);
    });

    it('names the field and the limit when the duration exceeds maxDuration', function () {
      const v = validateGrant(grant({ duration: '3h' }), agent(), {}, NOW);
      expect(v).to.include({ ok: false, reason: REASON.DurationExceedsMax });
      expect(v.message).to.equal("spec.duration: 3h exceeds AgentIdentity deploy-bot's spec.maxDuration 2h");
    });

    it('names the role and the allowed roles', function () {
      const v = validateGrant(grant({ roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } }), agent(), {}, NOW);
      expect(v.reason).to.equal(REASON.RoleNotAllowed);
      expect(v.message).to.contain('spec.roleRef: ClusterRole/cluster-admin').and.contain('spec.allowedRoles [ClusterRole/edit, ClusterRole/view]');
    });

    it('tells a Role from a ClusterRole of the same name', function () {
      const v = validateGrant(grant({ roleRef: { kind: 'Role', name: 'edit' } }), agent(), {}, NOW);
      expect(v.reason).to.equal(REASON.RoleNotAllowed);
    });

    it('allows a namespace by name or by label selector, and names the limit otherwise', function () {
      const other = grant({}, { namespace: 'billing' });
      expect(validateGrant(other, agent(), { 'agentgate.io/agents-allowed': 'true' }, NOW).ok).to.equal(true);
      const v = validateGrant(other, agent(), { team: 'billing' }, NOW);
      expect(v.reason).to.equal(REASON.NamespaceNotAllowed);
      expect(v.message).to.contain('metadata.namespace: billing').and.contain('names [payments]').and.contain('selector agentgate.io/agents-allowed=true');
      // Unknown namespace labels never match a selector.
      expect(validateGrant(other, agent(), undefined, NOW).ok).to.equal(false);
    });

    it('checks a notAfter window against maxDuration from notBefore or creation', function () {
      const g = grant({ duration: undefined, notAfter: '2030-01-01T03:00:00Z' });
      const v = validateGrant(g, agent(), {}, NOW);
      expect(v.reason).to.equal(REASON.DurationExceedsMax);
      expect(v.message).to.contain('spec.notAfter').and.contain('3h').and.contain('spec.maxDuration 2h');
      const ok = grant({ duration: undefined, notBefore: '2030-01-01T02:00:00Z', notAfter: '2030-01-01T03:00:00Z' });
      expect(validateGrant(ok, agent(), {}, NOW).ok).to.equal(true);
    });

    it('refuses a missing or suspended agent', function () {
      expect(validateGrant(grant(), undefined, {}, NOW).reason).to.equal(REASON.AgentNotFound);
      expect(validateGrant(grant(), agent({ suspended: true }), {}, NOW).reason).to.equal(REASON.AgentSuspended);
    });

    it('makes an invalid grant Invalid with Valid=False, observedGeneration, and no RoleBinding', function () {
      const p = planGrant(state({ grant: grant({ duration: '3h' }, { generation: 4 }) }));
      expect(types(p)).to.not.include('createRoleBinding');
      const status = find(p, 'writeStatus')!.status;
      expect(status.phase).to.equal('Invalid');
      expect(status.observedGeneration).to.equal(4);
      const valid = findCondition(status.conditions, CONDITION.Valid)!;
      expect(valid).to.include({ status: 'False', reason: REASON.DurationExceedsMax, observedGeneration: 4 });
      expect(valid.message).to.contain('spec.duration: 3h');
      expect(find(p, 'event')).to.include({ eventType: 'Warning', reason: 'Invalid' });
    });

    it('re-checks an Invalid grant: once its agent exists, it activates', function () {
      let s = settle(state({ agent: undefined }));
      expect(s.grant!.status!.phase).to.equal('Invalid');
      s = settle({ ...s, agent: agent() });
      expect(s.grant!.status!.phase).to.equal('Active');
      expect(s.bindings).to.have.length(1);
    });
  });

  describe('Immediate activation', function () {
    it('adds the finalizer, then creates the RoleBinding, then writes Active, then the event', function () {
      const p = planGrant(state());
      expect(types(p)).to.deep.equal(['addFinalizer', 'createRoleBinding', 'writeStatus', 'event']);
      expect(p.requeueAfterMs).to.equal(30 * 60_000);
    });

    it('binds the role in the namespace to the agent subjects, labelled and owned by the grant', function () {
      const p = planGrant(
        state({
          agent: agent({
            subjects: [
              { kind: 'User', name: 'agent:deploy-bot' },
              { kind: 'ServiceAccount', name: 'bot', namespace: 'ci' },
            ],
          }),
        }),
      );
      const rb = find(p, 'createRoleBinding')!.binding;
      expect(rb.metadata?.name).to.equal('agentgate-hotfix');
      expect(rb.metadata?.namespace).to.equal('payments');
      expect(rb.metadata?.labels).to.deep.equal({ [LABEL_MANAGED_BY]: 'agentgate', [LABEL_GRANT]: 'hotfix', [LABEL_AGENT]: 'deploy-bot' });
      expect(rb.metadata?.ownerReferences).to.deep.equal([
        { apiVersion: 'agentgate.io/v1alpha1', kind: 'AccessGrant', name: 'hotfix', uid: 'grant-uid', controller: true, blockOwnerDeletion: true },
      ]);
      expect(rb.roleRef).to.deep.equal({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' });
      expect(rb.subjects).to.deep.equal([
        { kind: 'User', name: 'agent:deploy-bot', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'ServiceAccount', name: 'bot', namespace: 'ci' },
      ]);
      expect(rb.metadata?.annotations).to.deep.equal({ [ANNOTATION_ACTIVATED_AT]: T0, [ANNOTATION_EXPIRES_AT]: '2030-01-01T00:30:00Z' });
    });

    it('writes Active with activatedAt, expiresAt, the binding and conditions', function () {
      const st = find(planGrant(state()), 'writeStatus')!.status;
      expect(st).to.include({ phase: 'Active', activatedAt: T0, expiresAt: '2030-01-01T00:30:00Z', roleBinding: 'agentgate-hotfix', observedGeneration: 1 });
      expect(findCondition(st.conditions, CONDITION.Valid)).to.include({ status: 'True', reason: REASON.WithinCeiling });
      expect(findCondition(st.conditions, CONDITION.Approved)).to.include({ status: 'True', reason: REASON.NotRequired });
      expect(findCondition(st.conditions, CONDITION.Active)).to.include({ status: 'True', reason: REASON.Activated, lastTransitionTime: T0 });
    });

    it('rounds a sub-second activation time up so the window is never shorter than asked', function () {
      const st = find(planGrant(state({ now: new Date('2030-01-01T00:00:00.400Z') })), 'writeStatus')!.status;
      expect(st.expiresAt).to.equal('2030-01-01T00:30:01Z');
    });

    it('is idempotent: once Active, replanning does nothing but arm the timer', function () {
      const s = settle(state());
      const clock = clockAt();
      clock.advance(10 * 60_000);
      const p = planGrant({ ...s, now: clock.now() });
      expect(p.actions).to.deep.equal([]);
      expect(p.requeueAfterMs).to.equal(20 * 60_000);
    });

    it('adopts the window stamped on an existing binding after a crash before the status write', function () {
      const first = planGrant(state());
      const crashed = apply(state(), { actions: first.actions.filter((a) => a.type !== 'writeStatus') });
      const clock = clockAt();
      clock.advance(5_000);
      const p = planGrant({ ...crashed, now: clock.now() });
      expect(types(p)).to.not.include('createRoleBinding');
      expect(find(p, 'writeStatus')!.status).to.include({ activatedAt: T0, expiresAt: '2030-01-01T00:30:00Z' });
    });

    it('recreates a binding deleted by hand while the grant is Active', function () {
      const s = settle(state());
      const p = planGrant({ ...s, bindings: [] });
      expect(types(p)).to.include('createRoleBinding');
      expect(find(p, 'event')!.reason).to.equal('RoleBindingRecreated');
    });
  });

  describe('a namespace being deleted', function () {
    it('does not recreate the binding the namespace controller removed (the apiserver refuses new objects there)', function () {
      const s = settle(state());
      const p = planGrant({ ...s, bindings: [], namespaceTerminating: true });
      expect(p.actions).to.deep.equal([]);
      expect(p.requeueAfterMs).to.equal(30 * 60_000);
    });

    it('does not activate a new grant there: Active=False with the reason, no binding, no finalizer', function () {
      const p = planGrant(state({ namespaceTerminating: true }));
      expect(types(p)).to.deep.equal(['writeStatus']);
      const status = find(p, 'writeStatus')!.status;
      expect(status.phase).to.equal(undefined);
      expect(findCondition(status.conditions, CONDITION.Active)).to.include({ status: 'False', reason: REASON.NamespaceTerminating });
    });

    it('still ends access there: an expiry, a suspension and the grant deletion remove the binding that is left', function () {
      const s = { ...settle(state()), namespaceTerminating: true };
      expect(types(planGrant({ ...s, now: new Date('2030-01-01T00:30:00Z') }))[0]).to.equal('deleteRoleBinding');
      expect(types(planGrant({ ...s, agent: agent({ suspended: true }) }))[0]).to.equal('deleteRoleBinding');
      const deleting = { ...s, grant: { ...s.grant!, metadata: { ...s.grant!.metadata, deletionTimestamp: T0 } } };
      expect(types(planGrant(deleting)).slice(0, 2)).to.deep.equal(['deleteRoleBinding', 'removeFinalizer']);
    });
  });

  describe('expiry', function () {
    it('at expiresAt deletes the binding first, then writes Expired, drops the finalizer, and reports the lag', function () {
      const s = settle(state());
      const clock = clockAt();
      clock.advance(30 * 60_000 + 250);
      const p = planGrant({ ...s, now: clock.now() });
      expect(types(p)).to.deep.equal(['deleteRoleBinding', 'removeFinalizer', 'writeStatus', 'event', 'expiryLag']);
      expect(find(p, 'deleteRoleBinding')!.name).to.equal('agentgate-hotfix');
      expect(find(p, 'writeStatus')!.status.phase).to.equal('Expired');
      expect(findCondition(find(p, 'writeStatus')!.status.conditions, CONDITION.Active)).to.include({ status: 'False', reason: REASON.Expired });
      expect(find(p, 'expiryLag')!.seconds).to.be.closeTo(0.25, 1e-9);
      expect(p.requeueAfterMs).to.equal(undefined);
    });

    it('one millisecond before expiresAt keeps access and requeues for that millisecond', function () {
      const s = settle(state());
      const p = planGrant({ ...s, now: new Date(Date.parse('2030-01-01T00:30:00Z') - 1) });
      expect(p.actions).to.deep.equal([]);
      expect(p.requeueAfterMs).to.equal(1);
    });

    it('expires an overdue grant at once on restart, however late', function () {
      const s = settle(state());
      const p = planGrant({ ...s, now: new Date('2030-01-03T00:00:00Z') });
      expect(types(p)[0]).to.equal('deleteRoleBinding');
      expect(find(p, 'writeStatus')!.status.phase).to.equal('Expired');
      expect(find(p, 'expiryLag')!.seconds).to.equal(2 * 86400 - 1800);
    });

    it('a terminal grant keeps no binding and no finalizer, and is otherwise left alone', function () {
      let s = settle(state());
      s = settle({ ...s, now: new Date('2030-01-01T01:00:00Z') });
      expect(s.grant!.status!.phase).to.equal('Expired');
      expect(s.grant!.metadata.finalizers ?? []).to.deep.equal([]);
      expect(s.bindings).to.deep.equal([]);
      // A stray binding for an Expired grant (e.g. restored from backup) goes.
      const stray = settle(state()).bindings;
      const p = planGrant({ ...s, bindings: stray });
      expect(types(p)).to.deep.equal(['deleteRoleBinding']);
    });

    it('a notAfter grant expires at notAfter', function () {
      const s = settle(state({ grant: grant({ duration: undefined, notAfter: '2030-01-01T00:10:00Z' }) }));
      expect(s.grant!.status!.expiresAt).to.equal('2030-01-01T00:10:00Z');
      const after = settle({ ...s, now: new Date('2030-01-01T00:10:00Z') });
      expect(after.grant!.status!.phase).to.equal('Expired');
    });
  });

  describe('notBefore', function () {
    it('is Pending until notBefore, with an exact timer, then activates', function () {
      const g = grant({ notBefore: '2030-01-01T00:05:00Z' });
      const p = planGrant(state({ grant: g }));
      expect(types(p)).to.deep.equal(['writeStatus', 'event']);
      expect(find(p, 'writeStatus')!.status.phase).to.equal('Pending');
      expect(p.requeueAfterMs).to.equal(5 * 60_000);
      const s = settle({ ...apply(state({ grant: g }), p), now: new Date('2030-01-01T00:05:00Z') });
      expect(s.grant!.status).to.include({ phase: 'Active', activatedAt: '2030-01-01T00:05:00Z', expiresAt: '2030-01-01T00:35:00Z' });
    });

    it('a window that closed before it opened is Expired without ever binding', function () {
      const g = grant({ duration: undefined, notBefore: '2029-12-31T23:00:00Z', notAfter: '2029-12-31T23:30:00Z' });
      const p = planGrant(state({ grant: g }));
      expect(types(p)).to.not.include('createRoleBinding');
      expect(find(p, 'writeStatus')!.status.phase).to.equal('Expired');
    });
  });

  describe('RequiresApproval', function () {
    const g = grant({ activation: 'RequiresApproval' }, { annotations: { 'agentgate.io/requested-by': 'agent:deploy-bot' } });

    it('creates an Activation ApprovalRequest and waits in AwaitingApproval', function () {
      const p = planGrant(state({ grant: g }));
      expect(types(p)).to.deep.equal(['createApprovalRequest', 'writeStatus', 'event']);
      const ar = find(p, 'createApprovalRequest')!.request;
      expect(ar.metadata.name).to.equal('activate-hotfix');
      expect(ar.metadata.namespace).to.equal('payments');
      expect(ar.metadata.labels).to.include({ [LABEL_AGENT]: 'deploy-bot', [LABEL_GRANT]: 'hotfix' });
      expect(ar.spec).to.deep.equal({
        agent: 'deploy-bot',
        type: 'Activation',
        grant: 'hotfix',
        fingerprint: activationFingerprint(g),
        summary: 'activate edit in payments for 30m for deploy-bot: roll out the hotfix',
        requestedBy: 'agent:deploy-bot',
        expiresAt: '2030-01-01T01:00:00Z',
      });
      expect(ar.spec.fingerprint).to.match(/^[0-9a-f]{64}$/);
      const st = find(p, 'writeStatus')!.status;
      expect(st).to.include({ phase: 'AwaitingApproval', approvalRequest: 'activate-hotfix', requestedBy: 'agent:deploy-bot' });
      expect(findCondition(st.conditions, CONDITION.Approved)!.message).to.contain(
        'kubectl annotate approvalrequest activate-hotfix -n payments approved=true',
      );
    });

    it("says 'unknown' when nobody stamped the requester", function () {
      const p = planGrant(state({ grant: grant({ activation: 'RequiresApproval' }) }));
      expect(find(p, 'createApprovalRequest')!.request.spec.requestedBy).to.equal('unknown');
    });

    it('keeps waiting while the request is Pending; never binds', function () {
      const s = settle(state({ grant: g }));
      expect(s.grant!.status!.phase).to.equal('AwaitingApproval');
      expect(s.bindings).to.deep.equal([]);
      const withPending = { ...s, approval: { ...s.approval!, status: { phase: 'Pending' as const } } };
      expect(planGrant(withPending).actions).to.deep.equal([]);
    });

    it('on approval activates (the window starts then) and consumes the request after the status write', function () {
      let s = settle(state({ grant: g }));
      const clock = clockAt();
      clock.advance(10 * 60_000);
      s = { ...s, approval: approve(s.approval!), now: clock.now() };
      const p = planGrant(s);
      expect(types(p)).to.deep.equal(['addFinalizer', 'createRoleBinding', 'writeStatus', 'writeApprovalStatus', 'event']);
      const st = find(p, 'writeStatus')!.status;
      expect(st).to.include({ phase: 'Active', activatedAt: '2030-01-01T00:10:00Z', expiresAt: '2030-01-01T00:40:00Z' });
      expect(findCondition(st.conditions, CONDITION.Approved)).to.include({ status: 'True', reason: REASON.Approved });
      expect(findCondition(st.conditions, CONDITION.Approved)!.message).to.contain('alice');
      expect(find(p, 'writeApprovalStatus')!.status).to.include({ phase: 'Consumed', consumedAt: '2030-01-01T00:10:00Z', consumedBy: 'operator' });
      s = settle(apply(s, p));
      expect(s.approval!.status!.phase).to.equal('Consumed');
    });

    it('consumes a still-Approved request after a crash between activation and consumption', function () {
      let s = settle(state({ grant: g }));
      s = { ...s, approval: approve(s.approval!) };
      const p = planGrant(s);
      const crashed = apply(s, { actions: p.actions.filter((a) => a.type !== 'writeApprovalStatus') });
      const again = planGrant(crashed);
      expect(types(again)).to.deep.equal(['writeApprovalStatus']);
    });

    it('Denied request -> grant Denied, no binding', function () {
      let s = settle(state({ grant: g }));
      s = { ...s, approval: { ...s.approval!, status: { phase: 'Denied', message: 'not during the freeze' } } };
      const p = planGrant(s);
      expect(types(p)).to.not.include('createRoleBinding');
      const st = find(p, 'writeStatus')!.status;
      expect(st.phase).to.equal('Denied');
      expect(findCondition(st.conditions, CONDITION.Approved)).to.include({ reason: REASON.ApprovalDenied });
      expect(findCondition(st.conditions, CONDITION.Approved)!.message).to.contain('not during the freeze');
    });

    it('Expired request -> grant Denied with reason ApprovalExpired', function () {
      let s = settle(state({ grant: g }));
      s = { ...s, approval: { ...s.approval!, status: { phase: 'Expired' } } };
      const st = find(planGrant(s), 'writeStatus')!.status;
      expect(st.phase).to.equal('Denied');
      expect(findCondition(st.conditions, CONDITION.Approved)).to.include({ status: 'False', reason: REASON.ApprovalExpired });
    });

    it('an Approved request whose validUntil passed does not activate', function () {
      let s = settle(state({ grant: g }));
      s = { ...s, approval: approve(s.approval!, T0, '2029-12-31T23:59:59Z') };
      const p = planGrant(s);
      expect(types(p)).to.not.include('createRoleBinding');
    });

    it('never accepts an approval with another fingerprint (an earlier grant of the same name): replaces it', function () {
      let s = settle(state({ grant: g }));
      const old = approve({ ...s.approval!, spec: { ...s.approval!.spec, fingerprint: 'f'.repeat(64) } });
      s = { ...s, approval: old };
      const p = planGrant(s);
      expect(types(p)[0]).to.equal('deleteApprovalRequest');
      expect(types(p)).to.not.include('createRoleBinding');
      expect(p.requeueAfterMs).to.be.greaterThan(0);
      const next = planGrant(apply(s, p));
      expect(types(next)).to.include('createApprovalRequest');
    });

    it('the fingerprint binds the uid and the spec', function () {
      const a = activationFingerprint(g);
      expect(activationFingerprint({ ...g, metadata: { ...g.metadata, uid: 'other' } })).to.not.equal(a);
      expect(activationFingerprint({ ...g, spec: { ...g.spec, duration: '31m' } })).to.not.equal(a);
      expect(activationFingerprint(structuredClone(g))).to.equal(a);
    });

    it('approval before notBefore: consumed and recorded, Pending until notBefore', function () {
      const gb = grant({ activation: 'RequiresApproval', notBefore: '2030-01-01T01:00:00Z' });
      let s = settle(state({ grant: gb }));
      expect(s.grant!.status!.phase).to.equal('AwaitingApproval');
      s = settle({ ...s, approval: approve(s.approval!) });
      expect(s.grant!.status!.phase).to.equal('Pending');
      expect(s.approval!.status!.phase).to.equal('Consumed');
      expect(findCondition(s.grant!.status!.conditions, CONDITION.Approved)!.status).to.equal('True');
      s = settle({ ...s, now: new Date('2030-01-01T01:00:00Z') });
      expect(s.grant!.status!.phase).to.equal('Active');
    });

    it('labels the activation request and the RoleBinding of an agent named over 63 characters with valid label values', function () {
      const long = `${'a'.repeat(40)}.${'b'.repeat(40)}`;
      const ar = desiredApprovalRequest(grant({ agent: long }), new Date(T0), 60_000);
      const rb = desiredRoleBinding(grant({ agent: long }), agent({}, { name: long }), T0, T0);
      for (const labels of [ar.metadata.labels!, rb.metadata!.labels!]) {
        expect(labels[LABEL_AGENT]).to.equal(labelValue(long));
        for (const v of Object.values(labels)) expect(isLabelValue(v), v).to.equal(true);
      }
    });

    it('names the activation request deterministically and within 63 characters', function () {
      expect(activationRequestName('hotfix')).to.equal('activate-hotfix');
      const long = activationRequestName('x'.repeat(200));
      expect(long.length).to.be.at.most(63);
      expect(long).to.equal(activationRequestName('x'.repeat(200)));
      expect(long).to.not.equal(activationRequestName(`${'x'.repeat(199)}y`));
    });
  });

  describe('deletion, suspension and agent changes', function () {
    it('deleting the grant removes the binding before the finalizer', function () {
      const s = settle(state());
      const deleting = { ...s, grant: { ...s.grant!, metadata: { ...s.grant!.metadata, deletionTimestamp: '2030-01-01T00:01:00Z' } } };
      const p = planGrant(deleting);
      expect(types(p)).to.deep.equal(['deleteRoleBinding', 'removeFinalizer', 'event']);
      expect(find(p, 'event')!.reason).to.equal(REASON.GrantDeleted);
      expect(apply(deleting, p).grant).to.equal(undefined);
    });

    it('a binding whose grant is gone is deleted', function () {
      const s = settle(state());
      const p = planGrant({ ...s, grant: undefined });
      expect(p.actions).to.deep.equal([{ type: 'deleteRoleBinding', name: 'agentgate-hotfix', uid: 'rb-0' }]);
    });

    it('a binding of an earlier grant with the same name (other uid) is replaced', function () {
      const s = settle(state());
      const newer = grant({}, { uid: 'grant-uid-2' });
      const p = planGrant({ ...state({ grant: newer }), bindings: s.bindings });
      expect(types(p)).to.deep.equal(['deleteRoleBinding', 'addFinalizer', 'createRoleBinding', 'writeStatus', 'event']);
    });

    it('suspending the agent revokes an Active grant: binding first, then Revoked', function () {
      const s = settle(state());
      const p = planGrant({ ...s, agent: agent({ suspended: true }) });
      expect(types(p)).to.deep.equal(['deleteRoleBinding', 'removeFinalizer', 'writeStatus', 'event']);
      const st = find(p, 'writeStatus')!.status;
      expect(st.phase).to.equal('Revoked');
      expect(findCondition(st.conditions, CONDITION.Valid)).to.include({ reason: REASON.AgentSuspended });
    });

    it('suspending the agent revokes Pending and AwaitingApproval grants too', function () {
      const pending = settle(state({ grant: grant({ notBefore: '2030-01-01T05:00:00Z' }) }));
      expect(find(planGrant({ ...pending, agent: agent({ suspended: true }) }), 'writeStatus')!.status.phase).to.equal('Revoked');
      const awaiting = settle(state({ grant: grant({ activation: 'RequiresApproval' }) }));
      expect(find(planGrant({ ...awaiting, agent: agent({ suspended: true }) }), 'writeStatus')!.status.phase).to.equal('Revoked');
    });

    it('Revoked is final: unsuspending does not bring access back', function () {
      let s = settle(state());
      s = settle({ ...s, agent: agent({ suspended: true }) });
      s = settle({ ...s, agent: agent() });
      expect(s.grant!.status!.phase).to.equal('Revoked');
      expect(s.bindings).to.deep.equal([]);
    });

    it('a narrowed ceiling revokes an Active grant', function () {
      const s = settle(state());
      const st = find(planGrant({ ...s, agent: agent({ allowedRoles: [{ kind: 'ClusterRole', name: 'view' }] }) }), 'writeStatus')!.status;
      expect(st.phase).to.equal('Revoked');
      expect(findCondition(st.conditions, CONDITION.Active)!.message).to.contain('spec.allowedRoles');
    });

    it('changing the agent subjects updates the binding in place', function () {
      const s = settle(state());
      const changed = agent({
        subjects: [
          { kind: 'User', name: 'agent:deploy-bot' },
          { kind: 'Group', name: 'bots' },
        ],
      });
      const p = planGrant({ ...s, agent: changed });
      expect(types(p)).to.deep.equal(['replaceRoleBinding']);
      const rb = find(p, 'replaceRoleBinding')!.binding;
      expect(rb.subjects).to.have.length(2);
      expect(rb.metadata?.resourceVersion).to.equal('1');
      expect(rb.metadata?.annotations?.[ANNOTATION_EXPIRES_AT]).to.equal('2030-01-01T00:30:00Z');
    });

    it('the finalizer is only ever added together with a binding', function () {
      for (const g of [grant({ duration: '3h' }), grant({ activation: 'RequiresApproval' }), grant({ notBefore: '2030-01-02T00:00:00Z' })]) {
        expect(types(planGrant(state({ grant: g })))).to.not.include('addFinalizer');
      }
      const invalidWithFinalizer = grant({ duration: '3h' }, { finalizers: [FINALIZER] });
      expect(types(planGrant(state({ grant: invalidWithFinalizer })))).to.include('removeFinalizer');
    });
  });
});
