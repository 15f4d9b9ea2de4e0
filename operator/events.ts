// Kubernetes Events (core/v1) for transitions. Best effort, as in client-go's recorder:
// posting is asynchronous with bounded concurrency and a bounded backlog, so a slow or
// failing events API never delays revoking access.
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { errorMessage } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface Recorder {
  emit(obj: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export class EventRecorder implements Recorder {
  private readonly api: k8s.CoreV1Api;
  private readonly backlog: Array<() => Promise<void>> = [];
  private running = 0;
  private dropped = 0;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: { component: string; instance: string; clock: Clock; log: Logger; concurrency?: number; maxBacklog?: number },
  ) {
    this.api = kc.makeApiClient(k8s.CoreV1Api);
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
    if (this.backlog.length >= (this.o.maxBacklog ?? 10_000)) {
      if (this.dropped++ % 1000 === 0) this.o.log.warn('event backlog full; dropping events', { dropped: this.dropped });
      return;
    }
    this.backlog.push(async () => {
      try {
        await this.api.createNamespacedEvent({ namespace, body });
      } catch (e) {
        this.o.log.debug('event not recorded', { reason, object: `${namespace}/${obj.metadata.name}`, error: errorMessage(e) });
      }
    });
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
