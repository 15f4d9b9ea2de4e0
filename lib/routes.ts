// The route inventory: every (group, resource, subresource, verb) an agent can reach,
// classified by effect (api/routes.ts). Pure: lib/routes-discovery.ts reads the live
// apiserver's discovery and the bindable roles, this module intersects and classifies.
//
//   discovery (groups, versions, resources, subresources, verbs; CRDs included)
//     x rules of every role the operator may bind (after aggregation)
//     = the routes; each is classified or reported as unclassified.

import { BENIGN_CLASSES, BUILTIN_RESOURCES, EFFECT_CLASSES, ROUTE_RULES } from '../api/routes.js';
import type { EffectClass, RouteRule } from '../api/routes.js';
import type { AdmissionRequest } from './admission.js';
import { admissionAttributes, rulesCover } from './rbac.js';
import type { PolicyRule } from './rbac.js';

/** One served resource or subresource, as discovery lists it. */
export interface DiscoveredResource {
  group: string;
  /** The preferred (or first seen) version; informational. */
  version: string;
  /** 'pods' or 'pods/exec'. */
  name: string;
  namespaced: boolean;
  verbs: string[];
  /** Served by a CustomResourceDefinition. */
  custom: boolean;
}

export interface Route {
  group: string;
  resource: string;
  subresource: string;
  verb: string;
  namespaced: boolean;
  custom: boolean;
}

export interface ClassifiedRoute extends Route {
  /** Absent: unclassified. */
  class?: EffectClass;
  governedBy: string[];
  why: string;
  /** The roles (of those given) that reach this route. */
  roles: string[];
}

export interface RoleInput {
  name: string;
  rules: readonly PolicyRule[];
}

/** Verbs that discovery lists; others (bind, escalate, impersonate, approve, sign, use...) exist only in roles. */
const DISCOVERY_VERBS = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']);

/** Authorization-only verbs the apiserver checks, with where they apply. */
const AUTHORIZATION_VERBS: ReadonlyArray<{ verb: string; group: string; resource: string; namespaced: boolean }> = [
  { verb: 'impersonate', group: '', resource: 'users', namespaced: false },
  { verb: 'impersonate', group: '', resource: 'groups', namespaced: false },
  { verb: 'impersonate', group: '', resource: 'serviceaccounts', namespaced: true },
  { verb: 'impersonate', group: 'authentication.k8s.io', resource: 'uids', namespaced: false },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'roles', namespaced: true },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', namespaced: false },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles', namespaced: true },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', namespaced: false },
  { verb: 'approve', group: 'certificates.k8s.io', resource: 'signers', namespaced: false },
  { verb: 'sign', group: 'certificates.k8s.io', resource: 'signers', namespaced: false },
];

export function routeText(r: Pick<Route, 'group' | 'resource' | 'subresource' | 'verb'>): string {
  const res = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return `${r.verb} ${res}${r.group ? `.${r.group}` : ''}`;
}

function split(name: string): { resource: string; subresource: string } {
  const i = name.indexOf('/');
  return i < 0 ? { resource: name, subresource: '' } : { resource: name.slice(0, i), subresource: name.slice(i + 1) };
}

function groupMatches(rule: RouteRule, r: Route): boolean {
  if (rule.groups === 'custom') return r.custom;
  if (rule.groups === 'builtin') return !r.custom && Object.hasOwn(BUILTIN_RESOURCES, r.group);
  return rule.groups.includes(r.group);
}

function knownResource(rule: RouteRule, r: Route): boolean {
  if (rule.groups === 'custom') return r.custom;
  if (r.group === 'agentgate.io') return true;
  return (BUILTIN_RESOURCES[r.group] ?? []).includes(r.resource);
}

