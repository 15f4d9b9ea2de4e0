// Contract tests of the EKS audit log reader, with no AWS account: the real SDK client
// (request serialisation, response and error deserialisation) talks to a recorded
// CloudWatch Logs through its requestHandler seam. The log lines are EKS kube-apiserver
// audit events as FilterLogEvents returns them; the store is a real PGlite database.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import type { AgentIdentity } from '../api/types.js';
import { FakeClock } from '../lib/clock.js';
import { quietLogger } from '../testing/fake-cluster.js';
import { CloudWatchAuditPoller, checkpointKey, cloudWatchClient, DEFAULT_OVERLAP_MS, explainError, FILTER_PATTERN } from './cloudwatch.js';
import { openDb } from './db.js';
import type { Db } from './db.js';
import { TABLE } from './schema.js';
import { AuditStore } from './store.js';

const GROUP = '/aws/eks/prod/cluster';
const REGION = 'eu-west-1';
const STREAM_A = 'kube-apiserver-audit-8a3f6c1d2e4b5f7081929a3b4c5d6e7f';
const STREAM_B = 'kube-apiserver-audit-f01c77ed8078a670a2eb63af6f127163';
const AGENT_SA = 'system:serviceaccount:agents:claude-ops';
const WRITER = 'agentgate-webhook-7c9d8-x2k4p';
const ADMITTED = `${WRITER}-0000000001`;
const T0 = Date.parse('2026-11-30T16:58:00.000Z');

const agent = { apiVersion: 'agentgate.io/v1alpha1', kind: 'AgentIdentity', metadata: { name: 'claude-ops', namespace: 'agents' } } as unknown as AgentIdentity;
const agentFor = (u: { username?: string }): AgentIdentity | undefined => (u.username === AGENT_SA ? agent : undefined);

const agentUser = {
  username: AGENT_SA,
  uid: '5d1c9a4e-3b7f-4c2a-9e8d-1f2a3b4c5d6e',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:agents', 'system:authenticated'],
  extra: {
    'authentication.kubernetes.io/credential-id': ['JTI=0b6f5e1c-7a2d-4e3f-9c8b-6a5d4e3f2a1b'],
    'authentication.kubernetes.io/node-name': ['ip-10-0-12-34.eu-west-1.compute.internal'],
    'authentication.kubernetes.io/pod-name': ['claude-ops-6f7d9c8b5-q2w3e'],
    'authentication.kubernetes.io/pod-uid': ['a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'],
  },
};

/** An EKS audit event as the control plane logs it (Metadata level). */
function auditLine(at: number, fields: Record<string, unknown>): string {
  const t = new Date(at).toISOString().replace('Z', '123Z');
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    stage: 'ResponseComplete',
    user: agentUser,
    sourceIPs: ['10.0.12.34'],
    userAgent: 'kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46',
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    ...fields,
  });
}

interface LogEvent {
  logStreamName: string;
  timestamp: number;
  message: string;
  ingestionTime: number;
  eventId: string;
}

let idSeq = 0;
function logEvent(stream: string, at: number, message: string, delayMs = 1800): LogEvent {
  idSeq++;
  // CloudWatch event ids are 56 decimal digits.
  return {
    logStreamName: stream,
    timestamp: at,
    message,
    ingestionTime: at + delayMs,
    eventId: `3789${String(at).padStart(20, '0')}${String(idSeq).padStart(32, '0')}`,
  };
}

