// Every classified route maps to what governs it, and each named governor really
// matches a request of that route's shape: a catalogue rule evaluates to true on it, a
// decide() step denies it, a verification route exists, `rbac-only` is only used where
// admission never sees the call. And every field-level effect is caught by its rule.
import { expect } from 'chai';
import { Route as BoundaryRoute } from '../boundary/types.js';
import { FakeClock } from '../lib/clock.js';
import type { AdmissionOperation, AdmissionRequest } from '../lib/admission.js';
import { classify, inventory, unclassified } from '../lib/routes.js';
import type { Route } from '../lib/routes.js';
import { decide } from './decide.js';
import { activeGrant, agentIdentity, AGENT_USER, EDIT, NAMESPACES, VIEW } from '../testing/fixtures.js';
import { findDefaultRule } from './rules/catalogue.js';
import { compileRule, evaluateRule } from '../cel/cel.js';
import { StaticSnapshot } from './snapshot.js';
import { BENIGN_CLASSES, BUILTIN_RESOURCES, FIELD_EFFECTS, ROUTE_RULES } from '../api/routes.js';
import type { RouteRule } from '../api/routes.js';

const CONNECT_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);
const READ_VERBS = new Set(['get', 'list', 'watch']);
const AUTHZ_ONLY_VERBS = new Set(['impersonate', 'bind', 'escalate', 'approve', 'sign', 'use']);

/** The admission operation a verb on a route arrives as; undefined when admission never sees it. */
function operationOf(verb: string, subresource: string): AdmissionOperation | undefined {
  if (CONNECT_SUBRESOURCES.has(subresource)) return 'CONNECT';
  if (READ_VERBS.has(verb) || AUTHZ_ONLY_VERBS.has(verb)) return undefined;
  if (verb === 'create') return 'CREATE';
  if (verb === 'update' || verb === 'patch') return 'UPDATE';
  if (verb === 'delete' || verb === 'deletecollection') return 'DELETE';
  return undefined;
}

/** Concrete routes an entry classifies (one sample resource per '<known>' pattern). */
function instances(rule: RouteRule): Route[] {
  const groups = rule.groups === 'builtin' ? ['apps', ''] : rule.groups === 'custom' ? ['example.com'] : rule.groups;
  const out: Route[] = [];
  for (const group of groups) {
    for (const pattern of rule.resources) {
      const names = pattern.startsWith('<known>')
        ? (rule.groups === 'custom' ? ['widgets'] : group === 'agentgate.io' ? ['approvalrequests'] : (BUILTIN_RESOURCES[group] ?? []).slice(0, 3)).map(
            (r) => r + pattern.slice('<known>'.length),
          )
        : [pattern.replace('/*', '/scopes')];
      for (const name of names) {
        const [resource, subresource = ''] = name.split('/');
        for (const verb of rule.verbs) out.push({ group, resource: resource!, subresource, verb, namespaced: true, custom: rule.groups === 'custom' });
      }
    }
  }
  return out;
}

function requestFor(r: Route, op: AdmissionOperation): AdmissionRequest {
  const obj = { apiVersion: 'v1', kind: 'Thing', metadata: { name: 'x', namespace: 'prod' }, spec: {} };
  return {
    uid: 'u',
    kind: { group: r.group, version: 'v1', kind: 'Thing' },
    resource: { group: r.group, version: 'v1', resource: r.resource },
    ...(r.subresource ? { subResource: r.subresource } : {}),
    name: 'x',
    namespace: r.namespaced ? 'prod' : '',
    operation: op,
    userInfo: AGENT_USER,
    object: op === 'DELETE' ? null : obj,
    oldObject: op === 'UPDATE' || op === 'DELETE' ? obj : null,
  };
}

function ruleMatches(name: string, req: AdmissionRequest, effects?: unknown): boolean {
  const rule = findDefaultRule(name);
  if (!rule) throw new Error(`no built-in rule named ${name}`);
  const c = compileRule(rule);
  if (!c.ok) throw new Error(c.error.message);
  const r = evaluateRule(c.value, { request: req, agent: agentIdentity(), grant: null, ...(effects ? { effects } : {}) });
  if ('error' in r) throw new Error(`${name}: ${r.error}`);
  return r.matched;
}

