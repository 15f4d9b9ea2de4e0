import { expect } from 'chai';
import { load } from 'js-yaml';
import type { ApprovalRule } from '../../api/types.js';
import { DEFAULT_RULES, DEFAULT_RULE_NAMES, findDefaultRule, renderCatalogue } from './catalogue.js';
import { compileRule, evaluateRule, prepareVars } from '../../cel/cel.js';
import type { CompiledRule } from '../../cel/cel.js';
import { deployment, scale, vars } from '../../cel/testdata.js';
import type { RequestSpec } from '../../cel/testdata.js';

function compiledDefaults(): CompiledRule[] {
  return DEFAULT_RULES.map((r) => {
    const c = compileRule(r);
    if (!c.ok) throw new Error(`${r.name}: ${c.error.message}`);
    return c.value;
  });
}

/** Names of the default rules that match; fails the test on any evaluation error. */
function matching(spec: RequestSpec): string[] {
  const celVars = prepareVars(vars(spec));
  const names: string[] = [];
  for (const rule of compiledDefaults()) {
    const r = evaluateRule(rule, celVars);
    if ('error' in r) throw new Error(r.error);
    if (r.matched) names.push(rule.name);
  }
  return names;
}

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
const withMeta = (o: Record<string, unknown>, meta: Record<string, unknown>): Record<string, unknown> => ({
  ...o,
  metadata: { ...(o['metadata'] as object), ...meta },
});
const job = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'j' },
  spec: { template: {}, ...spec },
});
const cron = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'c' },
  spec: { schedule: '* * * * *', jobTemplate: {}, ...spec },
});
const sts = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 's' },
  spec: { replicas: 1, template: {}, ...spec },
});
const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: '1234' };
const sa = (annotations?: Record<string, string>): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: { name: 'sa', ...(annotations ? { annotations } : {}) },
});

