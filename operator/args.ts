// Command-line flags of the operator, parsed without a dependency. Pure, so tested.
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import { DEFAULT_APPROVAL_VALIDITY_MS } from '../lib/approval.js';
import { parseDuration } from '../lib/clock.js';

export interface OperatorArgs {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  id: string;
  leaderElect: boolean;
  leaseName: string;
  leaseDurationMs: number;
  metricsPort: number;
  auditRetentionMs: number;
  approvalTtlMs: number;
  /** How long an Approved request stays usable (status.validUntil = decidedAt + this). */
  approvalValidityMs: number;
  sweepIntervalMs: number;
  workers: number;
  /** 0 turns continuous boundary verification off. */
  boundaryIntervalMs: number;
  /** SubjectAccessReviews per second that cross-check local RBAC answers; 0: none. */
  boundaryReviewRate: number;
  notifyUrlFile?: string;
}

/**
 * V8 flags the operator runs with, wherever it runs (the chart's and the Dockerfile's
 * command, the test and bench harness; packaging/chart.test.ts holds them equal). V8's
 * default young generation (two 16 MB semi-spaces) was a fifth of an idle operator's RSS,
 * and its default heap growth kept ~100 MB more than the caches need after a burst of
 * activations; a 1 MB semi-space and --optimize-for-size (a tighter heap growth factor)
 * trade more frequent collections, which an operator's trickle of watch events does not
 * notice. bench/operator-memory.ts measures both ways (BENCH_OPERATOR_NODE_FLAGS).
 */
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size'];

export const USAGE = `usage: node dist/operator/main.js [flags]
  --kubeconfig FILE          kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME             kubeconfig context
  --namespace NS             agentgate's namespace: lease and AuditEvents (default ${AGENTGATE_NAMESPACE})
  --id NAME                  this replica's identity in the lease (default: $POD_NAME or hostname_pid)
  --leader-elect=true|false  campaign for the lease before acting (default true)
  --lease-name NAME          the coordination.k8s.io Lease (default agentgate-operator)
  --lease-duration DUR       how long a dead leader blocks a takeover (default 15s)
  --metrics-port N           /metrics and /healthz port, 0 = off (default 8080)
  --audit-retention DUR      delete AuditEvents older than this (default 720h)
  --approval-ttl DUR         how long an activation ApprovalRequest may wait (default 1h)
  --approval-validity DUR    how long an approval stays usable once recorded (default 10m)
  --sweep-interval DUR       full re-check of every object, the backstop for timers (default 30s)
  --workers N                concurrent reconciles (default 32)
  --boundary-interval DUR    re-verify every agent's boundary this often, 0 = off (default 60s);
                             changes to RBAC, webhook configurations or agents re-verify at once
  --boundary-review-rate R   SubjectAccessReviews per second that cross-check the locally
                             evaluated RBAC answers, 0 = none (default 0.5)
  --notify-url-file FILE     a file holding a Slack-compatible incoming-webhook URL: messages
                             when ApprovalRequests are created or decided (default: none)`;

function bool(flag: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`${flag}: expected true or false, got "${v}"`);
}

function duration(flag: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new Error(`${flag}: expected a positive Go duration such as 30s, 1h or 720h, got "${v}"`);
  return ms;
}

function int(flag: string, v: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`${flag}: expected an integer >= ${min}, got "${v}"`);
  return Number(v);
}

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = {}, defaultId = 'operator'): OperatorArgs {
  const out: OperatorArgs = {
    namespace: AGENTGATE_NAMESPACE,
    id: env.POD_NAME || defaultId,
    leaderElect: true,
    leaseName: 'agentgate-operator',
    leaseDurationMs: 15_000,
    metricsPort: 8080,
    auditRetentionMs: 720 * 3_600_000,
    approvalTtlMs: 3_600_000,
    approvalValidityMs: DEFAULT_APPROVAL_VALIDITY_MS,
    sweepIntervalMs: 30_000,
    workers: 32,
    boundaryIntervalMs: 60_000,
    boundaryReviewRate: 0.5,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') throw new Error(USAGE);
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const flag = `--${m[1]}`;
    const value = (): string => {
      if (m[2] !== undefined) return m[2];
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (m[1]) {
      case 'kubeconfig':
        out.kubeconfig = value();
        break;
      case 'context':
        out.context = value();
        break;
      case 'namespace':
        out.namespace = value();
        break;
      case 'id':
        out.id = value();
        break;
      case 'leader-elect':
        out.leaderElect = m[2] === undefined ? true : bool(flag, m[2]);
        break;
      case 'lease-name':
        out.leaseName = value();
        break;
      case 'lease-duration':
        out.leaseDurationMs = duration(flag, value());
        break;
      case 'metrics-port':
        out.metricsPort = int(flag, value(), 0);
        break;
      case 'audit-retention':
        out.auditRetentionMs = duration(flag, value());
        break;
      case 'approval-ttl':
        out.approvalTtlMs = duration(flag, value());
        break;
      case 'approval-validity':
        out.approvalValidityMs = duration(flag, value());
        break;
      case 'sweep-interval':
        out.sweepIntervalMs = duration(flag, value());
        break;
      case 'workers':
        out.workers = int(flag, value(), 1);
        break;
      case 'boundary-interval': {
        const v = value();
        out.boundaryIntervalMs = v === '0' ? 0 : duration(flag, v);
        break;
      }
      case 'boundary-review-rate': {
        const v = value();
        if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`${flag}: expected a number of SubjectAccessReviews per second such as 0.5, got "${v}"`);
        out.boundaryReviewRate = Number(v);
        break;
      }
      case 'notify-url-file':
        out.notifyUrlFile = value();
        break;
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  if (out.metricsPort > 65535) throw new Error(`--metrics-port: expected 0..65535, got ${out.metricsPort}`);
  if (out.leaseDurationMs < 2000) throw new Error('--lease-duration: at least 2s');
  return out;
}
