// Shared set-up for the operator benchmarks: the local control plane, an admin client,
// the operator as a real process under its least-privilege ServiceAccount.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { AGENTGATE_NAMESPACE, API_VERSION, type AccessGrant } from '../api/types.js';
import { clusterEnv, kubectl, kubectlOk, runDirOf } from '../harness/cluster.js';
import { componentKubeconfig, installBase, startProcess, type RunningComponent } from '../harness/components.js';
import { AgentgateClient, apiPath, GV, withKeepAlive } from '../lib/kube.js';
import { agentIdentity, asNew } from '../testing/fixtures.js';

export function adminClients(): { kc: k8s.KubeConfig; ag: AgentgateClient; rbac: k8s.RbacAuthorizationV1Api; core: k8s.CoreV1Api } {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterEnv().kubeconfigs.admin);
  withKeepAlive(kc);
  return { kc, ag: new AgentgateClient(kc), rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api), core: kc.makeApiClient(k8s.CoreV1Api) };
}

/** Runs fn over items with at most n in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        await fn(items[i]!, i);
      }
    }),
  );
}

export async function setup(agent: string, namespaces: string[], label: string): Promise<string> {
  await installBase();
  const body = agentIdentity(
    agent,
    // A subject nobody authenticates as: the bench grants access to no one.
    {
      subjects: [{ kind: 'User', name: `bench:${agent}` }],
      maxDuration: '2h',
      allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
      allowedNamespaces: { selector: { matchLabels: { [label]: agent } } },
    },
    asNew,
  );
  await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found']);
  await kubectlOk('admin', ['create', '-f', '-'], JSON.stringify(body));
  for (const ns of namespaces) {
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await kubectlOk('admin', ['label', 'namespace', ns, `${label}=${agent}`]);
  }
  return componentKubeconfig('operator');
}

export function grantBody(ns: string, name: string, agent: string, spec: Partial<AccessGrant['spec']>): AccessGrant {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessGrant',
    metadata: { name, namespace: ns },
    spec: { agent, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, reason: 'benchmark', activation: 'Immediate', ...spec },
  };
}

/**
 * The operator as shipped (its V8 flags included). BENCH_OPERATOR_NODE_FLAGS replaces
 * those flags ("" = node's defaults), to measure what they change.
 */
export function startOperator(kubeconfig: string, name: string, lease: string, opts: { metricsPort?: number; args?: string[] } = {}): RunningComponent {
  const workers = process.env.BENCH_WORKERS ? ['--workers', process.env.BENCH_WORKERS] : [];
  const flags = process.env.BENCH_OPERATOR_NODE_FLAGS?.split(' ').filter(Boolean);
  return startProcess(
    'operator',
    name,
    [
      '--kubeconfig',
      kubeconfig,
      '--id',
      name,
      '--lease-name',
      lease,
      '--metrics-port',
      String(opts.metricsPort ?? 0),
      '--sweep-interval',
      '30s',
      ...workers,
      ...(opts.args ?? []),
    ],
    undefined,
    flags,
  );
}

/** The operator's memory as its own /metrics reports it (prom-client's default metrics), in MB. */
export interface MemoryBreakdown {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** V8 heap spaces' committed sizes by space (new, old, code, large_object, ...). */
  spaces: Record<string, number>;
}

export async function operatorMemory(port: number): Promise<MemoryBreakdown> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${port}/metrics`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`operator /metrics: HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
  const mb = (name: string): number => {
    const m = new RegExp(`^agentgate_operator_${name} (\\S+)`, 'm').exec(text);
    if (!m) throw new Error(`operator /metrics has no ${name}`);
    return Number(m[1]) / 1024 / 1024;
  };
  const spaces: Record<string, number> = {};
  for (const m of text.matchAll(/^agentgate_operator_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)) spaces[m[1]!] = Number(m[2]) / 1024 / 1024;
  return {
    rss: mb('process_resident_memory_bytes'),
    heapUsed: mb('nodejs_heap_size_used_bytes'),
    heapTotal: mb('nodejs_heap_size_total_bytes'),
    external: mb('nodejs_external_memory_bytes'),
    spaces,
  };
}

export function describeMemory(m: MemoryBreakdown): string {
  const f = (x: number) => x.toFixed(0);
  const spaces = Object.entries(m.spaces)
    .filter(([, v]) => v >= 1)
    .map(([k, v]) => `${k} ${f(v)}`)
    .join(', ');
  return `RSS ${f(m.rss)} MB = V8 heap ${f(m.heapTotal)} MB (used ${f(m.heapUsed)}; committed by space: ${spaces}) + external ${f(m.external)} MB + the rest ${f(m.rss - m.heapTotal - m.external)} MB (code, stacks, allocator)`;
}

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used, from /proc: robust to a shared host, unlike wall time. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(x[11]) + Number(x[12])) / 100;
}

