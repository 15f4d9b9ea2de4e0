// Wiring of the audit component inside the webhook process: the HTTPS server of the
// aggregated API and of the apiserver's audit backend, the periodic checkpoints, the
// retention sweep, the one-time import of AuditEvent custom resources, and the CA bundle
// of the APIService that routes audit.agentgate.io to this process. Logic lives in the files
// it wires (store, checkpoint, apiserver/*).
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type * as k8s from '@kubernetes/client-node';
import type { AgentIdentity, AuditEventSpec } from '../api/types.js';
import { AUDIT_APISERVICE, GROUP } from '../api/types.js';
import type { SettledApprovalCall } from '../lib/approval-confirm.js';
import type { Clock } from '../lib/clock.js';
import { agentgatePath, apiPath, errorMessage, GV, isConflict, isNotFound, type KubeApi } from '../lib/kube.js';
import type { UserInfo as AdmissionUser } from '../lib/admission.js';
import type { Logger } from '../lib/log.js';
import { Authenticator, authnConfigFrom, chainsTo, parsePemBundle, peerChain } from './apiserver/authn.js';
import type { AuthnConfig } from './apiserver/authn.js';
import { cachedReviewer, kubeAccessReviewer } from './apiserver/authz.js';
import { auditApiHandler } from './apiserver/handler.js';
import { ingest } from './apiserver/sink.js';
import type { ApiserverAuditEvent } from './apiserver/sink.js';
import { CHECKPOINT_CONFIGMAP, checkpointKey, signCheckpoint } from './checkpoint.js';
import type { AuditStore } from './store.js';

const SINK_PATH = '/audit/events';
const AUTH_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' };

interface AuditServerOptions {
  store: AuditStore;
  kube: KubeApi;
  namespace: string;
  host: string;
  port: number;
  tls: { cert: string; key: string };
  log: Logger;
  clock: Clock;
  agentFor: (user: AdmissionUser) => AgentIdentity | undefined;
  /** Settled records of calls that named an ApprovalRequest (audit/apiserver/confirm.ts). */
  onApprovalCalls?: (calls: SettledApprovalCall[]) => Promise<void>;
  /** PEM of the CA(s) whose client certificates may post audit batches (the apiserver's). */
  sinkClientCa?: string;
  sinkAllowedNames: string[];
  /**
   * The graceful stop of the server (the process's, webhook/drain.ts: the same as the
   * admission server's), made before it listens so that it sees every connection.
   */
  drainWith: (server: https.Server) => { start(): Promise<object> };
}

/** Reads kube-system/extension-apiserver-authentication (needs the extension-apiserver-authentication-reader Role). */
async function loadAuthnConfig(kube: KubeApi): Promise<AuthnConfig> {
  const cm = await kube.get<k8s.V1ConfigMap>(apiPath(GV.core, 'configmaps', AUTH_CONFIGMAP.namespace, AUTH_CONFIGMAP.name));
  return authnConfigFrom(cm.data);
}

