// The operator process: flags, leader election, metrics, graceful shutdown (started by main.ts).
import os from 'node:os';
import { systemClock } from '../lib/clock.js';
import { loadKubeConfig, withKeepAlive } from '../lib/kube.js';
import { HelpRequested } from '../lib/flags.js';
import { newLogger } from '../lib/log.js';
import { parseArgs, type OperatorArgs } from './args.js';
import { EventRecorder } from './events.js';
import { LeaderElector } from '../lib/leader.js';
import { OperatorMetrics } from './metrics.js';
import { Operator } from './operator.js';
import { BoundaryVerifier, boundaryChangeWatches } from './boundary.js';
import { agentChangeMatters } from './boundary-scope.js';
import { buildMessage, Notifier, notifyEventFor } from './notify.js';
import type { ApprovalRequest } from '../api/types.js';
import type { Binding } from '../boundary/types.js';

const log = newLogger('operator');

let args: OperatorArgs;
try {
  args = parseArgs(process.argv.slice(2), process.env, `${os.hostname()}_${process.pid}`);
} catch (e) {
  if (e instanceof HelpRequested) {
    process.stdout.write(`${e.message}\n`);
    process.exit(0);
  }
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}

const kc = withKeepAlive(loadKubeConfig({ kubeconfig: args.kubeconfig, context: args.context }));
const clock = systemClock;
let operator: Operator | undefined;
const metrics = new OperatorMetrics({ grantPhases: () => operator?.grantPhases() ?? new Map(), queueDepth: () => operator?.queue.depth ?? 0 });
const recorder = new EventRecorder(kc, { component: 'agentgate-operator', instance: args.id, clock, log });
operator = new Operator({
  kc,
  clock,
  log,
  namespace: args.namespace,
  approvalTtlMs: args.approvalTtlMs,
  approvalValidityMs: args.approvalValidityMs,
  auditRetentionMs: args.auditRetentionMs,
  sweepIntervalMs: args.sweepIntervalMs,
  workers: args.workers,
  auditApiServiceGraceMs: args.auditApiServiceGraceMs,
  ...(args.auditApiServiceInjectCaFrom ? { auditApiServiceInjectCaFrom: args.auditApiServiceInjectCaFrom } : {}),
  metrics,
  recorder,
});
const op = operator;

// Continuous boundary verification: of the agents a change can affect, soon after it
// (agents, their bindings, any RBAC object, the webhook configurations), and of every
// agent on a period as the backstop.
const verifier =
  args.boundaryIntervalMs > 0
    ? new BoundaryVerifier({
        kc,
        clock,
        log,
        namespace: args.namespace,
        intervalMs: args.boundaryIntervalMs,
        registry: metrics.registry,
        publish: (report, at) => op.boundaryReported(report, at),
        reviewsPerSecond: args.boundaryReviewRate,
        cached: { grants: () => op.grants.list(), agentgateRoleBindings: () => op.bindings.list() as Binding[] },
      })
    : undefined;
const boundaryWatches = verifier ? boundaryChangeWatches(kc, log, (c) => verifier.changed(c)) : [];
if (verifier) {
  op.agents.onChange((a, ev, previous) => {
    if (ev === 'resync' || (ev === 'update' && !agentChangeMatters(previous, a))) return;
    verifier.changed({ kind: 'AgentIdentity', name: a.metadata.name ?? '' });
  });
  op.bindings.onChange((b, ev, previous) => {
    if (ev === 'resync') return;
    if (ev === 'delete') {
      verifier.changed({ kind: 'RemovedGrantBinding', binding: b as Binding });
      return;
    }
    if (previous) verifier.changed({ kind: 'RoleBinding', binding: previous as Binding });
    verifier.changed({ kind: 'RoleBinding', binding: b as Binding });
  });
}

// Approvers hear of held operations: one message per new request and per decision, from
// the leader only, and only for changes seen after its caches synced (no replay on restart).
const notifier = args.notifyUrlFile ? new Notifier({ urlFile: args.notifyUrlFile, log }) : undefined;
if (notifier) {
  const seen = new Map<string, ApprovalRequest>();
  const arKey = (ar: ApprovalRequest) => `${ar.metadata.namespace ?? ''}/${ar.metadata.name ?? ''}`;
  op.approvals.onChange((ar, ev) => {
    const k = arKey(ar);
    if (ev === 'delete') {
      seen.delete(k);
      return;
    }
    const before = seen.get(k);
    seen.set(k, ar);
    if (!op.isReady) return;
    const event = notifyEventFor(before, ar);
    if (event) notifier.enqueue(buildMessage(ar, event));
  });
}

let shuttingDown = false;
const server = metrics.serve(args.metricsPort, () => !shuttingDown);

function lead(): void {
  metrics.leader.set(1);
  op.start()
    .then(async () => {
      await Promise.all(boundaryWatches.map((w) => w.start()));
      verifier?.start();
    })
    .catch((e: unknown) => {
      log.error('operator failed to start', { error: String(e) });
      process.exit(1);
    });
}

const elector = args.leaderElect
  ? new LeaderElector({
      kc,
      namespace: args.namespace,
      name: args.leaseName,
      id: args.id,
      leaseDurationMs: args.leaseDurationMs,
      renewDeadlineMs: Math.round(args.leaseDurationMs * (2 / 3)),
      retryPeriodMs: Math.max(500, Math.round(args.leaseDurationMs / 7.5)),
      clock,
      log,
      onStartedLeading: lead,
      // Another replica may act from now on; stopping mid-flight is the safe side, and the
      // restarted process rejoins as a candidate (client-go's leaders exit the same way).
      onStoppedLeading: () => {
        metrics.leader.set(0);
        void Promise.all([op.stop(), verifier?.stop(), ...boundaryWatches.map((w) => w.stop())]).finally(() => process.exit(1));
      },
    })
  : undefined;

log.info('agentgate operator', {
  id: args.id,
  namespace: args.namespace,
  leaderElect: args.leaderElect,
  lease: args.leaderElect ? `${args.namespace}/${args.leaseName}` : undefined,
  metricsPort: args.metricsPort,
  approvalTtlMs: args.approvalTtlMs,
  auditRetentionMs: args.auditRetentionMs,
  sweepIntervalMs: args.sweepIntervalMs,
  boundaryIntervalMs: args.boundaryIntervalMs,
  auditApiServiceGraceMs: args.auditApiServiceGraceMs,
  notifications: notifier ? 'on' : 'off',
});
if (elector) elector.start();
else lead();

async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info('shutting down', { signal });
  const force = setTimeout(() => process.exit(1), 20_000);
  force.unref();
  // Stop acting before handing over the lease, so two replicas never act at once.
  await Promise.all([op.stop(), verifier?.stop(), notifier?.idle(), ...boundaryWatches.map((w) => w.stop())]).catch((e: unknown) =>
    log.warn('stop failed', { error: String(e) }),
  );
  await elector?.release();
  metrics.leader.set(0);
  server?.close();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
