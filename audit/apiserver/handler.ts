// The aggregated API for audit.agentgate.io/v1alpha1: discovery, OpenAPI v3, and
// get/list/watch of AuditEvents from the store, each request authenticated (authn.ts)
// and authorized with a SubjectAccessReview (authz.ts). Read-only: records are written
// only by agentgate itself, so every other verb is 405.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../lib/log.js';
import { errorMessage } from '../../lib/kube.js';
import { toObject } from '../object.js';
import { SelectorError } from '../selectors.js';
import type { AuditStore } from '../store.js';
import { InvalidContinue } from '../store.js';
import type { Authenticator, UserInfo } from './authn.js';
import { peerChain } from './authn.js';
import type { AccessReviewer } from './authz.js';
import { documentHash, groupVersionPath, openApiV3Document } from './openapi.js';
import { auditResource, columnSpecFields } from './resource.js';
import { table, wantsTable } from './table.js';
import type { IncludeObject } from './table.js';

interface AuditApiDeps {
  store: AuditStore;
  /** The one namespace records are served in (agentgate's). */
  namespace: string;
  authenticator: Authenticator;
  authorize: AccessReviewer;
  log: Logger;
  now?: () => Date;
  /** Watch poll interval. */
  pollMs?: number;
  /** Aborted when the server drains (server.ts): not ready, and watches end cleanly so clients re-watch elsewhere. */
  stopping?: AbortSignal;
}

type Reply = (code: number, body: unknown, contentType?: string) => void;

