// Runs agentgate's own components against the e2e cluster as local processes, each under
// its real, least-privilege ServiceAccount identity (a TokenRequest token), exactly as
// the chart would run them in-cluster: namespace, CRDs and RBAC from config/, then
// `node dist/operator/main.js` and `node dist/webhook/main.js`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, createWriteStream, existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import yaml from 'js-yaml';
import { AGENTGATE_NAMESPACE, AUDIT_APISERVICE, WEBHOOK_CONFIGURATIONS } from '../api/types.js';
import { clusterEnv, eventually, kubectl, kubectlOk, repoRoot, runDirOf } from './cluster.js';
import { auditStoreArgs, installAuditService } from './audit-store.js';
import { ensureCrds } from './crds.js';
import { OPERATOR_NODE_FLAGS } from '../operator/args.js';
import { WEBHOOK_NODE_FLAGS } from '../webhook/limits.js';

// Beside the control plane's own state, so two control planes (AGENTGATE_RUN_DIR) never share it.
export const runDir = path.join(runDirOf('controlplane'), 'agentgate');

type Component = 'operator' | 'webhook';
const SERVICE_ACCOUNT: Record<Component, string> = { operator: 'agentgate-operator', webhook: 'agentgate-webhook' };

/**
 * Namespace, CRDs, agentgate's own RBAC (config/rbac) and its admission policy (config/admission) and its three webhook
 * configurations, created empty as the chart creates them (config/webhook): the webhook
 * may only update them. Idempotent; the field manager leaves the webhooks it wrote alone.
 */
export async function installBase(): Promise<void> {
  await ensureCrds();
  await kubectlOk('admin', [
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    path.join(repoRoot, 'config', 'rbac'),
    '-f',
    path.join(repoRoot, 'config', 'admission'),
  ]);
  await kubectlOk('admin', [
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager',
    'agentgate-installer',
    '-f',
    path.join(repoRoot, 'config', 'webhook'),
  ]);
  await installAuditService(AGENTGATE_NAMESPACE);
}

/** A kubeconfig that authenticates as the component's ServiceAccount with a real token. */
export async function componentKubeconfig(c: Component): Promise<string> {
  return serviceAccountKubeconfig(SERVICE_ACCOUNT[c], c);
}

/** A kubeconfig for any ServiceAccount in agentgate's namespace (a TokenRequest token), in runDir/<file>.kubeconfig. */
export async function serviceAccountKubeconfig(serviceAccount: string, file = serviceAccount): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const out = path.join(runDir, `${file}.kubeconfig`);
  const token = (await kubectlOk('admin', ['create', 'token', serviceAccount, '-n', AGENTGATE_NAMESPACE, '--duration', '24h'])).trim();
  const admin = yaml.load(readFileSync(clusterEnv().kubeconfigs.admin, 'utf8')) as {
    clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
    'current-context': string;
    contexts: Array<{ name: string; context: { cluster: string } }>;
  };
  const ctx = admin.contexts.find((x) => x.name === admin['current-context']) ?? admin.contexts[0];
  const cluster = admin.clusters.find((x) => x.name === ctx?.context.cluster) ?? admin.clusters[0];
  const kc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cluster', cluster: cluster?.cluster }],
    users: [{ name: serviceAccount, user: { token } }],
    contexts: [{ name: file, context: { cluster: 'cluster', user: serviceAccount, namespace: AGENTGATE_NAMESPACE } }],
    'current-context': file,
  };
  writeFileSync(out, yaml.dump(kc), { mode: 0o600 });
  return out;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export class RunningComponent {
  private exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
    readonly port?: number,
  ) {
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** SIGTERM (graceful) or SIGKILL (a crash); resolves when the process is gone, SIGKILLed after graceMs (the kubelet's grace period). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (this.alive) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
  /** This process serves the audit API on the control plane's audit port. */
  servesAuditApi = false;
  /** Starts the same component again, same flags (after a crash test); set by startProcess. */
  again: () => RunningComponent = () => {
    throw new Error(`${this.name} cannot be started again`);
  };
}

const running = new Set<RunningComponent>();

/** Starts `node dist/<component>/main.js args...`; the log goes to .run/agentgate/<name>.log. */
export function startProcess(
  component: Component,
  name: string,
  args: string[],
  port?: number,
  nodeFlags: readonly string[] = component === 'operator' ? OPERATOR_NODE_FLAGS : WEBHOOK_NODE_FLAGS,
): RunningComponent {
  mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  // Every webhook gets an audit store, and the audit API where the control plane routes to
  // it unless another running webhook (a second replica) holds that one port already.
  const withApi = ![...running].some((r) => r.servesAuditApi && r.alive);
  const audit = component === 'webhook' && !args.includes('--audit-store') ? auditStoreArgs(name, runDir, withApi) : { args: [], env: {} };
  const child = spawn(process.execPath, [...nodeFlags, path.join(repoRoot, 'dist', component, 'main.js'), ...args, ...audit.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...audit.env },
  });
  // Two streams into one file: the first to end must not end the file under the other
  // (a child still writing to stderr, e.g. a --cpu-prof exit, crashed the runner).
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  child.once('close', () => out.end());
  const rc = new RunningComponent(name, child, logFile, port);
  rc.servesAuditApi = audit.args.includes('--audit-port');
  rc.again = () => startProcess(component, name, args, port);
  running.add(rc);
  child.once('exit', () => running.delete(rc));
  return rc;
}

