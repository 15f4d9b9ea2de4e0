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

// Each destructive operation with exactly the default rules it must trip, and benign
// neighbours that must trip none. Exact sets also prove the rules don't over-match.
const cases: Array<[string, RequestSpec, string[]]> = [
  // benign
  ['CREATE configmap', { op: 'CREATE', resource: 'configmaps', object: { data: { a: '1' } } }, []],
  ['UPDATE deployment replicas 3 -> 2', { op: 'UPDATE', resource: 'apps/deployments', object: deployment(2), oldObject: deployment(3) }, []],
  ['UPDATE deployment already at 0 (label change)', { op: 'UPDATE', resource: 'apps/deployments', object: deployment(0), oldObject: deployment(0) }, []],
  ['UPDATE deployments/scale 3 -> 2', { op: 'UPDATE', resource: 'apps/deployments', sub: 'scale', object: scale(2), oldObject: scale(3) }, []],
  ['UPDATE deployments/status with replicas 0', { op: 'UPDATE', resource: 'apps/deployments', sub: 'status', object: deployment(0), oldObject: deployment(3) }, []],
  ['UPDATE configmap with spec.replicas 0', { op: 'UPDATE', resource: 'configmaps', object: deployment(0), oldObject: deployment(1) }, []],
  ['CREATE pod', { op: 'CREATE', resource: 'pods', object: pod }, []],
  ['CONNECT services/proxy', { op: 'CONNECT', resource: 'services', sub: 'proxy', object: { kind: 'ServiceProxyOptions' } }, []],
  ['UPDATE pods/status', { op: 'UPDATE', resource: 'pods', sub: 'status', object: pod, oldObject: pod }, []],
  ['CREATE customresource (not a CRD)', { op: 'CREATE', resource: 'example.com/widgets', object: { spec: {} } }, []],
  ['CREATE serviceaccount', { op: 'CREATE', resource: 'serviceaccounts', object: { metadata: { name: 'sa' } } }, []],
  ['CREATE serviceaccounts/token', { op: 'CREATE', resource: 'serviceaccounts', sub: 'token', object: { kind: 'TokenRequest' } }, ['serviceaccount-token']],
  // destructive
  ['DELETE pod', { op: 'DELETE', resource: 'pods', oldObject: pod }, ['delete']],
  ['DELETE from a deletecollection (empty name)', { op: 'DELETE', resource: 'pods', name: '', oldObject: pod }, ['delete']],
  ['UPDATE deployment replicas 3 -> 0', { op: 'UPDATE', resource: 'apps/deployments', object: deployment(0), oldObject: deployment(3) }, ['scale-to-zero']],
  ['UPDATE statefulset replicas 1 -> 0', { op: 'UPDATE', resource: 'apps/statefulsets', object: deployment(0), oldObject: deployment(1) }, ['scale-to-zero']],
  ['UPDATE replicaset replicas 2 -> 0', { op: 'UPDATE', resource: 'apps/replicasets', object: deployment(0), oldObject: deployment(2) }, ['scale-to-zero']],
  ['UPDATE replicationcontroller replicas 2 -> 0', { op: 'UPDATE', resource: 'replicationcontrollers', object: deployment(0), oldObject: deployment(2) }, ['scale-to-zero']],
  ['UPDATE deployments/scale 3 -> 0 (replicas omitted)', { op: 'UPDATE', resource: 'apps/deployments', sub: 'scale', object: scale(0), oldObject: scale(3) }, ['scale-to-zero']],
  ['UPDATE statefulsets/scale 3 -> 0 (explicit 0)', { op: 'UPDATE', resource: 'apps/statefulsets', sub: 'scale', object: { spec: { replicas: 0 } }, oldObject: scale(3) }, ['scale-to-zero']],
  ['UPDATE custom resource scale 3 -> 0', { op: 'UPDATE', resource: 'argoproj.io/rollouts', sub: 'scale', object: scale(0), oldObject: scale(3) }, ['scale-to-zero']],
  ['CONNECT pods/exec', { op: 'CONNECT', resource: 'pods', sub: 'exec', object: { kind: 'PodExecOptions', command: ['sh'] } }, ['pod-connect']],
  ['CONNECT pods/attach', { op: 'CONNECT', resource: 'pods', sub: 'attach', object: { kind: 'PodAttachOptions' } }, ['pod-connect']],
  ['CONNECT pods/portforward', { op: 'CONNECT', resource: 'pods', sub: 'portforward', object: { kind: 'PodPortForwardOptions', ports: [8080] } }, ['pod-connect']],
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
