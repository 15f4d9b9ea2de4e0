// The fingerprint binds an approval to one exact operation: approving "delete pod a"
// must never let "delete pod b" through, while a retry of the same kubectl command
// (new admission uid, maybe a new resourceVersion) must match the approval it waited
// for. So the fingerprint covers what the operation *does* and drops what the
// apiserver makes up or changes between attempts.

import { createHash, createHmac } from 'node:crypto';
import type { AdmissionRequest, JsonObject } from './admission.js';
import { isJsonObject } from './admission.js';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** metadata fields the apiserver sets or changes on every write. */
const VOLATILE_METADATA: readonly string[] = [
  'resourceVersion',
  'uid',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];

interface CanonicalOptions {
  /**
   * Keep `status`. Status is written by controllers, so it is dropped by default; but
   * for an update of the status subresource the status *is* the change.
   */
  keepStatus?: boolean;
}

/** A deep copy restricted to JSON values: undefined, functions and symbols vanish. */
function jsonClone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : jsonClone(v)));
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out[k] = jsonClone(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * A copy of a Kubernetes object without volatile metadata, status and the
 * last-applied annotation (which duplicates the whole object, Secret data included).
 * Empty annotations left behind are dropped: absent and {} mean the same thing.
 */
export function canonicalObject(obj: unknown, options: CanonicalOptions = {}): unknown {
  const copy = jsonClone(obj);
  if (!isJsonObject(copy)) return copy;
  if (!options.keepStatus) delete copy['status'];
  const meta = copy['metadata'];
  if (isJsonObject(meta)) {
    for (const f of VOLATILE_METADATA) delete meta[f];
    const annotations = meta['annotations'];
    if (isJsonObject(annotations)) {
      delete annotations[LAST_APPLIED_ANNOTATION];
      if (Object.keys(annotations).length === 0) delete meta['annotations'];
    }
  }
  return copy;
}

/** Characters JSON.stringify escapes in a string (quote, backslash, controls, lone surrogates: any surrogate, to be safe). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Key-sorted JSON text of a value. jsonValuesOnly: leave out object members whose value is
 * a function or a symbol (as jsonClone does); otherwise they read as null. Admission
 * reviews render every object this way (the audit record's digest, the chain's hash), so
 * it allocates little, since what a review allocates and keeps until its audit record is
 * committed is what survives scavenges and fills the webhook's old space: the text's
 * pieces (the value's own strings and constants) go into one reused array joined once,
 * not a string concatenated per member, and keys are sorted in place, by insertion (few
 * per object), only when they are not in order already (most are). A ~7 KB Pod costs
 * ~20 KB of garbage, ~155 KB before. Strings that need no escaping are quoted without
 * JSON.stringify (the same text, held by the golden test).
 */
function sortedJson(value: unknown, jsonValuesOnly: boolean): string {
  // Synchronous and calls no user code, so one scratch serves every call; a nested call
  // (a getter rendering JSON, say) gets its own.
  const pieces = scratch.busy ? new Pieces() : scratch;
  pieces.busy = true;
  try {
    writeJson(value, jsonValuesOnly, pieces);
    return pieces.text();
  } finally {
    pieces.busy = false;
  }
}

/** The text being built: pieces[0..n) (slots past n hold '', so join skips them). */
class Pieces {
  parts: string[] = [];
  n = 0;
  busy = false;
  add(s: string): void {
    if (this.n < this.parts.length) this.parts[this.n] = s;
    else this.parts.push(s);
    this.n++;
  }
  text(): string {
    const out = this.parts.join('');
    // Drop the references (the value's strings), keep the slots for the next call unless
    // a large value left many.
    if (this.parts.length > 65_536) this.parts = [];
    else this.parts.fill('', 0, this.n);
    this.n = 0;
    return out;
  }
}
const scratch = new Pieces();

function writeString(s: string, out: Pieces): void {
  if (NEEDS_ESCAPE.test(s)) out.add(JSON.stringify(s));
  else {
    out.add('"');
    out.add(s);
    out.add('"');
  }
}

function writeMember(k: string, v: unknown, first: boolean, jsonValuesOnly: boolean, out: Pieces): boolean {
  if (v === undefined || (jsonValuesOnly && (typeof v === 'function' || typeof v === 'symbol'))) return first;
  if (!first) out.add(',');
  writeString(k, out);
  out.add(':');
  writeJson(v, jsonValuesOnly, out);
  return false;
}

/** Own enumerable keys in code-unit order, as Object.keys(obj).sort() gives them. */
function sortedKeys(obj: JsonObject): string[] {
  const keys = Object.keys(obj);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

function writeJson(value: unknown, jsonValuesOnly: boolean, out: Pieces): void {
  switch (typeof value) {
    case 'string':
      writeString(value, out);
      return;
    case 'number':
      // Number's text is JSON's for every finite number (-0 included).
      out.add(Number.isFinite(value) ? String(value) : 'null');
      return;
    case 'boolean':
      out.add(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.add(`"${value}"`);
      return;
    case 'object': {
      if (value === null) {
        out.add('null');
        return;
      }
      if (Array.isArray(value)) {
        if (value.length === 0) {
          out.add('[]');
          return;
        }
        out.add('[');
        writeJson(value[0], jsonValuesOnly, out);
        for (let i = 1; i < value.length; i++) {
          out.add(',');
          writeJson(value[i], jsonValuesOnly, out);
        }
        out.add(']');
        return;
      }
      const obj = value as JsonObject;
      // for-in visits the same own keys in the same order as Object.keys (and inherited
      // enumerable ones, skipped) without copying them.
      let inOrder = true;
      let prev: string | undefined;
      for (const k in obj) {
        if (!Object.hasOwn(obj, k)) continue;
        if (prev !== undefined && !(prev < k)) {
          inOrder = false;
          break;
        }
        prev = k;
      }
      out.add('{');
      let first = true;
      if (inOrder) {
        for (const k in obj) if (Object.hasOwn(obj, k)) first = writeMember(k, obj[k], first, jsonValuesOnly, out);
      } else {
        for (const k of sortedKeys(obj)) first = writeMember(k, obj[k], first, jsonValuesOnly, out);
      }
      out.add('}');
      return;
    }
    default:
      // undefined, functions and symbols: null, as JSON.stringify renders them in arrays.
      out.add('null');
  }
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function stableStringify(value: unknown): string {
  return sortedJson(value, false);
}

/** What stableStringify renders a value as, by class: bigints as strings; non-finite numbers, functions and symbols as null. */
function jsonClass(v: unknown): 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object' {
  switch (typeof v) {
    case 'string':
    case 'bigint':
      return 'string';
    case 'number':
      return Number.isFinite(v) ? 'number' : 'null';
    case 'boolean':
      return 'boolean';
    case 'object':
      return v === null ? 'null' : Array.isArray(v) ? 'array' : 'object';
    default:
      return 'null';
  }
}

/**
 * stableStringify(a) === stableStringify(b), without rendering either: a reconciler asks
 * it of every status it plans (is there anything to write?), and two texts per question
 * were most of what planning a grant allocated.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const c = jsonClass(a);
  if (c !== jsonClass(b)) return false;
  switch (c) {
    case 'string':
    case 'number':
      // The rendered text: a bigint's digits, a number's shortest form (-0 and 0 alike).
      return String(a) === String(b);
    case 'boolean':
      return false;
    case 'null':
      return true;
    case 'array': {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!jsonEqual(x[i], y[i])) return false;
      return true;
    }
    default: {
      // Own enumerable members; an undefined one is left out of the text.
      const x = a as JsonObject;
      const y = b as JsonObject;
      let n = 0;
      for (const k in x) {
        if (!Object.hasOwn(x, k) || x[k] === undefined) continue;
        n++;
        if (!Object.hasOwn(y, k) || y[k] === undefined || !jsonEqual(x[k], y[k])) return false;
      }
      for (const k in y) if (Object.hasOwn(y, k) && y[k] !== undefined) n--;
      return n === 0;
    }
  }
}

const isJsonValue = (v: unknown): boolean => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';

/**
 * canonicalObject rendered as key-sorted JSON, without copying the object: only its top
 * level and metadata are rebuilt (shallowly) to leave out what canonicalObject drops.
 */
export function canonicalize(obj: unknown, options: CanonicalOptions = {}): string {
  if (!isJsonObject(obj)) return sortedJson(obj, true);
  const top: JsonObject = { ...obj };
  if (!options.keepStatus) delete top['status'];
  const meta = obj['metadata'];
  if (isJsonObject(meta)) {
    const m: JsonObject = { ...meta };
    for (const f of VOLATILE_METADATA) delete m[f];
    const annotations = meta['annotations'];
    if (isJsonObject(annotations)) {
      const a: JsonObject = { ...annotations };
      delete a[LAST_APPLIED_ANNOTATION];
      if (Object.values(a).some(isJsonValue)) m['annotations'] = a;
      else delete m['annotations'];
    }
    top['metadata'] = m;
  }
  return sortedJson(top, true);
}

// ---------------------------------------------------------------------------------

// The ServiceAccount admission plugin (which runs before validating webhooks) names the
// projected token volume kube-api-access-<5 random chars>, different on every attempt.
const TOKEN_VOLUME = /^kube-api-access-[a-z0-9]{5}$/;
const TOKEN_VOLUME_STABLE = 'kube-api-access-*';

function normalizeTokenVolumeNames(pod: JsonObject): void {
  const spec = pod['spec'];
  if (!isJsonObject(spec)) return;
  const rename = (item: unknown): void => {
    if (isJsonObject(item) && typeof item['name'] === 'string' && TOKEN_VOLUME.test(item['name'])) {
      item['name'] = TOKEN_VOLUME_STABLE;
    }
  };
  if (Array.isArray(spec['volumes'])) spec['volumes'].forEach(rename);
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    const containers = spec[key];
    if (!Array.isArray(containers)) continue;
    for (const c of containers) {
      if (isJsonObject(c) && Array.isArray(c['volumeMounts'])) c['volumeMounts'].forEach(rename);
    }
  }
}

// Service IPs and node ports are allocated before validating admission runs (and
// released when it denies), so each attempt of the same create may carry different
// ones. 'None' (headless) is the user's choice, not an allocation, and is kept.
function dropServiceAllocations(svc: JsonObject): void {
  const spec = svc['spec'];
  if (!isJsonObject(spec)) return;
  if (spec['clusterIP'] !== 'None') {
    delete spec['clusterIP'];
    delete spec['clusterIPs'];
  }
  delete spec['healthCheckNodePort'];
  if (Array.isArray(spec['ports'])) {
    for (const p of spec['ports']) if (isJsonObject(p)) delete p['nodePort'];
  }
}

/**
 * The object part of the fingerprint for CREATE/UPDATE: the canonical object, plus,
 * for CREATE only, removal of what the apiserver generated for this attempt.
 */
function requestObjectForFingerprint(request: AdmissionRequest): unknown {
  const obj = canonicalObject(request.object ?? null, { keepStatus: request.subResource === 'status' });
  if (request.operation !== 'CREATE' || !isJsonObject(obj) || request.subResource) return obj;
  const meta = obj['metadata'];
  // generateName: the apiserver picked a random name before admission; the request
  // name is empty. The approval is for "create one object named <prefix>*".
  if (!request.name && isJsonObject(meta) && meta['generateName']) delete meta['name'];
  if (request.resource.group === '') {
    if (request.resource.resource === 'pods') normalizeTokenVolumeNames(obj);
    if (request.resource.resource === 'services') dropServiceAllocations(obj);
  }
  return obj;
}

/**
 * DELETE: the identity of the object being deleted, including its uid, so an approval
 * to delete web-0 does not also delete the web-0 a StatefulSet recreates afterwards
 * (new uid), yet a retry of the same delete matches. The delete options that change
 * what happens (cascade, force) are part of the operation too.
 */
function deleteTarget(request: AdmissionRequest): unknown {
  const old = isJsonObject(request.oldObject) ? request.oldObject : {};
  const meta = isJsonObject(old['metadata']) ? old['metadata'] : {};
  const opts = isJsonObject(request.options) ? request.options : {};
  return {
    apiVersion: old['apiVersion'] ?? null,
    kind: old['kind'] ?? null,
    namespace: meta['namespace'] ?? request.namespace ?? '',
    name: meta['name'] ?? request.name ?? '',
    uid: meta['uid'] ?? null,
    propagationPolicy: opts['propagationPolicy'] ?? null,
    orphanDependents: opts['orphanDependents'] ?? null,
    gracePeriodSeconds: opts['gracePeriodSeconds'] ?? null,
  };
}

/**
 * CONNECT: the connect options (PodExecOptions: command, container, stdin, stdout,
 * stderr, tty; PodAttachOptions; PodPortForwardOptions: ports; PodProxyOptions: path).
 * All fields count, not only command, so approving a port-forward to 5432 does not
 * open 22.
 */
function connectTarget(request: AdmissionRequest): unknown {
  const opts = canonicalObject(request.object ?? request.options ?? {});
  if (isJsonObject(opts)) {
    delete opts['apiVersion'];
    delete opts['kind'];
  }
  return opts;
}

interface FingerprintOptions {
  /**
   * When set, the fingerprint is HMAC-SHA256 under this key instead of plain SHA-256.
   * The fingerprint is stored in ApprovalRequests many people can read; a plain hash
   * over a Secret being created could be brute-forced for a low-entropy value by
   * anyone who can guess the rest of the object. A key kept by the webhook prevents it.
   */
  key?: string | Uint8Array;
}

/** Bumped whenever the fingerprinted content changes, so old approvals never match. */
const FINGERPRINT_FORMAT = 1;

/** The exact content the fingerprint is computed over (also handy for debugging). */
export function fingerprintInput(request: AdmissionRequest): string {
  let target: unknown;
  switch (request.operation) {
    case 'DELETE':
      target = deleteTarget(request);
      break;
    case 'CONNECT':
      target = connectTarget(request);
      break;
    default:
      target = requestObjectForFingerprint(request);
  }
  // dryRun is deliberately absent: a dry run previews the very operation to approve.
  // The admission uid is absent: it differs on every retry.
  return stableStringify({
    format: FINGERPRINT_FORMAT,
    operation: request.operation,
    group: request.resource.group,
    version: request.resource.version,
    resource: request.resource.resource,
    subResource: request.subResource ?? '',
    namespace: request.namespace ?? '',
    name: request.name ?? '',
    username: request.userInfo.username ?? '',
    object: target,
  });
}

/** sha256 (or HMAC-SHA256 with options.key) hex of the request's fingerprint input. */
export function fingerprint(request: AdmissionRequest, options: FingerprintOptions = {}): string {
  const input = fingerprintInput(request);
  const h = options.key !== undefined ? createHmac('sha256', options.key) : createHash('sha256');
  return h.update(input, 'utf8').digest('hex');
}

/**
 * The fingerprint an activation ApprovalRequest carries: sha256 hex over the grant's uid
 * and canonical spec. Binding the approval to the uid means a grant deleted and
 * recreated under the same name never inherits the old approval.
 */
export function activationFingerprint(grant: { metadata: { uid?: string }; spec: unknown }): string {
  return createHash('sha256')
    .update(stableStringify({ uid: grant.metadata.uid ?? '', spec: grant.spec }), 'utf8')
    .digest('hex');
}