/**
 * CPU seconds used so far by the local control plane's processes (hack/controlplane), by
 * name; empty for another cluster. With the operator's and the bench's own, a same-run
 * split of where a CPU-bound host's time went.
 */
export function controlPlaneCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  if (!clusterEnv().local) return out;
  for (const name of ['kube-apiserver', 'etcd', 'kube-controller-manager']) {
    try {
      out[name] = cpuSeconds(Number(readFileSync(path.join(runDirOf('controlplane'), `${name}.pid`), 'utf8').trim()));
    } catch {
      /* not running: left out */
    }
  }
  return out;
}

/** The load average, printed with every timing figure. */
export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const TEARDOWN_S = Number(process.env.BENCH_TEARDOWN_S ?? 300);

/** BENCH_CLEANUP=0: leave the grants for a control plane about to be thrown away (deleting 10,000 is minutes of CPU). */
export const CLEANUP = process.env.BENCH_CLEANUP !== '0';

export async function teardown(agent: string, namespaces: string[], op: RunningComponent | undefined, lease: string): Promise<void> {
  // With the operator still running, so it removes its finalizers as the grants go.
  // 50,000 grants take ~10 minutes to delete on the 2-core host: BENCH_TEARDOWN_S raises the wait.
  if (namespaces.length) await kubectl('admin', ['delete', 'namespace', ...namespaces, '--wait=true', `--timeout=${TEARDOWN_S}s`]);
  await op?.stop('SIGTERM');
  await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found']);
  await kubectl('admin', ['delete', 'lease', lease, '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What trackObjects reads of an object. */
interface TrackedObject {
  metadata?: { name?: string; deletionTimestamp?: string };
}

/**
 * The objects of one collection (a path such as one namespace's RoleBindings) as they come
 * and go, seen through a watch that is re-opened whenever the apiserver ends it (a plain
 * watch that ends silently would count deletions it never saw as never happening). After
 * each re-open, a list settles what the gap hid: an object gone from it is taken as deleted
 * at that moment, one changed in it is passed to onObject then (late, never early).
 */
export function trackObjects<T extends TrackedObject = TrackedObject>(
  kc: k8s.KubeConfig,
  path: string,
  opts: {
    /** Called once per object when it is first seen marked for deletion. */
    onMarked?: (name: string) => void;
    /** Only the objects matching it (e.g. agentgate.io/agent=x). */
    labelSelector?: string;
    /** Every state of an object seen: each one listed, each one a watch adds or modifies. */
    onObject?: (obj: T) => void;
  } = {},
): { created: () => number; deletedAt: Map<string, number>; markedAt: Map<string, number>; listed: Promise<void>; stop: () => void } {
  const { ag } = adminClients();
  let firstList!: () => void;
  /** Resolves after the first list: what existed then is known. */
  const listed = new Promise<void>((r) => (firstList = r));
  const present = new Set<string>();
  const deletedAt = new Map<string, number>();
  /** When an object was first seen marked for deletion (a deletionTimestamp, finalizers pending). */
  const markedAt = new Map<string, number>();
  const selector = opts.labelSelector ? { labelSelector: opts.labelSelector } : {};
  let stopped = false;
  let req: { abort: () => void } | undefined;
  const marked = (name: string): void => {
    if (markedAt.has(name)) return;
    markedAt.set(name, Date.now());
    opts.onMarked?.(name);
  };
  const open = async (): Promise<void> => {
    while (!stopped) {
      try {
        const list = await ag.kube.get<{ items: T[]; metadata?: { resourceVersion?: string } }>(path, selector);
        const now = Date.now();
        const listed = new Set(list.items.map((o) => o.metadata?.name ?? ''));
        for (const o of list.items) {
          if (o.metadata?.deletionTimestamp) marked(o.metadata.name ?? '');
          opts.onObject?.(o);
        }
        for (const name of present) if (!listed.has(name) && !deletedAt.has(name)) deletedAt.set(name, now);
        for (const name of listed) present.add(name);
        firstList();
        req = await new k8s.Watch(kc).watch(
          path,
          { ...selector, resourceVersion: list.metadata?.resourceVersion },
          (type: string, obj: T) => {
            const name = obj.metadata?.name ?? '';
            if (type === 'ADDED') present.add(name);
            if (obj.metadata?.deletionTimestamp) marked(name);
            if (type === 'DELETED' && !deletedAt.has(name)) deletedAt.set(name, Date.now());
            if (type === 'ADDED' || type === 'MODIFIED') opts.onObject?.(obj);
          },
          () => {
            if (!stopped) void open();
          },
        );
        // Stopped while this one was opening: nothing else will end it.
        if (stopped) req.abort();
        return;
      } catch {
        await sleep(200);
      }
    }
  };
  void open();
  return {
    created: () => present.size,
    deletedAt,
    markedAt,
    listed,
    stop: () => {
      stopped = true;
      req?.abort();
    },
  };
}

/** The RoleBindings of one namespace as they come and go (trackObjects). */
export const trackRoleBindings = (kc: k8s.KubeConfig, ns: string): ReturnType<typeof trackObjects> => trackObjects(kc, apiPath(GV.rbac, 'rolebindings', ns));

/**
 * Creates grants g-0 … g-(n-1) of agent in ns (50 in flight) and waits until the operator
 * has made every one's RoleBinding, seen through rbs; throws with the count at deadlineMs.
 */
export async function grantAndAwaitBindings(
  ag: AgentgateClient,
  rbs: { created: () => number },
  ns: string,
  agent: string,
  n: number,
  spec: Partial<AccessGrant['spec']>,
  deadlineMs: number,
): Promise<void> {
  await pool(
    Array.from({ length: n }, (_, i) => i),
    50,
    async (i) => {
      await ag.create('AccessGrant', grantBody(ns, `g-${i}`, agent, spec), ns);
    },
  );
  while (rbs.created() < n && Date.now() < deadlineMs) await sleep(200);
  if (rbs.created() < n) throw new Error(`only ${rbs.created()}/${n} RoleBindings were created by ${new Date(deadlineMs).toISOString()}; cannot measure`);
}

/**
 * When each grant's RoleBinding (agentgate-g-i; with prefix 'g-', the grant g-i itself) was
 * seen deleted, in ms from t0, sorted; +Infinity for one never seen deleted (it counts).
 */
export function deletionDelays(deletedAt: ReadonlyMap<string, number>, n: number, t0: number, prefix = 'agentgate-g-'): number[] {
  return Array.from({ length: n }, (_, i) => deletedAt.get(`${prefix}${i}`))
    .map((t) => (t === undefined ? Infinity : t - t0))
    .sort((a, b) => a - b);
}

/**
 * Baseline measured in the same run: how long a bare client (admin, keep-alive, 32 in
 * flight) takes to create and then delete n RoleBindings. The operator's figures read
 * against this say how close it is to what this apiserver on this machine can do.
 */
export async function baselineRoleBindings(n: number): Promise<{ createMs: number; deleteMs: number; deleteLatenciesMs: number[] }> {
  const { rbac } = adminClients();
  const ns = `bench-baseline-${Date.now().toString(36)}`;
  await kubectlOk('admin', ['create', 'namespace', ns]);
  try {
    const ids = Array.from({ length: n }, (_, i) => i);
    let t = Date.now();
    await pool(ids, 32, async (i) => {
      await rbac.createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name: `b-${i}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
          subjects: [{ kind: 'User', name: 'bench:nobody', apiGroup: 'rbac.authorization.k8s.io' }],
        },
      });
    });
    const createMs = Date.now() - t;
    t = Date.now();
    // Each deletion's completion from the common start, as the expiry benchmark times the operator's.
    const deleteLatenciesMs: number[] = [];
    await pool(ids, 32, async (i) => {
      await rbac.deleteNamespacedRoleBinding({ namespace: ns, name: `b-${i}` });
      deleteLatenciesMs.push(Date.now() - t);
    });
    return { createMs, deleteMs: Date.now() - t, deleteLatenciesMs: deleteLatenciesMs.sort((a, b) => a - b) };
  } finally {
    await kubectl('admin', ['delete', 'namespace', ns, '--wait=false']);
  }
}

/** apiserver_request_total, summed by `verb resource[/subresource]` (e.g. "POST rolebindings", "PUT accessgrants/status"). */
type RequestCounts = Map<string, number>;

/**
 * The apiserver's own request counters: requests are counted where they are served, not
 * assumed from what a client meant to send. Read before and after a phase; diff().
 */
export async function apiserverRequests(): Promise<RequestCounts> {
  const { kc } = adminClients();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the admin kubeconfig');
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(`${cluster.server}/metrics`, opts, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`apiserver /metrics: HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
  const out: RequestCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const k = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    out.set(k, (out.get(k) ?? 0) + value);
  }
  return out;
}

/** after - before, only the non-zero entries. */
export function diff(before: RequestCounts, after: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

export const sum = (c: RequestCounts, match: (key: string) => boolean): number => [...c].filter(([k]) => match(k)).reduce((a, [, v]) => a + v, 0);

/** Writes: anything but GET, LIST, WATCH (and the metrics scrape itself). */
export const isWrite = (k: string): boolean => /^(POST|PUT|PATCH|DELETE|DELETECOLLECTION|APPLY) /.test(k);

export function describeCounts(c: RequestCounts): string {
  return [...c]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
