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

/**
 * One copy of each string value that many cached objects repeat: without it each of N
 * grants and N RoleBindings holds its own copy of the API group, kinds, role, agent and
 * reason strings, its condition messages and timestamps (13 MB of a 60 MB heap at 10,000
 * grants, measured in a heap snapshot). Identity fields (names, uids, resourceVersions)
 * are one object's own and not passed here. Bounded: the few unique values inside shared
 * fields (an owner's uid, the grant label) take entries until MAX_INTERNED, after which new
 * values are kept as they come and the ones seen first (the repeated ones) stay shared.
 */
const interned = new Map<string, string>();
const MAX_INTERNED = 50_000;

/** A copy of a JSON value with its string values shared (property names V8 shares already). */
function shared<T>(v: T): T {
  if (typeof v === 'string') {
    const got = interned.get(v);
    if (got !== undefined) return got as T;
    if (interned.size < MAX_INTERNED) interned.set(v, v);
    return v;
  }
  if (Array.isArray(v)) return v.map(shared) as T;
  if (v === null || typeof v !== 'object') return v;
  const o: Obj = {};
  for (const [k, x] of Object.entries(v)) set(o, k, shared(x));
  return o as T;
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
  set(meta, 'creationTimestamp', shared(m?.creationTimestamp));
  set(meta, 'deletionTimestamp', shared(m?.deletionTimestamp));
  set(meta, 'finalizers', shared(m?.finalizers));
  set(meta, 'annotations', shared(pickKeys(m?.annotations, [ANNOTATION_REQUESTED_BY])));
  const o: Obj = {};
  set(o, 'apiVersion', shared(g.apiVersion));
  set(o, 'kind', shared(g.kind));
  o.metadata = meta;
  set(o, 'spec', shared(g.spec));
  set(o, 'status', shared(g.status));
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
  set(meta, 'labels', shared(m?.labels));
  set(meta, 'annotations', shared(pickKeys(m?.annotations, [ANNOTATION_ACTIVATED_AT, ANNOTATION_EXPIRES_AT])));
  set(meta, 'ownerReferences', shared(m?.ownerReferences));
  const o: Obj = { metadata: meta };
  set(o, 'roleRef', shared(b.roleRef));
  set(o, 'subjects', shared(b.subjects));
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
