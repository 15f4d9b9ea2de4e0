// The cluster the e2e suite runs against, and the identities it acts as.
//
// By default: the local control plane from hack/controlplane/up.sh (its env file names
// the binaries and the kubeconfigs). With E2E_KUBECONFIG_DIR set: any cluster, e.g. kind,
// given a folder holding admin/agent/alice/bob/mallory.kubeconfig (hack/e2e-identities.sh
// makes them with the CertificateSigningRequest API, so they are real client certificates).
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type Identity = 'admin' | 'agent' | 'alice' | 'bob' | 'mallory';

interface ClusterEnv {
  kubectlPath: string;
  kubeconfigs: Record<Identity, string>;
  logDir?: string;
  local: boolean;
  /** The CA and name of the client certificate the apiserver presents to webhooks, when it presents one. */
  webhookClient?: { ca: string; name: string };
}

/** What hack/ started writes its facts to an env file in its run directory (KEY=value lines). */
const RUN_DIRS = {
  controlplane: () => process.env.AGENTGATE_RUN_DIR ?? path.join(repoRoot, '.run', 'controlplane'),
  postgres: () => process.env.AGENTGATE_PG_DIR ?? path.join(repoRoot, '.run', 'postgres'),
};

export function runDirOf(what: keyof typeof RUN_DIRS): string {
  return RUN_DIRS[what]();
}

/** The env file of what hack/ started (make up: controlplane; hack/postgres/up.sh: postgres); {} when it is not running. */
export function readRunEnv(what: keyof typeof RUN_DIRS): Record<string, string> {
  const file = path.join(runDirOf(what), 'env');
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

let cached: ClusterEnv | undefined;

export function clusterEnv(): ClusterEnv {
  if (cached) return cached;
  const dir = process.env.E2E_KUBECONFIG_DIR;
  if (dir) {
    const kc = (n: Identity) => path.join(dir, `${n}.kubeconfig`);
    cached = {
      kubectlPath: process.env.KUBECTL ?? 'kubectl',
      kubeconfigs: { admin: kc('admin'), agent: kc('agent'), alice: kc('alice'), bob: kc('bob'), mallory: kc('mallory') },
      local: false,
    };
    return cached;
  }
  const runDir = runDirOf('controlplane');
  const envFile = path.join(runDir, 'env');
  if (!existsSync(envFile)) {
    throw new Error(`no control plane: ${envFile} is missing. Start one with 'make up' (or set E2E_KUBECONFIG_DIR for another cluster)`);
  }
  const env = readRunEnv('controlplane');
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`${envFile} lacks ${k}; restart the control plane with 'make down up'`);
    return v;
  };
  cached = {
    kubectlPath: path.join(need('BIN'), 'kubectl'),
    kubeconfigs: {
      admin: need('ADMIN_KUBECONFIG'),
      agent: need('AGENT_KUBECONFIG'),
      alice: need('APPROVER_KUBECONFIG'),
      bob: need('SECOND_APPROVER_KUBECONFIG'),
      mallory: need('NON_APPROVER_KUBECONFIG'),
    },
    logDir: path.join(runDir, 'logs'),
    local: true,
    ...(env['WEBHOOK_CLIENT_CA'] && env['WEBHOOK_CLIENT_NAME'] ? { webhookClient: { ca: env['WEBHOOK_CLIENT_CA'], name: env['WEBHOOK_CLIENT_NAME'] } } : {}),
  };
  return cached;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl as one identity. Never throws on a non-zero exit. */
export function kubectl(as: Identity, args: string[], input?: string): Promise<RunResult> {
  const env = clusterEnv();
  return run(env.kubectlPath, ['--kubeconfig', env.kubeconfigs[as], ...args], input);
}

/** Like kubectl, but throws with the command's stderr when it fails. */
export async function kubectlOk(as: Identity, args: string[], input?: string): Promise<string> {
  const r = await kubectl(as, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (as ${as}) failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function run(cmd: string, args: string[], input?: string, extraEnv?: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Server-side applies one object (as JSON) as admin under a field manager of the test's own. */
export function applyJson(doc: unknown, fieldManager: string): Promise<string> {
  return kubectlOk('admin', ['apply', '--server-side', '--force-conflicts', '--field-manager', fieldManager, '-f', '-'], JSON.stringify(doc));
}

/** Polls until fn returns a truthy value; throws the last error after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A fresh namespace name for one test, so tests never share state. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 63);
}