function readBody(req: IncomingMessage, limit = 32 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('audit batch too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface AuditServer {
  server: https.Server;
  /** Serves a renewed certificate from now on (connections already open keep theirs). */
  serve(tls: { cert: string; key: string }): void;
  /**
   * Graceful stop, once: /readyz unready, watches ended cleanly (clients re-watch), every
   * answer closing its connection, then listening stops and requests in flight finish,
   * each step bounded (drainWith).
   */
  drain(): Promise<object>;
}

export async function startAuditServer(o: AuditServerOptions): Promise<AuditServer> {
  const kube = o.kube;
  let authn = await loadAuthnConfig(kube);
  const sinkCAs = parsePemBundle(o.sinkClientCa);

  const caList = () => [...(authn.requestHeader?.clientCAs ?? []), ...authn.clientCAs, ...sinkCAs].map((c) => c.toString());
  let serving = o.tls;
  const tlsOptions = () => ({
    cert: serving.cert,
    key: serving.key,
    minVersion: 'TLSv1.2' as const,
    requestCert: true,
    rejectUnauthorized: false,
    ca: caList(),
  });

  const authenticator = new Authenticator(
    () => authn,
    async (token) => {
      const r = await kube.create<k8s.V1TokenReview>(apiPath(GV.authentication, 'tokenreviews'), {
        apiVersion: GV.authentication,
        kind: 'TokenReview',
        spec: { token },
      } satisfies k8s.V1TokenReview);
      if (!r.status?.authenticated || !r.status.user?.username) return undefined;
      const u = r.status.user;
      return { username: u.username!, groups: u.groups ?? [], extra: (u.extra ?? {}) as Record<string, string[]>, ...(u.uid ? { uid: u.uid } : {}) };
    },
    () => o.clock.now(),
  );
  const stopping = new AbortController();
  const api = auditApiHandler({
    stopping: stopping.signal,
    store: o.store,
    namespace: o.namespace,
    authenticator,
    authorize: cachedReviewer(kubeAccessReviewer(kube)),
    log: o.log,
    now: () => o.clock.now(),
  });

  const sink = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chain = peerChain(req.socket as TLSSocket);
    const cn =
      chain[0]?.subject
        .split('\n')
        .find((l) => l.startsWith('CN='))
        ?.slice(3) ?? '';
    if (!sinkCAs.length || !chainsTo(chain, sinkCAs, o.clock.now()) || (o.sinkAllowedNames.length && !o.sinkAllowedNames.includes(cn))) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code: 401,
          reason: 'Unauthorized',
          message: "audit batches are accepted only from the kube-apiserver's audit client certificate",
        }),
      );
      return;
    }
    const body = JSON.parse(await readBody(req)) as { kind?: string; items?: ApiserverAuditEvent[] };
    const items = body.kind === 'EventList' ? (body.items ?? []) : [body as ApiserverAuditEvent];
    const r = await ingest(o.store, items, o.agentFor, o.onApprovalCalls);
    o.log.debug('apiserver audit batch', { events: items.length, ...r });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  };

  const server = https.createServer(tlsOptions(), (req, res) => {
    if (req.method === 'POST' && (req.url ?? '').split('?')[0] === SINK_PATH) {
      sink(req, res).catch((err) => {
        o.log.error('apiserver audit batch failed; the apiserver will retry', { error: errorMessage(err) });
        if (!res.headersSent)
          res
            .writeHead(503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 503, message: errorMessage(err) }));
      });
      return;
    }
    api(req, res);
  });
  server.keepAliveTimeout = 65_000;
  // A connection's peer is who it was at the handshake: authn.ts parses each chain once per
  // connection, which a TLS 1.2 renegotiation presenting another certificate would defeat.
  server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  const drain = o.drainWith(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });

  // The kube-apiserver rotates its front-proxy CA and headers in the ConfigMap; follow it.
  const reload = setInterval(() => {
    loadAuthnConfig(kube)
      .then((c) => {
        authn = c;
        server.setSecureContext(tlsOptions());
      })
      .catch((err) => o.log.warn('cannot reload extension-apiserver-authentication', { error: errorMessage(err) }));
  }, 60_000);
  reload.unref();
  return {
    server,
    serve: (tls) => {
      serving = tls;
      server.setSecureContext(tlsOptions());
    },
    drain: () => {
      clearInterval(reload);
      stopping.abort();
      return drain.start();
    },
  };
}

/** Writes the writer's checkpoint to the ConfigMap whenever its head moved (every interval). */
export function startCheckpoints(o: {
  store: AuditStore;
  kube: KubeApi;
  namespace: string;
  secretKey: string;
  intervalMs: number;
  clock: Clock;
  log: Logger;
}): () => Promise<void> {
  const key = checkpointKey(o.secretKey);
  let written = -1;
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const head = o.store.chainHead;
      if (head.sequence === written) return;
      const c = signCheckpoint(head, o.clock.now(), key);
      const patch = { data: { [head.writer]: JSON.stringify(c) } };
      try {
        await o.kube.mergePatch(apiPath(GV.core, 'configmaps', o.namespace, CHECKPOINT_CONFIGMAP), patch);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await o.kube
          .create(apiPath(GV.core, 'configmaps', o.namespace), {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: CHECKPOINT_CONFIGMAP, namespace: o.namespace, labels: { 'app.kubernetes.io/managed-by': 'agentgate' } },
            data: patch.data,
          } satisfies k8s.V1ConfigMap)
          .catch((e) => {
            if (!isConflict(e)) throw e;
          });
      }
      written = head.sequence;
    } catch (err) {
      o.log.warn('audit checkpoint not written; retrying', { error: errorMessage(err) });
    } finally {
      running = false;
    }
  };
  const t = setInterval(() => void tick(), o.intervalMs);
  t.unref();
  return async () => {
    clearInterval(t);
    await tick();
  };
}

