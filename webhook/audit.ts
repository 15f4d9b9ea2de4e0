// Writing AuditEvents with a hash chain per writer.
//
// A chain is strictly sequential (each event holds the previous one's hash), so one
// chain allows one write in flight. To keep latency flat under concurrency a process
// runs several chains ("lanes"), each its own writer id `<writer>-<lane>`; a writer is
// what `verifyChain` checks, so lanes verify independently. A failed write does not
// advance its lane, so a failure never leaves a gap; an ambiguous failure (the create
// may have landed) is settled by reading the event back.
import { createHmac } from 'node:crypto';
import type { AuditEvent, AuditEventSpec } from '../api/types.js';
import { API_VERSION, LABEL_AGENT, LABEL_DECISION, LABEL_MANAGED_BY, LABEL_WRITER, MANAGED_BY } from '../api/types.js';
import { labelValue } from '../api/names.js';
import { appendEvent, emptyHead, recoverHead } from '../lib/audit-chain.js';
import type { ChainHead, UnchainedSpec } from '../lib/audit-chain.js';
import type { AgentgateClient } from '../lib/kube.js';
import { isAlreadyExists, isNotFound } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';

export interface AuditSink {
  /** Resolves with the event's name once it is stored; rejects if it could not be. */
  write(spec: UnchainedSpec): Promise<string>;
}

/** A sink that stores nothing (benchmarks: "audit write stubbed"). */
export class NullAuditSink implements AuditSink {
  private n = 0;
  async write(): Promise<string> {
    return `null-${++this.n}`;
  }
}

/** A writer id usable as a label value and inside object names. */
export function sanitizeWriterId(raw: string): string {
  const s = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/g, '');
  return s || 'webhook';
}

export function eventName(writer: string, sequence: number): string {
  return `${writer}-${String(sequence).padStart(10, '0')}`;
}

class Lane {
  head: ChainHead;
  private tail: Promise<unknown> = Promise.resolve();
  inFlight = 0;
  constructor(readonly writer: string) {
    this.head = emptyHead(writer);
  }
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p.finally(() => this.inFlight--);
  }
}

export class KubeAuditSink implements AuditSink {
  private readonly lanes: Lane[];
  constructor(
    private readonly client: AgentgateClient,
    private readonly namespace: string,
    writer: string,
    laneCount: number,
    private readonly log: Logger,
  ) {
    const base = sanitizeWriterId(writer);
    this.lanes = Array.from({ length: Math.max(1, laneCount) }, (_, i) => new Lane(`${base}-${i}`));
  }

  get writers(): string[] {
    return this.lanes.map((l) => l.writer);
  }

  /** Resumes every lane's chain from the events it wrote before a restart. */
  async recover(): Promise<void> {
    await Promise.all(
      this.lanes.map(async (lane) => {
        const list = await this.client.list<AuditEvent>('AuditEvent', this.namespace, `${LABEL_WRITER}=${lane.writer}`);
        lane.head = recoverHead(lane.writer, list.items);
        if (lane.head.sequence > 0) this.log.info('audit chain resumed', { writer: lane.writer, sequence: lane.head.sequence });
      }),
    );
  }

  write(spec: UnchainedSpec): Promise<string> {
    let lane = this.lanes[0]!;
    for (const l of this.lanes) if (l.inFlight < lane.inFlight) lane = l;
    return lane.run(() => this.writeOn(lane, spec));
  }

  private async writeOn(lane: Lane, spec: UnchainedSpec): Promise<string> {
    const { spec: chained, head } = appendEvent(lane.head, spec);
    const name = eventName(lane.writer, head.sequence);
    const body: AuditEvent = {
      apiVersion: API_VERSION,
      kind: 'AuditEvent',
      metadata: {
        name,
        namespace: this.namespace,
        labels: {
          [LABEL_MANAGED_BY]: MANAGED_BY,
          [LABEL_WRITER]: lane.writer,
          [LABEL_DECISION]: chained.decision,
          ...(chained.agent ? { [LABEL_AGENT]: labelValue(chained.agent) } : {}),
        },
      },
      spec: chained,
    };
    try {
      await this.client.create<AuditEvent>('AuditEvent', body, this.namespace);
      lane.head = head;
      return name;
    } catch (err) {
      // The create may have reached etcd even though we saw an error; if the event is
      // there, the chain moved on and the next event must link to it.
      try {
        const existing = await this.client.get<AuditEvent>('AuditEvent', name, this.namespace);
        if (existing.spec?.chain) lane.head = { writer: lane.writer, sequence: existing.spec.chain.sequence, hash: existing.spec.chain.hash };
        if (existing.spec?.chain?.hash === head.hash && !isAlreadyExists(err)) return name;
      } catch (readErr) {
        if (!isNotFound(readErr)) this.log.warn('audit: cannot read back a failed write', { event: name });
      }
      throw err;
    }
  }
}

/** HMAC of the canonical object: joins records to objects without exposing low-entropy values (Secrets). */
export function objectDigest(canonical: string, key: string): string {
  return createHmac('sha256', key).update(canonical, 'utf8').digest('hex');
}

export type { AuditEventSpec };