const clock = new FakeClock();
const snapshot = new StaticSnapshot({ agents: [agentIdentity()], grants: [activeGrant(clock)], clusterRoles: [EDIT, VIEW], namespaces: NAMESPACES });

describe('api/routes: classification -> governing rules', () => {
  it('names only governors that exist', () => {
    for (const rule of ROUTE_RULES) {
      for (const g of rule.governedBy) {
        if (g.startsWith('verification:')) expect(Object.values(BoundaryRoute), g).to.include(g.slice('verification:'.length));
        else if (g.startsWith('decide:'))
          expect(['decide:cluster-scoped', 'decide:agentgate-objects', 'decide:access-request', 'decide:self-review'], g).to.include(g);
        else if (g !== 'rbac-only') expect(findDefaultRule(g), `${g} (governing ${rule.resources.join(',')})`).to.not.equal(undefined);
      }
    }
  });

  for (const rule of ROUTE_RULES) {
    const label = `${rule.class}: ${rule.verbs.join('/')} ${rule.resources.join(',')} in ${Array.isArray(rule.groups) ? rule.groups.map((g) => g || 'core').join(',') : rule.groups}`;
    it(`${label} is governed by a rule matching that shape`, () => {
      for (const route of instances(rule)) {
        const first = classify(route);
        expect(first, JSON.stringify(route)).to.not.equal(undefined);
        if (first !== rule) continue; // an earlier, more specific entry classifies this instance (and is tested there)
        const op = operationOf(route.verb, route.subresource);
        const what = `${route.verb} ${route.resource}/${route.subresource} (${route.group || 'core'})`;
        if (!op) {
          // Admission never sees it: only RBAC scope or verification can govern it.
          expect(
            rule.governedBy.some((g) => g === 'rbac-only' || g.startsWith('verification:') || g === 'decide:self-review'),
            what,
          ).to.equal(true);
          continue;
        }
        expect(rule.governedBy, `${what} is admitted, so rbac-only cannot be all that governs it`).to.not.deep.equal(['rbac-only']);
        if ((BENIGN_CLASSES as readonly string[]).includes(rule.class)) continue; // field-level rules: see FIELD_EFFECTS below
        const req = requestFor(route, op);
        const held = rule.governedBy.some((g) => {
          if (g === 'decide:cluster-scoped') return decide({ ...req, namespace: '' }, snapshot, clock).verdict === 'Denied';
          if (g === 'decide:agentgate-objects') return decide(req, snapshot, clock).verdict === 'Denied';
          if (g.startsWith('decide:') || g.startsWith('verification:') || g === 'rbac-only') return false;
          return ruleMatches(g, req);
        });
        expect(held, `${what}: none of ${rule.governedBy.join(', ')} holds a request of this shape`).to.equal(true);
      }
    });
  }

  it('every non-benign class is held or denied for admitted routes, every benign one is governed by field rules that exist', () => {
    for (const rule of ROUTE_RULES) {
      if (!(BENIGN_CLASSES as readonly string[]).includes(rule.class)) continue;
      for (const g of rule.governedBy) if (!g.includes(':') && g !== 'rbac-only') expect(findDefaultRule(g), g).to.not.equal(undefined);
    }
  });
});

