import { expect } from 'chai';
import type { ApprovalRequest } from '../api/types.js';
import type { AdmissionRequest } from '../lib/admission.js';
import { FakeClock } from '../lib/clock.js';
import { approverStamp } from '../lib/approval.js';
import { decideProtect, protectConfig, stampPatch } from './protect.js';
import { approvalStampPatch } from './stamp.js';
import { StaticSnapshot } from './snapshot.js';
import { agentIdentity, AGENT_USER, NAMESPACES, request } from '../testing/fixtures.js';

const CFG = protectConfig('agentgate-system');
const OPERATOR = { username: 'system:serviceaccount:agentgate-system:agentgate-operator', groups: ['system:serviceaccounts'] };
const WEBHOOK = { username: 'system:serviceaccount:agentgate-system:agentgate-webhook', groups: ['system:serviceaccounts'] };
const ALICE = { username: 'alice', groups: ['sre-approvers'] };
const BOB = { username: 'bob', groups: ['sre-approvers'] };
const MALLORY = { username: 'mallory', groups: ['developers'] };
const ADMIN = { username: 'kubernetes-admin', groups: ['system:masters'] };

const snap = () => new StaticSnapshot({ agents: [agentIdentity()], namespaces: NAMESPACES });

function ar(over: Partial<ApprovalRequest['status']> | undefined = undefined, annotations?: Record<string, string>): ApprovalRequest {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'ar-x', namespace: 'prod', resourceVersion: '9', ...(annotations ? { annotations } : {}) },
    spec: {
      agent: 'deploy-bot',
      type: 'Operation',
      fingerprint: 'f'.repeat(64),
      summary: 's',
      requestedBy: 'agent:deploy-bot',
      expiresAt: '2030-01-01T01:00:00Z',
    },
    ...(over ? { status: over } : {}),
  };
}

function annotate(userInfo: AdmissionRequest['userInfo'], value: string, old = ar()): AdmissionRequest {
  const next = JSON.parse(JSON.stringify(old)) as ApprovalRequest;
  next.metadata.annotations = { ...(next.metadata.annotations ?? {}), approved: value };
  return request({
    op: 'UPDATE',
    group: 'agentgate.io',
    version: 'v1alpha1',
    resource: 'approvalrequests',
    name: 'ar-x',
    userInfo,
    object: next as never,
    oldObject: old as never,
  });
}

