// Observed identity: the username, groups and extra keys the apiserver attached to an
// agent's calls, recorded into AgentIdentity status.observedIdentity (first/last seen).
// Declared subjects can be incomplete (an EKS access entry's kubernetesGroups, a client
// certificate's organisations); boundary verification checks declared ∪ observed.
//
// Why this is safe to take from an AdmissionReview (design.md, "What the webhook may
// trust"): a forged review could plant entries, so observed identity is only ever used
// to ADD findings (more groups whose bindings get checked), never to grant, match or
// exempt anything; a planted entry can only cause a false finding, and the list is
// bounded (MAX_OBSERVED, oldest lastSeen evicted) so it cannot grow without end. The
// webhook only records callers that already match an AgentIdentity's declared subjects.
// Writes are throttled per identity (at most one per MIN_INTERVAL_MS per process) and
// best effort: a failed write never affects the decision.
import type { AgentIdentity } from '../api/types.js';
import type { UserInfo } from '../lib/admission.js';
import type { Clock } from '../lib/clock.js';
import { rfc3339 } from '../lib/clock.js';
import { agentgatePath, type KubeApi } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';

type ObservedEntry = NonNullable<NonNullable<AgentIdentity['status']>['observedIdentity']>[number];

const MAX_OBSERVED = 32;
const MIN_INTERVAL_MS = 60_000;
const MAX_GROUPS = 64;
const MAX_EXTRA_KEYS = 32;
const MAX_TEXT = 512;

function clip(xs: readonly string[], max: number): string[] {
  return [...new Set(xs.map((x) => x.slice(0, MAX_TEXT)))].sort().slice(0, max);
}

function shape(user: UserInfo): { username: string; groups: string[]; extraKeys: string[] } {
  return {
    username: (user.username ?? '').slice(0, MAX_TEXT),
    groups: clip(user.groups ?? [], MAX_GROUPS),
    extraKeys: clip(Object.keys(user.extra ?? {}), MAX_EXTRA_KEYS),
  };
}

const identityKey = (e: { username: string; groups?: string[]; extraKeys?: string[] }): string =>
  JSON.stringify([e.username, e.groups ?? [], e.extraKeys ?? []]);

/**
 * The observedIdentity list after seeing this user at `now`, or undefined when nothing
 * needs writing (already recorded, lastSeen within minIntervalMs). Pure.
 */
function mergeObserved(
  existing: readonly ObservedEntry[] | undefined,
  user: UserInfo,
  now: Date,
  minIntervalMs = MIN_INTERVAL_MS,
): ObservedEntry[] | undefined {
  const seen = shape(user);
  if (!seen.username) return undefined;
  const list = [...(existing ?? [])];
  const key = identityKey(seen);
  const i = list.findIndex((e) => identityKey(e) === key);
  const stamp = rfc3339(now);
  if (i >= 0) {
    const last = Date.parse(list[i]!.lastSeen);
    if (!Number.isNaN(last) && now.getTime() - last < minIntervalMs) return undefined;
    list[i] = { ...list[i]!, lastSeen: stamp };
    return list;
  }
  list.push({ ...seen, firstSeen: stamp, lastSeen: stamp });
  list.sort((a, b) => Date.parse(b.lastSeen) - Date.parse(a.lastSeen));
  return list.slice(0, MAX_OBSERVED);
}

interface StatusPatcher {
  /** JSON merge patch of status.observedIdentity only (other status fields are the operator's). */
  patchObserved(agent: string, observed: ObservedEntry[]): Promise<void>;
}

export class ObservedIdentityRecorder {
  /** agent|identity -> when this process last wrote it, so a burst of calls writes once. */
  private readonly written = new Map<string, number>();

  constructor(
    private readonly patcher: StatusPatcher,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Fire and forget: never throws, never delays the admission answer. */
  observe(agent: AgentIdentity, user: UserInfo): void {
    const name = agent.metadata.name ?? '';
    const now = this.clock.now();
    const k = `${name}|${identityKey(shape(user))}`;
    const last = this.written.get(k);
    if (last !== undefined && now.getTime() - last < MIN_INTERVAL_MS) return;
    const next = mergeObserved(agent.status?.observedIdentity, user, now);
    if (!next) return;
    this.written.set(k, now.getTime());
    if (this.written.size > 10_000) this.written.clear();
    this.patcher.patchObserved(name, next).catch((err: unknown) => {
      this.written.delete(k);
      this.log.warn('could not record observed identity', { agent: name, error: String((err as Error)?.message ?? err) });
    });
  }
}

/** The StatusPatcher over the apiserver: a merge patch of the status subresource. */
export class KubeObservedPatcher implements StatusPatcher {
  constructor(private readonly kube: KubeApi) {}
  async patchObserved(agent: string, observed: ObservedEntry[]): Promise<void> {
    await this.kube.mergePatch(`${agentgatePath('AgentIdentity', undefined, agent)}/status`, { status: { observedIdentity: observed } });
  }
}
