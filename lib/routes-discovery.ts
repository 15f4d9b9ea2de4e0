// The I/O half of the route inventory: what the live apiserver serves (discovery, every
// group and version, CRDs included) and the rules of the roles agents may be bound to
// (read live, so ClusterRole aggregation has already been applied by the control plane).
// Errors in one group (an aggregated API that is down) are returned, never thrown: the
// inventory reports them as findings, it does not crash.
import type * as k8s from '@kubernetes/client-node';
import type { AgentIdentity } from '../api/types.js';
import { AgentgateClient, apiPath, errorMessage, GV, isNotFound, KubeApi } from './kube.js';
import type { DiscoveredResource, RoleInput } from './routes.js';
import type { PolicyRule } from './rbac.js';

/** The ClusterRole whose `bind` rule names the roles the operator may bind (config/rbac/operator.yaml). */
const OPERATOR_BIND_ROLE = 'agentgate-operator-bind';

interface Discovery {
  resources: DiscoveredResource[];
  /** group/version -> why it could not be read. */
  errors: Array<{ groupVersion: string; error: string }>;
}

export async function discover(kc: k8s.KubeConfig): Promise<Discovery> {
  const kube = new KubeApi(kc);
  const errors: Discovery['errors'] = [];
  const crdResources = new Set<string>();
  try {
    for (const crd of (await kube.get<k8s.V1CustomResourceDefinitionList>(apiPath(GV.apiextensions, 'customresourcedefinitions'))).items)
      crdResources.add(`${crd.spec.group}|${crd.spec.names.plural}`);
  } catch (e) {
    errors.push({ groupVersion: 'apiextensions.k8s.io/v1 customresourcedefinitions', error: errorMessage(e) });
  }
  const out: DiscoveredResource[] = [];
  const push = (group: string, version: string, list: k8s.V1APIResource[]): void => {
    for (const r of list) {
      const top = r.name.split('/')[0] ?? r.name;
      out.push({ group, version, name: r.name, namespaced: r.namespaced, verbs: [...(r.verbs ?? [])], custom: crdResources.has(`${group}|${top}`) });
    }
  };
  try {
    push('', 'v1', (await kube.get<k8s.V1APIResourceList>('/api/v1')).resources);
  } catch (e) {
    errors.push({ groupVersion: 'v1', error: errorMessage(e) });
  }
  const groups = (await kube.get<k8s.V1APIGroupList>('/apis')).groups;
  await Promise.all(
    groups.flatMap((g) =>
      g.versions.map(async (v) => {
        try {
          push(g.name, v.version, (await kube.get<k8s.V1APIResourceList>(`/apis/${v.groupVersion}`)).resources);
        } catch (e) {
          errors.push({ groupVersion: v.groupVersion, error: errorMessage(e) });
        }
      }),
    ),
  );
  return { resources: out, errors };
}

/**
 * The roles agents may be bound to: the ClusterRoles the operator may `bind`, and every
 * role an AgentIdentity allows (a Role kind is looked up in no namespace: its rules are
 * reported by verification per grant). Missing roles are skipped with a note.
 */
export async function bindableRoles(kc: k8s.KubeConfig, extra: readonly string[] = []): Promise<{ roles: RoleInput[]; notes: string[] }> {
  const kube = new KubeApi(kc);
  const clusterRole = (name: string) => kube.get<k8s.V1ClusterRole>(apiPath(GV.rbac, 'clusterroles', undefined, name));
  const notes: string[] = [];
  const names = new Set<string>(extra);
  if (extra.length === 0) {
    try {
      const bind = await clusterRole(OPERATOR_BIND_ROLE);
      for (const r of bind.rules ?? []) if (r.verbs.includes('bind')) for (const n of r.resourceNames ?? []) names.add(n);
    } catch (e) {
      notes.push(`ClusterRole ${OPERATOR_BIND_ROLE}: ${errorMessage(e)}`);
    }
    try {
      const list = await new AgentgateClient(kc).list<AgentIdentity>('AgentIdentity');
      for (const a of list.items) for (const r of a.spec.allowedRoles ?? []) if (r.kind === 'ClusterRole') names.add(r.name);
    } catch (e) {
      if (!isNotFound(e)) notes.push(`AgentIdentities: ${errorMessage(e)}`);
    }
  }
  const roles: RoleInput[] = [];
  for (const name of [...names].sort()) {
    try {
      const cr = await clusterRole(name);
      roles.push({ name, rules: (cr.rules ?? []) as PolicyRule[] });
    } catch (e) {
      notes.push(`ClusterRole ${name}: ${errorMessage(e)}`);
    }
  }
  return { roles, notes };
}
