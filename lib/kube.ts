// Kubernetes client plumbing shared by the operator, the webhook and the CLI.
//
// Requests go through KubeApi (a few lines of JSON over https, authenticated by
// client-node's KubeConfig) rather than client-node's generated API classes: importing
// those loads ~23 MB of generated code onto the V8 heap (a bare node goes from 43 to
// ~100 MB RSS), which a process that makes a dozen kinds of calls does not need. Only
// KubeConfig (auth: certificates, tokens, exec plugins, OIDC) and Watch are taken from
// client-node, by their own modules; see lib/client-node-slim.ts for the rest.
import type * as k8s from '@kubernetes/client-node';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { GROUP, VERSION } from '../api/types.js';

interface KubeOptions {
  /** --kubeconfig; else $KUBECONFIG; else in-cluster; else ~/.kube/config */
  kubeconfig?: string;
  /** --context */
  context?: string;
}

export function loadKubeConfig(opts: KubeOptions = {}): k8s.KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new Error(`context "${opts.context}" is not in the kubeconfig; list them with: kubectl config get-contexts`);
    }
    kc.setCurrentContext(opts.context);
  }
  return kc;
}

/** The agentgate.io plural for each kind. */
const PLURAL = {
  AgentIdentity: 'agentidentities',
  AccessGrant: 'accessgrants',
  ApprovalRequest: 'approvalrequests',
  AuditEvent: 'auditevents',
} as const;
export type AgentgateKind = keyof typeof PLURAL;

/** The group/versions of the built-in APIs agentgate calls (apiPath's first argument). */
export const GV = {
  core: 'v1',
  rbac: 'rbac.authorization.k8s.io/v1',
  admission: 'admissionregistration.k8s.io/v1',
  apiextensions: 'apiextensions.k8s.io/v1',
  authorization: 'authorization.k8s.io/v1',
  authentication: 'authentication.k8s.io/v1',
  apiregistration: 'apiregistration.k8s.io/v1',
  coordination: 'coordination.k8s.io/v1',
  networking: 'networking.k8s.io/v1',
} as const;

/**
 * The REST path of a resource collection, or of one object when name is given:
 * apiPath(GV.rbac, 'rolebindings', 'ns', 'rb') or apiPath(GV.core, 'namespaces').
 * The core group ('v1') lives under /api, every other group under /apis.
 */
