// What the operator's caches keep of each object: only the fields its planners and
// executors read, built as a new small object on arrival (the watch's parsed copy is
// garbage at once). This is the operator's version of controller-runtime's cache
// transforms. Each shape names its readers, so a planner that starts reading a new field
// adds it here (the unit tests plan from cache-shaped objects to catch a missing one).
//
// Status goes to the status subresource (which ignores all but status), the grant's
// finalizers go as a merge patch of the finalizers alone (operator/reconcile/grant.ts),
// and RoleBindings are rewritten from the desired binding, so nothing dropped here is
// written back as "removed". A new write of a cached kind must be a patch of what it
// changes, never the cached object written back whole.
import type * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../api/types.js';
import { pickKeys, stripServerNoise } from '../lib/informer.js';
import { ANNOTATION_ACTIVATED_AT, ANNOTATION_EXPIRES_AT, ANNOTATION_REQUESTED_BY } from '../api/types.js';

type Meta = k8s.V1ObjectMeta;
type Obj = Record<string, unknown>;

/**
 * Sets only defined values, in a fixed order: absent fields stay absent, and objects are
 * built by adding properties (never `delete`, which turns a V8 object into a larger,
 * slower dictionary-mode one: measured, that alone ate the savings).
 */
function set(o: Obj, k: string, v: unknown): void {
  if (v !== undefined) o[k] = v;
}

function identity(m: Pick<Meta, 'name' | 'namespace' | 'uid' | 'resourceVersion'> | undefined): Obj {
  const o: Obj = {};
  set(o, 'name', m?.name);
  set(o, 'namespace', m?.namespace);
  set(o, 'uid', m?.uid);
  set(o, 'resourceVersion', m?.resourceVersion);
  return o;
}

/**
 * AccessGrant: planGrant reads identity, generation, creation and deletion times,
 * finalizers, the requested-by annotation, spec and status; boundary verification reads
 * identity, spec and status. Labels and other annotations belong to users; nothing here
 * reads them.
 */
export function grantShape(g: AccessGrant): AccessGrant {
  const m = g.metadata;
  const meta = identity(m);
  set(meta, 'generation', m?.generation);
  set(meta, 'creationTimestamp', m?.creationTimestamp);
  set(meta, 'deletionTimestamp', m?.deletionTimestamp);
  set(meta, 'finalizers', m?.finalizers);
  set(meta, 'annotations', pickKeys(m?.annotations, [ANNOTATION_REQUESTED_BY]));
  const o: Obj = {};
  set(o, 'apiVersion', g.apiVersion);
  set(o, 'kind', g.kind);
  o.metadata = meta;
  set(o, 'spec', g.spec);
  set(o, 'status', g.status);
  return o as unknown as AccessGrant;
}

/**
 * agentgate's RoleBindings (the informer selects them by label): the grant and agent
 * labels index them, the owner reference and the window annotations tie them to a
 * grant, roleRef and subjects are compared with the desired binding.
 */
export function roleBindingShape(b: k8s.V1RoleBinding): k8s.V1RoleBinding {
  const m = b.metadata;
  const meta = identity(m);
  set(meta, 'labels', m?.labels);
  set(meta, 'annotations', pickKeys(m?.annotations, [ANNOTATION_ACTIVATED_AT, ANNOTATION_EXPIRES_AT]));
  set(meta, 'ownerReferences', m?.ownerReferences);
  const o: Obj = { metadata: meta };
  set(o, 'roleRef', b.roleRef);
  set(o, 'subjects', b.subjects);
  return o as unknown as k8s.V1RoleBinding;
}

/**
 * Namespaces: their labels (spec.allowedNamespaces.selector), whether they exist, and
 * whether they are being deleted (nothing new can be created in them).
 */
export function namespaceShape(ns: k8s.V1Namespace): k8s.V1Namespace {
  const meta = identity(ns.metadata);
  set(meta, 'labels', ns.metadata?.labels);
  set(meta, 'deletionTimestamp', ns.metadata?.deletionTimestamp);
  return { metadata: meta };
}

/** AgentIdentities are few and read whole (subjects, ceilings, status); only server noise goes. */
export const agentShape = (a: AgentIdentity): AgentIdentity => stripServerNoise(a);

/** ApprovalRequests are read whole by planApproval and the notifier; only server noise goes. */
export const approvalShape = (ar: ApprovalRequest): ApprovalRequest => stripServerNoise(ar);
