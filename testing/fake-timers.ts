// Timers driven by hand on a fake clock, for code that takes lib/clock.ts's Timers.
import type { Clock, Timers } from '../lib/clock.js';

export class FakeTimers implements Timers {
  /** The fake time, in milliseconds. */
  now = 0;
  /** The same time as a Clock, for code that reads `clock.now()` beside its timers. */
  readonly clock: Clock = { now: () => new Date(this.now) };
  private next = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }

  /** Moves time on and fires, in deadline order, the timers due by then. */
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= this.now) {
        this.pending.delete(id);
        t.fn();
      }
    }
  }

  /** Timers set and neither fired nor cleared. */
  get count(): number {
    return this.pending.size;
  }

  /** When the earliest pending timer fires, relative to now; undefined when none is pending. */
  get nextInMs(): number | undefined {
    let at: number | undefined;
    for (const t of this.pending.values()) at = at === undefined ? t.at : Math.min(at, t.at);
    return at === undefined ? undefined : at - this.now;
  }
}