export function apiPath(groupVersion: string, resource: string, namespace?: string, name?: string): string {
  const root = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${resource}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}`;
}

/** Path of an agentgate kind's collection (across namespaces when namespace is unset), or of one object. */
export function agentgatePath(kind: AgentgateKind, namespace?: string, name?: string): string {
  return apiPath(`${GROUP}/${VERSION}`, PLURAL[kind], namespace, name);
}

/** HTTP status of a client-node error, or undefined when it is not an API error. */
export function statusCode(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
    for (const c of [e.code, e.statusCode, e.response?.statusCode]) if (typeof c === 'number') return c;
  }
  return undefined;
}
export const isNotFound = (e: unknown): boolean => statusCode(e) === 404;
export const isConflict = (e: unknown): boolean => statusCode(e) === 409;

/**
 * Optimistic concurrency for a status another writer also updates: writes `change(current)`
 * (at current's resourceVersion), and after a conflict reads again and recomputes, up to
 * `rounds` writes. Stops as soon as there is nothing left to change. Returns what was
 * written, or the last object read when nothing was.
 */
export async function writeWithConflictRetry<T>(
  first: T | undefined,
  read: () => Promise<T | undefined>,
  change: (current: T) => T | undefined,
  write: (next: T) => Promise<T>,
  rounds: number,
): Promise<{ written?: T; last?: T }> {
  let current = first ?? (await read());
  for (let round = 0; round < rounds && current; round++) {
    const next = change(current);
    if (!next) break;
    try {
      return { written: await write(next) };
    } catch (err) {
      if (!isConflict(err)) throw err;
      current = await read();
    }
  }
  return current ? { last: current } : {};
}
export const isAlreadyExists = (e: unknown): boolean => statusCode(e) === 409;
export const isForbidden = (e: unknown): boolean => statusCode(e) === 403;

/** The apiserver's message from an error, for people; never the request or credentials. */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const body = (err as { body?: unknown }).body;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message) return parsed.message;
      } catch {
        /* not JSON */
      }
      return body.slice(0, 500);
    }
    if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
      return (body as { message: string }).message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** A request the apiserver refused: `code` is the HTTP status, `body` its answer (a Status, as text). */
class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    method: string,
    path: string,
  ) {
    super(`HTTP ${code} from ${method} ${path}`);
  }
}

/** Query parameters of a request; undefined ones are left out. */
type Query = Record<string, string | number | boolean | undefined>;

/** A merge patch (RFC 7386): fields not named are left as they are. */
const MERGE_PATCH = 'application/merge-patch+json';

/**
 * JSON requests to the apiserver kc points at, authenticated as kc says (client-node's
 * applyToHTTPSOptions: client certificates, bearer tokens, exec plugins, OIDC; its
 * agent, made keep-alive by withKeepAlive). Objects come back as the apiserver wrote
 * them: timestamps are strings.
 */
export class KubeApi {
  constructor(readonly kc: k8s.KubeConfig) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }
  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }
  /** Put metadata.resourceVersion in the patch for optimistic concurrency (409 when it moved). */
  mergePatch<T>(path: string, patch: object): Promise<T> {
    return this.request<T>('PATCH', path, { body: patch, contentType: MERGE_PATCH });
  }
  /** body: DeleteOptions, e.g. { preconditions: { uid } }. */
  async delete(path: string, body?: object): Promise<void> {
    await this.request('DELETE', path, { body });
  }

  async request<T>(method: string, path: string, o: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<T> {
    const text = await this.send(method, path, o);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The answer as text (a service proxy's, say); ApiError unless 2xx. */
  async send(method: string, path: string, o: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<string> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster; pick a context with --context or kubectl config use-context');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: Record<string, string> = { accept: 'application/json, */*' };
    if (payload !== undefined) {
      headers['content-type'] = o.contentType ?? 'application/json';
      // Explicit: node sends a DELETE's body without a length, which the apiserver ignores
      // and then reads as the start of the next request on the keep-alive connection.
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const opts: https.RequestOptions = { method, headers };
    await this.kc.applyToHTTPSOptions(opts);
    return new Promise<string>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? http : https).request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(body);
          else reject(new ApiError(code, body, method, path));
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** A typed client for the agentgate.io custom resources. */
export class AgentgateClient {
  readonly kube: KubeApi;
  constructor(readonly kc: k8s.KubeConfig) {
    this.kube = new KubeApi(kc);
  }

  list<T>(kind: AgentgateKind, namespace?: string, query?: Query): Promise<{ items: T[]; metadata: { resourceVersion?: string; continue?: string } }> {
    return this.kube.get(agentgatePath(kind, namespace), query);
  }

  get<T>(kind: AgentgateKind, name: string, namespace?: string): Promise<T> {
    return this.kube.get<T>(agentgatePath(kind, namespace, name));
  }

  create<T>(kind: AgentgateKind, body: T, namespace?: string): Promise<T> {
    return this.kube.create<T>(agentgatePath(kind, namespace), body);
  }

  /** Replaces the status subresource; body carries metadata.resourceVersion for optimistic concurrency. */
  replaceStatus<T>(kind: AgentgateKind, name: string, body: T, namespace?: string): Promise<T> {
    return this.kube.replace<T>(`${agentgatePath(kind, namespace, name)}/status`, body);
  }

  /** Replaces the whole object (metadata changes such as finalizers); optimistic concurrency via resourceVersion. */
  replace<T>(kind: AgentgateKind, name: string, body: T, namespace?: string): Promise<T> {
    return this.kube.replace<T>(agentgatePath(kind, namespace, name), body);
  }

  /**
   * A JSON merge patch of the main resource (metadata such as finalizers). Put
   * metadata.resourceVersion in the patch for optimistic concurrency (409 when it moved).
   * Unlike replace, fields the caller does not name are left as they are, so it is safe
   * with a trimmed cached copy.
   */
  mergePatch<T>(kind: AgentgateKind, name: string, patch: object, namespace?: string): Promise<T> {
    return this.kube.mergePatch<T>(agentgatePath(kind, namespace, name), patch);
  }

  delete(kind: AgentgateKind, name: string, namespace?: string): Promise<void> {
    return this.kube.delete(agentgatePath(kind, namespace, name));
  }
}

/**
 * Makes every API client of kc reuse keep-alive connections. client-node 1.4 builds a new
 * https.Agent for every request, so each call pays a TLS handshake (measured 4-7x fewer
 * requests per second on loopback). Agents are cached per TLS identity (server, CA, client
 * certificate and key), so a rotated certificate gets a new agent; tokens travel in
 * headers and need none. Proxied clusters keep client-node's own agents.
 */
export function withKeepAlive(kc: k8s.KubeConfig, maxSockets = 128): k8s.KubeConfig {
  const target = kc as unknown as { createAgent: (cluster: k8s.Cluster | null, opts: https.AgentOptions) => unknown };
  const original = target.createAgent.bind(kc);
  const agents = new Map<string, https.Agent>();
  target.createAgent = (cluster, opts) => {
    if (!cluster || cluster.proxyUrl || !cluster.server.startsWith('https:')) return original(cluster, opts);
    const id = createHash('sha256');
    for (const part of [cluster.server, opts.servername, String(opts.rejectUnauthorized), opts.ca, opts.cert, opts.key, opts.pfx]) {
      id.update(part === undefined ? '\u0000' : Buffer.isBuffer(part) ? part : String(part)).update('\u0001');
    }
    const k = id.digest('hex');
    let agent = agents.get(k);
    if (!agent) {
      agent = new https.Agent({ ...opts, keepAlive: true, maxSockets });
      agents.set(k, agent);
    }
    return agent;
  };
  return kc;
}
