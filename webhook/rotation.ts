// Renewal of the webhook's own serving certificate while it runs (tls.mode=auto).
//
// One step, repeated: read (or renew) the shared Secret; when it holds a certificate other
// than the one being served, publish its CA bundle in the configurations first, give the
// apiserver a moment to pick the configuration up, then serve the new certificate. New
// TLS handshakes get the new certificate; open connections keep theirs, so nothing is
// dropped. Because the bundle carries the old CA as well, a replica that is still on the
// old certificate keeps working until its own next step switches it.
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { renewalTime, type TlsMaterial } from './tls.js';

interface RenewalDeps {
  clock: Clock;
  log: Logger;
  /** The current (or freshly renewed) material from the shared Secret. */
  load(): Promise<TlsMaterial>;
  /** Writes the CA bundle into the webhook configurations. */
  publishCa(caBundlePem: string): Promise<void>;
  /** Swaps the serving certificate for new handshakes. */
  serve(m: TlsMaterial): void;
  /** Lets the apiserver's informer see the new caBundle before the new certificate is served. */
  settleMs: number;
  /** How often to look for a renewal made by another replica. */
  pollMs: number;
  sleep(ms: number): Promise<void>;
}

/** How long to wait before the next step: until renewal is due, but never longer than pollMs, never less than 1 s. */
export function nextCheckMs(current: TlsMaterial, now: Date, pollMs: number): number {
  const due = renewalTime(current.cert).getTime() - now.getTime();
  return Math.max(1000, Math.min(pollMs, due));
}

export class CertificateRenewal {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  constructor(
    private current: TlsMaterial,
    private readonly d: RenewalDeps,
  ) {}

  get material(): TlsMaterial {
    return this.current;
  }

  /** One step; returns whether the served certificate changed. */
  async step(): Promise<boolean> {
    const next = await this.d.load();
    if (next.cert === this.current.cert && next.ca === this.current.ca) return false;
    await this.d.publishCa(next.ca);
    if (next.cert !== this.current.cert) {
      await this.d.sleep(this.d.settleMs);
      this.d.serve(next);
      this.d.log.info('serving the renewed certificate', { renewAt: renewalTime(next.cert).toISOString() });
    }
    this.current = next;
    return true;
  }

  start(): void {
    const schedule = (ms: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.step()
          .then(() => schedule(nextCheckMs(this.current, this.d.clock.now(), this.d.pollMs)))
          .catch((err: unknown) => {
            this.d.log.warn('certificate renewal step failed; retrying', { error: err instanceof Error ? err.message : String(err) });
            schedule(Math.min(this.d.pollMs, 30_000));
          });
      }, ms);
      this.timer.unref();
    };
    schedule(nextCheckMs(this.current, this.d.clock.now(), this.d.pollMs));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
