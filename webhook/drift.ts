// Self-healing of agentgate's own webhook configurations (design.md, "Boundary
// verification"): the webhook watches its three configurations and, on any change or
// deletion it did not make, re-applies the desired state at once. A narrowed agents
// configuration would otherwise let the agent's unapproved calls pass until a human acts.
//
// Each configuration is watched by name (fieldSelector metadata.name=...), which RBAC
// authorises against resourceNames, so the webhook needs no list/watch on the type.
// Watches restart after errors with a short backoff; a periodic sync remains the backstop.
import type * as k8s from '@kubernetes/client-node';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import { apiPath, GV, type KubeApi } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';

interface WatchedConfiguration {
  /** The watch path of the type, e.g. /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations */
  path: string;
  name: string;
}

export class ConfigurationWatch {
  private readonly watch: Watch;
  private readonly aborts: AbortController[] = [];
  private stopped = false;
  private debounce: NodeJS.Timeout | undefined;

  constructor(
    kc: k8s.KubeConfig,
    private readonly targets: readonly WatchedConfiguration[],
    /** Called (debounced by a few ms) after any event on a watched configuration. */
    private readonly onEvent: (name: string, type: string) => void,
    private readonly log: Logger,
  ) {
    this.watch = new Watch(kc);
  }

  start(): void {
    for (const t of this.targets) void this.run(t, 250);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.debounce);
    for (const a of this.aborts) a.abort();
  }

  private async run(t: WatchedConfiguration, backoffMs: number): Promise<void> {
    if (this.stopped) return;
    let lastType = '';
    const restart = (err?: unknown): void => {
      if (this.stopped) return;
      if (err) this.log.warn('webhook configuration watch ended', { configuration: t.name, error: String(err) });
      setTimeout(() => void this.run(t, Math.min(backoffMs * 2, 5_000)), err ? backoffMs : 0).unref();
    };
    try {
      const ac = await this.watch.watch(
        t.path,
        { fieldSelector: `metadata.name=${t.name}`, allowWatchBookmarks: false },
        (type: string) => {
          lastType = type;
          // ADDED arrives for the current state when a watch starts: compare anyway, the sync is idempotent.
          clearTimeout(this.debounce);
          this.debounce = setTimeout(() => this.onEvent(t.name, type), 20);
        },
        (err: unknown) => restart(err && !(err instanceof Error && err.name === 'AbortError') ? err : undefined),
      );
      this.aborts.push(ac);
      void lastType;
    } catch (err) {
      restart(err);
    }
  }
}

/** Posts a Warning Event about a cluster-scoped configuration (into default, as kubectl describe expects). Best effort. */
export async function driftEvent(kube: KubeApi, kind: string, name: string, message: string, component: string, log: Logger): Promise<void> {
  const now = new Date();
  try {
    await kube.create(apiPath(GV.core, 'events', 'default'), {
      metadata: { name: `${name}.${now.getTime().toString(16)}`, namespace: 'default' },
      involvedObject: { apiVersion: GV.admission, kind, name },
      type: 'Warning',
      reason: 'DriftRestored',
      message,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    } satisfies k8s.CoreV1Event);
  } catch (err) {
    log.warn('could not post the DriftRestored Event', { configuration: name, error: String((err as Error)?.message ?? err) });
  }
}
