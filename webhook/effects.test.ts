import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import type { AdmissionRequest } from '../lib/admission.js';
import { decide } from './decide.js';
import type { DecideOptions } from './decide.js';
import { effectsOf } from './effects.js';
import { StaticSnapshot } from './snapshot.js';
import type { SnapshotData } from './snapshot.js';
import { activeGrant, agentIdentity, EDIT, NAMESPACES, request, VIEW } from '../testing/fixtures.js';

const OPTS: DecideOptions = { agentgateNamespace: 'agentgate-system', fingerprintKey: 'k' };
const ADMIN = { metadata: { name: 'admin', uid: 'uid-admin', resourceVersion: '1' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] };
// The fixtures' edit, plus batch: the grant's role in these tests.
const EDIT_BATCH = {
  ...EDIT,
  metadata: { ...EDIT.metadata, resourceVersion: '9' },
  rules: [...(EDIT.rules ?? []), { verbs: ['create', 'update', 'patch'], apiGroups: ['batch'], resources: ['cronjobs', 'jobs'] }],
};
const CM_ONLY = {
  metadata: { name: 'cm-writer', uid: 'uid-cm', resourceVersion: '1' },
  rules: [{ verbs: ['create', 'update'], apiGroups: [''], resources: ['configmaps'] }],
};

function snap(clock: FakeClock, over: SnapshotData = {}): StaticSnapshot {
  return new StaticSnapshot({
    agents: [agentIdentity()],
    grants: [activeGrant(clock)],
    clusterRoles: [EDIT_BATCH, VIEW, ADMIN, CM_ONLY],
    namespaces: [...NAMESPACES, { metadata: { name: 'locked', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } }],
    roleBindings: [
      {
        metadata: { name: 'ci-admin', namespace: 'prod' },
        subjects: [{ kind: 'ServiceAccount', name: 'ci', namespace: 'prod' }],
        roleRef: { kind: 'ClusterRole', name: 'admin' },
      },
      {
        metadata: { name: 'cm', namespace: 'prod' },
        subjects: [{ kind: 'ServiceAccount', name: 'cm-bot' }],
        roleRef: { kind: 'ClusterRole', name: 'cm-writer' },
      },
      {
        metadata: { name: 'elsewhere', namespace: 'other' },
        subjects: [{ kind: 'ServiceAccount', name: 'roamer', namespace: 'prod' }],
        roleRef: { kind: 'ClusterRole', name: 'cm-writer' },
      },
    ],
    ...over,
  });
}

const podSpec = (sa?: string, extra: Record<string, unknown> = {}) => ({
  ...(sa ? { serviceAccountName: sa } : {}),
  containers: [{ name: 'c', image: 'nginx' }],
  ...extra,
});
const deploy = (spec: Record<string, unknown>, replicas = 1) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'prod' },
  spec: { replicas, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec } },
});
const cron = (spec: Record<string, unknown>) => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'c', namespace: 'prod' },
  spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec } } } },
});

function create(group: string, resource: string, object: Record<string, unknown>, namespace = 'prod'): AdmissionRequest {
  return request({ op: 'CREATE', group, resource, namespace, name: 'x', object });
}

