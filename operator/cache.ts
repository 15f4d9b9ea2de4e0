// What the operator's caches keep of each object: only the fields its planners and
// executors read, built as a new small object on arrival (the watch's parsed copy is
// garbage at once). This is the operator's version of controller-runtime's cache
// transforms. Each shape names its readers, so a planner that starts reading a new field
// adds it here (the unit tests plan from cache-shaped objects to catch a missing one).
//
// Writes never send a cached object whole to the main resource: metadata changes are
// merge patches, status goes to the status subresource (which ignores all but status),
// so nothing dropped here is ever written back as "removed".
import type * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../api/types.js';
import { pickKeys, stripServerNoise } from '../lib/informer.js';
import { ANNOTATION_ACTIVATED_AT, ANNOTATION_EXPIRES_AT, ANNOTATION_REQUESTED_BY } from './plan/grant.js';

type Meta = k8s.V1ObjectMeta;

/** Assigns only defined values, so absent fields stay absent (no `key: undefined` slots). */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function identity(m: Pick<Meta, 'name' | 'namespace' | 'uid' | 'resourceVersion'> | undefined): Meta {
  return compact({ name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion });
}

/**
 * AccessGrant: planGrant reads identity, generation, creation and deletion times,
 * finalizers, the requested-by annotation, spec and status. Labels and other
 * annotations belong to users; nothing here reads them.
 */
export function grantShape(g: AccessGrant): AccessGrant {
  const m = g.metadata;
  return compact({
    apiVersion: g.apiVersion,
    kind: g.kind,
    metadata: compact({
      ...identity(m),
      generation: m?.generation,
      creationTimestamp: m?.creationTimestamp,
      deletionTimestamp: m?.deletionTimestamp,
      finalizers: m?.finalizers,
      annotations: pickKeys(m?.annotations, [ANNOTATION_REQUESTED_BY]),
    }),
    spec: g.spec,
    status: g.status,
  }) as AccessGrant;
}

/**
 * agentgate's RoleBindings (the informer selects them by label): the grant and agent
 * labels index them, the owner reference and the window annotations tie them to a
 * grant, roleRef and subjects are compared with the desired binding.
 */
export function roleBindingShape(b: k8s.V1RoleBinding): k8s.V1RoleBinding {
  const m = b.metadata;
  return compact({
    metadata: compact({
      ...identity(m),
      labels: m?.labels,
      annotations: pickKeys(m?.annotations, [ANNOTATION_ACTIVATED_AT, ANNOTATION_EXPIRES_AT]),
      ownerReferences: m?.ownerReferences,
    }),
    roleRef: b.roleRef,
    subjects: b.subjects,
  });
}

/** Namespaces: only their labels matter (spec.allowedNamespaces.selector), and whether they exist. */
export function namespaceShape(ns: k8s.V1Namespace): k8s.V1Namespace {
  const m = ns.metadata;
  return { metadata: compact({ ...identity(m), labels: m?.labels }) };
}

/** AgentIdentities are few and read whole (subjects, ceilings, status); only server noise goes. */
export const agentShape = (a: AgentIdentity): AgentIdentity => stripServerNoise(a);

/** ApprovalRequests are read whole by planApproval and the notifier; only server noise goes. */
export const approvalShape = (ar: ApprovalRequest): ApprovalRequest => stripServerNoise(ar);
