// A cache of one kind kept by a watch, that restarts itself after errors and re-reads the
// whole set on a period, because a watch can miss events.
//
// Memory is the point of this file: an operator caching 10,000 grants and their
// RoleBindings must not hold, at any moment, a full list response, its decoded copy and
// the cache all at once. So:
// - the initial state arrives as a stream ("watch-list": sendInitialEvents=true, KEP-3157,
//   served from the apiserver's watch cache), one object at a time, and each object is
//   transformed into the small shape the readers need before it is stored;
// - a re-read replaces objects one by one in the same store (no second cache built next
//   to the first), and reports what changed as add/update/delete, the rest as 'resync';
// - servers that refuse watch-list (older than 1.27, or the gate off) get a plain list.
import type * as k8s from '@kubernetes/client-node';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import { KubeApi } from './kube.js';
import type { Logger } from './log.js';

export interface WatchedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

type ListOf<T> = { items: T[]; metadata?: { resourceVersion?: string } };

/** previous: the cached copy an update replaced or a delete removed (what a change was a change from). */
type ChangeHandler<T> = (obj: T, event: 'add' | 'update' | 'delete' | 'resync', previous?: T) => void;

interface InformerOptions<T> {
  kc: k8s.KubeConfig;
  /** Watch path, e.g. /apis/agentgate.io/v1alpha1/accessgrants */
  path: string;
  /** The fallback for apiservers without watch-list: one plain list (default: GET path with labelSelector). */
  list?: () => Promise<ListOf<T>>;
  labelSelector?: string;
  /** Re-read every object and report it as 'resync' this often (default 5 min). */
  resyncMs?: number;
  log?: Logger;
  name: string;
  /**
   * Builds the cached copy of an object as it arrives, before handlers see it: keep only
   * what readers use (see cacheShape). Default: stripServerNoise.
   */
  transform?: (obj: T) => T;
}

/** The bookmark annotation that ends a watch-list's initial events. */
const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Phase = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** What one watch connection ended with. */
interface WatchEnd {
  /** The connection's initial events (if it asked for them) all arrived. */
  synced: boolean;
  /** The resourceVersion is too old (410 Gone): the next connection must re-read everything. */
  gone: boolean;
  error?: unknown;
}

export class Informer<T extends WatchedObject> {
  private readonly store = new Map<string, Map<string, T>>();
  private count = 0;
  private resourceVersion = '';
  private readonly watch: Watch;
  private readonly transform: (obj: T) => T;
  private handlers: ChangeHandler<T>[] = [];
  private stopped = true;
  /** false once the apiserver refused watch-list: plain list + watch from then on. */
  private watchList = true;
  private connection?: AbortController;
  /** Bumped per connection, so callbacks of an aborted one are ignored. */
  private generation = 0;
  private resyncTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private backoffMs = 500;
  private syncedResolve!: () => void;
  /** Resolves after the first complete read. */
  readonly synced: Promise<void>;

  constructor(private readonly opts: InformerOptions<T>) {
    this.synced = new Promise((r) => (this.syncedResolve = r));
    this.watch = new Watch(opts.kc);
    this.transform = opts.transform ?? (stripServerNoise as (o: T) => T);
  }

  onChange(h: ChangeHandler<T>): void {
    this.handlers.push(h);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.store.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return [...(this.store.get(namespace)?.values() ?? [])];
    const out: T[] = new Array(this.count);
    let i = 0;
    for (const m of this.store.values()) for (const o of m.values()) out[i++] = o;
    out.length = i;
    return out;
  }

  /** How many objects the cache holds. */
  get size(): number {
    return this.count;
  }

