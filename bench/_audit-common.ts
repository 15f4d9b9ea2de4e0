// Shared by the audit benchmarks (bench/audit-*.ts): the local control plane's env, HTTPS
// clients authenticated with the identities' client certificates, percentiles, the load
// line, and the agent setup (agentgate running, an AgentIdentity for agent:deploy-bot with
// an active grant, and a non-agent identity bound to the same ClusterRole).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { loadavg } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { eventually, kubectl, kubectlOk, readRunEnv, runDirOf } from '../harness/cluster.js';
import { agentIdentity, asNew } from '../testing/fixtures.js';

/** The local control plane's env file (make up); {} when it is not running. */
export const controlPlaneEnv = (): Record<string, string> => readRunEnv('controlplane');

/** The DSN of hack/postgres/up.sh's PostgreSQL, when it runs. */
export const pgDsn = (): string | undefined => readRunEnv('postgres').PG_DSN;

export function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

export function pct(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

export function goal(met: boolean, text: string): void {
  console.log(`GOAL ${met ? 'met' : 'MISSED'}: ${text}`);
}

/** An HTTPS client for one identity: the server, CA and client certificate of its kubeconfig. */
export interface Client {
  server: URL;
  agent: https.Agent;
}

export function clientFromKubeconfig(file: string, maxSockets = 64): Client {
  const kc = yaml.load(readFileSync(file, 'utf8')) as {
    clusters: Array<{ cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>;
    users: Array<{ user: Record<string, string> }>;
  };
  const c = kc.clusters[0]!.cluster;
  const u = kc.users[0]!.user;
  const data = (k: string) => (u[`${k}-data`] ? Buffer.from(u[`${k}-data`]!, 'base64') : readFileSync(u[k]!));
  const ca = c['certificate-authority-data'] ? Buffer.from(c['certificate-authority-data'], 'base64') : readFileSync(c['certificate-authority']!);
  return { server: new URL(c.server), agent: new https.Agent({ keepAlive: true, maxSockets, ca, cert: data('client-certificate'), key: data('client-key') }) };
}

/** A client for a server at url with a client certificate from files. */
export function clientFromFiles(url: string, ca: string, cert: string, key: string, maxSockets = 64): Client {
  return {
    server: new URL(url),
    agent: new https.Agent({ keepAlive: true, maxSockets, ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) }),
  };
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

export function request(c: Client, method: string, pathName: string, body?: string): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: c.server.hostname,
        port: c.server.port,
        path: pathName,
        method,
        agent: c.agent,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: String(e), ms: performance.now() - t0 }));
    req.end(body);
  });
}

export const AGENT_USER = 'agent:deploy-bot';
export const AGENT_NAME = 'bench-deploy-bot';
/** The non-agent identity: mallory (group developers), matched by no AgentIdentity. */
const PLAIN_USER = 'mallory';

/**
 * The AgentIdentity for agent:deploy-bot with an active grant of agentgate-edit in ns
 * (the operator binds it), and a RoleBinding of the same ClusterRole for the non-agent
 * identity. Resolves when both can create ConfigMaps in ns.
 */
export async function agentAndPlainIdentity(ns: string): Promise<void> {
  await kubectl('admin', ['create', 'namespace', ns]);
  await kubectlOk(
    'admin',
    ['apply', '-f', '-'],
    JSON.stringify(
      agentIdentity(
        AGENT_NAME,
        { subjects: [{ kind: 'User', name: AGENT_USER }], allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }], allowedNamespaces: { names: [ns] } },
        asNew,
      ),
    ),
  );
  await kubectlOk(
    'admin',
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'bench', namespace: ns },
      spec: { agent: AGENT_NAME, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '4h', reason: 'audit bench' },
    }),
  );
  await bindPlainUser(ns, PLAIN_USER, 'bench-plain-edit');
  for (const who of ['agent', 'mallory'] as const)
    await eventually(
      async () => (await kubectl(who, ['auth', 'can-i', 'create', 'configmaps', '-n', ns])).stdout.trim() === 'yes',
      120_000,
      `${who} may create`,
    );
}

/** A RoleBinding (named name) of the agent's ClusterRole to a non-agent user in ns. */
export async function bindPlainUser(ns: string, user: string, name: string): Promise<void> {
  await kubectlOk(
    'admin',
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'agentgate-edit' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    }),
  );
}

export async function removeAgentAndPlainIdentity(ns: string): Promise<void> {
  await kubectl('admin', ['delete', 'agentidentity', AGENT_NAME, '--ignore-not-found', '--wait=false']);
  await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
}

