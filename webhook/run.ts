// The agentgate webhook process (started by main.ts): `node dist/webhook/main.js --kubeconfig F --port N (--url URL | --service NAME) ...`
//
// Start-up order matters because the webhook configurations point at this process and
// fail closed: caches and the audit chain first, then listen, then write the
// configurations, then report ready.
import { readFileSync, watchFile } from 'node:fs';
import https from 'node:https';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { ApprovalRequest } from '../api/types.js';
import { AGENTGATE_NAMESPACE, AGENTS_WEBHOOK, AUDIT_API_VERSION, AUDIT_HEARTBEAT_LEASE, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { DEFAULT_PENDING_TTL_MS } from '../lib/approval.js';
import { systemClock } from '../lib/clock.js';
import { AgentgateClient, errorMessage, loadKubeConfig, withKeepAlive } from '../lib/kube.js';
import { durationFlag, type FlagSpec, type FlagValues, parseFlags, stringFlag } from '../lib/flags.js';
import { newLogger } from '../lib/log.js';
import { serviceAccountUsername } from '../lib/rbac.js';
import { admitAgentCall, admitProtected, admitStamp, KubeApprovalStore } from './admit.js';
import { openDb, redactDsn } from '../audit/db.js';
import type { StoreConfig } from '../audit/db.js';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from '../audit/checkpoint.js';
import { HEARTBEAT_PERIOD_MS, renewAuditHeartbeat } from '../audit/heartbeat.js';
import { closeAuditStore, importCustomResources, publishApiServiceCa, startAuditServer, startCheckpoints, startRetention } from '../audit/server.js';
import type { AuditServer } from '../audit/server.js';
import { AuditStore } from '../audit/store.js';
import { confirmApprovalCalls } from '../audit/apiserver/confirm.js';
import type { SettledApprovalCall } from '../lib/approval-confirm.js';
import { agentsForUser } from './decide.js';
import { sanitizeWriterId, StoreAuditSink } from './audit.js';
import { ConfigurationSync, configurationPath, desiredConfigurations, PATHS } from './configurations.js';
import type { ClientTarget } from './configurations.js';
import { ConfigurationWatch, driftEvent } from './drift.js';
import { KubeObservedPatcher, ObservedIdentityRecorder } from './observed.js';
import { WebhookMetrics } from './metrics.js';
import { protectConfig } from './protect.js';
import { createWebhook, withFilter, withMetrics } from './server.js';
import { ClusterState } from './state.js';
import { Drain, KEEP_ALIVE_TIMEOUT_MS } from './drain.js';
import { DRAIN_SECONDS, TIMEOUT_SECONDS } from './limits.js';
import { CertificateRenewal } from './rotation.js';
import { DEFAULT_VALIDITY_MS, ensureKeySecret, ensureServingSecret, hostsFor } from './tls.js';

const USAGE = `usage: node dist/webhook/main.js --kubeconfig FILE [--context NAME] [--namespace ${AGENTGATE_NAMESPACE}]
  --port N [--host 127.0.0.1] (--url https://HOST:PORT | --service agentgate-webhook [--service-port 443])
  [--writer-id NAME] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--cert-validity 8760h]
  [--audit-store pglite|postgres] [--audit-data-dir DIR] [--audit-dsn-env AGENTGATE_AUDIT_DSN] [--audit-retention 720h]
  [--audit-port N [--audit-host H] [--audit-service agentgate-audit]
   [--audit-sink-client-ca FILE --audit-sink-allowed-names CN,...] [--audit-tls-cert F --audit-tls-key F --audit-tls-ca F]]
  [--audit-checkpoint-interval 5s]
  [--audit-cloudwatch-log-group /aws/eks/CLUSTER/cluster [--audit-cloudwatch-region R] [--audit-cloudwatch-interval 10s] [--audit-cloudwatch-overlap 5m]]
  [--manage-configurations=true|false] [--timeout-seconds 10] [--drain-seconds 5] [--pending-ttl 1h]
  [--operator-user USER] [--webhook-user USER]
  [--client-ca FILE [--client-cert-name NAME]... [--require-client-cert=true|false]]

  Without --tls-cert the webhook makes and renews its own CA and certificate (Secret agentgate-webhook-tls).
  With --tls-cert and no --tls-ca (cert-manager), the configurations' caBundle is left to cert-manager's cainjector.`;

const WEBHOOK_FLAGS: Record<string, FlagSpec> = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', default: AGENTGATE_NAMESPACE },
  port: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  url: { type: 'string' },
  service: { type: 'string' },
  'service-port': { type: 'string', default: '443' },
  'writer-id': { type: 'string' },
  'audit-store': { type: 'string', default: 'pglite' },
  'audit-data-dir': { type: 'string', default: '/var/lib/agentgate/audit' },
  'audit-dsn-env': { type: 'string', default: 'AGENTGATE_AUDIT_DSN' },
  'audit-retention': { type: 'string', default: '720h' },
  'audit-port': { type: 'string' },
  'audit-host': { type: 'string' },
  'audit-service': { type: 'string' },
  'audit-sink-client-ca': { type: 'string' },
  'audit-sink-allowed-names': { type: 'string', default: '' },
  'audit-checkpoint-interval': { type: 'string' },
  'audit-tls-cert': { type: 'string' },
  'audit-tls-key': { type: 'string' },
  'audit-tls-ca': { type: 'string' },
  'audit-cloudwatch-log-group': { type: 'string' },
  'audit-cloudwatch-region': { type: 'string' },
  'audit-cloudwatch-interval': { type: 'string' },
  'audit-cloudwatch-overlap': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'manage-configurations': { type: 'string', default: 'true', switch: true },
  'timeout-seconds': { type: 'string', default: '10' },
  'client-ca': { type: 'string' },
  'client-cert-name': { type: 'string', multiple: true },
  'require-client-cert': { type: 'string', default: 'false', switch: true },
  'drain-seconds': { type: 'string', default: '5' },
  'cert-validity': { type: 'string' },
  'pending-ttl': { type: 'string' },
  'operator-user': { type: 'string' },
  'webhook-user': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function fail(message: string): never {
  process.stderr.write(`agentgate webhook: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function flags() {
  let v: FlagValues;
  try {
    v = parseFlags(process.argv.slice(2), WEBHOOK_FLAGS).values;
  } catch (err) {
    fail((err as Error).message);
  }
  const s = (name: string): string | undefined => stringFlag(v, name);
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = Number(s('port'));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('--port must be a TCP port');
  if (!s('url') === !s('service')) fail('give exactly one of --url (outside the cluster) or --service (in-cluster)');
  if (!!s('tls-cert') !== !!s('tls-key')) fail('--tls-cert and --tls-key go together');
  if (!!s('audit-tls-cert') !== !!s('audit-tls-key') || (!!s('audit-tls-cert') && !s('audit-tls-ca')))
    fail('--audit-tls-cert, --audit-tls-key and --audit-tls-ca go together');
  const timeoutSeconds = Number(s('timeout-seconds'));
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < TIMEOUT_SECONDS.min || timeoutSeconds > TIMEOUT_SECONDS.max) {
    fail(`--timeout-seconds must be ${TIMEOUT_SECONDS.min}..${TIMEOUT_SECONDS.max} (the apiserver caps webhooks at 30; holds need 2)`);
  }
  const drainSeconds = Number(s('drain-seconds'));
  if (!Number.isInteger(drainSeconds) || drainSeconds < DRAIN_SECONDS.min || drainSeconds > DRAIN_SECONDS.max)
    fail(`--drain-seconds must be ${DRAIN_SECONDS.min}..${DRAIN_SECONDS.max}`);
  const dur = (name: string, value: string | undefined, dflt: number): number => {
    try {
      return value === undefined ? dflt : durationFlag(`--${name}`, value);
    } catch (err) {
      fail((err as Error).message);
    }
  };
  let store: StoreConfig;
  if (s('audit-store') === 'postgres') {
    const dsn = process.env[s('audit-dsn-env')!];
    if (!dsn)
      fail(
        `--audit-store postgres needs the DSN in the environment variable ${s('audit-dsn-env')} (from a Secret), e.g. postgres://agentgate:PASSWORD@HOST:5432/agentgate`,
      );
    store = { engine: 'postgres', dsn };
  } else if (s('audit-store') === 'pglite') {
    store = { engine: 'pglite', dataDir: s('audit-data-dir')! };
  } else fail('--audit-store must be pglite (embedded, one replica) or postgres');
  let auditPort: number | undefined;
  if (s('audit-port') !== undefined) {
    auditPort = Number(s('audit-port'));
    if (!Number.isInteger(auditPort) || auditPort <= 0 || auditPort > 65535) fail('--audit-port must be a TCP port');
  }
  const requireClientCert = v['require-client-cert'] === true;
  const clientCertNames = (v['client-cert-name'] as string[] | undefined) ?? [];
  if (requireClientCert && !s('client-ca'))
    fail("--require-client-cert=true needs --client-ca (the CA that signed the apiserver's webhook client certificate)");
  if (clientCertNames.length && !s('client-ca')) fail('--client-cert-name needs --client-ca');
  const url = s('url');
  if (url) {
    try {
      if (new URL(url).protocol !== 'https:') fail('--url must be https');
    } catch {
      fail('--url is not a URL');
    }
  }
  const ns = s('namespace')!;
  return {
    kubeconfig: s('kubeconfig'),
    context: s('context'),
    namespace: ns,
    port,
    host: s('host')!,
    url: s('url'),
    service: s('service'),
    servicePort: Number(s('service-port')),
    writerId: s('writer-id') ?? process.env.POD_NAME ?? hostname(),
    store,
    auditRetentionMs: dur('audit-retention', s('audit-retention'), 720 * 3_600_000),
    auditPort,
    auditHost: s('audit-host') ?? s('host')!,
    auditService: s('audit-service'),
    sinkClientCa: s('audit-sink-client-ca'),
    sinkAllowedNames: s('audit-sink-allowed-names')!
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
    auditTls: s('audit-tls-cert') ? { cert: s('audit-tls-cert')!, key: s('audit-tls-key')!, ca: s('audit-tls-ca')! } : undefined,
    checkpointIntervalMs: dur('audit-checkpoint-interval', s('audit-checkpoint-interval'), DEFAULT_CHECKPOINT_INTERVAL_MS),
    // EKS: the control plane's audit log in CloudWatch Logs (audit/cloudwatch.ts).
    cloudwatch: s('audit-cloudwatch-log-group')
      ? {
          logGroup: s('audit-cloudwatch-log-group')!,
          region: s('audit-cloudwatch-region'),
          intervalMs: s('audit-cloudwatch-interval') === undefined ? undefined : dur('audit-cloudwatch-interval', s('audit-cloudwatch-interval'), 0),
          overlapMs: s('audit-cloudwatch-overlap') === undefined ? undefined : dur('audit-cloudwatch-overlap', s('audit-cloudwatch-overlap'), 0),
        }
      : (s('audit-cloudwatch-region') ?? s('audit-cloudwatch-interval') ?? s('audit-cloudwatch-overlap')) !== undefined
        ? fail('--audit-cloudwatch-region, --audit-cloudwatch-interval and --audit-cloudwatch-overlap need --audit-cloudwatch-log-group')
        : undefined,
    tlsCert: s('tls-cert'),
    tlsKey: s('tls-key'),
    tlsCa: s('tls-ca'),
    manage: v['manage-configurations'] === true,
    timeoutSeconds,
    clientCa: s('client-ca'),
    clientCertNames,
    requireClientCert,
    drainSeconds,
    certValidityMs: dur('cert-validity', s('cert-validity'), DEFAULT_VALIDITY_MS),
    pendingTtlMs: dur('pending-ttl', s('pending-ttl'), DEFAULT_PENDING_TTL_MS),
    operatorUser: s('operator-user') ?? serviceAccountUsername(ns, 'agentgate-operator'),
    webhookUser: s('webhook-user') ?? serviceAccountUsername(ns, 'agentgate-webhook'),
  };
}

