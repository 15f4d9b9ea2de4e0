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
import type { PolicyRule } from '../lib/rbac.js';
import { serviceAccountBeyondGrant } from '../lib/serviceaccount-power.js';
import type { Snapshot } from './snapshot.js';

interface WorkloadEffects {
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

function workloadEffects(request: AdmissionRequest, snapshot: Snapshot, grant: AccessGrant | undefined): WorkloadEffects {
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
      const lookup = {
        clusterRoleBindings: snapshot.clusterRoleBindings?.() ?? [],
        roleBindings: snapshot.roleBindings?.() ?? [],
        clusterRole: (n: string) => snapshot.clusterRole(n),
        role: (ns: string, n: string) => snapshot.role(ns, n),
      };
      const extra = serviceAccountBeyondGrant(lookup, namespace, sa, granted);
      if (extra) out.exceedsGrant.push(`ServiceAccount ${namespace}/${sa}: ${extra}`);
    }
    if (namespaceAllowsPrivileged(snapshot.namespace(namespace)?.metadata?.labels)) out.privileged.push(...privilegedFeatures(spec, path));
  }
  return out;
}

export function effectsOf(request: AdmissionRequest, snapshot: Snapshot, grant: AccessGrant | undefined): Effects {
  return { routeClass: classOfRequest(request) ?? '', workload: workloadEffects(request, snapshot, grant) };
}
