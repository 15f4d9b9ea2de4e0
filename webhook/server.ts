// The HTTP layer: AdmissionReview v1 in and out over node:https. The admission paths are
// served from the process's listener without express (createWebhook), everything else by
// express; the express app serves the admission paths too, through the same Admission.
//
// One handler per path, composed in Kyverno's style from small wrappers where the server
// is built (webhook/main.ts): /validate/agents is withMetrics(withFilter(agentgate's own
// users pass, admitAgentCall)), /validate/protect withMetrics(admitProtected),
// /mutate/stamp withMetrics(admitStamp). Failures follow Gatekeeper's convention: a
// malformed AdmissionReview is the caller's error (4xx), anything that goes wrong on our
// side is 5xx. The apiserver treats both as a webhook failure, and failurePolicy Fail
// turns that into a refusal: an error never lets a call through.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from '../lib/admission.js';
import { isJsonObject } from '../lib/admission.js';
import type { Logger } from '../lib/log.js';
import { perConnection } from '../lib/tls-peer.js';
import type { WebhookMetrics } from './metrics.js';

const MAX_BODY_BYTES = 6 * 1024 * 1024;
const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** Narrows an untrusted body to an AdmissionReview with a usable request, or throws BadRequest. */
function parseReview(body: unknown): AdmissionRequest {
  if (!isJsonObject(body)) throw new BadRequest('body must be a JSON object (an AdmissionReview)');
  if (body['apiVersion'] !== 'admission.k8s.io/v1' || body['kind'] !== 'AdmissionReview') {
    throw new BadRequest('expected apiVersion admission.k8s.io/v1, kind AdmissionReview');
  }
  const r = body['request'];
  if (!isJsonObject(r)) throw new BadRequest('AdmissionReview has no request');
  if (typeof r['uid'] !== 'string' || r['uid'] === '') throw new BadRequest('request.uid must be a non-empty string');
  if (typeof r['operation'] !== 'string' || !OPERATIONS.has(r['operation']))
    throw new BadRequest('request.operation must be CREATE, UPDATE, DELETE or CONNECT');
  const res = r['resource'];
  if (
    !isJsonObject(res) ||
    typeof res['resource'] !== 'string' ||
    typeof res['version'] !== 'string' ||
    (res['group'] !== undefined && typeof res['group'] !== 'string')
  ) {
    throw new BadRequest('request.resource must be {group, version, resource}');
  }
  if (!isJsonObject(r['userInfo'])) throw new BadRequest('request.userInfo must be an object');
  const ui = r['userInfo'];
  if (ui['username'] !== undefined && typeof ui['username'] !== 'string') throw new BadRequest('request.userInfo.username must be a string');
  if (ui['groups'] !== undefined && (!Array.isArray(ui['groups']) || ui['groups'].some((g) => typeof g !== 'string'))) {
    throw new BadRequest('request.userInfo.groups must be a list of strings');
  }
  for (const f of ['name', 'namespace', 'subResource'] as const) {
    if (r[f] !== undefined && r[f] !== null && typeof r[f] !== 'string') throw new BadRequest(`request.${f} must be a string`);
  }
  for (const f of ['object', 'oldObject', 'options'] as const) {
    if (r[f] !== undefined && r[f] !== null && !isJsonObject(r[f])) throw new BadRequest(`request.${f} must be an object or null`);
  }
  const kind = isJsonObject(r['kind']) ? r['kind'] : {};
  return {
    ...(r as unknown as AdmissionRequest),
    resource: { group: (res['group'] as string | undefined) ?? '', version: res['version'], resource: res['resource'] },
    kind: { group: String(kind['group'] ?? ''), version: String(kind['version'] ?? ''), kind: String(kind['kind'] ?? '') },
    name: (r['name'] as string | null | undefined) ?? '',
    namespace: (r['namespace'] as string | null | undefined) ?? '',
    subResource: (r['subResource'] as string | null | undefined) ?? '',
    dryRun: r['dryRun'] === true,
  };
}

/** application/json, with or without parameters (charset), in any case. */
function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