/** A few etcd counters from its /metrics (the control plane's etcd serves them on its client URL). */
export async function etcdMetrics(): Promise<{ inUse: number; putBytes: number; puts: number }> {
  const port = controlPlaneEnv().ETCD_PORT;
  if (!port) throw new Error('no ETCD_PORT in the control plane env file');
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    inUse: m('etcd_mvcc_db_total_size_in_use_in_bytes'),
    putBytes: m('etcd_debugging_mvcc_total_put_size_in_bytes'),
    puts: m('etcd_mvcc_put_total'),
  };
}

/** CPU time (user+system, ms) of a process, with its reaped children's when children is set. */
function cpuMs(pid: number, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const x = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(x[11]) + Number(x[12]) + (children ? Number(x[13]) + Number(x[14]) : 0);
    return (ticks * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Live children of a process (PostgreSQL's backends), from /proc. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * The processes a call touches, by role, for CPU accounting: this control plane's
 * apiserver and etcd (their pid files), agentgate's processes, this PostgreSQL (the
 * postmaster and its backends), and the benchmark itself.
 */
export class CpuAccount {
  private readonly fixed: Record<string, number> = {};
  private readonly postmaster?: number;
  constructor(components: Record<string, number | undefined>) {
    const run = runDirOf('controlplane');
    for (const [name, file] of [
      ['apiserver', 'kube-apiserver.pid'],
      ['etcd', 'etcd.pid'],
    ] as const) {
      const f = path.join(run, file);
      if (existsSync(f)) this.fixed[name] = Number(readFileSync(f, 'utf8').trim());
    }
    for (const [name, pid] of Object.entries(components)) if (pid) this.fixed[name] = pid;
    const pm = path.join(runDirOf('postgres'), 'data', 'postmaster.pid');
    if (pgDsn() && existsSync(pm)) this.postmaster = Number(readFileSync(pm, 'utf8').split('\n')[0]);
  }
  /** The processes of each role now (PostgreSQL: the postmaster and its backends; bench: this process). */
  pids(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [name, pid] of Object.entries(this.fixed)) out[name] = [pid];
    if (this.postmaster) out.postgres = [this.postmaster, ...childrenOf(this.postmaster)];
    out.bench = [process.pid];
    return out;
  }
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.fixed)) out[name] = cpuMs(pid);
    if (this.postmaster) out.postgres = cpuMs(this.postmaster, true) + childrenOf(this.postmaster).reduce((s, p) => s + cpuMs(p), 0);
    const u = process.cpuUsage();
    out.bench = (u.user + u.system) / 1000;
    return out;
  }
  static add(into: Record<string, number>, before: Record<string, number>, after: Record<string, number>): void {
    for (const k of Object.keys(after)) into[k] = (into[k] ?? 0) + (after[k]! - (before[k] ?? 0));
  }
}

/** Sums a Prometheus text exposition's samples of one metric whose labels include all of match. */
export function promSum(text: string, metric: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    if (Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * The columns and SELECT list of a bench fill's INSERT of plausible rows: a chain whose links
 * join up but whose hashes are stand-ins. Its FROM must give i (the sequence), t (the time),
 * a (the agent), ns, op, res, dec and uid; $2 is the writer.
 */
export const FILL_ROWS_SQL = `(time, writer, sequence, name, agent, user_name, namespace, operation, resource, decision, source, outcome, status_code, request_uid, spec)
     SELECT t, $2, i, $2 || '-' || lpad(i::text, 10, '0'), a, 'agent:' || a, ns, op, res, dec, 'admission', 'Completed', CASE WHEN dec = 'Allowed' THEN 201 ELSE 403 END, uid,
       jsonb_build_object(
         'time', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'agent', a, 'user', 'agent:' || a,
         'groups', jsonb_build_array('agentgate:agents'), 'operation', op, 'group', '', 'version', 'v1', 'resource', res,
         'namespace', ns, 'name', res || '-' || (i % 997), 'decision', dec, 'grant', 'grant-' || (i % 7),
         'reason', CASE WHEN dec = 'Allowed' THEN 'covered by grant grant-' || (i % 7) ELSE 'no active grant covers ' || op || ' ' || res END,
         'requestUID', uid, 'objectDigest', md5(uid || 'o') || md5(uid || 'p'),
         'chain', jsonb_build_object('writer', $2::text, 'sequence', i, 'previousHash', md5((i - 1)::text) || md5((i - 1)::text || 'x'), 'hash', md5(i::text) || md5(i::text || 'x')))`;