/** Partition upkeep, retention and the clustering of closed days, hourly (and once at start). */
export function startRetention(o: { store: AuditStore; retentionMs: number; clock: Clock; log: Logger }): () => void {
  const run = async () => {
    try {
      await o.store.ensurePartitions(o.clock.now());
      const dropped = await o.store.dropExpired(o.clock.now(), o.retentionMs);
      if (dropped.length) o.log.info('audit retention: dropped partitions', { partitions: dropped, retentionMs: o.retentionMs });
      // One closed day an hour: each holds that day's reads for its duration (store.ts clusterClosed).
      for (const c of await o.store.clusterClosed(o.clock.now()))
        o.log.info('audit maintenance: clustered a closed day by (agent, time)', { partition: c.partition, lockedMs: Math.round(c.ms) });
    } catch (err) {
      o.log.warn('audit retention failed; retrying within the hour', { error: errorMessage(err) });
    }
  };
  void run();
  const t = setInterval(() => void run(), 3_600_000);
  t.unref();
  return () => clearInterval(t);
}

/**
 * Imports AuditEvent custom resources (agentgate.io, stored in etcd before the audit
 * store existed) once, chains and all. Idempotent; recorded as done in the store.
 */
export async function importCustomResources(o: { store: AuditStore; kube: KubeApi; namespace: string; log: Logger }): Promise<number> {
  if (await o.store.getMeta('imported-custom-resources')) return 0;
  let imported = 0;
  let cont: string | undefined;
  try {
    do {
      const page = await o.kube.get<{ items: Array<{ metadata: { name: string }; spec: AuditEventSpec }>; metadata?: { continue?: string } }>(
        agentgatePath('AuditEvent', o.namespace),
        { limit: 500, continue: cont },
      );
      for (const item of page.items) if (item.spec?.chain && (await o.store.importChained(item.spec, item.metadata.name))) imported++;
      cont = page.metadata?.continue || undefined;
    } while (cont);
  } catch (err) {
    // No CRD (a fresh install): nothing to import, ever. Anything else (no right to list
    // them: RBAC not yet upgraded) is said and retried at the next start, never skipped.
    if (!isNotFound(err)) {
      o.log.warn('cannot import AuditEvent custom resources; retried at the next start', {
        error: errorMessage(err),
        fix: `grant the webhook list on auditevents.${GROUP} in ${o.namespace} (the chart's RBAC does)`,
      });
      return imported;
    }
  }
  await o.store.setMeta('imported-custom-resources', new Date().toISOString());
  if (imported) o.log.info('imported AuditEvent custom resources into the audit store', { imported });
  return imported;
}

/**
 * Puts caBundle into the APIService the installer created (the chart, or the harness
 * locally). Only spec.caBundle, by name: the webhook may not create APIServices, since a
 * stolen token could then route another API group (e.g. metrics) to a server of its own.
 * Returns false, with a warning, when the APIService does not exist.
 */
export async function publishApiServiceCa(kube: KubeApi, caBundle: string, log: Logger): Promise<boolean> {
  const path = apiPath(GV.apiregistration, 'apiservices', undefined, AUDIT_APISERVICE);
  let existing: k8s.V1APIService;
  try {
    existing = await kube.get<k8s.V1APIService>(path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    log.warn(
      `APIService ${AUDIT_APISERVICE} does not exist: the installer creates it (helm upgrade, or kubectl apply of the chart's audit.yaml), and the operator restores it once it hears this replica's heartbeat (it withdraws it while no replica serves it); until then kubectl get auditevents cannot reach the record`,
    );
    return false;
  }
  if (existing.spec?.caBundle === caBundle) return true;
  await kube.mergePatch(path, { spec: { caBundle } });
  log.info('APIService CA bundle published', { apiService: AUDIT_APISERVICE });
  return true;
}

/**
 * The audit component's last steps at shutdown, once nothing appends any more (both
 * servers drained, the CloudWatch reader stopped), in order: the group commit flushed, a
 * final checkpoint anchoring that head, the database closed.
 */
export async function closeAuditStore(store: AuditStore, stopCheckpoints: () => Promise<void>): Promise<void> {
  await store.idle();
  await stopCheckpoints();
  await store.close();
}