describe('webhook/protect', () => {
  describe('ApprovalRequests', () => {
    it('allows an eligible approval with its own stamp and writes nothing (a decision only)', () => {
      const clock = new FakeClock();
      const req = annotate(ALICE, 'true', ar({ origin: 'Confirmed' }));
      (req.object as unknown as ApprovalRequest).decisions = [approverStamp(ALICE, 'Approved')];
      const r = decideProtect(req, snap(), clock, CFG);
      expect(r).to.deep.equal({ allowed: true, message: 'approved by alice' });
    });

    it("allows approving a request the apiserver's audit log has not confirmed, with a warning (EKS confirms minutes late); a denial needs none", () => {
      const clock = new FakeClock();
      for (const old of [ar(), ar({ origin: 'Unconfirmed' })]) {
        const req = annotate(ALICE, 'true', old);
        (req.object as unknown as ApprovalRequest).decisions = [approverStamp(ALICE, 'Approved')];
        const r = decideProtect(req, snap(), clock, CFG);
        expect(r.allowed).to.equal(true);
        expect(r.warnings?.[0]).to.contain('ApprovalRequest ar-x is not yet confirmed').and.contain('agent deploy-bot may never have made this call');
      }
      const deny = annotate(ALICE, 'false');
      (deny.object as unknown as ApprovalRequest).decisions = [approverStamp(ALICE, 'Denied')];
      expect(decideProtect(deny, snap(), clock, CFG)).to.deep.equal({ allowed: true, message: 'denied by alice' });
    });

    it("refuses a stamp claiming someone else, changing another's, or removing one (as the policy does)", () => {
      const clock = new FakeClock();
      const claim = annotate(MALLORY, 'true');
      (claim.object as unknown as ApprovalRequest).decisions = [approverStamp(ALICE, 'Approved')];
      expect(decideProtect(claim, snap(), clock, CFG).message).to.contain("caller's own identity");
      const withAlice = ar(undefined, { approved: 'true' });
      withAlice.decisions = [approverStamp(ALICE, 'Approved')];
      const flip = annotate(BOB, 'false', withAlice);
      (flip.object as unknown as ApprovalRequest).decisions = [approverStamp(ALICE, 'Denied'), approverStamp(BOB, 'Denied')];
      expect(decideProtect(flip, snap(), clock, CFG).message).to.contain("caller's own identity");
      const erase = annotate(BOB, 'true', withAlice);
      (erase.object as unknown as ApprovalRequest).decisions = [approverStamp(BOB, 'Approved')];
      expect(decideProtect(erase, snap(), clock, CFG).message).to.contain('decision of alice cannot be removed');
      const groups = annotate(ALICE, 'true');
      (groups.object as unknown as ApprovalRequest).decisions = [{ ...approverStamp(ALICE, 'Approved'), groups: ['sre-approvers', 'system:masters'] }];
      expect(decideProtect(groups, snap(), clock, CFG).allowed).to.equal(false);
    });

    it("rejects mallory's approval and the agent approving its own request, saying why", () => {
      const clock = new FakeClock();
      const m = decideProtect(annotate(MALLORY, 'true'), snap(), clock, CFG);
      expect(m.allowed).to.equal(false);
      expect(m.message).to.contain('mallory is not an approver of agent deploy-bot');
      const self = decideProtect(annotate(AGENT_USER, 'true'), snap(), clock, CFG);
      expect(self.allowed).to.equal(false);
      expect(self.message).to.contain('cannot approve its own');
    });

    it('is idempotent when the apiserver re-runs admission after the status write', () => {
      const clock = new FakeClock();
      const recorded = ar({ phase: 'Approved', approvals: [{ user: 'alice', decision: 'Approved', time: '2030-01-01T00:00:00Z' }] });
      const r = decideProtect(annotate(ALICE, 'true', recorded), snap(), clock, CFG);
      expect(r).to.include({ allowed: true });
    });

    it('only the approved annotation may change, and it must be true or false', () => {
      const clock = new FakeClock();
      const req = annotate(ALICE, 'true');
      (req.object as unknown as ApprovalRequest).metadata.labels = { sneaky: 'yes' };
      expect(decideProtect(req, snap(), clock, CFG).message).to.contain('only the "approved" annotation');
      expect(decideProtect(annotate(ALICE, 'yes'), snap(), clock, CFG).message).to.contain('use approved=true or approved=false');
    });

    it('only agentgate creates them or writes their status', () => {
      const clock = new FakeClock();
      const create = (userInfo: AdmissionRequest['userInfo']) =>
        request({ group: 'agentgate.io', version: 'v1alpha1', resource: 'approvalrequests', name: 'x', userInfo, object: ar() as never });
      expect(decideProtect(create(ADMIN), snap(), clock, CFG).allowed).to.equal(false);
      expect(decideProtect(create(WEBHOOK), snap(), clock, CFG).allowed).to.equal(true);
      expect(decideProtect(create(OPERATOR), snap(), clock, CFG).allowed).to.equal(true);
      const status = request({
        op: 'UPDATE',
        group: 'agentgate.io',
        version: 'v1alpha1',
        resource: 'approvalrequests',
        subResource: 'status',
        name: 'x',
        userInfo: ALICE,
        object: ar({ phase: 'Approved' }) as never,
        oldObject: ar() as never,
      });
      expect(decideProtect(status, snap(), clock, CFG).allowed).to.equal(false);
    });

    describe('the approver stamp (/mutate/stamp)', () => {
      const decisions = (req: AdmissionRequest) => {
        const p = approvalStampPatch(req);
        return p.length ? (p[0]!.value as ApprovalRequest['decisions']) : undefined;
      };
      it('stamps the caller from userInfo (user, uid, groups) with the decision the annotation says', () => {
        expect(decisions(annotate({ ...ALICE, uid: 'u-1' }, 'true'))).to.deep.equal([
          { user: 'alice', uid: 'u-1', groups: ['sre-approvers'], decision: 'Approved' },
        ]);
        expect(decisions(annotate(BOB, 'false'))).to.deep.equal([{ user: 'bob', groups: ['sre-approvers'], decision: 'Denied' }]);
      });
      it("N of M: a second approver's stamp keeps the first; a repeat changes nothing; a change of mind replaces only one's own", () => {
        const withAlice = ar(undefined, { approved: 'true' });
        withAlice.decisions = [approverStamp(ALICE, 'Approved')];
        expect(decisions(annotate(BOB, 'true', withAlice))).to.deep.equal([approverStamp(ALICE, 'Approved'), approverStamp(BOB, 'Approved')]);
        expect(approvalStampPatch(annotate(ALICE, 'true', withAlice))).to.deep.equal([]);
        expect(decisions(annotate(ALICE, 'false', withAlice))).to.deep.equal([approverStamp(ALICE, 'Denied')]);
      });
      it('stamps nothing without a valid decision, for the status subresource, or for other kinds', () => {
        expect(approvalStampPatch(annotate(ALICE, 'maybe'))).to.deep.equal([]);
        const noAnnotation = annotate(ALICE, 'true');
        delete (noAnnotation.object as unknown as ApprovalRequest).metadata.annotations;
        expect(approvalStampPatch(noAnnotation)).to.deep.equal([]);
        expect(approvalStampPatch({ ...annotate(ALICE, 'true'), subResource: 'status' })).to.deep.equal([]);
        expect(
          approvalStampPatch({ ...annotate(ALICE, 'true'), resource: { group: 'agentgate.io', version: 'v1alpha1', resource: 'accessgrants' } }),
        ).to.deep.equal([]);
      });
    });
  });

  describe('AuditEvents', () => {
    const ae = (op: AdmissionRequest['operation'], userInfo: AdmissionRequest['userInfo']) =>
      request({ op, group: 'agentgate.io', version: 'v1alpha1', resource: 'auditevents', namespace: 'agentgate-system', name: 'e', userInfo });
    it('are created only by the webhook, never updated, deleted only by the operator', () => {
      const clock = new FakeClock();
      expect(decideProtect(ae('CREATE', WEBHOOK), snap(), clock, CFG).allowed).to.equal(true);
      expect(decideProtect(ae('CREATE', ADMIN), snap(), clock, CFG).allowed).to.equal(false);
      expect(decideProtect(ae('UPDATE', WEBHOOK), snap(), clock, CFG).message).to.contain('write-once');
      expect(decideProtect(ae('UPDATE', ADMIN), snap(), clock, CFG).allowed).to.equal(false);
      expect(decideProtect(ae('DELETE', OPERATOR), snap(), clock, CFG).allowed).to.equal(true);
      expect(decideProtect(ae('DELETE', ADMIN), snap(), clock, CFG).message).to.contain('retention');
    });
  });

  describe('managed RoleBindings', () => {
    const rb = (l: Record<string, string> = { 'app.kubernetes.io/managed-by': 'agentgate' }) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'b', namespace: 'prod', labels: l },
    });
    const rbReq = (op: AdmissionRequest['operation'], userInfo: AdmissionRequest['userInfo'], object: unknown, oldObject: unknown) =>
      request({
        op,
        group: 'rbac.authorization.k8s.io',
        resource: 'rolebindings',
        name: 'b',
        userInfo,
        object: object as never,
        oldObject: oldObject as never,
      });
    it('only the operator creates, changes or deletes them', () => {
      const clock = new FakeClock();
      expect(decideProtect(rbReq('CREATE', OPERATOR, rb(), null), snap(), clock, CFG).allowed).to.equal(true);
      expect(decideProtect(rbReq('CREATE', ADMIN, rb(), null), snap(), clock, CFG).allowed).to.equal(false);
      expect(decideProtect(rbReq('UPDATE', ADMIN, rb(), rb()), snap(), clock, CFG).allowed).to.equal(false);
      expect(decideProtect(rbReq('DELETE', ADMIN, null, rb()), snap(), clock, CFG).allowed).to.equal(false);
      const gc = { username: 'system:serviceaccount:kube-system:generic-garbage-collector' };
      expect(decideProtect(rbReq('DELETE', gc, null, rb()), snap(), clock, CFG).allowed).to.equal(true);
      expect(decideProtect(rbReq('UPDATE', gc, rb(), rb()), snap(), clock, CFG).allowed).to.equal(false);
    });
    it('denies adding the label, and leaves other bindings alone', () => {
      const clock = new FakeClock();
      const add = decideProtect(rbReq('UPDATE', ADMIN, rb(), rb({})), snap(), clock, CFG);
      expect(add.allowed).to.equal(false);
      expect(add.message).to.contain('add the label');
      expect(decideProtect(rbReq('UPDATE', ADMIN, rb({ a: 'b' }), rb({})), snap(), clock, CFG).allowed).to.equal(true);
    });
  });

  describe('AccessGrants', () => {
    const grant = (annotations: Record<string, string>, spec: Record<string, unknown> = {}) => ({
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'g', namespace: 'prod', annotations },
      spec: { agent: 'deploy-bot', roleRef: { kind: 'ClusterRole', name: 'edit' }, duration: '30m', reason: 'r', activation: 'Immediate', ...spec },
    });
    const create = (userInfo: AdmissionRequest['userInfo'], obj: unknown) =>
      request({ group: 'agentgate.io', version: 'v1alpha1', resource: 'accessgrants', name: 'g', userInfo, object: obj as never });

    it('stamps the creator, overwriting a forged value, and adds the finalizer once', () => {
      const fin = { op: 'add', path: '/metadata/finalizers', value: ['agentgate.io/revoke-access'] };
      const req = create(ALICE, grant({ 'agentgate.io/requested-by': 'bob' }));
      expect(stampPatch(req)).to.deep.equal([{ op: 'add', path: '/metadata/annotations/agentgate.io~1requested-by', value: 'alice' }, fin]);
      const bare = create(ALICE, { metadata: { name: 'g' } });
      expect(stampPatch(bare)).to.deep.equal([{ op: 'add', path: '/metadata/annotations', value: { 'agentgate.io/requested-by': 'alice' } }, fin]);
      const other = create(ALICE, { metadata: { name: 'g', finalizers: ['example.com/keep'] } });
      expect(stampPatch(other).slice(1)).to.deep.equal([{ op: 'add', path: '/metadata/finalizers/-', value: 'agentgate.io/revoke-access' }]);
      const has = create(ALICE, { metadata: { name: 'g', finalizers: ['agentgate.io/revoke-access'] } });
      expect(stampPatch(has)).to.have.length(1);
    });

    it('validates the stamp, the ceiling and CEL with errors naming the field', () => {
      const clock = new FakeClock();
      expect(decideProtect(create(ALICE, grant({ 'agentgate.io/requested-by': 'alice' })), snap(), clock, CFG).allowed).to.equal(true);
      expect(decideProtect(create(ALICE, grant({ 'agentgate.io/requested-by': 'bob' })), snap(), clock, CFG).allowed).to.equal(false);
      const bad = decideProtect(
        create(
          ALICE,
          grant(
            { 'agentgate.io/requested-by': 'alice' },
            {
              approvalRules: [
                { name: 'ok', expression: 'true', action: 'Deny' },
                { name: 'broken', expression: 'request.(', action: 'Deny' },
              ],
            },
          ),
        ),
        snap(),
        clock,
        CFG,
      );
      expect(bad.allowed).to.equal(false);
      expect(bad.message).to.match(/spec\.approvalRules\[1\]\.expression: syntax error: .* at line 1 column \d+/);
      const ceiling = decideProtect(
        create(ALICE, grant({ 'agentgate.io/requested-by': 'alice' }, { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } })),
        snap(),
        clock,
        CFG,
      );
      expect(ceiling.message).to.contain('spec.roleRef');
    });

    it('an agent may only ask for its own grant with RequiresApproval', () => {
      const clock = new FakeClock();
      const immediate = decideProtect(create(AGENT_USER, grant({ 'agentgate.io/requested-by': 'agent:deploy-bot' })), snap(), clock, CFG);
      expect(immediate.message).to.contain('RequiresApproval');
      const ok = decideProtect(
        create(AGENT_USER, grant({ 'agentgate.io/requested-by': 'agent:deploy-bot' }, { activation: 'RequiresApproval' })),
        snap(),
        clock,
        CFG,
      );
      expect(ok.allowed, ok.message).to.equal(true);
    });

    it("the stamp never changes and status is the operator's", () => {
      const clock = new FakeClock();
      const upd = request({
        op: 'UPDATE',
        group: 'agentgate.io',
        version: 'v1alpha1',
        resource: 'accessgrants',
        name: 'g',
        userInfo: ADMIN,
        object: grant({ 'agentgate.io/requested-by': 'admin' }) as never,
        oldObject: grant({ 'agentgate.io/requested-by': 'alice' }) as never,
      });
      expect(decideProtect(upd, snap(), clock, CFG).message).to.contain('cannot be changed');
      const status = { ...upd, subResource: 'status', object: upd.oldObject };
      expect(decideProtect(status, snap(), clock, CFG).allowed).to.equal(false);
      expect(decideProtect({ ...status, userInfo: OPERATOR }, snap(), clock, CFG).allowed).to.equal(true);
    });
  });

  describe('AgentIdentities', () => {
    const create = (spec: Record<string, unknown>) =>
      request({
        group: 'agentgate.io',
        version: 'v1alpha1',
        resource: 'agentidentities',
        namespace: '',
        name: 'deploy-bot',
        userInfo: ADMIN,
        object: { ...agentIdentity(), spec: { ...agentIdentity().spec, ...spec } } as never,
      });
    it('reject rules that do not compile, naming the field, line and column', () => {
      const clock = new FakeClock();
      const r = decideProtect(
        create({
          approvalRules: [
            { name: 'a', expression: 'true', action: 'Deny' },
            { name: 'b', expression: 'request.name ==', action: 'Deny' },
          ],
        }),
        snap(),
        clock,
        CFG,
      );
      expect(r.allowed).to.equal(false);
      expect(r.message).to.match(/spec\.approvalRules\[1\]\.expression: syntax error: .* at line 1 column \d+/);
    });
    it('reject agentgate itself as a subject, and warn about shared subjects', () => {
      const clock = new FakeClock();
      const self = decideProtect(
        create({ subjects: [{ kind: 'ServiceAccount', name: 'agentgate-webhook', namespace: 'agentgate-system' }] }),
        snap(),
        clock,
        CFG,
      );
      expect(self.message).to.contain('agentgate itself');
      const other = new StaticSnapshot({ agents: [agentIdentity('older-bot')] });
      const shared = decideProtect(create({}), other, clock, CFG);
      expect(shared.allowed).to.equal(true);
      expect(shared.warnings?.[0]).to.contain('also belongs to AgentIdentity older-bot');
    });
  });
});