function listMeta(page: { resourceVersion: string; continue?: string }): { resourceVersion: string; continue?: string } {
  return { resourceVersion: page.resourceVersion, ...(page.continue ? { continue: page.continue } : {}) };
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export function auditApiHandler(deps: AuditApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const r = auditResource();
  const gv = `/apis/${r.group}/${r.version}`;
  const doc = openApiV3Document(r);
  const docHash = documentHash(doc);
  const specFields = columnSpecFields(r);
  const now = deps.now ?? (() => new Date());
  const managedBy = 'agentgate';

  const resourceList = {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${r.group}/${r.version}`,
    resources: [
      {
        name: r.plural,
        singularName: r.singular,
        namespaced: true,
        kind: r.kind,
        verbs: ['get', 'list', 'watch'],
        shortNames: r.shortNames,
        categories: r.categories,
      },
    ],
  };
  const groupVersion = { groupVersion: `${r.group}/${r.version}`, version: r.version };
  const apiGroup = { kind: 'APIGroup', apiVersion: 'v1', name: r.group, versions: [groupVersion], preferredVersion: groupVersion };

  return (req, res) => {
    const reply: Reply = (code, body, contentType = 'application/json') => {
      if (res.headersSent) return;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(code, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(text);
    };
    handle(req, res, reply).catch((err) => {
      deps.log.error('audit api request failed', { path: req.url?.split('?')[0], error: errorMessage(err) });
      reply(503, status(503, 'ServiceUnavailable', `the audit store cannot answer: ${errorMessage(err)}`));
      // A response already under way cannot take a status: end it, never leave it open.
      if (!res.writableEnded) res.end();
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://audit.local');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/readyz' && deps.stopping?.aborted) return reply(503, 'draining', 'text/plain');
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return reply(200, 'ok', 'text/plain');

    const authn = await deps.authenticator.authenticate(req.headers, peerChain(req.socket as TLSSocket));
    if (!authn.ok) return reply(401, status(401, 'Unauthorized', `Unauthorized: ${authn.reason}`));
    const user = authn.user;

    // Discovery and schema: for every authenticated caller, as system:discovery grants.
    if (req.method === 'GET' && path === '/apis') return reply(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup] });
    if (req.method === 'GET' && path === `/apis/${r.group}`) return reply(200, apiGroup);
    if (req.method === 'GET' && path === gv) return reply(200, resourceList);
    if (req.method === 'GET' && path === '/openapi/v3')
      return reply(200, { paths: { [groupVersionPath(r)]: { serverRelativeURL: `/openapi/v3/${groupVersionPath(r)}?hash=${docHash}` } } });
    if (req.method === 'GET' && path === `/openapi/v3/${groupVersionPath(r)}`) return reply(200, doc);

    // /apis/G/V[/watch][/namespaces/NS]/auditevents[/NAME]
    const m = new RegExp(`^${gv.replace(/\./g, '\\.')}(/watch)?(?:/namespaces/([^/]+))?/${r.plural}(?:/([^/]+))?$`).exec(path);
    if (!m) return reply(404, status(404, 'NotFound', `the server could not find the requested resource (${path})`));
    const [, watchPrefix, namespace, name] = m;
    if (req.method !== 'GET') {
      return reply(
        405,
        status(
          405,
          'MethodNotAllowed',
          `AuditEvents are read-only: ${req.method} is not allowed; records are written only by agentgate and removed only by its retention`,
        ),
      );
    }
    const watch = !!watchPrefix || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = name && !watch ? 'get' : watch ? 'watch' : 'list';
    const allowed = await deps.authorize(user, {
      verb,
      group: r.group,
      version: r.version,
      resource: r.plural,
      ...(namespace ? { namespace } : {}),
      ...(name ? { name } : {}),
    });
    if (!allowed.allowed) {
      const scope = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
      return reply(
        403,
        status(
          403,
          'Forbidden',
          `${r.plural}.${r.group}${name ? ` "${name}"` : ''} is forbidden: User "${user.username}" cannot ${verb} resource "${r.plural}" in API group "${r.group}"${scope}${allowed.reason ? `: ${allowed.reason}` : ''}`,
        ),
      );
    }
    // Records live in agentgate's namespace only; other namespaces are empty.
    const inScope = !namespace || namespace === deps.namespace;
    const asTable = wantsTable(req.headers.accept);
    const include = (url.searchParams.get('includeObject') as IncludeObject | null) ?? 'Metadata';
    const q = {
      ...(url.searchParams.get('labelSelector') ? { labelSelector: url.searchParams.get('labelSelector')! } : {}),
      ...(url.searchParams.get('fieldSelector') ? { fieldSelector: url.searchParams.get('fieldSelector')! } : {}),
    };

    try {
      if (verb === 'get') {
        const e = inScope ? await deps.store.get(name!) : undefined;
        if (!e) return reply(404, status(404, 'NotFound', `${r.plural}.${r.group} "${name}" not found`));
        const obj = toObject(e, deps.namespace);
        return reply(200, asTable ? table([obj], r.columns, { include, now: now(), apiVersion: `${r.group}/${r.version}`, kind: r.kind }) : obj);
      }
      if (verb === 'list') {
        const limit = Number(url.searchParams.get('limit') ?? 0) || 0;
        const cont = url.searchParams.get('continue') ?? undefined;
        const lq = { ...q, ...(limit ? { limit } : {}), ...(cont ? { continue: cont } : {}) };
        const empty = { items: [], resourceVersion: '0' };
        // A Table without whole objects (kubectl get) needs only the printer columns' fields.
        if (asTable && include !== 'Object') {
          const page = inScope ? await deps.store.listSummaries(lq, deps.namespace, managedBy, specFields) : empty;
          const items = page.items.map((e) => toObject(e, deps.namespace));
          return reply(200, table(items, r.columns, { include, now: now(), apiVersion: `${r.group}/${r.version}`, kind: r.kind, ...listMeta(page) }));
        }
        const page = inScope ? await deps.store.list(lq, deps.namespace, managedBy) : empty;
        const items = page.items.map((e) => toObject(e, deps.namespace));
        if (asTable)
          return reply(200, table(items, r.columns, { include, now: now(), apiVersion: `${r.group}/${r.version}`, kind: r.kind, ...listMeta(page) }));
        return reply(200, { kind: r.listKind, apiVersion: `${r.group}/${r.version}`, metadata: listMeta(page), items });
      }
      return await serveWatch(req, res, url, q, inScope, asTable, include, name, user);
    } catch (err) {
      if (err instanceof SelectorError || err instanceof InvalidContinue) return reply(400, status(400, 'BadRequest', err.message));
      throw err;
    }
  }

  async function serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    q: { labelSelector?: string; fieldSelector?: string },
    inScope: boolean,
    asTable: boolean,
    include: IncludeObject,
    name: string | undefined,
    _user: UserInfo,
  ): Promise<void> {
    let rv = url.searchParams.get('resourceVersion') ?? '';
    if (!rv || rv === '0') rv = (await deps.store.list({ ...q, limit: 1 }, deps.namespace, managedBy)).resourceVersion;
    const fieldSelector = [q.fieldSelector, name ? `metadata.name=${name}` : ''].filter(Boolean).join(',');
    const timeoutS = Number(url.searchParams.get('timeoutSeconds') ?? 0) || 1800;
    // A watch's connection closes with it: a drain then waits for no idle keep-alive
    // connection left behind by a watch (one handshake per re-watch is the price).
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-store', connection: 'close' });
    res.flushHeaders();
    let open = true;
    let wake = (): void => undefined;
    const close = () => {
      open = false;
      wake();
    };
    req.on('close', close);
    // A drain ends the watch as its timeout would: the client sees a complete response and re-watches.
    deps.stopping?.addEventListener('abort', close, { once: true });
    const deadline = Date.now() + timeoutS * 1000;
    try {
      await streamChanges();
    } catch (err) {
      // The store failed mid-watch (the database went away): the headers are sent, so the
      // answer is an ERROR event, as the kube-apiserver ends a watch it cannot continue, and
      // the response ends so the client re-watches. Left open, the watch would hang its
      // client and hold a drain to its bound.
      deps.log.warn('audit api watch ended by a store error', { error: errorMessage(err) });
      if (open)
        res.write(`${JSON.stringify({ type: 'ERROR', object: status(503, 'ServiceUnavailable', `the audit store cannot answer: ${errorMessage(err)}`) })}\n`);
    } finally {
      req.off('close', close);
      deps.stopping?.removeEventListener('abort', close);
      res.end();
    }

    async function streamChanges(): Promise<void> {
      while (open && !deps.stopping?.aborted && Date.now() < deadline) {
        if (inScope) {
          const changes = await deps.store.changesSince(rv, { ...q, ...(fieldSelector ? { fieldSelector } : {}) }, deps.namespace, managedBy);
          for (const e of changes) {
            const obj = toObject(e, deps.namespace);
            const type = e.source === 'admission' && e.outcome !== 'Admitted' ? 'MODIFIED' : 'ADDED';
            const object = asTable ? table([obj], auditResource().columns, { include, now: now(), apiVersion: obj.apiVersion, kind: obj.kind }) : obj;
            res.write(`${JSON.stringify({ type, object })}\n`);
            rv = e.rv;
          }
        }
        if (!open) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, deps.pollMs ?? 1000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }
}