/** Start-up reads race a freshly started apiserver or freshly installed CRDs (429, 503). */
async function retrying<T>(fn: () => Promise<T>, what: string, log: ReturnType<typeof newLogger>, attempts = 30): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      log.warn(`${what} failed; retrying`, { attempt: i, error: errorMessage(err) });
      await new Promise((r) => setTimeout(r, Math.min(500 * i, 5000)));
    }
  }
}

async function main(): Promise<void> {
  const f = flags();
  const log = newLogger('webhook');
  // Keep-alive: every agent call writes an AuditEvent; a TLS handshake per write would cost more than the decision.
  const kc = withKeepAlive(loadKubeConfig({ ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}), ...(f.context ? { context: f.context } : {}) }));
  const client = new AgentgateClient(kc);
  const kube = client.kube;
  const clock = systemClock;

  // The longest admission call and a margin: also the bound on requests in flight at a drain.
  const requestTimeoutMs = (f.timeoutSeconds + 5) * 1000;
  const mounted = !!f.tlsCert;
  const hosts = [
    ...hostsFor({ ...(f.url ? { url: f.url } : {}), ...(f.service ? { service: f.service } : {}), namespace: f.namespace }),
    // The aggregator dials <service>.<namespace>.svc and checks that name.
    ...(f.auditService ? hostsFor({ service: f.auditService, namespace: f.namespace }) : []),
  ];
  const fingerprintKey = await retrying(() => ensureKeySecret(kube, f.namespace, log), 'load the webhook key Secret', log);
  const loadServing = () => ensureServingSecret(kube, f.namespace, hosts, log, { validityMs: f.certValidityMs, now: () => clock.now() });
  const readMounted = () => ({
    cert: readFileSync(f.tlsCert!, 'utf8'),
    key: readFileSync(f.tlsKey!, 'utf8'),
    ca: f.tlsCa ? readFileSync(f.tlsCa, 'utf8') : undefined,
  });
  const tls = mounted ? readMounted() : await retrying(loadServing, 'load the webhook certificate Secret', log);
  // Mounted without --tls-ca (cert-manager): cainjector owns caBundle and we never write it.
  let caBundle = tls.ca ? Buffer.from(tls.ca).toString('base64') : undefined;
  const clientCa = f.clientCa ? readFileSync(f.clientCa, 'utf8') : undefined;

  const state = new ClusterState(kc, log);
  const observed = new ObservedIdentityRecorder(new KubeObservedPatcher(kube), clock, log);
  const metrics = new WebhookMetrics({ pendingApprovals: () => state.pendingApprovals(), defaultMetrics: true });
  log.info('opening the audit store', {
    engine: f.store.engine,
    ...(f.store.engine === 'postgres' ? { dsn: redactDsn(f.store.dsn) } : { dataDir: f.store.dataDir }),
  });
  const db = await openDb(f.store);
  const store = new AuditStore(db, sanitizeWriterId(f.writerId), clock);
  await retrying(() => store.open(), 'open the audit store', log);
  await retrying(() => importCustomResources({ store, kube, namespace: f.namespace, log }), 'import AuditEvent custom resources', log);
  const audit = new StoreAuditSink(store);
  startRetention({ store, retentionMs: f.auditRetentionMs, clock, log });
  const stopCheckpoints = startCheckpoints({ store, kube, namespace: f.namespace, secretKey: fingerprintKey, intervalMs: f.checkpointIntervalMs, clock, log });
  const arListeners = new Set<(ar: ApprovalRequest) => void>();
  state.arInformer.onChange((ar) => {
    for (const l of arListeners) l(ar);
  });
  const approvals = new KubeApprovalStore(client, (l) => {
    arListeners.add(l);
    return () => arListeners.delete(l);
  });

  // What the apiserver's audit log (its backend, or CloudWatch) confirms about ApprovalRequests.
  const onApprovalCalls = async (calls: SettledApprovalCall[]): Promise<void> => {
    await confirmApprovalCalls(calls, { approvals, cached: (ns, name) => state.approvalRequest(ns, name), log });
  };

  await state.start();
  log.info('caches synced and audit chain resumed', { writer: store.writer, sequence: store.chainHead.sequence });
  // The audit API serves its own certificate when given (the apiserver's audit backend must
  // trust it before agentgate starts); else the webhook's, renewed with it.
  let auditServer: AuditServer | undefined;
  let auditHeartbeat: NodeJS.Timeout | undefined;
  const auditOwnTls = f.auditTls ? { cert: readFileSync(f.auditTls.cert, 'utf8'), key: readFileSync(f.auditTls.key, 'utf8') } : undefined;
  const auditCaBundle = (): string | undefined => (f.auditTls ? Buffer.from(readFileSync(f.auditTls.ca, 'utf8')).toString('base64') : caBundle);
  // The installer creates the APIService; this process keeps its CA bundle current (none in
  // cert-manager mode, where cainjector writes it).
  const publishAuditCa = async (): Promise<void> => {
    const ca = auditCaBundle();
    if (!auditServer || !f.auditService || !ca) return;
    try {
      await publishApiServiceCa(kube, ca, log);
    } catch (err) {
      log.error('cannot publish the APIService CA bundle', { error: errorMessage(err) });
    }
  };
  if (f.auditPort !== undefined) {
    auditServer = await startAuditServer({
      store,
      kube,
      namespace: f.namespace,
      host: f.auditHost,
      port: f.auditPort,
      tls: auditOwnTls ?? tls,
      log,
      clock,
      agentFor: (user) => agentsForUser(state.agents(), user)[0],
      onApprovalCalls,
      ...(f.sinkClientCa ? { sinkClientCa: readFileSync(f.sinkClientCa, 'utf8') } : {}),
      sinkAllowedNames: f.sinkAllowedNames,
      drainWith: (server) => new Drain(server, { log, drainMs: f.drainSeconds * 1000, inflightMs: requestTimeoutMs }),
    });
    log.info('serving the audit API', { address: `https://${f.auditHost}:${f.auditPort}`, group: AUDIT_API_VERSION });
    await publishAuditCa();
    setInterval(() => void publishAuditCa(), 60_000).unref();
    // Tells the operator this replica serves the audit API (it restores a withdrawn APIService); stops with the drain.
    const beat = async (): Promise<void> => {
      try {
        await renewAuditHeartbeat(kube, f.namespace, f.writerId, clock.now());
      } catch (err) {
        log.warn('cannot renew the audit API heartbeat; the operator may withdraw the APIService', {
          error: errorMessage(err),
          fix: `grant the webhook patch on leases/${AUDIT_HEARTBEAT_LEASE} in ${f.namespace} (the chart's RBAC does)`,
        });
      }
    };
    await beat();
    auditHeartbeat = setInterval(() => void beat(), HEARTBEAT_PERIOD_MS);
    auditHeartbeat.unref();
  }

  // EKS has no audit webhook backend: its audit log is read from CloudWatch Logs, by one
  // replica at a time (the Lease holder; the reader is idempotent, the Lease saves AWS calls
  // and the race of two replicas recording the same read).
  let stopCloudWatch = async (): Promise<void> => undefined;
  if (f.cloudwatch) {
    const { CloudWatchAuditPoller, cloudWatchClient, regionOf } = await import('../audit/cloudwatch.js');
    const { LeaderElector } = await import('../lib/leader.js');
    const cw = f.cloudwatch;
    const poller = new CloudWatchAuditPoller({
      client: cloudWatchClient(cw.region),
      logGroup: cw.logGroup,
      region: regionOf(cw.region),
      store,
      agentFor: (user) => agentsForUser(state.agents(), user)[0],
      onApprovalCalls,
      clock,
      log,
      intervalMs: cw.intervalMs,
      overlapMs: cw.overlapMs,
    });
    const elector = new LeaderElector({
      kc,
      namespace: f.namespace,
      name: 'agentgate-audit-cloudwatch',
      id: f.writerId,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock,
      log,
      onStartedLeading: () => poller.start(),
      onStoppedLeading: () => void poller.stop(),
    });
    elector.start();
    log.info('reading the EKS audit log from CloudWatch Logs (when holding the Lease agentgate-audit-cloudwatch)', {
      logGroup: cw.logGroup,
      region: regionOf(cw.region),
    });
    stopCloudWatch = async () => {
      await poller.stop();
      await elector.release();
    };
  }

  const agentgateUsers = [f.operatorUser, f.webhookUser];
  const decideOptions = { agentgateNamespace: f.namespace, fingerprintKey, pendingTtlMs: f.pendingTtlMs, maxHoldSeconds: Math.max(0, f.timeoutSeconds - 2) };
  const pconfig = protectConfig(f.namespace, { operatorUser: f.operatorUser, webhookUser: f.webhookUser });
  const snapshot = () => state;

  const agentsHandler = withMetrics(
    metrics,
    withFilter(
      // The configuration already excludes agentgate's own users; a stale or hand-edited
      // one must not make the webhook judge (or record) its own writes.
      (request) => (agentgateUsers.includes(request.userInfo.username ?? '') ? { uid: request.uid, allowed: true } : undefined),
      async (request, ctx) =>
        (
          await admitAgentCall(
            request,
            { snapshot, clock, options: decideOptions, approvals, audit, log, metrics, digestKey: fingerprintKey, observed },
            ctx.fromApiserver,
          )
        ).response,
    ),
  );
  const protectHandler = withMetrics(metrics, (request) => admitProtected(request, { snapshot, clock, config: pconfig, approvals, log, metrics }));
  const stampHandler = withMetrics(metrics, async (request) => admitStamp(request));

  let configured = !f.manage;
  const webhook = createWebhook({
    log,
    metrics,
    routes: { [PATHS.agents]: agentsHandler, [PATHS.protect]: protectHandler, [PATHS.stamp]: stampHandler },
    ready: () => state.synced && configured && !drain.isDraining,
    ...(clientCa ? { clientAuth: { names: f.clientCertNames, require: f.requireClientCert } } : {}),
  });
  // Client certificates are asked for, never demanded at the TLS layer: kubelet probes
  // present none. The HTTP layer decides (server.ts fromApiserver).
  const clientTls = clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {};
  const server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...clientTls }, webhook.listener);
  // The apiserver, not this server, closes idle keep-alive connections (webhook/drain.ts):
  // a call it sends on a connection this server is closing would fail, unretried.
  // The caller's client certificate is judged once per connection (server.ts); no peer
  // may swap it mid-connection.
  server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = server.requestTimeout;
  const drain = new Drain(server, { log, drainMs: f.drainSeconds * 1000, inflightMs: server.requestTimeout });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(f.port, f.host, () => resolve());
  });
  log.info('serving', {
    address: `https://${f.host}:${f.port}`,
    paths: Object.values(PATHS),
    clientCertificate: clientCa ? (f.requireClientCert ? 'required' : 'verified when presented') : 'not asked',
  });

  if (mounted) {
    // cert-manager rotates the files in place; pick them up without a restart.
    const reload = () => {
      try {
        const m = readMounted();
        server.setSecureContext({ cert: m.cert, key: m.key, minVersion: 'TLSv1.2', ...(clientCa ? { ca: clientCa } : {}) });
        if (!auditOwnTls) auditServer?.serve(m);
        log.info('serving certificate reloaded');
      } catch (err) {
        log.warn('serving certificate reload failed', { error: String(err) });
      }
    };
    watchFile(f.tlsCert!, { interval: 30_000 }, reload);
  }

  const target: ClientTarget = f.url ? { url: f.url } : { service: { name: f.service!, namespace: f.namespace, port: f.servicePort } };
  const sync = new ConfigurationSync(kube, log);
  const build = () =>
    desiredConfigurations(state.agents(), {
      target,
      ...(caBundle ? { caBundle } : {}),
      agentgateUsers,
      cleanupUsers: pconfig.bindingDeleters,
      webhookUser: f.webhookUser,
      timeoutSeconds: f.timeoutSeconds,
    });
  const keepCa = !caBundle;
  let renewal: CertificateRenewal | undefined;
  if (!mounted) {
    renewal = new CertificateRenewal(tls as { ca: string; cert: string; key: string }, {
      clock,
      log,
      load: loadServing,
      publishCa: async (pem) => {
        caBundle = Buffer.from(pem).toString('base64');
        if (f.manage) await sync.sync(build, false);
        if (!auditOwnTls) await publishAuditCa();
      },
      serve: (m) => {
        server.setSecureContext({ cert: m.cert, key: m.key, minVersion: 'TLSv1.2', ...(clientCa ? { ca: clientCa } : {}) });
        if (!auditOwnTls) auditServer?.serve(m);
      },
      // The apiserver reads configurations through an informer: well under a second.
      settleMs: 2000,
      pollMs: Math.min(60_000, f.certValidityMs / 10),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    renewal.start();
  }
  const syncNow = async (): Promise<void> => {
    // A stopping replica leaves the configurations to the replicas that stay (an older
    // version must not rewrite a newer one's for the length of its drain).
    if (drain.isDraining) return;
    try {
      await sync.sync(build, keepCa);
      configured = true;
    } catch (err) {
      log.error('webhook configuration sync failed', { error: errorMessage(err) });
    }
  };
  if (f.manage) {
    let pending: NodeJS.Timeout | undefined;
    state.agentInformer.onChange(() => {
      clearTimeout(pending);
      pending = setTimeout(() => void syncNow(), 100);
    });
    await syncNow();
    sync.drained();
    // Self-healing: a change or deletion of a configuration by anyone else is restored
    // within a second of the watch event, and said loudly (log, metric, Event).
    const healNow = async (): Promise<void> => {
      await syncNow();
      for (const name of sync.drained()) {
        const kind = name === STAMP_WEBHOOK ? 'MutatingWebhookConfiguration' : 'ValidatingWebhookConfiguration';
        log.warn('webhook configuration drift restored', { configuration: name, kind });
        metrics.configurationDrift.inc({ configuration: name });
        void driftEvent(
          kube,
          kind,
          name,
          `${kind} ${name} was changed or deleted by someone other than agentgate; the webhook restored it`,
          'agentgate-webhook',
          log,
        );
      }
    };
    const watch = new ConfigurationWatch(
      kc,
      [
        { path: configurationPath('Validating'), name: AGENTS_WEBHOOK },
        { path: configurationPath('Validating'), name: PROTECT_WEBHOOK },
        { path: configurationPath('Mutating'), name: STAMP_WEBHOOK },
      ],
      () => void healNow(),
      log,
    );
    watch.start();
    process.once('beforeExit', () => watch.stop());
    // The backstop, should a watch miss an event.
    setInterval(() => void healNow(), 60_000).unref();
  }
  log.info(configured ? 'ready' : 'serving, but not ready until the webhook configurations are written', {
    manageConfigurations: f.manage,
    writer: f.writerId,
  });

  // Kubernetes runs the preStop sleep (the pod leaves the endpoints meanwhile), then sends
  // SIGTERM: stop being ready, answer every call with `Connection: close` until the
  // apiserver has closed its connections (bounded by --drain-seconds), then exit.
  const shutdown = (signal: string) => {
    if (drain.isDraining) return;
    log.info('stopping', { signal });
    renewal?.stop();
    clearInterval(auditHeartbeat);
    // Both servers drain side by side (the audit API's watches end at once; its readiness with the webhook's).
    void Promise.all([drain.start(), auditServer?.drain()]).then(async ([result, audit]) => {
      // Nothing may keep a drained replica alive: the grace period ends it anyway.
      setTimeout(() => process.exit(0), 10_000).unref();
      await state.stop();
      await stopCloudWatch().catch(() => undefined);
      // Nothing appends any more: flush the group commit, anchor the head in a last checkpoint, close.
      await closeAuditStore(store, stopCheckpoints).catch((err) => log.warn('audit store not closed cleanly', { error: errorMessage(err) }));
      log.info('drained; exiting', { ...result, ...(audit ? { auditApi: audit } : {}) });
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`agentgate webhook: ${errorMessage(err)}\n`);
  process.exit(1);
});