export interface Ctx {
  path: string;
  log: Logger;
  started: number;
  /** The caller presented a client certificate from the configured CA and name: the kube-apiserver. */
  fromApiserver: boolean;
}

export type Handler = (request: AdmissionRequest, ctx: Ctx) => Promise<AdmissionResponse>;

/** A filter answers some requests itself (e.g. callers that are none of our business). */
export function withFilter(filter: (request: AdmissionRequest, ctx: Ctx) => AdmissionResponse | undefined, next: Handler): Handler {
  return async (request, ctx) => filter(request, ctx) ?? next(request, ctx);
}

export function withMetrics(metrics: WebhookMetrics, next: Handler): Handler {
  // Label children bound once per path, not a label object per review.
  const byPath = new Map<string, Record<'allowed' | 'denied', { observe(seconds: number): void }>>();
  const series = (path: string) => {
    let s = byPath.get(path);
    if (!s) {
      s = { allowed: metrics.admissionSeconds.labels(path, 'allowed'), denied: metrics.admissionSeconds.labels(path, 'denied') };
      byPath.set(path, s);
    }
    return s;
  };
  return async (request, ctx) => {
    const response = await next(request, ctx);
    series(ctx.path)[response.allowed ? 'allowed' : 'denied'].observe((performance.now() - ctx.started) / 1000);
    return response;
  };
}

/**
 * Client verification, when the cluster's apiserver presents a client certificate to
 * webhooks (self-managed clusters: --admission-control-config-file; never EKS). The TLS
 * layer verifies the chain against the CA (requestCert); this checks the name, because a
 * cluster CA also signs users' certificates.
 */
interface ClientAuth {
  /** Accepted certificate common names; empty: any certificate the CA signed. */
  names: readonly string[];
  /** Refuse admission requests without one (401); probes and metrics stay open. */
  require: boolean;
}

/**
 * The caller's verdict, judged once per connection (lib/tls-peer.ts): the apiserver sends
 * its reviews over keep-alive connections, and reading the peer certificate builds a new
 * object from it each time. `authorized` and the certificate are both fixed at the
 * handshake once renegotiation is refused, which perConnection does first.
 */
function apiserverCheck(auth: ClientAuth | undefined): (socket: unknown) => boolean {
  if (!auth) return () => false;
  const judge = perConnection((tls) => {
    if (!tls.authorized) return false;
    const cn = tls.getPeerCertificate().subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    return auth.names.length === 0 || (typeof name === 'string' && auth.names.includes(name));
  });
  // A plain socket (no TLS: tests, a misconfigured listener) is never the apiserver.
  return (socket) => typeof (socket as Partial<TLSSocket>).getPeerCertificate === 'function' && judge(socket as TLSSocket);
}

interface ServerDeps {
  log: Logger;
  metrics: WebhookMetrics;
  routes: Record<string, Handler>;
  ready: () => boolean;
  clientAuth?: ClientAuth;
}

/**
 * The error answer, for the admission paths and express's error handler alike. Messages
 * are ours or the body reader's, never the body.
 */
function answerError(err: unknown, path: string, res: ServerResponse, deps: Pick<ServerDeps, 'log' | 'metrics' | 'routes'>): void {
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown; message?: unknown };
  let status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status < 400 || status > 599) status = 500;
  const message =
    e.type === 'entity.too.large'
      ? `body exceeds ${MAX_BODY_BYTES} bytes`
      : e.type === 'entity.parse.failed'
        ? 'body is not valid JSON'
        : status >= 500
          ? 'internal error'
          : String(e.message ?? 'bad request');
  deps.metrics.requests.inc({ path: Object.hasOwn(deps.routes, path) ? path : 'other', code: String(status) });
  if (status >= 500) deps.log.error('request failed', { path, status });
  else deps.log.warn('bad admission request', { path, status, error: message });
  if (res.headersSent) return;
  const text = JSON.stringify({ error: message });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** The body reader: the apiserver sends plain (never compressed) UTF-8 JSON. */
