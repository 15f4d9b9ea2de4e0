// What an agent's write does beyond its verb, for the `effects` rule variable (pure).
//
// - routeClass: the effect class of the request's route (api/routes.ts), '' when
//   unclassified.
// - workload: the pods the write makes run (a bare Pod, any workload's template, found
//   by shape), the ServiceAccounts they run as, which of those hold RBAC beyond the
//   grant's role, and node-level privilege the namespace's Pod Security level admits.
//   On UPDATE only pod specs that changed count: a scale or a label edit runs no new code.
//
// A ServiceAccount's RBAC is evaluated locally from the snapshot's bindings, the same way
// the apiserver's RBAC authorizer would (lib/rbac.ts); "exceeds" means some rule it holds
// is not covered by the grant's role in the grant's namespace (anything it holds in
// another namespace or cluster-wide exceeds a one-namespace grant).

import type { AccessGrant } from '../api/types.js';
import type { AdmissionRequest, JsonObject } from '../lib/admission.js';
import { namespaceAllowsPrivileged, podSpecsOf, privilegedFeatures, serviceAccountOf } from '../lib/podspec.js';
import { classOfRequest } from '../lib/routes.js';
import { rulesCover, serviceAccountUsername, subjectMatchesUser } from '../lib/rbac.js';
import type { PolicyRule } from '../lib/rbac.js';
import type { BindingObject, Snapshot } from './snapshot.js';

export interface WorkloadEffects {
  serviceAccounts: string[];
  /** "<sa>: <what it holds beyond the grant>". */
  exceedsGrant: string[];
  /** Fields beyond Pod Security baseline, where the namespace admits them. */
  privileged: string[];
}

export interface Effects {
  routeClass: string;
  workload: WorkloadEffects;
}

const SA_GROUP = 'system:serviceaccounts';

/** Rules a ServiceAccount holds, by binding; bindings reaching it only through system:authenticated are left out (the agent holds those too). */
export function serviceAccountRules(snapshot: Snapshot, namespace: string, name: string): Array<{ via: string; namespace: string; rules: readonly PolicyRule[] }> {
  const user = { username: serviceAccountUsername(namespace, name), groups: [SA_GROUP, `${SA_GROUP}:${namespace}`] };
  const out: Array<{ via: string; namespace: string; rules: readonly PolicyRule[] }> = [];
  const consider = (b: BindingObject, cluster: boolean): void => {
    const bns = b.metadata?.namespace ?? '';
    if (!(b.subjects ?? []).some((s) => subjectMatchesUser(s, user, bns))) return;
    const role = b.roleRef.kind === 'ClusterRole' ? snapshot.clusterRole(b.roleRef.name) : snapshot.role(bns, b.roleRef.name);
    const rules = (role?.rules ?? []).filter((r) => (r.resources ?? []).length > 0);
    if (!rules.length) return;
    out.push({ via: `${cluster ? 'ClusterRoleBinding' : `RoleBinding ${bns}/`}${cluster ? ' ' : ''}${b.metadata?.name ?? ''} (${b.roleRef.kind} ${b.roleRef.name})`, namespace: cluster ? '' : bns, rules });
  };
  for (const b of snapshot.clusterRoleBindings?.() ?? []) consider(b, true);
  for (const b of snapshot.roleBindings?.() ?? []) consider(b, false);
  return out;
}

/** The first rule atom the grant's rules do not cover, as text; undefined when all are covered. */
function beyond(rules: readonly PolicyRule[], grantRules: readonly PolicyRule[]): string | undefined {
  for (const r of rules) {
    for (const verb of r.verbs) {
      for (const group of r.apiGroups ?? []) {
        for (const res of r.resources ?? []) {
          const [resource, subresource] = res.split('/', 2) as [string, string | undefined];
          const names = r.resourceNames?.length ? r.resourceNames : [undefined];
          for (const name of names) {
            const attrs = { verb, apiGroup: group, resource, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}) };
            if (!rulesCover(grantRules, attrs)) return `${verb} ${res}${group ? `.${group}` : ''}${name ? ` ${name}` : ''}`;
          }
        }
      }
    }
  }
  return undefined;
}

function grantRules(snapshot: Snapshot, grant: AccessGrant | undefined): readonly PolicyRule[] {
  if (!grant) return [];
  const ref = grant.spec.roleRef;
  const role = ref.kind === 'ClusterRole' ? snapshot.clusterRole(ref.name) : snapshot.role(grant.metadata.namespace ?? '', ref.name);
  return role?.rules ?? [];
}

function changedSpecs(request: AdmissionRequest): Array<{ path: string; spec: JsonObject }> {
  const now = podSpecsOf(request.object);
  if (request.operation !== 'UPDATE') return now;
  const before = new Map(podSpecsOf(request.oldObject).map((p) => [p.path, JSON.stringify(p.spec)]));
  return now.filter((p) => before.get(p.path) !== JSON.stringify(p.spec));
}

export function workloadEffects(request: AdmissionRequest, snapshot: Snapshot, grant: AccessGrant | undefined): WorkloadEffects {
  const out: WorkloadEffects = { serviceAccounts: [], exceedsGrant: [], privileged: [] };
  if ((request.operation !== 'CREATE' && request.operation !== 'UPDATE') || request.subResource) return out;
  const specs = changedSpecs(request);
  if (!specs.length) return out;
  const namespace = request.namespace ?? '';
  const granted = grantRules(snapshot, grant);
  for (const { path, spec } of specs) {
    const sa = serviceAccountOf(spec);
    if (!out.serviceAccounts.includes(sa)) {
      out.serviceAccounts.push(sa);
      for (const held of serviceAccountRules(snapshot, namespace, sa)) {
        // RoleBindings elsewhere and ClusterRoleBindings reach beyond the grant's one namespace.
        const extra = held.namespace !== namespace ? `${held.namespace ? `access in namespace ${held.namespace}` : 'cluster-wide access'}` : beyond(held.rules, granted);
        if (extra) {
          out.exceedsGrant.push(`ServiceAccount ${namespace}/${sa}: ${extra} via ${held.via}`);
          break;
        }
      }
    }
    if (namespaceAllowsPrivileged(snapshot.namespace(namespace)?.metadata?.labels)) out.privileged.push(...privilegedFeatures(spec, path));
  }
  return out;
}

export function effectsOf(request: AdmissionRequest, snapshot: Snapshot, grant: AccessGrant | undefined): Effects {
  return { routeClass: classOfRequest(request) ?? '', workload: workloadEffects(request, snapshot, grant) };
}
