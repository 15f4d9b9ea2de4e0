// A keyed work queue in the style of client-go's workqueue: a key is queued at most once
// (dedupe), is never processed by two workers at once (a key added while processing is
// processed again afterwards), failures retry with per-key exponential backoff, and
// addAfter keeps one timer per key at its earliest deadline (the exact per-grant timer).
// Two lanes: urgent keys (a timer that fired: access is due to end now) are taken before
// normal ones, so a burst of expiries is not stuck behind routine resyncs.

import { realTimers, type Timers } from '../lib/clock.js';

interface QueueOptions {
  workers: number;
  /** First retry delay after a failure; doubles per consecutive failure of the key. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  timers?: Timers;
  /** Wall-clock milliseconds, for choosing the earliest of two deadlines. */
  nowMs?: () => number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export type Handler = (key: string) => Promise<void>;

// setTimeout overflows above 2^31-1 ms (about 24.8 days); longer waits re-arm.
const MAX_TIMER_MS = 2_147_483_647;

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly urgent: string[] = [];
  private urgentHead = 0;
  /** Queued keys and their lane; an entry in a deque whose lane no longer matches is skipped. */
  private readonly queued = new Map<string, 'urgent' | 'normal'>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly dirtyUrgent = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly idleWaiters: Array<() => void> = [];
  private running = 0;
  private stopped = false;
  private readonly timers: Timers;
  private readonly nowMs: () => number;

  constructor(
    private readonly handler: Handler,
    private readonly opts: QueueOptions,
  ) {
    this.timers = opts.timers ?? realTimers;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  get depth(): number {
    return this.queued.size;
  }

  get pendingTimers(): number {
    return this.delayed.size;
  }

  add(key: string, urgent = false): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      if (urgent) this.dirtyUrgent.add(key);
      return;
    }
    const lane = this.queued.get(key);
    if (lane === 'urgent' || (lane === 'normal' && !urgent)) return;
    if (urgent) {
      this.queued.set(key, 'urgent');
      this.urgent.push(key);
    } else {
      this.queued.set(key, 'normal');
      this.queue.push(key);
    }
    this.pump();
  }

  /** Adds key after ms; of several pending deadlines for one key the earliest wins. */
  addAfter(key: string, ms: number, urgent = false): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.add(key, urgent);
      return;
    }
    const at = this.nowMs() + ms;
    const cur = this.delayed.get(key);
    if (cur && cur.at <= at) return;
    if (cur) this.timers.clearTimeout(cur.handle);
    const handle = this.timers.setTimeout(
      () => {
        if (this.delayed.get(key)?.handle !== handle) return;
        this.delayed.delete(key);
        const left = at - this.nowMs();
        if (left > 0) this.addAfter(key, left, urgent);
        else this.add(key, urgent);
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    this.delayed.set(key, { at, handle });
  }

  /** Retry after a failure, with exponential backoff per key. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const base = this.opts.baseBackoffMs ?? 200;
    const delay = Math.min(base * 2 ** (n - 1), this.opts.maxBackoffMs ?? 60_000);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves when nothing is queued or processing (timers may still be pending). */
  idle(): Promise<void> {
    if (this.depth === 0 && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking work, drops timers, and waits for in-flight handlers to finish. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const d of this.delayed.values()) this.timers.clearTimeout(d.handle);
    this.delayed.clear();
    this.queue.length = 0;
    this.head = 0;
    this.urgent.length = 0;
    this.urgentHead = 0;
    this.queued.clear();
    await this.idle();
  }

  private take(): string | undefined {
    while (this.urgentHead < this.urgent.length) {
      const key = this.urgent[this.urgentHead++]!;
      if (this.urgentHead > 1024 && this.urgentHead * 2 > this.urgent.length) {
        this.urgent.splice(0, this.urgentHead);
        this.urgentHead = 0;
      }
      if (this.queued.get(key) === 'urgent') return key;
    }
    while (this.head < this.queue.length) {
      const key = this.queue[this.head++]!;
      // Compact now and then so a long-running queue does not grow without bound.
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      // Skipped when it moved to the urgent lane (and was taken there).
      if (this.queued.get(key) === 'normal') return key;
    }
    return undefined;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.workers) {
      const key = this.take();
      if (key === undefined) break;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      void this.run(key);
    }
    if (this.depth === 0 && this.running === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.handler(key);
      this.forget(key);
    } catch (err) {
      if (!this.stopped) {
        const delay = this.addRateLimited(key);
        this.opts.onError?.(key, err, delay);
      }
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key, this.dirtyUrgent.delete(key));
      this.pump();
    }
  }
}