/** Stops everything this process started (the e2e root hook calls it). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop('SIGTERM')));
}

process.once('exit', () => {
  for (const c of running) c.child.kill('SIGKILL');
});

/** Resolves once a webhook started by startProcess answers /readyz; fails if it exits. */
export async function webhookReady(webhook: RunningComponent): Promise<void> {
  await eventually(
    async () => {
      if (!webhook.alive) throw new Error(`webhook exited:\n${webhook.log().slice(-3000)}`);
      return (await httpsStatus(`https://127.0.0.1:${webhook.port}/readyz`)) === 200;
    },
    180_000, // PGlite's first start (initdb in WASM) takes tens of seconds on a busy host
    'the webhook to be ready',
  );
}

/**
 * Installs and starts all of agentgate as the demo (and people trying it) run it: base
 * manifests, the webhook first (the protect webhook fails closed, so it must answer
 * before anything writes agentgate objects), then the operator; resolves when both are up.
 */
export async function startAgentgate(
  opts: {
    name?: string;
    operatorArgs?: string[];
    webhookArgs?: string[];
    /** Extra node flags for both (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
    nodeFlags?: string[];
  } = {},
): Promise<{ webhook: RunningComponent; operator: RunningComponent; webhookUrl: string }> {
  const name = opts.name ?? 'agentgate';
  await installBase();
  const [webhookKc, operatorKc] = [await componentKubeconfig('webhook'), await componentKubeconfig('operator')];
  const port = await freePort();
  const host = process.env.E2E_WEBHOOK_HOST ?? '127.0.0.1';
  const webhookUrl = `https://${host}:${port}`;
  const webhook = startProcess(
    'webhook',
    `${name}-webhook`,
    [
      '--kubeconfig',
      webhookKc,
      '--port',
      String(port),
      '--host',
      host === '127.0.0.1' ? host : '0.0.0.0',
      '--url',
      webhookUrl,
      '--writer-id',
      `${name}-webhook`,
      ...(opts.webhookArgs ?? []),
    ],
    port,
    [...WEBHOOK_NODE_FLAGS, ...(opts.nodeFlags ?? [])],
  );
  await webhookReady(webhook);
  const operator = startProcess(
    'operator',
    `${name}-operator`,
    ['--kubeconfig', operatorKc, '--id', `${name}-operator`, '--metrics-port', '0', ...(opts.operatorArgs ?? [])],
    undefined,
    [...OPERATOR_NODE_FLAGS, ...(opts.nodeFlags ?? [])],
  );
  await eventually(
    async () => {
      if (!operator.alive) throw new Error(`operator exited:\n${operator.log().slice(-3000)}`);
      return operator.log().includes('caches synced');
    },
    60_000,
    'the operator to lead and sync',
  );
  return { webhook, operator, webhookUrl };
}

function httpsStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    // The webhook's CA is its own; readiness is all this asks, so the certificate is not checked here.
    const req = https.get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Removes the configurations a webhook process wrote. They fail closed by design, so once
 * a test's webhook is gone they would refuse every later write of agentgate objects;
 * tests (and the demo) that start a webhook call this when they stop it.
 */
export async function removeWebhookConfigurations(): Promise<void> {
  for (const { kind, name } of WEBHOOK_CONFIGURATIONS) await kubectl('admin', ['delete', kind.toLowerCase(), name, '--ignore-not-found']);
  // An APIService without its server makes discovery stale, which stalls namespace deletion.
  await kubectl('admin', ['delete', 'apiservice', AUDIT_APISERVICE, '--ignore-not-found']);
}

/** Stops what startAgentgate started and removes the webhook configurations. */
export async function stopAgentgate(c: { webhook: RunningComponent; operator: RunningComponent } | undefined): Promise<void> {
  await c?.operator.stop();
  await removeWebhookConfigurations();
  await c?.webhook.stop();
}
