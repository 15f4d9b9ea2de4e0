// Human-readable descriptions of a held operation, for ApprovalRequest.spec.summary and
// .preview. Approvers decide from these, and everyone who can read ApprovalRequests sees
// them, so they are bounded (an object can be megabytes) and never carry Secret values
// (only their keys).

import { dump } from 'js-yaml';
import type { AdmissionRequest, JsonObject } from '../lib/admission.js';
import { isJsonObject } from '../lib/admission.js';
import { canonicalObject, jsonEqual, stableStringify } from '../lib/fingerprint.js';

export const PREVIEW_MAX_BYTES = 2048;
export const SUMMARY_MAX_CHARS = 256;
const DIFF_MAX_CHANGES = 40;
/** Longest rendering of one value in a diff line, so one blob cannot fill the preview. */
const VALUE_MAX_CHARS = 120;
const REDACTED = '<redacted>';
const ABSENT = '<absent>';

// ---------------------------------------------------------------------------------
// Small helpers

function obj(value: unknown): JsonObject {
  return isJsonObject(value) ? value : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Truncate to at most `max` UTF-16 units without splitting a surrogate pair. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = Math.max(0, max - 1);
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${s.slice(0, cut)}…`;
}

/** Control characters would let a value forge extra lines in a one-line field. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Truncate text to at most maxBytes of UTF-8, ending with a marker that says so.
 * Cuts on a line boundary when one is near, never inside a character.
 */
export function boundBytes(text: string, maxBytes = PREVIEW_MAX_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const marker = (omitted: number): string => `\n… [truncated, ${omitted} more bytes]`;
  // The marker's length depends on the count; reserve for the widest count possible.
  const budget = maxBytes - Buffer.byteLength(marker(bytes.length));
  if (budget <= 0) return marker(bytes.length).slice(0, maxBytes);
  let end = budget;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1; // not mid-character
  const newline = bytes.lastIndexOf(0x0a, end - 1);
  if (newline > budget / 2) end = newline;
  const head = bytes.subarray(0, end).toString('utf8');
  return head + marker(bytes.length - end);
}

// ---------------------------------------------------------------------------------
// Secrets

/** A Secret, by the resource addressed or by the object's own kind. */
function isSecretRequest(request: AdmissionRequest): boolean {
  if (request.resource.group === '' && request.resource.resource === 'secrets') return true;
  const kind = obj(request.object)['kind'] ?? obj(request.oldObject)['kind'];
  return kind === 'Secret';
}

const SECRET_VALUE_FIELDS = ['data', 'stringData'];

/** A copy with every value under data/stringData replaced by a marker; keys stay. */
function redactSecret(value: unknown): unknown {
  if (!isJsonObject(value)) return value;
  const out: JsonObject = { ...value };
  for (const field of SECRET_VALUE_FIELDS) {
    if (field in out) out[field] = redactValues(out[field]);
  }
  return out;
}

function redactValues(value: unknown): unknown {
  if (!isJsonObject(value)) return value === undefined ? undefined : REDACTED;
  return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
}

// ---------------------------------------------------------------------------------
// CONNECT

function connectOptions(request: AdmissionRequest): JsonObject {
  return obj(request.object ?? request.options);
}

/**
 * The command of a CONNECT to pods/exec (PodExecOptions.command). Undefined for
 * anything else, including attach: PodAttachOptions has no command, the agent talks to
 * whatever the container's main process already is.
 */
export function execCommand(request: AdmissionRequest): string[] | undefined {
  if (request.operation !== 'CONNECT') return undefined;
  const command = connectOptions(request)['command'];
  if (!Array.isArray(command)) return undefined;
  return command.map((arg) => (typeof arg === 'string' ? arg : String(arg)));
}

/** Render argv for display the way a shell user would type it; one line always. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function connectDetail(request: AdmissionRequest): string {
  const o = connectOptions(request);
  const command = execCommand(request);
  if (command) return shellQuote(command);
  switch (request.subResource) {
    case 'attach':
      return `attach${str(o['container']) ? ` container ${o['container'] as string}` : ''}`;
    case 'portforward':
      return `ports ${portsOf(o)}`;
    case 'proxy':
      return `proxy ${str(o['path']) ?? '/'}`;
    default:
      return '';
  }
}

function portsOf(o: JsonObject): string {
  const ports = o['ports'];
  if (Array.isArray(ports)) return ports.map((p) => String(p)).join(',') || '(none)';
  return ports === undefined ? '(none)' : String(ports);
}

// ---------------------------------------------------------------------------------
// Summary

function groupVersion(request: AdmissionRequest): string {
  const { group, version } = request.resource;
  return group ? `${group}/${version}` : version;
}

function resourcePath(request: AdmissionRequest): string {
  return request.subResource ? `${request.resource.resource}/${request.subResource}` : request.resource.resource;
}

function target(request: AdmissionRequest): string {
  let name = request.name;
  if (!name) {
    const meta = obj(obj(request.object)['metadata']);
    name = str(meta['name']) ?? (str(meta['generateName']) ? `${meta['generateName'] as string}*` : '<unnamed>');
  }
  return request.namespace ? `${request.namespace}/${name}` : name;
}

function replicasOf(o: unknown): unknown {
  return obj(obj(o)['spec'])['replicas'];
}

/**
 * One line for `kubectl get approvalrequests` and messages, e.g.
 * `DELETE apps/v1 deployments prod/web by agent:deploy-bot`,
 * `CONNECT pods/exec prod/web-0: sh -c "rm -rf /data"`.
 * `agent` (the AgentIdentity name) is preferred over the raw username when known.
 */
export function summarize(request: AdmissionRequest, agent?: string): string {
  const parts: string[] = [request.operation];
  if (request.operation !== 'CONNECT') parts.push(groupVersion(request));
  parts.push(resourcePath(request), target(request));
  let line = parts.join(' ');
  if (request.operation === 'UPDATE') {
    const before = replicasOf(request.oldObject);
    const after = replicasOf(request.object);
    if (typeof after === 'number' && before !== after) {
      line += ` (replicas ${before === undefined ? ABSENT : String(before)} -> ${after})`;
    }
  }
  const actor = agent ? `agent:${agent}` : request.userInfo.username;
  if (actor) line += ` by ${actor}`;
  if (request.operation === 'CONNECT') {
    const detail = connectDetail(request);
    if (detail) line += `: ${detail}`;
  }
  return clip(oneLine(line), SUMMARY_MAX_CHARS);
}

// ---------------------------------------------------------------------------------
// Diff

/** One changed leaf. `from`/`to` undefined means the path was absent on that side. */
interface Change {
  path: string;
  from?: unknown;
  to?: unknown;
}

interface DiffResult {
  changes: Change[];
  /** All changes found, including those beyond the cap. */
  total: number;
}

type Segment = string | number;

function renderPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '.';
}

/**
 * Leaf-level differences between two JSON values, in path order. Arrays are compared
 * by index: precise for the common edits (an image, a replica count, an env value);
 * an insertion in the middle shows as a run of changes, which is still truthful.
 */
export function diffObjects(before: unknown, after: unknown, maxChanges = DIFF_MAX_CHANGES): DiffResult {
  const result: DiffResult = { changes: [], total: 0 };
  const walk = (a: unknown, b: unknown, path: Segment[]): void => {
    if (a === undefined && b === undefined) return;
    if (isJsonObject(a) && isJsonObject(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) walk(a[k], b[k], [...path, k]);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], [...path, i]);
      return;
    }
    if (jsonEqual(a, b) && (a === undefined) === (b === undefined)) return;
    result.total += 1;
    if (result.changes.length < maxChanges) {
      const change: Change = { path: renderPath(path) };
      if (a !== undefined) change.from = a;
      if (b !== undefined) change.to = b;
      result.changes.push(change);
    }
  };
  walk(before, after, []);
  return result;
}

function renderValue(value: unknown, redact: boolean): string {
  if (value === undefined) return ABSENT;
  if (redact) {
    if (!isJsonObject(value)) return REDACTED;
    const keys = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}: ${REDACTED}`);
    return clip(oneLine(`{${keys.join(', ')}}`), VALUE_MAX_CHARS);
  }
  return clip(oneLine(stableStringify(value)), VALUE_MAX_CHARS);
}

