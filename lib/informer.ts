// A cache of one kind kept by list+watch, that restarts itself after errors (client-node's
// ListWatch stops on an error) and relists on a period, because a watch can miss events.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from './log.js';

export interface WatchedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export type ChangeHandler<T> = (obj: T, event: 'add' | 'update' | 'delete' | 'resync') => void;

export interface InformerOptions<T> {
  kc: k8s.KubeConfig;
  /** Watch path, e.g. /apis/agentgate.io/v1alpha1/accessgrants */
  path: string;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  /** Relist and report every object as 'resync' this often (default 5 min). */
  resyncMs?: number;
  log?: Logger;
  name: string;
  /**
   * Trims an object as it enters the cache (it runs on the cached object itself, before
   * handlers see it), e.g. dropping metadata.managedFields, which is about half of a
   * typical object and which controllers rarely read.
   */
  trim?: (obj: T) => void;
}

export class Informer<T extends WatchedObject> {
  private lw?: k8s.ListWatch<T>;
  private handlers: ChangeHandler<T>[] = [];
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private backoffMs = 500;
  private syncedResolve!: () => void;
  /** Resolves after the first complete list. */
  readonly synced: Promise<void>;

  constructor(private readonly opts: InformerOptions<T>) {
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  onChange(h: ChangeHandler<T>): void {
    this.handlers.push(h);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw?.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.lw?.list(namespace) ?? [];
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
    const every = this.opts.resyncMs ?? 300_000;
    this.resyncTimer = setInterval(() => void this.resync(), every);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.restartTimer);
    await this.retireCurrent?.();
  }

  private emit(obj: T, event: 'add' | 'update' | 'delete' | 'resync'): void {
    for (const h of this.handlers) {
      try {
        h(obj, event);
      } catch (e) {
        this.opts.log?.error('informer handler failed', { informer: this.opts.name, error: String(e) });
      }
    }
  }

  private retireCurrent?: () => Promise<void>;

  /**
   * Lists and watches with a fresh ListWatch; true when the list succeeded. The new cache
   * replaces the old one only then: during an outage readers keep the last good cache
   * instead of an empty one (which they would take for "every object was deleted").
   */
  private async connect(): Promise<boolean> {
    let failed = false;
    let retired = false;
    const lw = new k8s.ListWatch<T>(
      this.opts.path,
      new k8s.Watch(this.opts.kc),
      async () => {
        const res = await this.opts.list();
        return res as k8s.KubernetesListObject<T>;
      },
      false,
      this.opts.labelSelector,
    );
    const trim = this.opts.trim;
    lw.on('add', (o) => {
      trim?.(o);
      this.emit(o, 'add');
    });
    lw.on('update', (o) => {
      trim?.(o);
      this.emit(o, 'update');
    });
    lw.on('delete', (o) => this.emit(o, 'delete'));
    const scheduleRestart = (what: string, err: unknown): void => {
      this.opts.log?.warn(what, { informer: this.opts.name, error: String(err), retryInMs: this.backoffMs });
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => void this.restart(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    };
    // ListWatch reports a failed list through 'error' and resolves start() anyway.
    lw.on('error', (err) => {
      failed = true;
      if (this.stopped || retired) return;
      scheduleRestart('watch failed; restarting', err);
    });
    try {
      await lw.start();
    } catch (err) {
      if (!failed && !this.stopped) scheduleRestart('initial list failed; retrying', err);
      failed = true;
    }
    if (failed || this.stopped) {
      retired = true;
      await lw.stop();
      return false;
    }
    this.backoffMs = 500;
    const previous = this.retireCurrent;
    this.lw = lw;
    this.retireCurrent = async () => {
      retired = true;
      await lw.stop();
    };
    await previous?.();
    this.syncedResolve();
    return true;
  }

  // A new ListWatch starts with an empty cache, so objects deleted while the watch was
  // down would never be reported: restart the way resync does, diffing before and after.
  private async restart(): Promise<void> {
    if (!this.stopped) await this.resync();
  }

  /** A fresh list replaces the cache: objects the watch missed deleting are reported as 'delete', then every object as 'resync'. */
  private async resync(): Promise<void> {
    if (this.stopped) return;
    const key = (o: T) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const before = new Map(this.list().map((o) => [key(o), o]));
    // A failed list leaves an empty cache: reporting that as 'every object deleted' would
    // make consumers act on an outage as if it were the truth. Keep quiet until a list works.
    if (!(await this.connect())) return;
    const after = this.list();
    for (const o of after) before.delete(key(o));
    for (const gone of before.values()) this.emit(gone, 'delete');
    for (const o of after) this.emit(o, 'resync');
  }
}

/** An Informer trim that drops metadata.managedFields. */
export function dropManagedFields(obj: { metadata?: object }): void {
  if (obj.metadata) delete (obj.metadata as { managedFields?: unknown }).managedFields;
}
