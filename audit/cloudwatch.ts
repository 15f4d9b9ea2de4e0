// EKS has no kube-apiserver audit webhook backend: its control plane writes the audit log
// to CloudWatch Logs instead (log group /aws/eks/<cluster>/cluster, streams
// kube-apiserver-audit-*, one audit.k8s.io/v1 Event as JSON per log event, once the
// cluster's `audit` log type is enabled). This reads that log and hands the events to the
// same sink the webhook backend uses (apiserver/sink.ts): agents' reads and refused calls
// become records, admitted calls are settled Completed/Failed.
//
// Polling FilterLogEvents, because CloudWatch delivers late and out of order:
// - each poll reads [checkpoint - overlap, end] across every audit stream, page by page
//   (nextToken); end is now, or checkpoint + MAX_WINDOW_MS while catching up;
// - the checkpoint (the store's meta table) is the end of the last poll whose every page
//   was ingested, so a restart resumes where the last complete poll ended, and a crash
//   mid-poll reads that window again;
// - events read twice (the overlap, a re-read window) are harmless: eventIds ingested in the
//   last windows are skipped in memory, and the sink is idempotent in the database
//   (an auditID already recorded is skipped, settle only moves Admitted records);
// - an event delivered later than the overlap after its timestamp would be missed: the
//   delay of every event read is measured and a warning names the flag to raise.
// One process polls (webhook/main.ts takes a Lease first); throttling backs off and retries
// the same page; AWS errors say which IAM action, log group or setting fixes them.
import { CloudWatchLogsClient, DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { CloudWatchLogsClientConfig, DescribeLogStreamsCommandOutput, FilterLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import type { AgentIdentity } from '../api/types.js';
import type { UserInfo } from '../lib/admission.js';
import type { SettledApprovalCall } from '../lib/approval-confirm.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { ingest } from './apiserver/sink.js';
import type { ApiserverAuditEvent, SinkResult } from './apiserver/sink.js';
import type { AuditStore } from './store.js';

const AUDIT_STREAM_PREFIX = 'kube-apiserver-audit';
const DEFAULT_INTERVAL_MS = 10_000;
/** How late CloudWatch may deliver an event and still be read. */
export const DEFAULT_OVERLAP_MS = 5 * 60_000;
/** The longest window one poll reads while catching up (each one is checkpointed). */
const MAX_WINDOW_MS = 15 * 60_000;
/** Only the stages the sink reads: the log also holds ResponseStarted (watches). */
export const FILTER_PATTERN = '{ ($.stage = "ResponseComplete") || ($.stage = "Panic") }';
const MAX_PAGES = 10_000;
const THROTTLE_ATTEMPTS = 6;
const THROTTLE_BASE_MS = 1000;
const THROTTLE_CAP_MS = 30_000;
const FAILURE_CAP_MS = 5 * 60_000;

type Command = FilterLogEventsCommand | DescribeLogStreamsCommand;

/** The SDK's seam: a CloudWatchLogsClient, or a fake in tests. */
interface LogsClient {
  send(command: Command): Promise<object>;
}

/** The region messages name: the flag, else the one the SDK reads from the environment. */
export function regionOf(flag: string | undefined): string {
  return flag || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || '<region>';
}

/**
 * The real client: credentials from the SDK's default chain (IRSA's web identity token,
 * EKS Pod Identity, instance role); its own retries stay on, this file's backoff is on top.
 */
export function cloudWatchClient(region: string | undefined, config: Omit<CloudWatchLogsClientConfig, 'region'> = {}): LogsClient {
  const client = new CloudWatchLogsClient({ ...(region ? { region } : {}), maxAttempts: 3, ...config });
  return { send: (command) => client.send(command as FilterLogEventsCommand) };
}

interface CloudWatchOptions {
  client: LogsClient;
  logGroup: string;
  /** For messages (ARNs, commands); the client carries the region it calls. */
  region: string;
  store: AuditStore;
  agentFor: (user: UserInfo) => AgentIdentity | undefined;
  /** Settled records of calls that named an ApprovalRequest (audit/apiserver/confirm.ts). */
  onApprovalCalls?: (calls: SettledApprovalCall[]) => Promise<void>;
  clock: Clock;
  log: Logger;
  intervalMs?: number;
  overlapMs?: number;
  filterPattern?: string;
  sleep?: (ms: number) => Promise<void>;
}

interface PollResult extends SinkResult {
  /** The window read (ms since the epoch). */
  from: number;
  to: number;
  pages: number;
  events: number;
  /** Events skipped because this process ingested them in an earlier window. */
  repeated: number;
  /** Log events that are not an audit.k8s.io Event. */
  unreadable: number;
  /** The latest delivery seen: ingestionTime - timestamp, ms. */
  maxDelayMs: number;
  throttled: number;
  /** The window ended at now: nothing older is left to read. */
  caughtUp: boolean;
}

/** The meta key of a log group's checkpoint. */
export const checkpointKey = (logGroup: string): string => `cloudwatch:${logGroup}`;

/** The AWS error's name (SDK v3 sets it to the exception's shape name). */
function awsName(err: unknown): string {
  return (err as { name?: string } | undefined)?.name ?? '';
}

function awsStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isThrottling(err: unknown): boolean {
  const name = awsName(err);
  if (['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ServiceUnavailableException', 'LimitExceededException'].includes(name))
    return true;
  if ((err as { $retryable?: { throttling?: boolean } } | undefined)?.$retryable?.throttling) return true;
  const status = awsStatus(err);
  return status === 429 || status === 503;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** The log group's ARN as IAM policies name it (the account from AWS's message when it says). */
function logGroupArn(logGroup: string, region: string, message = ''): string {
  const account = /arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):/.exec(message)?.[1] ?? '<account-id>';
  return `arn:${partitionOf(region)}:logs:${region}:${account}:log-group:${logGroup}:*`;
}

/** The cluster an EKS log group belongs to (/aws/eks/<name>/cluster). */
function clusterOf(logGroup: string): string {
  return /^\/aws\/eks\/([^/]+)\/cluster$/.exec(logGroup)?.[1] ?? '<cluster-name>';
}

/** An AWS error, said with what fixes it. */
export function explainError(err: unknown, action: string, logGroup: string, region: string): string {
  const name = awsName(err);
  const said = (err as Error | undefined)?.message ?? String(err);
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnauthorizedOperation' || (awsStatus(err) === 403 && !isThrottling(err))) {
    return (
      `AWS refused ${action} on ${logGroupArn(logGroup, region, said)}: allow the webhook's IAM role the actions ` +
      `logs:FilterLogEvents and logs:DescribeLogStreams on that resource (the policy is in the README, "Reads on EKS"), ` +
      `and bind the role to the agentgate-webhook ServiceAccount (IRSA: the eks.amazonaws.com/role-arn annotation, ` +
      `chart value webhook.serviceAccount.annotations; or an EKS Pod Identity association). AWS said: ${said}`
    );
  }
  if (name === 'ResourceNotFoundException') {
    return (
      `log group ${logGroup} does not exist in ${region}: enable the cluster's audit log ` +
      `(aws eks update-cluster-config --region ${region} --name ${clusterOf(logGroup)} ` +
      `--logging '{"clusterLogging":[{"types":["audit"],"enabled":true}]}'), and check --audit-cloudwatch-region. AWS said: ${said}`
    );
  }
  if (name === 'CredentialsProviderError' || /credential/i.test(said)) {
    return (
      `no AWS credentials for ${action}: bind an IAM role to the agentgate-webhook ServiceAccount ` +
      `(IRSA: the eks.amazonaws.com/role-arn annotation, chart value webhook.serviceAccount.annotations; or an EKS Pod Identity association). ${said}`
    );
  }
  if (/region is missing/i.test(said)) return `no AWS region: set --audit-cloudwatch-region (chart value audit.cloudwatch.region). ${said}`;
  if (isThrottling(err)) {
    return (
      `CloudWatch Logs throttled ${action} ${THROTTLE_ATTEMPTS} times in a row (the FilterLogEvents quota is per account and region, ` +
      `shared with every other caller): raise --audit-cloudwatch-interval or ask AWS for a higher quota. AWS said: ${said}`
    );
  }
  return `${action} on ${logGroup} (${region}) failed: ${name ? `${name}: ` : ''}${said}`;
}

