import { expect } from 'chai';
import type { V1PolicyRule } from '@kubernetes/client-node';
import type { AdmissionRequest } from './admission.js';
import {
  admissionAttributes,
  admissionToVerb,
  bindingMatchesUser,
  ruleCovers,
  rulesCover,
  rulesCoverAdmission,
  subjectMatchesUser,
  subjectNames,
} from './rbac.js';
import type { PolicyRule, ResourceAttributes } from './rbac.js';

const req = (verb: string, apiGroup: string, resource: string, extra: Partial<ResourceAttributes> = {}): ResourceAttributes => ({
  verb,
  apiGroup,
  resource,
  ...extra,
});

// A table in the style of upstream's TestRuleMatches: one rule, many requests.
function table(rule: PolicyRule, cases: Array<[ResourceAttributes, boolean]>): void {
  for (const [attrs, want] of cases) {
    expect(ruleCovers(rule, attrs), JSON.stringify(attrs)).to.equal(want);
  }
}

describe('rbac: ruleCovers (upstream RuleAllows)', () => {
  it('star verb, exact group and resource', () => {
    table({ verbs: ['*'], apiGroups: ['group1'], resources: ['resource1'] }, [
      [req('verb1', 'group1', 'resource1'), true],
      [req('verb2', 'group1', 'resource1'), true],
      [req('verb1', 'group2', 'resource1'), false],
      [req('verb1', 'group1', 'resource2'), false],
      [req('verb1', 'group1', 'resource1', { subresource: 'sub1' }), false],
    ]);
  });

  it('star group', () => {
    table({ verbs: ['verb1'], apiGroups: ['*'], resources: ['resource1'] }, [
      [req('verb1', 'group1', 'resource1'), true],
      [req('verb1', '', 'resource1'), true],
      [req('verb2', 'group1', 'resource1'), false],
      [req('verb1', 'group1', 'resource2'), false],
    ]);
  });

  it('star resource covers every resource and every subresource in the group', () => {
    table({ verbs: ['verb1'], apiGroups: ['group1'], resources: ['*'] }, [
      [req('verb1', 'group1', 'resource1'), true],
      [req('verb1', 'group1', 'resource2', { subresource: 'sub1' }), true],
      [req('verb1', 'group2', 'resource1'), false],
    ]);
  });

  it('tuple expansion: any listed verb x group x resource', () => {
    table({ verbs: ['verb1', 'verb2'], apiGroups: ['group1', 'group2'], resources: ['resource1', 'resource2'] }, [
      [req('verb1', 'group1', 'resource1'), true],
      [req('verb2', 'group2', 'resource2'), true],
      [req('verb1', 'group2', 'resource1'), true],
      [req('verb3', 'group1', 'resource1'), false],
      [req('verb1', 'group3', 'resource1'), false],
      [req('verb1', 'group1', 'resource3'), false],
    ]);
  });

  it('resource/subresource matches only that subresource, not the parent', () => {
    table({ verbs: ['verb1'], apiGroups: ['group1'], resources: ['resource1/sub1'] }, [
      [req('verb1', 'group1', 'resource1', { subresource: 'sub1' }), true],
      [req('verb1', 'group1', 'resource1', { subresource: 'sub2' }), false],
      [req('verb1', 'group1', 'resource1'), false],
      [req('verb1', 'group1', 'resource2', { subresource: 'sub1' }), false],
    ]);
  });

  it('a plain resource does not cover its subresources', () => {
    table({ verbs: ['create'], apiGroups: [''], resources: ['pods'] }, [
      [req('create', '', 'pods'), true],
      [req('create', '', 'pods', { subresource: 'exec' }), false],
      [req('create', '', 'pods', { subresource: 'eviction' }), false],
    ]);
  });

  it('*/subresource matches that subresource of any resource', () => {
    table({ verbs: ['update'], apiGroups: ['apps'], resources: ['*/scale'] }, [
      [req('update', 'apps', 'deployments', { subresource: 'scale' }), true],
      [req('update', 'apps', 'statefulsets', { subresource: 'scale' }), true],
      [req('update', 'apps', 'deployments', { subresource: 'status' }), false],
      [req('update', 'apps', 'deployments'), false],
      [req('update', '', 'replicationcontrollers', { subresource: 'scale' }), false],
    ]);
  });

  it('resource/* is not a wildcard (as upstream): it covers no real subresource', () => {
    table({ verbs: ['*'], apiGroups: [''], resources: ['pods/*'] }, [
      [req('create', '', 'pods', { subresource: 'exec' }), false],
      [req('get', '', 'pods', { subresource: 'log' }), false],
      [req('create', '', 'pods'), false],
    ]);
  });

  it('resourceNames restrict to named objects and never cover an unnamed request', () => {
    table({ verbs: ['get', 'update', 'create'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['app-config'] }, [
      [req('update', '', 'configmaps', { name: 'app-config' }), true],
      [req('update', '', 'configmaps', { name: 'other' }), false],
      [req('create', '', 'configmaps'), false],
      [req('create', '', 'configmaps', { name: '' }), false],
    ]);
  });

  it('an empty resourceNames list means every name', () => {
    table({ verbs: ['delete'], apiGroups: [''], resources: ['pods'], resourceNames: [] }, [[req('delete', '', 'pods', { name: 'a' }), true]]);
  });

  it('nonResourceURLs play no part in resource requests', () => {
    table({ verbs: ['*'], nonResourceURLs: ['*'] }, [[req('get', '', 'pods'), false]]);
    table({ verbs: ['get'], nonResourceURLs: ['/healthz'], apiGroups: [''], resources: ['pods'] }, [[req('get', '', 'pods'), true]]);
  });

  it('missing or empty lists match nothing', () => {
    table({ verbs: [], apiGroups: ['*'], resources: ['*'] }, [[req('get', '', 'pods'), false]]);
    table({ verbs: ['*'], resources: ['*'] }, [[req('get', '', 'pods'), false]]);
    table({ verbs: ['*'], apiGroups: ['*'] }, [[req('get', '', 'pods'), false]]);
  });

  it('matching is exact: no case folding, no prefix matching', () => {
    table({ verbs: ['Get'], apiGroups: ['apps'], resources: ['deployment'] }, [
      [req('get', 'apps', 'deployment'), false],
      [req('Get', 'apps', 'deployments'), false],
      [req('Get', 'apps.example.com', 'deployment'), false],
    ]);
  });

  it('the namespace attribute is ignored by rules (scope comes from the binding)', () => {
    table({ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, [
      [req('get', '', 'pods', { namespace: 'prod' }), true],
      [req('get', '', 'pods', { namespace: 'dev' }), true],
    ]);
  });

  it('accepts client-node V1PolicyRule values', () => {
    const rule: V1PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
    expect(ruleCovers(rule, req('get', '', 'pods'))).to.equal(true);
    expect(rulesCover([rule], req('get', '', 'pods'))).to.equal(true);
  });
});

// Representative rules of the built-in `edit` ClusterRole (aggregate-to-edit + view).
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const READ = ['get', 'list', 'watch'];
const editRules: PolicyRule[] = [
  { verbs: READ, apiGroups: [''], resources: ['pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward', 'secrets', 'services/proxy'] },
  { verbs: ['impersonate'], apiGroups: [''], resources: ['serviceaccounts'] },
  { verbs: WRITE, apiGroups: [''], resources: ['pods', 'pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward'] },
  { verbs: ['create'], apiGroups: [''], resources: ['pods/eviction'] },
  {
    verbs: WRITE,
    apiGroups: [''],
    resources: [
      'replicationcontrollers',
      'replicationcontrollers/scale',
      'serviceaccounts',
      'services',
      'services/proxy',
      'persistentvolumeclaims',
      'configmaps',
      'secrets',
      'events',
    ],
  },
  { verbs: ['create'], apiGroups: [''], resources: ['serviceaccounts/token'] },
  {
    verbs: WRITE,
    apiGroups: ['apps'],
    resources: [
      'statefulsets',
      'statefulsets/scale',
      'daemonsets',
      'deployments',
      'deployments/scale',
      'deployments/rollback',
      'replicasets',
      'replicasets/scale',
    ],
  },
  { verbs: WRITE, apiGroups: ['batch'], resources: ['jobs', 'cronjobs'] },
  { verbs: WRITE, apiGroups: ['networking.k8s.io'], resources: ['networkpolicies', 'ingresses'] },
  {
    verbs: READ,
    apiGroups: [''],
    resources: ['configmaps', 'endpoints', 'persistentvolumeclaims', 'pods', 'pods/log', 'pods/status', 'services', 'namespaces'],
  },
];

describe('rbac: the edit ClusterRole', () => {
  it('covers typical namespaced writes', () => {
    expect(rulesCover(editRules, req('create', '', 'configmaps'))).to.equal(true);
    expect(rulesCover(editRules, req('delete', 'apps', 'deployments', { name: 'web' }))).to.equal(true);
    expect(rulesCover(editRules, req('update', 'apps', 'deployments', { subresource: 'scale', name: 'web' }))).to.equal(true);
    expect(rulesCover(editRules, req('create', '', 'pods', { subresource: 'exec', name: 'web-0' }))).to.equal(true);
    expect(rulesCover(editRules, req('create', '', 'pods', { subresource: 'eviction', name: 'web-0' }))).to.equal(true);
  });

  it('does not cover RBAC objects, status, namespaces or other groups', () => {
    const rbac = 'rbac.authorization.k8s.io';
    expect(rulesCover(editRules, req('create', rbac, 'roles'))).to.equal(false);
    expect(rulesCover(editRules, req('create', rbac, 'rolebindings'))).to.equal(false);
    expect(rulesCover(editRules, req('update', 'apps', 'deployments', { subresource: 'status', name: 'web' }))).to.equal(false);
    expect(rulesCover(editRules, req('delete', '', 'namespaces', { name: 'prod' }))).to.equal(false);
    expect(rulesCover(editRules, req('create', 'apiextensions.k8s.io', 'customresourcedefinitions'))).to.equal(false);
    expect(rulesCover(editRules, req('update', '', 'pods', { subresource: 'status', name: 'web-0' }))).to.equal(false);
  });

  it('an empty or missing rule list covers nothing', () => {
    expect(rulesCover([], req('get', '', 'pods'))).to.equal(false);
    expect(rulesCover(undefined, req('get', '', 'pods'))).to.equal(false);
  });
});

function admission(partial: Partial<AdmissionRequest> & Pick<AdmissionRequest, 'operation'>): AdmissionRequest {
  return {
    uid: 'u1',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    namespace: 'prod',
    name: 'web',
    userInfo: { username: 'agent-a', groups: ['system:authenticated'] },
    ...partial,
  };
}

describe('rbac: admissionToVerb', () => {
  it('maps each operation to the verbs the apiserver may have authorised', () => {
    expect(admissionToVerb('CREATE', '', 'web')).to.deep.equal({ verb: 'create', checks: [{ verb: 'create' }] });
    expect(admissionToVerb('CREATE', 'eviction', 'web-0')).to.deep.equal({ verb: 'create', checks: [{ verb: 'create', name: 'web-0' }] });
    expect(admissionToVerb('UPDATE', '', 'web')).to.deep.equal({
      verb: 'update',
      checks: [
        { verb: 'update', name: 'web' },
        { verb: 'patch', name: 'web' },
      ],
    });
    expect(admissionToVerb('DELETE', '', 'web')).to.deep.equal({
      verb: 'delete',
      checks: [{ verb: 'delete', name: 'web' }, { verb: 'deletecollection' }],
    });
    expect(admissionToVerb('CONNECT', 'exec', 'web-0')).to.deep.equal({ verb: 'create', checks: [{ verb: 'create', name: 'web-0' }] });
    expect(admissionToVerb('CONNECT', 'exec', 'web-0', { connectAllowsGet: true }).checks.map((c) => c.verb)).to.deep.equal(['create', 'get']);
    expect(admissionToVerb('CONNECT', 'proxy', 'web-0').checks.map((c) => c.verb)).to.deep.equal(['create', 'get']);
  });

  it('UPDATE is covered by a role with patch but not update (PATCH arrives as UPDATE)', () => {
    const patchOnly: PolicyRule[] = [{ verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments'] }];
    expect(rulesCoverAdmission(patchOnly, admission({ operation: 'UPDATE' }))).to.equal(true);
    const updateOnly: PolicyRule[] = [{ verbs: ['update'], apiGroups: ['apps'], resources: ['deployments'] }];
    expect(rulesCoverAdmission(updateOnly, admission({ operation: 'UPDATE' }))).to.equal(true);
    const getOnly: PolicyRule[] = [{ verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] }];
    expect(rulesCoverAdmission(getOnly, admission({ operation: 'UPDATE' }))).to.equal(false);
  });

  it('DELETE is covered by delete, or by deletecollection without resourceNames', () => {
    const del: PolicyRule[] = [{ verbs: ['delete'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }];
    expect(rulesCoverAdmission(del, admission({ operation: 'DELETE' }))).to.equal(true);
    const coll: PolicyRule[] = [{ verbs: ['deletecollection'], apiGroups: ['apps'], resources: ['deployments'] }];
    expect(rulesCoverAdmission(coll, admission({ operation: 'DELETE' }))).to.equal(true);
    // RBAC never authorises a deletecollection against a resourceNames rule (no name in the URL).
    const collNamed: PolicyRule[] = [{ verbs: ['deletecollection'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }];
    expect(rulesCoverAdmission(collNamed, admission({ operation: 'DELETE' }))).to.equal(false);
  });

  it('CREATE is not covered by a resourceNames rule, even though admission carries the name', () => {
    const named: PolicyRule[] = [{ verbs: ['create'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] }];
    expect(rulesCoverAdmission(named, admission({ operation: 'CREATE' }))).to.equal(false);
    const eviction: PolicyRule[] = [{ verbs: ['create'], apiGroups: [''], resources: ['pods/eviction'], resourceNames: ['web-0'] }];
    const evict = admission({
      operation: 'CREATE',
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'eviction',
      name: 'web-0',
    });
    expect(rulesCoverAdmission(eviction, evict)).to.equal(true);
  });

  it('CONNECT exec needs create by default; get-only roles cover it only when allowed', () => {
    const exec = admission({
      operation: 'CONNECT',
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web-0',
    });
    const getOnly: PolicyRule[] = [{ verbs: ['get'], apiGroups: [''], resources: ['pods/exec'] }];
    const createOnly: PolicyRule[] = [{ verbs: ['create'], apiGroups: [''], resources: ['pods/exec'] }];
    expect(rulesCoverAdmission(createOnly, exec)).to.equal(true);
    expect(rulesCoverAdmission(getOnly, exec)).to.equal(false);
    expect(rulesCoverAdmission(getOnly, exec, { connectAllowsGet: true })).to.equal(true);
    expect(rulesCoverAdmission(editRules, exec)).to.equal(true);
    const podsOnly: PolicyRule[] = [{ verbs: ['*'], apiGroups: [''], resources: ['pods'] }];
    expect(rulesCoverAdmission(podsOnly, exec)).to.equal(false);
  });

  it('CONNECT proxy is covered by get or create', () => {
    const proxy = admission({
      operation: 'CONNECT',
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'proxy',
      name: 'web-0',
    });
    expect(rulesCoverAdmission([{ verbs: ['get'], apiGroups: [''], resources: ['pods/proxy'] }], proxy)).to.equal(true);
    expect(rulesCoverAdmission([{ verbs: ['create'], apiGroups: [''], resources: ['pods/proxy'] }], proxy)).to.equal(true);
    expect(rulesCoverAdmission([{ verbs: ['delete'], apiGroups: [''], resources: ['pods/proxy'] }], proxy)).to.equal(false);
  });

  it('uses requestResource (what RBAC authorised) over the converted resource', () => {
    const converted = admission({
      operation: 'UPDATE',
      requestResource: { group: 'extensions', version: 'v1beta1', resource: 'deployments' },
      requestSubResource: 'scale',
      subResource: 'scale',
    });
    const attrs = admissionAttributes(converted);
    expect(attrs[0]).to.deep.equal({ verb: 'update', apiGroup: 'extensions', resource: 'deployments', subresource: 'scale', name: 'web', namespace: 'prod' });
    expect(rulesCoverAdmission([{ verbs: ['update'], apiGroups: ['apps'], resources: ['deployments/scale'] }], converted)).to.equal(false);
    expect(rulesCoverAdmission([{ verbs: ['update'], apiGroups: ['extensions'], resources: ['deployments/scale'] }], converted)).to.equal(true);
  });
});

describe('rbac: subjects and bindings', () => {
  const user = { username: 'alice', groups: ['devs', 'system:authenticated'] };
  const sa = { username: 'system:serviceaccount:agents:deploy-bot', groups: ['system:serviceaccounts', 'system:serviceaccounts:agents'] };

  it('User matches by exact name', () => {
    expect(subjectMatchesUser({ kind: 'User', name: 'alice' }, user)).to.equal(true);
    expect(subjectMatchesUser({ kind: 'User', name: 'Alice' }, user)).to.equal(false);
    expect(subjectMatchesUser({ kind: 'User', name: '' }, {})).to.equal(false);
  });

  it('Group matches by membership', () => {
    expect(subjectMatchesUser({ kind: 'Group', name: 'devs' }, user)).to.equal(true);
    expect(subjectMatchesUser({ kind: 'Group', name: 'ops' }, user)).to.equal(false);
    expect(subjectMatchesUser({ kind: 'Group', name: 'system:serviceaccounts:agents' }, sa)).to.equal(true);
  });

  it('ServiceAccount matches system:serviceaccount:NS:NAME, defaulting NS to the binding namespace', () => {
    expect(subjectMatchesUser({ kind: 'ServiceAccount', name: 'deploy-bot', namespace: 'agents' }, sa)).to.equal(true);
    expect(subjectMatchesUser({ kind: 'ServiceAccount', name: 'deploy-bot', namespace: 'other' }, sa)).to.equal(false);
    expect(subjectMatchesUser({ kind: 'ServiceAccount', name: 'deploy-bot' }, sa, 'agents')).to.equal(true);
    expect(subjectMatchesUser({ kind: 'ServiceAccount', name: 'deploy-bot' }, sa)).to.equal(false);
    // A User subject spelled like a service account username also names it, as upstream.
    expect(subjectMatchesUser({ kind: 'User', name: 'system:serviceaccount:agents:deploy-bot' }, sa)).to.equal(true);
  });

  it('subjectNames: the usernames and groups the apiserver gives subjects, sorted and once', () => {
    const names = subjectNames([
      { kind: 'User', name: 'zed' },
      { kind: 'ServiceAccount', name: 'deploy-bot', namespace: 'agents' },
      { kind: 'Group', name: 'bots' },
      { kind: 'User', name: 'zed' },
      // No namespace and no binding to default from: names nobody, as subjectMatchesUser.
      { kind: 'ServiceAccount', name: 'orphan' },
    ]);
    expect(names).to.deep.equal({ users: ['system:serviceaccount:agents:deploy-bot', 'zed'], groups: ['bots'] });
    expect(subjectNames([])).to.deep.equal({ users: [], groups: [] });
  });

  it('unknown kinds match nobody', () => {
    expect(subjectMatchesUser({ kind: 'Robot', name: 'alice' }, user)).to.equal(false);
  });

  it('bindingMatchesUser checks every subject and defaults SA namespaces from the binding', () => {
    const rb = {
      metadata: { name: 'b', namespace: 'agents' },
      subjects: [
        { kind: 'User', name: 'bob' },
        { kind: 'ServiceAccount', name: 'deploy-bot' },
      ],
    };
    expect(bindingMatchesUser(rb, sa)).to.equal(true);
    expect(bindingMatchesUser(rb, user)).to.equal(false);
    const crb = { metadata: { name: 'c' }, subjects: [{ kind: 'ServiceAccount', name: 'deploy-bot' }] };
    expect(bindingMatchesUser(crb, sa)).to.equal(false);
    expect(bindingMatchesUser({ metadata: {} }, user)).to.equal(false);
  });
});