function resourceMatches(rule: RouteRule, r: Route): boolean {
  const full = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return rule.resources.some((p) => {
    if (p === full) return true;
    if (p.startsWith('<known>')) {
      const sub = p.slice('<known>'.length).replace(/^\//, '');
      return sub === r.subresource && knownResource(rule, r);
    }
    return p.endsWith('/*') && r.resource === p.slice(0, -2) && r.subresource !== '';
  });
}

/** The classification entry for one route, or undefined when none matches. */
export function classify(r: Route, rules: readonly RouteRule[] = ROUTE_RULES): RouteRule | undefined {
  return rules.find((rule) => rule.verbs.includes(r.verb) && groupMatches(rule, r) && resourceMatches(rule, r));
}

/** The route of an admitted request (its first RBAC verb, see lib/rbac.ts). */
function routeOfRequest(request: AdmissionRequest, custom = false): Route {
  const attrs = admissionAttributes(request)[0]!;
  return {
    group: attrs.apiGroup,
    resource: attrs.resource,
    subresource: attrs.subresource ?? '',
    verb: attrs.verb,
    namespaced: !!request.namespace,
    custom,
  };
}

/**
 * The class of an admitted request. Custom resources are told apart by their group: a
 * group none of the built-in entries names is treated as served by a CRD when the route
 * is one a CRD can have.
 */
export function classOfRequest(request: AdmissionRequest): EffectClass | undefined {
  const r = routeOfRequest(request);
  // A pure function of the route, asked on every agent call: remembered per route.
  const key = `${r.verb}\n${r.group}\n${r.resource}\n${r.subresource}`;
  let known = classByRoute.get(key);
  if (known === undefined) {
    const builtin = Object.hasOwn(BUILTIN_RESOURCES, r.group) || r.group === 'agentgate.io';
    known = classify({ ...r, custom: !builtin })?.class ?? null;
    if (classByRoute.size >= MAX_REMEMBERED_ROUTES) classByRoute.clear();
    classByRoute.set(key, known);
  }
  return known ?? undefined;
}

const MAX_REMEMBERED_ROUTES = 4096;
const classByRoute = new Map<string, EffectClass | null>();

export function isBenign(c: EffectClass | undefined): boolean {
  return c !== undefined && BENIGN_CLASSES.includes(c);
}

/** Every route the roles reach on the served API: discovery x role rules, classified. */
export function inventory(
  discovered: readonly DiscoveredResource[],
  roles: readonly RoleInput[],
  rules: readonly RouteRule[] = ROUTE_RULES,
): ClassifiedRoute[] {
  const byKey = new Map<string, ClassifiedRoute>();
  const add = (route: Route, role: string): void => {
    const key = `${route.group}|${route.resource}|${route.subresource}|${route.verb}`;
    const seen = byKey.get(key);
    if (seen) {
      if (!seen.roles.includes(role)) seen.roles.push(role);
      return;
    }
    const c = classify(route, rules);
    let governedBy = c ? [...c.governedBy] : [];
    // Agents' cluster-scoped writes are denied by decide() whatever the class.
    if (
      c &&
      !route.namespaced &&
      c.class !== 'read' &&
      !governedBy.includes('decide:cluster-scoped') &&
      route.verb !== 'impersonate' &&
      route.group !== 'agentgate.io'
    ) {
      governedBy = [...governedBy, 'decide:cluster-scoped'];
    }
    byKey.set(key, {
      ...route,
      ...(c ? { class: c.class } : {}),
      governedBy,
      why: c?.why ?? 'unclassified: no entry of api/routes.ts says what this route does',
      roles: [role],
    });
  };
  const seenGroupResource = new Map<string, DiscoveredResource>();
  for (const d of discovered) seenGroupResource.set(`${d.group}|${d.name}`, d);
  for (const d of seenGroupResource.values()) {
    const { resource, subresource } = split(d.name);
    for (const verb of d.verbs) {
      for (const role of roles) {
        const attrs = { verb, apiGroup: d.group, resource, ...(subresource ? { subresource } : {}) };
        if (rulesCover(role.rules, attrs)) add({ group: d.group, resource, subresource, verb, namespaced: d.namespaced, custom: d.custom }, role.name);
      }
    }
  }
  // Verbs that exist only in roles (impersonate, bind, escalate, approve, sign, use, ...):
  // the well-known ones wherever a role's rules (wildcards included) reach them, and any
  // other such verb a rule names literally.
  for (const role of roles) {
    for (const k of AUTHORIZATION_VERBS) {
      if (rulesCover(role.rules, { verb: k.verb, apiGroup: k.group, resource: k.resource })) {
        add({ group: k.group, resource: k.resource, subresource: '', verb: k.verb, namespaced: k.namespaced, custom: false }, role.name);
      }
    }
    for (const rule of role.rules) {
      for (const verb of rule.verbs) {
        if (DISCOVERY_VERBS.has(verb) || verb === '*') continue;
        for (const group of rule.apiGroups ?? []) {
          for (const name of rule.resources ?? []) {
            const { resource, subresource } = split(name);
            const d = seenGroupResource.get(`${group}|${resource}`);
            add({ group, resource, subresource, verb, namespaced: d?.namespaced ?? false, custom: d?.custom ?? false }, role.name);
          }
        }
      }
    }
  }
  return [...byKey.values()].sort((a, b) => routeText(a).localeCompare(routeText(b)) || a.group.localeCompare(b.group));
}

export function unclassified(routes: readonly ClassifiedRoute[]): ClassifiedRoute[] {
  return routes.filter((r) => r.class === undefined);
}

/** Routes grouped by class, classes in api/routes.ts order, unclassified last. */
export function byClass(routes: readonly ClassifiedRoute[]): Array<{ class: EffectClass | 'unclassified'; routes: ClassifiedRoute[] }> {
  const out: Array<{ class: EffectClass | 'unclassified'; routes: ClassifiedRoute[] }> = [];
  for (const c of [...EFFECT_CLASSES, 'unclassified' as const]) {
    const rs = routes.filter((r) => (r.class ?? 'unclassified') === c);
    if (rs.length) out.push({ class: c, routes: rs });
  }
  return out;
}

/** `agentgate routes` as text: one block per class, one line per route with what governs it. */
export function renderRoutes(routes: readonly ClassifiedRoute[]): string {
  const lines: string[] = [];
  for (const { class: c, routes: rs } of byClass(routes)) {
    const held =
      c === 'unclassified'
        ? 'reported as a finding; held under posture Strict'
        : isBenign(c)
          ? 'allowed unless a field-level rule or your own rules hold it'
          : 'held for approval (or denied) by default';
    lines.push(`${c.toUpperCase()} (${rs.length}): ${held}`);
    for (const r of rs) {
      const res = `${r.subresource ? `${r.resource}/${r.subresource}` : r.resource}${r.group ? `.${r.group}` : ''}`;
      lines.push(`  ${r.verb.padEnd(16)} ${res.padEnd(48)} ${r.governedBy.join(', ') || '-'}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