class CloudWatchError extends Error {}

/** Reads the EKS audit log from CloudWatch Logs into the audit store. */
export class CloudWatchAuditPoller {
  private readonly intervalMs: number;
  private readonly overlapMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** eventId -> timestamp of events ingested in the current overlap. */
  private readonly seen = new Map<string, number>();
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(private readonly o: CloudWatchOptions) {
    this.intervalMs = o.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.overlapMs = o.overlapMs ?? DEFAULT_OVERLAP_MS;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** One AWS call; throttling backs off (doubling, capped) and retries the same call. */
  private async call<T>(command: Command, action: string): Promise<{ out: T; throttled: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return { out: (await this.o.client.send(command)) as T, throttled: attempt - 1 };
      } catch (err) {
        if (isThrottling(err) && attempt < THROTTLE_ATTEMPTS) {
          const wait = Math.min(THROTTLE_CAP_MS, THROTTLE_BASE_MS * 2 ** (attempt - 1));
          this.o.log.warn('cloudwatch: throttled; backing off', { action, attempt, waitMs: wait });
          await this.sleep(wait);
          continue;
        }
        throw new CloudWatchError(explainError(err, action, this.o.logGroup, this.o.region), { cause: err });
      }
    }
  }

  /** Whether the log group has audit streams: a problem to report, or undefined. */
  async probe(): Promise<string | undefined> {
    try {
      const { out } = await this.call<DescribeLogStreamsCommandOutput>(
        new DescribeLogStreamsCommand({ logGroupName: this.o.logGroup, logStreamNamePrefix: AUDIT_STREAM_PREFIX, limit: 1 }),
        'logs:DescribeLogStreams',
      );
      if (!out.logStreams?.length)
        return (
          `log group ${this.o.logGroup} has no ${AUDIT_STREAM_PREFIX}-* stream yet: the cluster's audit log type is off ` +
          `(aws eks update-cluster-config --region ${this.o.region} --name ${clusterOf(this.o.logGroup)} ` +
          `--logging '{"clusterLogging":[{"types":["audit"],"enabled":true}]}'), or the cluster has not logged yet`
        );
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async checkpoint(): Promise<number | undefined> {
    const raw = await this.o.store.getMeta(checkpointKey(this.o.logGroup));
    if (!raw) return undefined;
    try {
      const t = (JSON.parse(raw) as { end?: unknown }).end;
      return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
    } catch {
      return undefined;
    }
  }

  /** Reads one window, every page, ingests it, then moves the checkpoint to its end. */
  async pollOnce(): Promise<PollResult> {
    const now = this.o.clock.now().getTime();
    const cp = await this.checkpoint();
    const base = cp ?? now;
    const from = base - this.overlapMs;
    const to = Math.max(from + 1, Math.min(now, base + MAX_WINDOW_MS));
    const r: PollResult = {
      from,
      to,
      pages: 0,
      events: 0,
      repeated: 0,
      unreadable: 0,
      maxDelayMs: 0,
      throttled: 0,
      settled: 0,
      recorded: 0,
      ignored: 0,
      caughtUp: to >= now,
    };
    let token: string | undefined;
    do {
      const { out, throttled } = await this.call<FilterLogEventsCommandOutput>(
        new FilterLogEventsCommand({
          logGroupName: this.o.logGroup,
          logStreamNamePrefix: AUDIT_STREAM_PREFIX,
          startTime: from,
          endTime: to,
          filterPattern: this.o.filterPattern ?? FILTER_PATTERN,
          ...(token ? { nextToken: token } : {}),
        }),
        'logs:FilterLogEvents',
      );
      r.pages++;
      r.throttled += throttled;
      const batch: ApiserverAuditEvent[] = [];
      const ids = new Map<string, number>();
      for (const ev of out.events ?? []) {
        r.events++;
        const id = ev.eventId ?? `${ev.logStreamName}/${ev.timestamp}/${ev.message?.length}`;
        if (this.seen.has(id) || ids.has(id)) {
          r.repeated++;
          continue;
        }
        if (ev.timestamp !== undefined && ev.ingestionTime !== undefined) r.maxDelayMs = Math.max(r.maxDelayMs, ev.ingestionTime - ev.timestamp);
        ids.set(id, ev.timestamp ?? now);
        let parsed: unknown;
        try {
          parsed = JSON.parse(ev.message ?? '');
        } catch {
          parsed = undefined;
        }
        const e = parsed as ApiserverAuditEvent & { kind?: string };
        if (!e || typeof e !== 'object' || (e.kind !== undefined && e.kind !== 'Event')) {
          r.unreadable++;
          continue;
        }
        batch.push(e);
      }
      if (batch.length) {
        const s = await ingest(this.o.store, batch, this.o.agentFor, this.o.onApprovalCalls);
        r.settled += s.settled;
        r.recorded += s.recorded;
        r.ignored += s.ignored;
      }
      // Only once ingested: a failed page is read again, not skipped.
      for (const [id, t] of ids) this.seen.set(id, t);
      const next = out.nextToken;
      if (next && next === token) break; // the same token twice would loop forever
      token = next;
    } while (token && r.pages < MAX_PAGES);
    await this.o.store.setMeta(checkpointKey(this.o.logGroup), JSON.stringify({ end: Math.max(to, cp ?? to) }));
    // Forget what the next window cannot reach.
    for (const [id, t] of this.seen) if (t < to - this.overlapMs - 60_000) this.seen.delete(id);
    if (r.maxDelayMs > this.overlapMs / 2)
      this.o.log.warn('cloudwatch: audit events arrive late; events later than the overlap are missed', {
        delayMs: r.maxDelayMs,
        overlapMs: this.overlapMs,
        fix: 'raise --audit-cloudwatch-overlap',
      });
    return r;
  }

  /** Polls until stop(): back to back while catching up, every interval once caught up. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      const problem = await this.probe();
      if (problem) this.o.log.error(`cloudwatch: ${problem}`, { logGroup: this.o.logGroup });
      let failures = 0;
      while (this.running) {
        let wait = this.intervalMs;
        try {
          const r = await this.pollOnce();
          failures = 0;
          if (r.recorded || r.settled || r.unreadable)
            this.o.log.info('cloudwatch: audit log read', {
              from: new Date(r.from).toISOString(),
              to: new Date(r.to).toISOString(),
              pages: r.pages,
              recorded: r.recorded,
              settled: r.settled,
              unreadable: r.unreadable,
            });
          if (!r.caughtUp) wait = 0;
        } catch (err) {
          failures++;
          wait = Math.min(FAILURE_CAP_MS, this.intervalMs * 2 ** Math.min(failures, 10));
          this.o.log.error(`cloudwatch: ${(err as Error).message}`, { logGroup: this.o.logGroup, retryInMs: wait });
        }
        // Yield even when catching up back to back: the store and the client may answer in microtasks.
        if (!wait) await new Promise((r) => setImmediate(r));
        else if (this.running)
          await new Promise<void>((r) => {
            const t = setTimeout(r, wait);
            this.wake = () => {
              clearTimeout(t);
              r();
            };
          });
      }
    })();
  }

  /** Stops after the poll in flight (its checkpoint is written or the window is read again). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }
}