  /** Returns after the first read, successful or not (a failed one is retried with backoff). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect(true);
    const every = this.opts.resyncMs ?? 300_000;
    this.resyncTimer = setInterval(() => void this.resync(), every);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.restartTimer);
    this.generation++;
    this.connection?.abort();
    this.connection = undefined;
  }

  private emit(obj: T, event: 'add' | 'update' | 'delete' | 'resync', previous?: T): void {
    for (const h of this.handlers) {
      try {
        h(obj, event, previous);
      } catch (e) {
        this.opts.log?.error('informer handler failed', { informer: this.opts.name, error: String(e) });
      }
    }
  }

  private put(raw: T, seen?: Set<string>): void {
    const obj = this.transform(raw);
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    let m = this.store.get(ns);
    if (!m) this.store.set(ns, (m = new Map()));
    const before = m.get(name);
    m.set(name, obj);
    seen?.add(`${ns}/${name}`);
    if (!before) {
      this.count++;
      this.emit(obj, 'add');
    } else if (seen && before.metadata?.resourceVersion === obj.metadata?.resourceVersion) {
      this.emit(obj, 'resync');
    } else {
      this.emit(obj, 'update', before);
    }
  }

  private remove(raw: T): void {
    const ns = raw.metadata?.namespace ?? '';
    const name = raw.metadata?.name ?? '';
    const m = this.store.get(ns);
    const before = m?.get(name);
    if (!m || !before) return;
    m.delete(name);
    if (m.size === 0) this.store.delete(ns);
    this.count--;
    this.emit(this.transform(raw), 'delete', before);
  }

  /** After a complete re-read: whatever was not seen in it was deleted while we were not looking. */
  private removeUnseen(seen: Set<string>): void {
    for (const [ns, m] of [...this.store]) {
      for (const [name, obj] of [...m]) if (!seen.has(`${ns}/${name}`)) this.remove(obj);
    }
  }

  /**
   * Reads everything (full) or resumes from the last resourceVersion, then keeps watching.
   * Resolves true once the read is complete; false when it failed (a retry is scheduled).
   * During an outage readers keep the last good cache, never an empty one (which they
   * would take for "every object was deleted").
   */
  private async connect(full: boolean): Promise<boolean> {
    if (this.stopped) return false;
    clearTimeout(this.restartTimer);
    this.connection?.abort();
    const gen = ++this.generation;
    const streaming = full && this.watchList;
    try {
      if (full && !this.watchList) await this.relist();
    } catch (err) {
      if (gen === this.generation) this.scheduleRestart(true, err);
      return false;
    }
    if (gen !== this.generation || this.stopped) return false;
    const { ready, ended } = this.openWatch(gen, streaming);
    void ended.then((end) => {
      if (gen !== this.generation || this.stopped) return;
      if (streaming && !end.synced && isWatchListRefused(end.error)) {
        this.opts.log?.info('apiserver refused watch-list; using list + watch', { informer: this.opts.name, error: String(end.error) });
        this.watchList = false;
        void this.connect(true);
        return;
      }
      if (!end.synced) return this.scheduleRestart(true, end.error ?? 'watch ended before its initial events');
      // The connection ran and ended: resume from where it was, or re-read if that is too old.
      const clean = end.error === undefined && !end.gone;
      this.scheduleRestart(end.gone || !this.resourceVersion, clean ? undefined : (end.error ?? 'resourceVersion too old'), clean ? 200 : undefined);
    });
    const ok = await ready;
    if (ok && gen === this.generation) {
      this.backoffMs = 500;
      this.syncedResolve();
    }
    return ok;
  }

  /** Plain list (apiservers without watch-list), applied object by object. */
  private async relist(): Promise<void> {
    const res = await (this.opts.list ?? (() => new KubeApi(this.opts.kc).get<ListOf<T>>(this.opts.path, { labelSelector: this.opts.labelSelector })))();
    const seen = new Set<string>();
    for (const o of res.items) this.put(o, seen);
    this.removeUnseen(seen);
    this.resourceVersion = res.metadata?.resourceVersion ?? '';
  }