/** The recorded log: an agent's read, a list, a call RBAC refused, an admitted create, someone else's read, a watch start, noise. */
function recordedLog(): LogEvent[] {
  return [
    logEvent(
      STREAM_A,
      T0 + 1000,
      auditLine(T0 + 1000, {
        auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000001',
        requestURI: '/api/v1/namespaces/team-a/secrets/db-credentials',
        verb: 'get',
        objectRef: { resource: 'secrets', namespace: 'team-a', name: 'db-credentials', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
        annotations: {
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason':
            'RBAC: allowed by RoleBinding "agentgate-claude-ops/team-a" of ClusterRole "view" to ServiceAccount "claude-ops/agents"',
        },
      }),
    ),
    logEvent(
      STREAM_B,
      T0 + 2000,
      auditLine(T0 + 2000, {
        auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000002',
        requestURI: '/api/v1/namespaces/team-a/pods?limit=500',
        verb: 'list',
        objectRef: { resource: 'pods', namespace: 'team-a', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
        annotations: {
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason':
            'RBAC: allowed by RoleBinding "agentgate-claude-ops/team-a" of ClusterRole "view" to ServiceAccount "claude-ops/agents"',
        },
      }),
    ),
    logEvent(
      STREAM_A,
      T0 + 3000,
      auditLine(T0 + 3000, {
        auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000003',
        requestURI: '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings?fieldManager=kubectl-create&fieldValidation=Strict',
        verb: 'create',
        objectRef: { resource: 'rolebindings', namespace: 'team-a', name: 'escalate', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
        responseStatus: {
          metadata: {},
          status: 'Failure',
          message:
            'rolebindings.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:agents:claude-ops" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "team-a"',
          reason: 'Forbidden',
          details: { group: 'rbac.authorization.k8s.io', kind: 'rolebindings' },
          code: 403,
        },
        annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
      }),
    ),
    logEvent(
      STREAM_B,
      T0 + 4000,
      auditLine(T0 + 4000, {
        auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000004',
        requestURI: '/api/v1/namespaces/team-a/configmaps?fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
        verb: 'create',
        objectRef: { resource: 'configmaps', namespace: 'team-a', name: 'feature-flags', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 201 },
        annotations: {
          'agents.agentgate.io/audit-event': ADMITTED,
          'agents.agentgate.io/decision': 'Allowed',
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason':
            'RBAC: allowed by RoleBinding "agentgate-claude-ops/team-a" of ClusterRole "agentgate-edit" to ServiceAccount "claude-ops/agents"',
        },
      }),
    ),
    logEvent(
      STREAM_A,
      T0 + 5000,
      auditLine(T0 + 5000, {
        auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000005',
        user: { username: 'system:node:ip-10-0-12-34.eu-west-1.compute.internal', groups: ['system:nodes', 'system:authenticated'] },
        requestURI: '/api/v1/nodes/ip-10-0-12-34.eu-west-1.compute.internal?timeout=10s',
        verb: 'get',
        objectRef: { resource: 'nodes', name: 'ip-10-0-12-34.eu-west-1.compute.internal', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
      }),
    ),
    logEvent(
      STREAM_B,
      T0 + 6000,
      auditLine(T0 + 6000, {
        auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000006',
        stage: 'ResponseStarted',
        requestURI: '/api/v1/namespaces/team-a/pods?watch=true',
        verb: 'watch',
        objectRef: { resource: 'pods', namespace: 'team-a', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 200 },
      }),
    ),
    logEvent(STREAM_A, T0 + 7000, 'I1130 16:58:07.000000      11 trace.go:236] not an audit event'),
  ];
}

interface Fault {
  type: string;
  message: string;
  status?: number;
}

/**
 * CloudWatch Logs as the SDK sees it over HTTP (awsJson1_1): FilterLogEvents over the
 * events delivered by now (timestamp in [startTime, endTime], stream prefix, pages of
 * pageSize with an opaque nextToken), DescribeLogStreams, and queued faults.
 */
class RecordedCloudWatch {
  readonly requests: { target: string; body: Record<string, unknown> }[] = [];
  faults: (Fault | undefined)[] = [];
  constructor(
    public events: LogEvent[],
    private readonly clock: FakeClock,
    private readonly pageSize = 3,
  ) {}

  handle = async (req: { headers: Record<string, string>; body: unknown }): Promise<{ response: unknown }> => {
    const target = String(req.headers['x-amz-target']).replace('Logs_20140328.', '');
    const body = JSON.parse(new TextDecoder().decode(req.body as Uint8Array)) as Record<string, unknown>;
    this.requests.push({ target, body });
    const fault = this.faults.shift();
    if (fault) return this.reply(fault.status ?? 400, { __type: fault.type, message: fault.message });
    if (target === 'DescribeLogStreams') {
      const streams = [...new Set(this.delivered().map((e) => e.logStreamName))].filter((s) => s.startsWith(String(body.logStreamNamePrefix ?? '')));
      return this.reply(200, {
        logStreams: streams.slice(0, 1).map((s) => ({ logStreamName: s, arn: `arn:aws:logs:${REGION}:123456789012:log-group:${GROUP}:log-stream:${s}` })),
      });
    }
    const start = Number(body.startTime ?? 0);
    const end = Number(body.endTime ?? Number.MAX_SAFE_INTEGER);
    const matching = this.delivered()
      .filter((e) => e.timestamp >= start && e.timestamp <= end && e.logStreamName.startsWith(String(body.logStreamNamePrefix ?? '')))
      .sort((a, b) => a.timestamp - b.timestamp);
    const offset = body.nextToken ? (JSON.parse(Buffer.from(String(body.nextToken), 'base64').toString('utf8')) as { o: number }).o : 0;
    const page = matching.slice(offset, offset + this.pageSize);
    const more = offset + this.pageSize < matching.length;
    return this.reply(200, {
      events: page,
      searchedLogStreams: [],
      ...(more ? { nextToken: Buffer.from(JSON.stringify({ o: offset + this.pageSize, v: 2 })).toString('base64') } : {}),
    });
  };

  private delivered(): LogEvent[] {
    return this.events.filter((e) => e.ingestionTime <= this.clock.now().getTime());
  }

  private reply(statusCode: number, json: unknown): { response: unknown } {
    return {
      response: {
        statusCode,
        reason: '',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'c1b2a3d4-0000-4000-8000-000000000000' },
        body: Readable.from([Buffer.from(JSON.stringify(json))]),
      },
    };
  }

  filterCalls(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.target === 'FilterLogEvents').map((r) => r.body);
  }
}

describe('audit: EKS audit log from CloudWatch Logs (recorded, through the SDK)', function () {
  this.timeout(30_000);
  let store: AuditStore;
  let clock: FakeClock;
  let cw: RecordedCloudWatch;
  let sleeps: number[];

  const poller = () =>
    new CloudWatchAuditPoller({
      client: cloudWatchClient(REGION, {
        credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
        requestHandler: { handle: cw.handle },
        maxAttempts: 1,
      }),
      logGroup: GROUP,
      region: REGION,
      store,
      agentFor,
      clock,
      log: quietLogger(),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });

  const rows = () =>
    store.db.query<{ request_uid: string; name: string; source: string; decision: string; outcome: string; status_code: number | null }>(
      `SELECT request_uid, name, source, decision, outcome, status_code FROM ${TABLE} ORDER BY time, sequence`,
    );

  let db: Db;
  before(async function () {
    // One database for the file: PGlite compiles its WASM on open (seconds, more on a busy machine).
    this.timeout(180_000);
    db = await openDb({ engine: 'pglite' });
    await new AuditStore(db, WRITER, new FakeClock(new Date(T0))).open();
  });
  after(async function () {
    await db?.close();
  });

  beforeEach(async function () {
    clock = new FakeClock(new Date(T0 + 60_000));
    await db.query(`TRUNCATE ${TABLE}`);
    await db.query('DELETE FROM agentgate_audit_meta');
    store = new AuditStore(db, WRITER, clock);
    await store.open();
    // The webhook's admission record of the create the log later confirms.
    const admitted = await store.append({
      time: new Date(T0 + 3990).toISOString(),
      agent: 'claude-ops',
      user: AGENT_SA,
      operation: 'CREATE',
      group: '',
      version: 'v1',
      resource: 'configmaps',
      namespace: 'team-a',
      name: 'feature-flags',
      decision: 'Allowed',
      reason: 'granted by AccessGrant team-a/claude-ops',
      requestUID: 'b7e3c1a2-0000-4000-8000-000000000004',
    });
    expect(admitted.name).to.equal(ADMITTED);
    cw = new RecordedCloudWatch(recordedLog(), clock);
    sleeps = [];
  });

  it('reads every page of the window, records reads and the refused call, settles the admitted create', async function () {
    const r = await poller().pollOnce();
    const calls = cw.filterCalls();
    expect(calls.length).to.equal(3); // 7 events, pages of 3
    expect(r.pages).to.equal(3);
    expect(calls[0]).to.deep.include({
      logGroupName: GROUP,
      logStreamNamePrefix: 'kube-apiserver-audit',
      startTime: T0 + 60_000 - DEFAULT_OVERLAP_MS,
      endTime: T0 + 60_000,
      filterPattern: FILTER_PATTERN,
    });
    expect(calls[0]).to.not.have.property('nextToken');
    expect(calls[1]!.nextToken).to.be.a('string');
    expect(calls[2]!.nextToken).to.be.a('string').and.not.equal(calls[1]!.nextToken);
    expect(r).to.include({ events: 7, recorded: 3, settled: 1, unreadable: 1, caughtUp: true });

    const byUid = new Map((await rows()).map((x) => [x.request_uid, x]));
    expect(byUid.get('0f3d2c1b-aaaa-4bbb-8ccc-000000000001')).to.include({ source: 'apiserver', decision: 'Allowed', outcome: 'Recorded', status_code: 200 });
    expect(byUid.get('0f3d2c1b-aaaa-4bbb-8ccc-000000000002')).to.include({ source: 'apiserver', decision: 'Allowed', status_code: 200 });
    expect(byUid.get('0f3d2c1b-aaaa-4bbb-8ccc-000000000003')).to.include({ source: 'apiserver', decision: 'Denied', outcome: 'Recorded', status_code: 403 });
    expect(byUid.get('b7e3c1a2-0000-4000-8000-000000000004')).to.include({ name: ADMITTED, source: 'admission', outcome: 'Completed', status_code: 201 });
    // Someone else's read, a watch's ResponseStarted and a non-event line are not records.
    expect(byUid.has('0f3d2c1b-aaaa-4bbb-8ccc-000000000005')).to.equal(false);
    expect(byUid.has('0f3d2c1b-aaaa-4bbb-8ccc-000000000006')).to.equal(false);
    expect(await rows()).to.have.length(4);
    const [refused] = await store.db.query<{ reason: string }>(`SELECT spec->>'reason' AS reason FROM ${TABLE} WHERE request_uid = $1`, [
      '0f3d2c1b-aaaa-4bbb-8ccc-000000000003',
    ]);
    expect(refused?.reason).to.contain('refused by the apiserver (403 Forbidden) before admission: create rolebindings.rbac.authorization.k8s.io escalate');
  });

  it('resumes from its checkpoint after a restart, and records events read twice in overlapping windows once', async function () {
    await poller().pollOnce();
    expect(JSON.parse((await store.getMeta(checkpointKey(GROUP)))!)).to.deep.equal({ end: T0 + 60_000 });

    // CloudWatch delivers late: an agent's read at T0+50s arrives 40 s after it happened.
    cw.events.push(
      logEvent(
        STREAM_A,
        T0 + 50_000,
        auditLine(T0 + 50_000, {
          auditID: '0f3d2c1b-aaaa-4bbb-8ccc-000000000007',
          requestURI: '/api/v1/namespaces/team-a/configmaps',
          verb: 'list',
          objectRef: { resource: 'configmaps', namespace: 'team-a', apiVersion: 'v1' },
          responseStatus: { metadata: {}, code: 200 },
        }),
        40_000,
      ),
    );
    clock.advance(30_000);
    // A new process: nothing in memory, the checkpoint in the store.
    const again = poller();
    const r = await again.pollOnce();
    const call = cw.filterCalls().at(-1 - (r.pages - 1))!;
    expect(call.startTime).to.equal(T0 + 60_000 - DEFAULT_OVERLAP_MS);
    expect(call.endTime).to.equal(T0 + 90_000);
    expect(r.recorded).to.equal(1); // only the late one; the rest were read again and skipped
    expect(r.maxDelayMs).to.equal(40_000);
    expect(JSON.parse((await store.getMeta(checkpointKey(GROUP)))!)).to.deep.equal({ end: T0 + 90_000 });

    // The same process again: events it ingested are skipped before the database.
    clock.advance(10_000);
    const r3 = await again.pollOnce();
    expect(r3.repeated).to.equal(r3.events);
    expect(r3.recorded).to.equal(0);

    const uids = (await rows()).map((x) => x.request_uid);
    expect(uids).to.have.length(5);
    expect(new Set(uids).size).to.equal(5);
  });

  it('records an event once when one window returns it twice', async function () {
    cw.events.push({ ...cw.events[0]!, eventId: `${cw.events[0]!.eventId}-dup` });
    const r = await poller().pollOnce();
    expect(r.recorded).to.equal(3);
    expect((await rows()).filter((x) => x.request_uid === '0f3d2c1b-aaaa-4bbb-8ccc-000000000001')).to.have.length(1);
  });

  it('catches up after a long outage in checkpointed windows', async function () {
    await store.setMeta(checkpointKey(GROUP), JSON.stringify({ end: T0 - 3_600_000 }));
    const p = poller();
    const ends: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await p.pollOnce();
      ends.push(r.to);
      if (r.caughtUp) break;
    }
    expect(ends.slice(0, 4)).to.deep.equal([T0 - 2_700_000, T0 - 1_800_000, T0 - 900_000, T0]);
    expect(ends.at(-1)).to.equal(T0 + 60_000);
    expect((await rows()).filter((x) => x.source === 'apiserver')).to.have.length(3);
  });

  it('backs off on ThrottlingException and retries the same page', async function () {
    const p = poller();
    cw.faults = [undefined, { type: 'ThrottlingException', message: 'Rate exceeded' }, { type: 'ThrottlingException', message: 'Rate exceeded' }];
    const r = await p.pollOnce();
    expect(sleeps).to.deep.equal([1000, 2000]);
    expect(r.throttled).to.equal(2);
    const calls = cw.filterCalls();
    expect(calls).to.have.length(5); // page 1, page 2 three times, page 3
    expect(calls[1]!.nextToken).to.equal(calls[3]!.nextToken);
    expect(r.recorded).to.equal(3);
  });

  it('reports AccessDenied with the IAM actions and the log group ARN, and keeps its checkpoint', async function () {
    await store.setMeta(checkpointKey(GROUP), JSON.stringify({ end: T0 }));
    cw.faults = [
      {
        type: 'AccessDeniedException',
        message:
          'User: arn:aws:sts::123456789012:assumed-role/agentgate-webhook/1764521880123456789 is not authorized to perform: logs:FilterLogEvents on resource: arn:aws:logs:eu-west-1:123456789012:log-group:/aws/eks/prod/cluster:log-stream: because no identity-based policy allows the logs:FilterLogEvents action',
      },
    ];
    let err: Error | undefined;
    try {
      await poller().pollOnce();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.contain('AWS refused logs:FilterLogEvents on arn:aws:logs:eu-west-1:123456789012:log-group:/aws/eks/prod/cluster:*');
    expect(err?.message).to.contain('logs:FilterLogEvents and logs:DescribeLogStreams');
    expect(err?.message).to.contain('eks.amazonaws.com/role-arn');
    expect(JSON.parse((await store.getMeta(checkpointKey(GROUP)))!)).to.deep.equal({ end: T0 });
    expect(await rows()).to.have.length(1);
  });

  it('a page that fails mid-window is read again by the next poll, each event recorded once', async function () {
    const p = poller();
    cw.faults = [undefined, { type: 'InternalFailure', message: 'We encountered an internal error', status: 500 }];
    let failed = false;
    try {
      await p.pollOnce();
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect(await store.getMeta(checkpointKey(GROUP))).to.equal(undefined);
    // The first page was ingested before the failure: read again, skipped; the rest is new.
    const r = await p.pollOnce();
    expect(r).to.include({ pages: 3, repeated: 3, recorded: 0, settled: 1 });
    expect((await rows()).filter((x) => x.source === 'apiserver')).to.have.length(3);
  });

  it('probes the log group: no audit stream, or no log group, says how to enable the audit log', async function () {
    cw.events = [];
    expect(await poller().probe()).to.contain(`--name prod --logging '{"clusterLogging":[{"types":["audit"],"enabled":true}]}'`);
    cw.faults = [{ type: 'ResourceNotFoundException', message: 'The specified log group does not exist.' }];
    const msg = await poller().probe();
    expect(msg).to.contain('log group /aws/eks/prod/cluster does not exist in eu-west-1');
    expect(msg).to.contain('aws eks update-cluster-config --region eu-west-1 --name prod');
    cw.events = recordedLog();
    expect(await poller().probe()).to.equal(undefined);
  });

  it('explains missing credentials and region', function () {
    expect(
      explainError(
        Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
        'logs:FilterLogEvents',
        GROUP,
        REGION,
      ),
    ).to.contain('IRSA');
    expect(explainError(new Error('Region is missing'), 'logs:FilterLogEvents', GROUP, '<region>')).to.contain('--audit-cloudwatch-region');
  });

  it('start() polls until stop()', async function () {
    const p = new CloudWatchAuditPoller({
      client: cloudWatchClient(REGION, {
        credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
        requestHandler: { handle: cw.handle },
        maxAttempts: 1,
      }),
      logGroup: GROUP,
      region: REGION,
      store,
      agentFor,
      clock,
      log: quietLogger(),
      intervalMs: 60_000,
    });
    p.start();
    for (let i = 0; i < 200 && !(await store.getMeta(checkpointKey(GROUP))); i++) await new Promise((r) => setTimeout(r, 20));
    await p.stop();
    expect((await rows()).filter((x) => x.source === 'apiserver')).to.have.length(3);
  });
});
