// Kubernetes Events (core/v1) for transitions. Best effort, as in client-go's recorder:
// posting is asynchronous with bounded concurrency and a bounded backlog, so a slow or
// failing events API never delays revoking access. Under bulk (10,000 grants activating)
// similar events are aggregated as client-go's EventAggregator does: after SIMILAR_MAX
// events of one reason for one kind in one namespace within SIMILAR_WINDOW_MS, one
// combined event carries the count, written at most every COMBINED_FLUSH_MS, so bulk
// transitions cost a handful of writes instead of one per object.
import type * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { apiPath, errorMessage, GV, KubeApi } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';

interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface Recorder {
  emit(obj: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** The writes the recorder makes (a seam for tests). */
export interface EventsApi {
  create(namespace: string, body: k8s.CoreV1Event): Promise<unknown>;
  mergePatch(namespace: string, name: string, patch: Partial<k8s.CoreV1Event>): Promise<unknown>;
}

function liveEvents(kc: k8s.KubeConfig): EventsApi {
  const kube = new KubeApi(kc);
  return {
    create: (namespace, body) => kube.create(apiPath(GV.core, 'events', namespace), body),
    mergePatch: (namespace, name, patch) => kube.mergePatch(apiPath(GV.core, 'events', namespace, name), patch),
  };
}

export const SIMILAR_MAX = 10;
export const SIMILAR_WINDOW_MS = 600_000;
const COMBINED_FLUSH_MS = 10_000;

interface Combined {
  body: k8s.CoreV1Event;
  created: boolean;
  timer?: NodeJS.Timeout;
}

interface Similar {
  since: number;
  n: number;
  combined?: Combined;
}

export class EventRecorder implements Recorder {
  private readonly api: EventsApi;
  private readonly backlog: Array<() => Promise<void>> = [];
  private running = 0;
  private dropped = 0;
  private readonly similar = new Map<string, Similar>();

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: { component: string; instance: string; clock: Clock; log: Logger; concurrency?: number; maxBacklog?: number; api?: EventsApi },
  ) {
    this.api = o.api ?? liveEvents(kc);
  }

  /** Writes the pending combined events now (shutdown, tests). */
  flushCombined(): void {
    for (const s of this.similar.values()) if (s.combined?.timer) this.flush(s.combined);
  }

  emit(obj: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void {
    // Cluster-scoped objects (AgentIdentity) report into default, as kubectl describe expects.
    const namespace = obj.metadata.namespace || 'default';
    const now = this.o.clock.now();
    const body: k8s.CoreV1Event = {
      metadata: { name: `${obj.metadata.name ?? 'object'}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`.slice(0, 253), namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.o.component },
      reportingComponent: `agentgate.io/${this.o.component}`,
      reportingInstance: this.o.instance.slice(0, 128),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const k = `${namespace}\u0000${obj.kind}\u0000${type}\u0000${reason}`;
    let sim = this.similar.get(k);
    if (!sim || now.getTime() - sim.since > SIMILAR_WINDOW_MS) {
      if (sim?.combined?.timer) this.flush(sim.combined);
      if (this.similar.size > 1000) this.pruneSimilar(now.getTime());
      this.similar.set(k, (sim = { since: now.getTime(), n: 0 }));
    }
    if (++sim.n > SIMILAR_MAX) {
      this.combine(sim, body);
      return;
    }
    this.enqueue(async () => {
      try {
        await this.api.create(namespace, body);
      } catch (e) {
        this.o.log.debug('event not recorded', { reason, object: `${namespace}/${obj.metadata.name}`, error: errorMessage(e) });
      }
    });
  }

  /** One event standing for many: the latest message and object, and how many there were. */
  private combine(sim: Similar, latest: k8s.CoreV1Event): void {
    const c = (sim.combined ??= { body: { ...latest, count: 0, firstTimestamp: latest.firstTimestamp }, created: false });
    c.body = {
      ...latest,
      metadata: c.body.metadata,
      count: (c.body.count ?? 0) + 1,
      firstTimestamp: c.body.firstTimestamp,
      message: `(combined from similar events): ${latest.message ?? ''}`.slice(0, 1024),
    };
    if (!c.timer) {
      c.timer = setTimeout(() => this.flush(c), COMBINED_FLUSH_MS);
      c.timer.unref();
    }
  }

  private flush(c: Combined): void {
    clearTimeout(c.timer);
    c.timer = undefined;
    const body = c.body;
    const namespace = body.metadata.namespace ?? 'default';
    const create = !c.created;
    c.created = true;
    this.enqueue(async () => {
      try {
        if (create) await this.api.create(namespace, body);
        else await this.api.mergePatch(namespace, body.metadata.name ?? '', { count: body.count, lastTimestamp: body.lastTimestamp, message: body.message });
      } catch (e) {
        this.o.log.debug('combined event not recorded', { reason: body.reason, error: errorMessage(e) });
      }
    });
  }

  private pruneSimilar(now: number): void {
    for (const [k, s] of this.similar) {
      if (now - s.since <= SIMILAR_WINDOW_MS) continue;
      if (s.combined?.timer) this.flush(s.combined);
      this.similar.delete(k);
    }
  }

  private enqueue(job: () => Promise<void>): void {
    if (this.backlog.length >= (this.o.maxBacklog ?? 10_000)) {
      if (this.dropped++ % 1000 === 0) this.o.log.warn('event backlog full; dropping events', { dropped: this.dropped });
      return;
    }
    this.backlog.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.running < (this.o.concurrency ?? 4) && this.backlog.length > 0) {
      const job = this.backlog.shift()!;
      this.running++;
      void job().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}