function isSecretValuePath(path: string): boolean {
  return SECRET_VALUE_FIELDS.some((f) => path === f || path.startsWith(`${f}.`) || path.startsWith(`${f}[`));
}

function renderChanges(diff: DiffResult, secret: boolean): string {
  if (diff.total === 0) return 'no changes to the object (ignoring status and server-set metadata)';
  const lines = diff.changes.map((c) => {
    const redact = secret && isSecretValuePath(c.path);
    return `${c.path}: ${renderValue(c.from, redact)} -> ${renderValue(c.to, redact)}`;
  });
  if (diff.total > diff.changes.length) lines.push(`… and ${diff.total - diff.changes.length} more changes`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------
// Preview

function canonicalFor(request: AdmissionRequest, value: unknown): unknown {
  return canonicalObject(value ?? null, { keepStatus: request.subResource === 'status' });
}

function previewCreate(request: AdmissionRequest): string {
  let o = canonicalFor(request, request.object);
  if (isSecretRequest(request)) o = redactSecret(o);
  if (!isJsonObject(o)) return '(no object)';
  return dump(o, { sortKeys: true, lineWidth: -1, noRefs: true }).trimEnd();
}

function previewUpdate(request: AdmissionRequest): string {
  const before = canonicalFor(request, request.oldObject);
  const after = canonicalFor(request, request.object);
  return renderChanges(diffObjects(before, after), isSecretRequest(request));
}

function keysOf(value: unknown): string[] {
  return Object.keys(obj(value)).sort();
}

function imagesOf(o: JsonObject): string[] {
  const spec = obj(o['spec']);
  // A Pod carries containers in spec; workloads in spec.template.spec.
  const podSpec = Array.isArray(spec['containers']) ? spec : obj(obj(spec['template'])['spec']);
  const containers = Array.isArray(podSpec['containers']) ? podSpec['containers'] : [];
  return containers.map((c) => str(obj(c)['image'])).filter((s): s is string => !!s);
}

function previewDelete(request: AdmissionRequest): string {
  const old = obj(request.oldObject);
  const meta = obj(old['metadata']);
  const kind = str(old['kind']) ?? request.kind.kind;
  const name = str(meta['name']) ?? request.name ?? '<unnamed>';
  const ns = str(meta['namespace']) ?? request.namespace;
  const lines = [`delete ${kind} ${ns ? `${ns}/` : ''}${name}`];
  const add = (label: string, value: string | undefined): void => {
    if (value) lines.push(`${label}: ${clip(oneLine(value), VALUE_MAX_CHARS * 2)}`);
  };
  add('uid', str(meta['uid']));
  add('created', str(meta['creationTimestamp']));
  const labels = obj(meta['labels']);
  add(
    'labels',
    Object.keys(labels)
      .sort()
      .map((k) => `${k}=${String(labels[k])}`)
      .join(', '),
  );
  const owners = Array.isArray(meta['ownerReferences']) ? meta['ownerReferences'] : [];
  add('owners', owners.map((r) => `${String(obj(r)['kind'])}/${String(obj(r)['name'])}`).join(', '));
  const finalizers = Array.isArray(meta['finalizers']) ? meta['finalizers'] : [];
  add('finalizers', finalizers.map(String).join(', '));
  const replicas = replicasOf(old);
  if (replicas !== undefined) add('replicas', String(replicas));
  add('images', imagesOf(old).join(', '));
  if (kind === 'Secret' || kind === 'ConfigMap') {
    add('type', str(old['type']));
    add('keys', [...new Set([...keysOf(old['data']), ...keysOf(old['binaryData'])])].join(', '));
  }
  if (kind === 'PersistentVolumeClaim') {
    const spec = obj(old['spec']);
    add('storage', str(obj(obj(spec['resources'])['requests'])['storage']));
    add('storageClassName', str(spec['storageClassName']));
    add('volumeName', str(spec['volumeName']));
  }
  const opts = obj(request.options);
  const how: string[] = [];
  if (opts['propagationPolicy'] !== undefined) how.push(`propagationPolicy=${String(opts['propagationPolicy'])}`);
  if (opts['gracePeriodSeconds'] !== undefined) how.push(`gracePeriodSeconds=${String(opts['gracePeriodSeconds'])}`);
  if (opts['orphanDependents'] !== undefined) how.push(`orphanDependents=${String(opts['orphanDependents'])}`);
  add('options', how.join(', '));
  return lines.join('\n');
}

function previewConnect(request: AdmissionRequest): string {
  const o = connectOptions(request);
  const lines = [`${request.subResource ?? 'connect'} ${target(request)}`];
  const add = (label: string, value: string | undefined): void => {
    if (value) lines.push(`${label}: ${oneLine(value)}`);
  };
  add('container', str(o['container']));
  const command = execCommand(request);
  if (command) add('command', shellQuote(command));
  const flags = ['stdin', 'stdout', 'stderr', 'tty'].filter((f) => o[f] === true);
  add('streams', flags.join(', '));
  if (o['ports'] !== undefined) add('ports', portsOf(o));
  add('path', str(o['path']));
  return lines.join('\n');
}

/**
 * A bounded (<= 2 KiB of UTF-8), human-readable account of what the operation would do:
 * UPDATE -> changed paths (`spec.replicas: 3 -> 0`), CREATE -> the object as YAML,
 * DELETE -> what is being deleted, CONNECT -> container, command, streams.
 * Secret values never appear; their keys do.
 */
export function preview(request: AdmissionRequest, maxBytes = PREVIEW_MAX_BYTES): string {
  let text: string;
  switch (request.operation) {
    case 'CREATE':
      text = previewCreate(request);
      break;
    case 'UPDATE':
      text = previewUpdate(request);
      break;
    case 'DELETE':
      text = previewDelete(request);
      break;
    case 'CONNECT':
      text = previewConnect(request);
      break;
  }
  return boundBytes(text, maxBytes);
}