// Each destructive operation with exactly the default rules it must trip, and benign
// neighbours that must trip none. Exact sets also prove the rules don't over-match.
const cases: Array<[string, RequestSpec, string[]]> = [
  // benign
  ['CREATE configmap', { op: 'CREATE', resource: 'configmaps', object: { data: { a: '1' } } }, []],
  ['UPDATE deployment replicas 3 -> 2', { op: 'UPDATE', resource: 'apps/deployments', object: deployment(2), oldObject: deployment(3) }, []],
  ['UPDATE deployment already at 0 (label change)', { op: 'UPDATE', resource: 'apps/deployments', object: deployment(0), oldObject: deployment(0) }, []],
  ['UPDATE deployments/scale 3 -> 2', { op: 'UPDATE', resource: 'apps/deployments', sub: 'scale', object: scale(2), oldObject: scale(3) }, []],
  [
    'UPDATE deployments/status with replicas 0',
    { op: 'UPDATE', resource: 'apps/deployments', sub: 'status', object: deployment(0), oldObject: deployment(3) },
    [],
  ],
  ['UPDATE configmap with spec.replicas 0', { op: 'UPDATE', resource: 'configmaps', object: deployment(0), oldObject: deployment(1) }, []],
  ['CREATE pod', { op: 'CREATE', resource: 'pods', object: pod }, []],
  ['UPDATE pods/status', { op: 'UPDATE', resource: 'pods', sub: 'status', object: pod, oldObject: pod }, []],
  ['CREATE customresource (not a CRD)', { op: 'CREATE', resource: 'example.com/widgets', object: { spec: {} } }, []],
  ['CREATE serviceaccount', { op: 'CREATE', resource: 'serviceaccounts', object: { metadata: { name: 'sa' } } }, []],
  [
    'UPDATE serviceaccount, same cloud identity',
    {
      op: 'UPDATE',
      resource: 'serviceaccounts',
      object: sa({ 'eks.amazonaws.com/role-arn': 'arn:a' }),
      oldObject: sa({ 'eks.amazonaws.com/role-arn': 'arn:a' }),
    },
    [],
  ],
  ['UPDATE pod adding a finalizer', { op: 'UPDATE', resource: 'pods', object: withMeta(pod, { finalizers: ['x/y'] }), oldObject: pod }, []],
  ['UPDATE job parallelism 2 -> 1', { op: 'UPDATE', resource: 'batch/jobs', object: job({ parallelism: 1 }), oldObject: job({ parallelism: 2 }) }, []],
  [
    'UPDATE deployment revisionHistoryLimit 10 -> 20',
    { op: 'UPDATE', resource: 'apps/deployments', object: { spec: { revisionHistoryLimit: 20 } }, oldObject: { spec: { revisionHistoryLimit: 10 } } },
    [],
  ],
  ['UPDATE configmap labels', { op: 'UPDATE', resource: 'configmaps', object: withMeta(pod, { labels: { a: 'b' } }), oldObject: pod }, []],
  [
    'UPDATE statefulset retention Retain -> Retain',
    {
      op: 'UPDATE',
      resource: 'apps/statefulsets',
      object: sts({ persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain' } }),
      oldObject: sts({ persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain' } }),
    },
    [],
  ],
  ['CREATE serviceaccounts/token', { op: 'CREATE', resource: 'serviceaccounts', sub: 'token', object: { kind: 'TokenRequest' } }, ['serviceaccount-token']],
  // destructive
  ['DELETE pod', { op: 'DELETE', resource: 'pods', oldObject: pod }, ['delete']],
  ['DELETE from a deletecollection (empty name)', { op: 'DELETE', resource: 'pods', name: '', oldObject: pod }, ['delete']],
  ['UPDATE deployment replicas 3 -> 0', { op: 'UPDATE', resource: 'apps/deployments', object: deployment(0), oldObject: deployment(3) }, ['scale-to-zero']],
  ['UPDATE statefulset replicas 1 -> 0', { op: 'UPDATE', resource: 'apps/statefulsets', object: deployment(0), oldObject: deployment(1) }, ['scale-to-zero']],
  ['UPDATE replicaset replicas 2 -> 0', { op: 'UPDATE', resource: 'apps/replicasets', object: deployment(0), oldObject: deployment(2) }, ['scale-to-zero']],
  [
    'UPDATE replicationcontroller replicas 2 -> 0',
    { op: 'UPDATE', resource: 'replicationcontrollers', object: deployment(0), oldObject: deployment(2) },
    ['scale-to-zero'],
  ],
  [
    'UPDATE deployments/scale 3 -> 0 (replicas omitted)',
    { op: 'UPDATE', resource: 'apps/deployments', sub: 'scale', object: scale(0), oldObject: scale(3) },
    ['scale-to-zero'],
  ],
  [
    'UPDATE statefulsets/scale 3 -> 0 (explicit 0)',
    { op: 'UPDATE', resource: 'apps/statefulsets', sub: 'scale', object: { spec: { replicas: 0 } }, oldObject: scale(3) },
    ['scale-to-zero'],
  ],
  [
    'UPDATE custom resource scale 3 -> 0',
    { op: 'UPDATE', resource: 'argoproj.io/rollouts', sub: 'scale', object: scale(0), oldObject: scale(3) },
    ['scale-to-zero'],
  ],
  ['CONNECT pods/exec', { op: 'CONNECT', resource: 'pods', sub: 'exec', object: { kind: 'PodExecOptions', command: ['sh'] } }, ['pod-connect']],
  ['CONNECT pods/attach', { op: 'CONNECT', resource: 'pods', sub: 'attach', object: { kind: 'PodAttachOptions' } }, ['pod-connect']],
  [
    'CONNECT pods/portforward',
    { op: 'CONNECT', resource: 'pods', sub: 'portforward', object: { kind: 'PodPortForwardOptions', ports: [8080] } },
    ['pod-connect'],
  ],
  ['UPDATE pods/ephemeralcontainers', { op: 'UPDATE', resource: 'pods', sub: 'ephemeralcontainers', object: pod, oldObject: pod }, ['pod-debug']],
  ['CREATE secret', { op: 'CREATE', resource: 'secrets', object: { data: {} } }, ['secret-write']],
  ['UPDATE secret', { op: 'UPDATE', resource: 'secrets', object: { data: {} }, oldObject: { data: {} } }, ['secret-write']],
  ['DELETE secret', { op: 'DELETE', resource: 'secrets', oldObject: { data: {} } }, ['delete', 'secret-write']],
  ['CREATE rolebinding', { op: 'CREATE', resource: 'rbac.authorization.k8s.io/rolebindings', object: { roleRef: {} } }, ['rbac-write']],
  ['UPDATE clusterrole', { op: 'UPDATE', resource: 'rbac.authorization.k8s.io/clusterroles', object: {}, oldObject: {} }, ['rbac-write']],
  ['DELETE namespace', { op: 'DELETE', resource: 'namespaces', namespace: '', oldObject: { metadata: { name: 'x' } } }, ['delete', 'namespace-delete']],
  ['DELETE pvc', { op: 'DELETE', resource: 'persistentvolumeclaims', oldObject: { spec: {} } }, ['delete', 'pvc-delete']],
  ['CREATE CRD', { op: 'CREATE', resource: 'apiextensions.k8s.io/customresourcedefinitions', object: { spec: {} } }, ['crd-write']],
  ['DELETE CRD', { op: 'DELETE', resource: 'apiextensions.k8s.io/customresourcedefinitions', oldObject: { spec: {} } }, ['delete', 'crd-write']],
  // effects, not verbs
  ['CONNECT services/proxy', { op: 'CONNECT', resource: 'services', sub: 'proxy', object: { kind: 'ServiceProxyOptions' } }, ['proxy-connect']],
  ['CONNECT nodes/proxy', { op: 'CONNECT', resource: 'nodes', sub: 'proxy', namespace: '', object: { kind: 'NodeProxyOptions' } }, ['proxy-connect']],
  [
    'CONNECT on an aggregated API',
    { op: 'CONNECT', resource: 'subresources.kubevirt.io/virtualmachineinstances', sub: 'console', object: {} },
    ['proxy-connect'],
  ],
  ['CREATE pods/eviction', { op: 'CREATE', resource: 'pods', sub: 'eviction', object: { kind: 'Eviction' } }, ['pod-eviction']],
  [
    'UPDATE pod adding an ownerReference',
    { op: 'UPDATE', resource: 'pods', object: withMeta(pod, { ownerReferences: [owner] }), oldObject: pod },
    ['owner-finalizer-change'],
  ],
  [
    'UPDATE configmap removing a finalizer',
    {
      op: 'UPDATE',
      resource: 'configmaps',
      object: { metadata: { name: 'c', finalizers: [] } },
      oldObject: { metadata: { name: 'c', finalizers: ['example.com/keep'] } },
    },
    ['owner-finalizer-change'],
  ],
  [
    'UPDATE job parallelism 2 -> 0',
    { op: 'UPDATE', resource: 'batch/jobs', object: job({ parallelism: 0 }), oldObject: job({ parallelism: 2 }) },
    ['workload-stop'],
  ],
  ['UPDATE job suspend', { op: 'UPDATE', resource: 'batch/jobs', object: job({ suspend: true }), oldObject: job({ suspend: false }) }, ['workload-stop']],
  [
    'UPDATE cronjob concurrencyPolicy Replace',
    { op: 'UPDATE', resource: 'batch/cronjobs', object: cron({ concurrencyPolicy: 'Replace' }), oldObject: cron({ concurrencyPolicy: 'Allow' }) },
    ['workload-stop'],
  ],
  [
    'UPDATE statefulset PVC retention Delete',
    { op: 'UPDATE', resource: 'apps/statefulsets', object: sts({ persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' } }), oldObject: sts({}) },
    ['workload-stop'],
  ],
  [
    'UPDATE deployment revisionHistoryLimit 10 -> 0',
    { op: 'UPDATE', resource: 'apps/deployments', object: { spec: { revisionHistoryLimit: 0 } }, oldObject: { spec: { revisionHistoryLimit: 10 } } },
    ['history-pruning'],
  ],
  [
    'UPDATE cronjob successfulJobsHistoryLimit 3 -> 0',
    { op: 'UPDATE', resource: 'batch/cronjobs', object: cron({ successfulJobsHistoryLimit: 0 }), oldObject: cron({ successfulJobsHistoryLimit: 3 }) },
    ['history-pruning'],
  ],
  [
    'UPDATE job ttlSecondsAfterFinished set',
    { op: 'UPDATE', resource: 'batch/jobs', object: job({ ttlSecondsAfterFinished: 0 }), oldObject: job({}) },
    ['history-pruning'],
  ],
  [
    'UPDATE pod labels',
    { op: 'UPDATE', resource: 'pods', object: withMeta(pod, { labels: { app: 'other' } }), oldObject: withMeta(pod, { labels: { app: 'web' } }) },
    ['selector-relabel'],
  ],
  [
    'UPDATE replicationcontroller selector',
    {
      op: 'UPDATE',
      resource: 'replicationcontrollers',
      object: { metadata: { name: 'rc' }, spec: { selector: { a: 'x' } } },
      oldObject: { metadata: { name: 'rc' }, spec: { selector: { a: 'y' } } },
    },
    ['selector-relabel'],
  ],
  [
    'CREATE serviceaccount with an IAM role',
    { op: 'CREATE', resource: 'serviceaccounts', object: sa({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/admin' }) },
    ['serviceaccount-cloud-identity'],
  ],
  [
    'UPDATE serviceaccount changing its GCP identity',
    {
      op: 'UPDATE',
      resource: 'serviceaccounts',
      object: sa({ 'iam.gke.io/gcp-service-account': 'b@x' }),
      oldObject: sa({ 'iam.gke.io/gcp-service-account': 'a@x' }),
    },
    ['serviceaccount-cloud-identity'],
  ],
  ['CREATE podcertificaterequest', { op: 'CREATE', resource: 'certificates.k8s.io/podcertificaterequests', object: {} }, ['credential-request']],
];

describe('rules/catalogue', () => {
  it('has the stable kebab-case names users refer to', () => {
    expect(DEFAULT_RULE_NAMES).to.include.members([
      'delete',
      'scale-to-zero',
      'pod-connect',
      'secret-write',
      'rbac-write',
      'namespace-delete',
      'pvc-delete',
      'crd-write',
      'proxy-connect',
      'pod-eviction',
      'owner-finalizer-change',
      'workload-stop',
      'history-pruning',
      'selector-relabel',
      'workload-identity',
      'workload-privilege',
      'serviceaccount-cloud-identity',
      'credential-request',
    ]);
    expect(new Set(DEFAULT_RULE_NAMES).size).to.equal(DEFAULT_RULE_NAMES.length);
  });

  it('defaults to RequireApproval, with a description and message on every rule', () => {
    for (const r of DEFAULT_RULES) {
      expect(r.action, r.name).to.equal('RequireApproval');
      expect(r.description, r.name).to.be.a('string').that.is.not.empty;
      expect(r.message, r.name).to.be.a('string').that.is.not.empty;
    }
  });

  it('is frozen data', () => {
    expect(Object.isFrozen(DEFAULT_RULES)).to.equal(true);
    expect(Object.isFrozen(DEFAULT_RULES[0])).to.equal(true);
    expect(findDefaultRule('delete')?.expression).to.contain("'DELETE'");
    expect(findDefaultRule('nope')).to.equal(undefined);
  });

  it('every rule compiles to a bool expression', () => {
    for (const r of DEFAULT_RULES) {
      const c = compileRule(r);
      expect(c.ok, r.name).to.equal(true);
      if (c.ok) expect(c.value.program.resultType, r.name).to.equal('bool');
    }
  });

  for (const [label, spec, expected] of cases) {
    it(`${label} -> ${expected.length ? expected.join(', ') : 'no default rule'}`, () => {
      expect(matching(spec)).to.deep.equal(expected);
    });
  }

  it('does not fail on a minimal request with no userInfo, subresource or objects', () => {
    const bare = prepareVars({ request: { operation: 'UPDATE', resource: { group: 'apps', version: 'v1', resource: 'deployments' } } });
    for (const rule of compiledDefaults()) expect(evaluateRule(rule, bare), rule.name).to.deep.equal({ matched: false });
  });

  it('renders as YAML that pastes into spec.approvalRules, descriptions as comments', () => {
    const yaml = renderCatalogue('yaml');
    for (const name of DEFAULT_RULE_NAMES) expect(yaml).to.contain(`- name: ${name}\n`);
    expect(yaml).to.contain('# Any DELETE.');
    const parsed = load(yaml) as ApprovalRule[];
    expect(parsed).to.deep.equal(DEFAULT_RULES.map(({ name, action, message, expression }) => ({ name, action, message, expression })));
  });

  it('renders as JSON that round-trips to the rules', () => {
    const parsed = JSON.parse(renderCatalogue('json')) as Array<{ name: string; expression: string; description: string }>;
    expect(parsed.map((r) => r.name)).to.deep.equal([...DEFAULT_RULE_NAMES]);
    expect(parsed[1]?.expression).to.equal(DEFAULT_RULES[1]?.expression);
    expect(parsed[0]?.description).to.equal(DEFAULT_RULES[0]?.description);
  });
});
