// Command-line flags of the operator, declared once (lib/flags.ts parses them). Pure, so tested.
import { AGENTGATE_NAMESPACE } from '../api/types.js';
import { DEFAULT_APPROVAL_VALIDITY_MS } from '../lib/approval.js';
import {
  durationFlag,
  FlagError,
  type FlagSpec,
  HelpRequested,
  flagLines,
  intFlag,
  namespacedNameFlag,
  numberFlag,
  parseFlags,
  stringFlag,
} from '../lib/flags.js';

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
  /** Withdraw the audit APIService after this long without a webhook replica serving it; 0: never. */
  auditApiServiceGraceMs: number;
  /** cert-manager's Certificate (namespace/name) whose CA the audit APIService trusts, when it injects it (tls.mode=certManager). */
  auditApiServiceInjectCaFrom?: string;
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

const FLAGS: Record<string, FlagSpec> = {
  kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)' },
  context: { type: 'string', arg: 'NAME', help: 'kubeconfig context' },
  namespace: { type: 'string', arg: 'NS', help: `agentgate's namespace: lease and AuditEvents (default ${AGENTGATE_NAMESPACE})` },
  id: { type: 'string', arg: 'NAME', help: "this replica's identity in the lease (default: $POD_NAME or hostname_pid)" },
  'leader-elect': { type: 'string', switch: true, help: 'campaign for the lease before acting (default true)' },
  'lease-name': { type: 'string', arg: 'NAME', help: 'the coordination.k8s.io Lease (default agentgate-operator)' },
  'lease-duration': { type: 'string', arg: 'DUR', help: 'how long a dead leader blocks a takeover (default 15s, at least 2s)' },
  'metrics-port': { type: 'string', arg: 'N', help: '/metrics and /healthz port, 0 = off (default 8080)' },
  'audit-retention': { type: 'string', arg: 'DUR', help: 'delete AuditEvents older than this (default 720h)' },
  'approval-ttl': { type: 'string', arg: 'DUR', help: 'how long an activation ApprovalRequest may wait (default 1h)' },
  'approval-validity': { type: 'string', arg: 'DUR', help: 'how long an approval stays usable once recorded (default 10m)' },
  'sweep-interval': { type: 'string', arg: 'DUR', help: 'full re-check of every object, the backstop for timers (default 30s)' },
  workers: { type: 'string', arg: 'N', help: 'concurrent reconciles (default 32)' },
  'boundary-interval': {
    type: 'string',
    arg: 'DUR',
    help: "re-verify every agent's boundary this often, the backstop, 0 = off (default 5m);\nchanges to RBAC, webhook configurations or agents re-verify the agents they reach at once",
  },
  'boundary-review-rate': {
    type: 'string',
    arg: 'R',
    help: 'SubjectAccessReviews per second that cross-check the locally\nevaluated RBAC answers, 0 = none (default 0.5)',
  },
  'notify-url-file': {
    type: 'string',
    arg: 'FILE',
    help: 'a file holding a Slack-compatible incoming-webhook URL: messages\nwhen ApprovalRequests are created or decided (default: none)',
  },
  'audit-apiservice-grace': {
    type: 'string',
    arg: 'DUR',
    help: 'withdraw the audit APIService from discovery after this long without\na webhook replica serving it (namespaces cannot finish deleting\nmeanwhile), restore it when one is back; 0 = never (default 60s)',
  },
  'audit-apiservice-inject-ca-from': {
    type: 'string',
    arg: 'NS/CERT',
    help: 'the cert-manager Certificate whose CA the audit APIService trusts:\nkept on an APIService restored after an operator restart, when the\none withdrawn was not seen (the chart sets it for tls.mode=certManager)',
  },
  help: { type: 'boolean', short: 'h' },
};

export const USAGE = ['usage: node dist/operator/main.js [flags]', ...flagLines(FLAGS)].join('\n');

/** The operator's settings from argv; throws a FlagError (with the usage) on a bad command line, a HelpRequested (the usage) for --help. */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = {}, defaultId = 'operator'): OperatorArgs {
  let v: ReturnType<typeof parseFlags>['values'];
  try {
    v = parseFlags(argv, FLAGS).values;
  } catch (e) {
    throw new FlagError(`${(e as Error).message}\n${USAGE}`);
  }
  if (v.help) throw new HelpRequested(USAGE);
  const s = (name: string) => stringFlag(v, name);
  const duration = (name: string, dflt: number, options?: Parameters<typeof durationFlag>[2]) => {
    const value = s(name);
    return value === undefined ? dflt : durationFlag(`--${name}`, value, options);
  };
  const int = (name: string, dflt: number, min: number, max?: number) => {
    const value = s(name);
    return value === undefined ? dflt : intFlag(`--${name}`, value, min, max);
  };
  const rate = s('boundary-review-rate');
  const kubeconfig = s('kubeconfig');
  const context = s('context');
  const notifyUrlFile = s('notify-url-file');
  const injectCaFrom = s('audit-apiservice-inject-ca-from');
  return {
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    ...(context !== undefined ? { context } : {}),
    namespace: s('namespace') ?? AGENTGATE_NAMESPACE,
    id: s('id') ?? (env.POD_NAME || defaultId),
    leaderElect: v['leader-elect'] !== false,
    leaseName: s('lease-name') ?? 'agentgate-operator',
    leaseDurationMs: duration('lease-duration', 15_000, { min: '2s' }),
    metricsPort: int('metrics-port', 8080, 0, 65535),
    auditRetentionMs: duration('audit-retention', 720 * 3_600_000),
    approvalTtlMs: duration('approval-ttl', 3_600_000),
    approvalValidityMs: duration('approval-validity', DEFAULT_APPROVAL_VALIDITY_MS),
    sweepIntervalMs: duration('sweep-interval', 30_000),
    workers: int('workers', 32, 1),
    boundaryIntervalMs: duration('boundary-interval', 300_000, { zero: true }),
    boundaryReviewRate: rate === undefined ? 0.5 : numberFlag('--boundary-review-rate', rate, 'a number of SubjectAccessReviews per second such as 0.5'),
    ...(notifyUrlFile !== undefined ? { notifyUrlFile } : {}),
    auditApiServiceGraceMs: duration('audit-apiservice-grace', 60_000, { zero: true, min: '1s' }),
    ...(injectCaFrom !== undefined ? { auditApiServiceInjectCaFrom: namespacedNameFlag('--audit-apiservice-inject-ca-from', injectCaFrom) } : {}),
  };
}
