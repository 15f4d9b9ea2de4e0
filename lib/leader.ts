// Leader election on a coordination.k8s.io/v1 Lease, the protocol client-go's
// leaderelection package uses, so `kubectl get lease` reads the same way:
// - a candidate takes the lease when it is free or its holder has not renewed it for
//   leaseDuration, measured on the candidate's own clock from when it last saw the record
//   change (never by comparing clocks across machines);
// - the leader renews every retryPeriod and gives up leadership if it cannot renew for
//   renewDeadline (< leaseDuration), so it stops acting before anyone else may start;
// - every write carries the resourceVersion read, so two candidates cannot both win;
// - on graceful shutdown the leader releases the lease so a standby takes over at once.
import type * as k8s from '@kubernetes/client-node';
import { V1MicroTime } from '@kubernetes/client-node/dist/types.js';
import type { Clock } from './clock.js';
import { apiPath, errorMessage, GV, isConflict, isNotFound, KubeApi } from './kube.js';
import type { Logger } from './log.js';

interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date | string;
  renewTime?: Date | string;
  leaseTransitions?: number;
}

export interface Observation {
  /** The record as last read, serialised, to notice renewals. */
  key: string;
  /** When (our clock, ms) the record last changed. */
  at: number;
}

// The client hands MicroTime back as a string or a Date depending on the path it took.
const timeMs = (t: Date | string | undefined): number | '' => (t === undefined ? '' : t instanceof Date ? t.getTime() : Date.parse(String(t)));

export const recordKey = (r: LeaseRecord | undefined): string => (r ? `${r.holderIdentity ?? ''}|${timeMs(r.renewTime)}|${r.leaseTransitions ?? ''}` : '');

type LeaseDecision = { action: 'create' } | { action: 'take'; transitions: number } | { action: 'renew' } | { action: 'wait'; holder: string };

/** Pure: what a candidate does given the lease it just read. */
export function decideLease(
  record: LeaseRecord | undefined,
  exists: boolean,
  id: string,
  observed: Observation,
  nowMs: number,
  leaseDurationMs: number,
): LeaseDecision {
  if (!exists) return { action: 'create' };
  const holder = record?.holderIdentity ?? '';
  if (holder === id) return { action: 'renew' };
  const transitions = (record?.leaseTransitions ?? 0) + (holder ? 1 : 0);
  if (!holder) return { action: 'take', transitions };
  const duration = (record?.leaseDurationSeconds ?? 0) * 1000 || leaseDurationMs;
  if (nowMs - observed.at >= duration) return { action: 'take', transitions };
  return { action: 'wait', holder };
}

interface LeaderElectorOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  name: string;
  id: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  clock: Clock;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private readonly kube: KubeApi;
  private observed: Observation = { key: '\u0000', at: 0 };
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private inFlight?: Promise<void>;

  constructor(private readonly o: LeaderElectorOptions) {
    this.kube = new KubeApi(o.kc);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.o.log.info('leader election: candidate', { lease: `${this.o.namespace}/${this.o.name}`, id: this.o.id });
    const tick = (): void => {
      if (this.stopped) return;
      this.inFlight = this.tryAcquireOrRenew().finally(() => {
        this.inFlight = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.o.retryPeriodMs);
      });
    };
    tick();
  }

  private path(): string {
    return apiPath(GV.coordination, 'leases', this.o.namespace, this.o.name);
  }

  private now(): number {
    return this.o.clock.now().getTime();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { namespace, name, id } = this.o;
    try {
      let lease: k8s.V1Lease | undefined;
      try {
        lease = await this.kube.get<k8s.V1Lease>(this.path());
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      const record: LeaseRecord | undefined = lease?.spec;
      const key = recordKey(record);
      if (key !== this.observed.key) this.observed = { key, at: this.now() };
      const d = decideLease(record, lease !== undefined, id, this.observed, this.now(), this.o.leaseDurationMs);
      const now = new V1MicroTime(this.now());
      const seconds = Math.ceil(this.o.leaseDurationMs / 1000);
      switch (d.action) {
        case 'create':
          await this.kube.create(apiPath(GV.coordination, 'leases', namespace), {
            apiVersion: GV.coordination,
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { holderIdentity: id, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          });
          this.acquired();
          return;
        case 'take':
        case 'renew': {
          const spec: k8s.V1LeaseSpec =
            d.action === 'take'
              ? { holderIdentity: id, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now, leaseTransitions: d.transitions }
              : { ...lease!.spec, leaseDurationSeconds: seconds, renewTime: now };
          await this.kube.replace(this.path(), { ...lease!, spec });
          if (d.action === 'take' || !this.leading) this.acquired();
          this.lastRenew = this.now();
          return;
        }
        case 'wait':
          if (this.leading) this.lost(`lease now held by ${d.holder}`);
          return;
      }
    } catch (e) {
      if (isConflict(e)) {
        // Someone else wrote first; read again next period.
        this.o.log.debug('leader election: lost a write race', { error: errorMessage(e) });
      } else {
        this.o.log.warn('leader election: lease read/write failed', { error: errorMessage(e) });
      }
      if (this.leading && this.now() - this.lastRenew > this.o.renewDeadlineMs) {
        this.lost(`could not renew for ${this.o.renewDeadlineMs} ms`);
      }
    }
  }

  private acquired(): void {
    this.lastRenew = this.now();
    if (this.leading) return;
    this.leading = true;
    this.o.log.info('leader election: became leader', { lease: `${this.o.namespace}/${this.o.name}`, id: this.o.id });
    this.o.onStartedLeading();
  }

  private lost(why: string): void {
    this.leading = false;
    this.o.log.error('leader election: lost leadership', { id: this.o.id, why });
    this.o.onStoppedLeading();
  }

  /** Stops campaigning; if leading, hands the lease back so a standby need not wait it out. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight?.catch(() => undefined);
    if (!this.leading) return;
    this.leading = false;
    const { id } = this.o;
    try {
      const lease = await this.kube.get<k8s.V1Lease>(this.path());
      if (lease.spec?.holderIdentity !== id) return;
      const now = new V1MicroTime(this.now());
      await this.kube.replace(this.path(), {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
      this.o.log.info('leader election: released the lease', { id });
    } catch (e) {
      this.o.log.warn('leader election: release failed; the lease expires by itself', { error: errorMessage(e) });
    }
  }
}