describe('webhook/effects', () => {
  const clock = new FakeClock();

  it('holds a Deployment, a CronJob and a bare Pod that run as a ServiceAccount holding more than the grant', () => {
    for (const req of [
      create('apps', 'deployments', deploy(podSpec('ci'))),
      create('batch', 'cronjobs', cron(podSpec('ci'))),
      create('', 'pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: podSpec('ci') }),
    ]) {
      const d = decide(req, snap(clock), clock, OPTS);
      expect(d.verdict, `${req.resource.resource}: ${d.message}`).to.equal('Held');
      expect(d.matchedRules).to.include('workload-identity');
    }
  });

  it('allows pods whose ServiceAccount holds nothing beyond the grant (covered rules, or no bindings)', () => {
    expect(decide(create('apps', 'deployments', deploy(podSpec('cm-bot'))), snap(clock), clock, OPTS).verdict).to.equal('Allowed');
    expect(decide(create('apps', 'deployments', deploy(podSpec())), snap(clock), clock, OPTS).verdict).to.equal('Allowed');
  });

  it('counts access in another namespace, or cluster-wide through a group, as beyond a one-namespace grant', () => {
    const e = effectsOf(create('apps', 'deployments', deploy(podSpec('roamer'))), snap(clock), activeGrant(clock));
    expect(e.workload.exceedsGrant.join()).to.contain('access in namespace other');
    const crb = {
      metadata: { name: 'all-sa-view' },
      subjects: [{ kind: 'Group', name: 'system:serviceaccounts:prod' }],
      roleRef: { kind: 'ClusterRole', name: 'view' },
    };
    const viaGroup = effectsOf(create('apps', 'deployments', deploy(podSpec())), snap(clock, { clusterRoleBindings: [crb] }), activeGrant(clock));
    expect(viaGroup.workload.exceedsGrant.join()).to.contain('cluster-wide access via ClusterRoleBinding all-sa-view');
  });

  it('on UPDATE counts only a changed pod spec: scaling a workload that runs as a powerful ServiceAccount is not held for identity', () => {
    const old = deploy(podSpec('ci'), 2);
    const scaled = request({ op: 'UPDATE', group: 'apps', resource: 'deployments', name: 'web', object: deploy(podSpec('ci'), 3), oldObject: old });
    expect(decide(scaled, snap(clock), clock, OPTS).verdict).to.equal('Allowed');
    const newImage = request({
      op: 'UPDATE',
      group: 'apps',
      resource: 'deployments',
      name: 'web',
      object: deploy({ ...podSpec('ci'), containers: [{ name: 'c', image: 'evil' }] }, 2),
      oldObject: old,
    });
    expect(decide(newImage, snap(clock), clock, OPTS).matchedRules).to.include('workload-identity');
  });

  it('holds node-level privilege where Pod Security admits it, not where it enforces baseline', () => {
    const hostPid = deploy(podSpec(undefined, { hostPID: true }));
    const d = decide(create('apps', 'deployments', hostPid), snap(clock), clock, OPTS);
    expect(d.verdict).to.equal('Held');
    expect(d.matchedRules).to.deep.equal(['workload-privilege']);
    const priv = create('', 'pods', {
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image: 'i', securityContext: { privileged: true } }], volumes: [{ name: 'h', hostPath: { path: '/' } }] },
    });
    expect(effectsOf(priv, snap(clock), undefined).workload.privileged).to.have.length(2);
    const locked = activeGrant(clock, 'g2', { namespace: 'locked' });
    const agent = agentIdentity('deploy-bot', { allowedNamespaces: { names: ['prod', 'locked'] } });
    expect(
      effectsOf(create('apps', 'deployments', hostPid, 'locked'), snap(clock, { agents: [agent], grants: [locked] }), locked).workload.privileged,
    ).to.deep.equal([]);
  });

  it('posture Strict holds every route not classified read/create/modify, even with the defaults disabled', () => {
    const strict = agentIdentity('deploy-bot', { posture: 'Strict', disabledDefaultRules: ['delete'] });
    const del = request({ op: 'DELETE', resource: 'configmaps', name: 'cm', oldObject: { metadata: { name: 'cm' } } });
    const d = decide(del, snap(clock, { agents: [strict] }), clock, OPTS);
    expect(d.verdict).to.equal('Held');
    expect(d.matchedRules).to.deep.equal(['strict-posture']);
    const standard = agentIdentity('deploy-bot', { disabledDefaultRules: ['delete'] });
    expect(decide(del, snap(clock, { agents: [standard] }), clock, OPTS).verdict).to.equal('Allowed');
    // create/modify stay allowed under Strict
    expect(
      decide(
        request({ op: 'CREATE', resource: 'configmaps', name: 'cm', object: { metadata: { name: 'cm' } } }),
        snap(clock, { agents: [strict] }),
        clock,
        OPTS,
      ).verdict,
    ).to.equal('Allowed');
  });

  it('posture Strict holds a route agentgate cannot classify', () => {
    const strict = agentIdentity('deploy-bot', { posture: 'Strict' });
    const role = { metadata: { name: 'edit', uid: 'uid-x', resourceVersion: '2' }, rules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }] };
    const odd = request({ op: 'CREATE', group: 'example.com', resource: 'widgets', subResource: 'shell', name: 'w', object: {} });
    const d = decide(odd, snap(clock, { agents: [strict], clusterRoles: [role] }), clock, OPTS);
    expect(d.verdict, d.message).to.equal('Held');
    expect(d.message).to.contain('cannot classify');
  });
});