function readJson(req: IncomingMessage, done: (err: Error | undefined, body?: unknown) => void): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    done(Object.assign(new Error('too large'), { status: 413, type: 'entity.too.large' }));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let failed = false;
  req.on('data', (c: Buffer) => {
    if (failed) return;
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      failed = true;
      // Stop reading; the error answer closes the exchange.
      req.pause();
      return done(Object.assign(new Error('too large'), { status: 413, type: 'entity.too.large' }));
    }
    chunks.push(c);
  });
  req.on('error', (err) => {
    if (!failed) {
      failed = true;
      done(Object.assign(err, { status: 400 }));
    }
  });
  req.on('end', () => {
    if (failed) return;
    let body: unknown;
    try {
      body = JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8'));
    } catch {
      return done(Object.assign(new Error('invalid JSON'), { status: 400, type: 'entity.parse.failed' }));
    }
    done(undefined, body);
  });
}

/** Serves one admission path: the checks, the read, the handler, the answer; failures go to fail. */
type Admission = (req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void) => void;

export interface Webhook {
  /** Every path: admission, probes, metrics, 404 (tests drive it with supertest). */
  app: express.Express;
  /**
   * The process's request listener: an admission POST goes straight to the same Admission
   * the app runs for it, everything else to the app. express's per-request setup (the
   * prototype swaps of req and res, the router) cost more than all of agentgate's checks
   * on the allow path (README, Benchmarks).
   */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

export function createApp(deps: ServerDeps): express.Express {
  return createWebhook(deps).app;
}

export function createWebhook(deps: ServerDeps): Webhook {
  const { log, metrics } = deps;
  const fromApiserver = apiserverCheck(deps.clientAuth);

  const admission = new Map<string, Admission>();
  for (const [path, handler] of Object.entries(deps.routes)) {
    const answered = metrics.requests.labels(path, '200');
    admission.set(path, (req, res, fail) => {
      const fromApi = fromApiserver(req.socket);
      if (deps.clientAuth?.require && !fromApi) {
        return fail(new BadRequest('a client certificate of the kube-apiserver is required (--require-client-cert)', 401));
      }
      if (!isJsonContentType(req.headers['content-type'])) {
        return fail(new BadRequest(`content type must be application/json, not ${req.headers['content-type'] ?? 'none'}`, 415));
      }
      readJson(req, (err, body) => {
        if (err) return fail(err);
        const started = performance.now();
        let request: AdmissionRequest;
        try {
          request = parseReview(body);
        } catch (e) {
          return fail(e);
        }
        handler(request, { path, log, started, fromApiserver: fromApi }).then(
          (response) => {
            const review: AdmissionReview = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { ...response, uid: request.uid } };
            answered.inc();
            const text = JSON.stringify(review);
            res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
          },
          (e: unknown) => {
            log.error('admission handler failed', { uid: request.uid, path, error: e instanceof Error ? e.message : String(e) });
            fail(e instanceof BadRequest ? e : Object.assign(new Error('internal error'), { status: 500 }));
          },
        );
      });
    });
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // The admission paths by exact path in the first layer: each router layer, route
  // dispatch and res.json() cost a measurable share of the allow path.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const admit = req.method === 'POST' ? admission.get(req.path) : undefined;
    if (admit) admit(req, res, (err) => answerError(err, req.path, res, deps));
    else next();
  });
  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/readyz', (_req, res) => void (deps.ready() ? res.type('text/plain').send('ok') : res.status(503).type('text/plain').send('not ready')));
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });
  app.use((_req: Request, res: Response) => void res.status(404).json({ error: 'not found' }));
  // Express error handler: four arguments.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(err, req.path, res, deps));

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // Any path express would read differently (encoded, absolute) is no key here: the app serves it.
    const admit = req.method === 'POST' ? admission.get(path) : undefined;
    if (!admit) return void app(req, res);
    const fail = (err: unknown) => answerError(err, path, res, deps);
    try {
      admit(req, res, fail);
    } catch (err) {
      fail(err);
    }
  };
  return { app, listener };
}