  /**
   * One watch connection. ready: true when its initial events all arrived (at once when
   * it asked for none), false when it ended first. ended: however the connection ends.
   */
  private openWatch(gen: number, initialEvents: boolean): { ready: Promise<boolean>; ended: Promise<WatchEnd> } {
    let readyResolve!: (ok: boolean) => void;
    const ready = new Promise<boolean>((r) => (readyResolve = r));
    const seen = new Set<string>();
    let synced = !initialEvents;
    if (synced) readyResolve(true);
    let gone = false;
    const params: Record<string, string> = { allowWatchBookmarks: 'true' };
    if (this.opts.labelSelector) params.labelSelector = this.opts.labelSelector;
    if (initialEvents) {
      // No resourceVersion: the initial state is a consistent read of the latest.
      params.sendInitialEvents = 'true';
      params.resourceVersionMatch = 'NotOlderThan';
    } else {
      params.resourceVersion = this.resourceVersion;
    }
    const onEvent = (phase: Phase, obj: T & { code?: number; metadata?: { annotations?: Record<string, string> } }): void => {
      if (gen !== this.generation) return;
      switch (phase) {
        case 'ADDED':
        case 'MODIFIED':
          this.put(obj, synced ? undefined : seen);
          break;
        case 'DELETED':
          this.remove(obj);
          break;
        case 'BOOKMARK':
          break;
        case 'ERROR':
          if (obj.code === 410) gone = true;
          return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
      if (phase === 'BOOKMARK' && !synced && obj.metadata?.annotations?.[INITIAL_EVENTS_END] === 'true') {
        this.removeUnseen(seen);
        seen.clear();
        synced = true;
        readyResolve(true);
      }
    };
    const ended = new Promise<WatchEnd>((resolve) => {
      let settled = false;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        if (statusOf(error) === 410) gone = true;
        readyResolve(synced);
        resolve({ synced, gone, error: error ?? undefined });
      };
      this.watch
        .watch(this.opts.path, params, onEvent as (phase: string, obj: unknown) => void, (err: unknown) => finish(err))
        .then((ctl) => {
          if (gen !== this.generation || this.stopped) ctl.abort();
          else this.connection = ctl;
        })
        .catch(finish);
    });
    return { ready, ended };
  }

  /** Reconnects after a delay: at once after a clean end, with backoff after errors. */
  private scheduleRestart(full: boolean, err: unknown, delayMs?: number): void {
    if (this.stopped) return;
    const wait = delayMs ?? this.backoffMs;
    if (err !== undefined) {
      this.opts.log?.warn('watch failed; restarting', { informer: this.opts.name, error: String(err), retryInMs: wait });
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    }
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.connect(full), wait);
  }

  /** A complete re-read into the same store: changes as add/update/delete, the rest as 'resync'. */
  private async resync(): Promise<void> {
    if (!this.stopped) await this.connect(true);
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; code?: unknown } | undefined;
  for (const c of [e?.statusCode, e?.code]) if (typeof c === 'number') return c;
  return undefined;
}

/** 400/403/422 on a watch with sendInitialEvents: the server does not offer watch-list. */
function isWatchListRefused(err: unknown): boolean {
  const s = statusOf(err);
  return s === 400 || s === 422;
}

/**
 * The default cache shape: the object without metadata.managedFields (about half of a
 * typical object, read by no controller) and without kubectl's last-applied copy of it.
 * A new metadata object rather than `delete`, which would leave V8 a slower, larger
 * dictionary-mode object per cached item.
 */
export function stripServerNoise<T extends { metadata?: object }>(obj: T): T {
  const m = obj.metadata as ({ managedFields?: unknown; annotations?: Record<string, string> } & object) | undefined;
  if (!m || (m.managedFields === undefined && m.annotations?.[LAST_APPLIED] === undefined)) return obj;
  const { managedFields: _drop, annotations, ...rest } = m;
  if (annotations) {
    const { [LAST_APPLIED]: _last, ...others } = annotations;
    if (Object.keys(others).length) (rest as { annotations?: Record<string, string> }).annotations = others;
  }
  return { ...obj, metadata: rest };
}

/** Keeps only the named keys of a record (annotations the readers use), or undefined when none is left. */
export function pickKeys(rec: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (!rec) return undefined;
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = rec[k];
    if (v !== undefined) (out ??= {})[k] = v;
  }
  return out;
}