// One sample body per field-level effect that the named rule must catch.
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'prod', labels: { app: 'a' } },
  spec: { containers: [{ name: 'c', image: 'i' }] },
};
function upd(group: string, resource: string, oldObject: unknown, object: unknown, sub = ''): AdmissionRequest {
  return {
    uid: 'u',
    kind: { group, version: 'v1', kind: 'X' },
    resource: { group, version: 'v1', resource },
    ...(sub ? { subResource: sub } : {}),
    name: 'x',
    namespace: 'prod',
    operation: 'UPDATE',
    userInfo: AGENT_USER,
    object: object as never,
    oldObject: oldObject as never,
  };
}
const FIELD_SAMPLES: Record<string, { req: AdmissionRequest; effects?: unknown }> = {
  'scale-to-zero': { req: upd('apps', 'deployments', { spec: { replicas: 2 } }, { spec: {} }, 'scale') },
  'workload-stop': { req: upd('batch', 'jobs', { spec: { parallelism: 1 } }, { spec: { parallelism: 0 } }) },
  'history-pruning': { req: upd('apps', 'deployments', { spec: { revisionHistoryLimit: 10 } }, { spec: { revisionHistoryLimit: 1 } }) },
  'owner-finalizer-change': { req: upd('', 'configmaps', { metadata: { finalizers: ['a/b'] } }, { metadata: {} }) },
  'selector-relabel': { req: upd('', 'pods', pod, { ...pod, metadata: { ...pod.metadata, labels: { app: 'b' } } }) },
  'workload-identity': {
    req: upd('apps', 'deployments', {}, {}),
    effects: { routeClass: 'modify', workload: { serviceAccounts: ['ci'], exceedsGrant: ['ServiceAccount prod/ci: cluster-wide access'], privileged: [] } },
  },
  'workload-privilege': {
    req: upd('apps', 'deployments', {}, {}),
    effects: { routeClass: 'modify', workload: { serviceAccounts: ['default'], exceedsGrant: [], privileged: ['spec.template.spec.hostPID'] } },
  },
  'serviceaccount-cloud-identity': {
    req: upd('', 'serviceaccounts', { metadata: {} }, { metadata: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:x' } } }),
  },
};

describe('api/routes: field-level effects', () => {
  for (const f of FIELD_EFFECTS) {
    it(`${f.field} (${f.class}) is caught by ${f.rule}`, () => {
      const sample = FIELD_SAMPLES[f.rule];
      expect(sample, `a sample for ${f.rule}`).to.not.equal(undefined);
      expect(ruleMatches(f.rule, sample!.req, sample!.effects)).to.equal(true);
    });
  }
});

describe('lib/routes: inventory', () => {
  const discovered = [
    { group: '', version: 'v1', name: 'pods', namespaced: true, verbs: ['get', 'list', 'create', 'delete'], custom: false },
    { group: '', version: 'v1', name: 'pods/exec', namespaced: true, verbs: ['get', 'create'], custom: false },
    { group: '', version: 'v1', name: 'pods/eviction', namespaced: true, verbs: ['create'], custom: false },
    { group: 'example.com', version: 'v1', name: 'widgets', namespaced: true, verbs: ['get', 'create', 'delete'], custom: true },
    { group: 'example.com', version: 'v1', name: 'widgets/status', namespaced: true, verbs: ['get', 'update'], custom: true },
    { group: 'example.com', version: 'v1', name: 'widgets/shell', namespaced: true, verbs: ['create'], custom: true },
    { group: 'metrics.example.io', version: 'v1', name: 'nodes', namespaced: false, verbs: ['get'], custom: false },
  ];
  const role = {
    name: 'r',
    rules: [
      { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['impersonate'], apiGroups: [''], resources: ['users'] },
    ],
  };

  it('intersects discovery with the roles and classifies each route', () => {
    const routes = inventory(discovered, [role]);
    const find = (verb: string, res: string, group = '') =>
      routes.find((r) => r.verb === verb && (r.subresource ? `${r.resource}/${r.subresource}` : r.resource) === res && r.group === group);
    expect(find('create', 'pods/exec')?.class).to.equal('reach');
    expect(find('get', 'pods/exec')?.class).to.equal('reach');
    expect(find('create', 'pods/eviction')?.class).to.equal('delete-effect');
    expect(find('delete', 'widgets', 'example.com')?.class).to.equal('delete-effect');
    expect(find('update', 'widgets/status', 'example.com')?.class).to.equal('modify');
    expect(find('impersonate', 'users')?.class).to.equal('identity-privilege');
  });

  it('reports an unknown CRD subresource and an unknown API group as unclassified, never throws', () => {
    const names = unclassified(inventory(discovered, [role])).map((r) => `${r.verb} ${r.resource}/${r.subresource}.${r.group}`);
    expect(names).to.have.members(['create widgets/shell.example.com', 'get nodes/.metrics.example.io']);
  });

  it('only routes a role reaches', () => {
    const view = { name: 'view', rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'] }] };
    const routes = inventory(discovered, [view]);
    expect(routes.map((r) => `${r.verb} ${r.resource}`)).to.have.members(['get pods', 'list pods']);
    expect(routes.every((r) => r.roles.includes('view'))).to.equal(true);
  });
});
