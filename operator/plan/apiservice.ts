// Whether the audit APIService (v1alpha1.audit.agentgate.io) should be in discovery.
//
// While an APIService's server does not answer, the kube-controller-manager's discovery
// fails for its group, and every namespace being deleted in the cluster stays Terminating
// (NamespaceDeletionDiscoveryFailure). Pointing it at nothing (a Local APIService) does not
// help: the apiserver serves no such group, aggregated discovery marks it Stale, and
// deletion still waits. Only its absence does. So: withdrawn (deleted) once it has not been
// Available for the grace period, restored (re-created) once a webhook replica serving the
// audit API is heard from again. Never withdrawn while Available.
//
// Times are the operator's own clock (when it saw a change), never the apiserver's or a
// webhook's timestamps, so clock skew between machines cannot withdraw a served API.

/** What the reconciler saw this time. */
interface AuditApiObserved {
  /** undefined: no such APIService. */
  apiService?: { available: boolean; uid: string };
  /** A webhook replica serving the audit API renewed its heartbeat within the heartbeat's duration. */
  webhookHeard: boolean;
}

/** What the reconciler remembers between looks (in memory: a restart only waits longer). */
export interface AuditApiMemory {
  /** When it was first seen not Available in the current outage. */
  unavailableSinceMs?: number;
  /** When it was last withdrawn. */
  withdrawnAtMs?: number;
  /** Restores since it was last Available: each one that did not become Available doubles the wait before the next. */
  failedRestores: number;
  /** Restored by us and not yet seen Available. */
  restorePending: boolean;
}

type AuditApiAction =
  | { type: 'none'; requeueAfterMs: number }
  | { type: 'withdraw'; uid: string; requeueAfterMs: number; reason: 'AuditAPIWithdrawn'; message: string }
  | { type: 'restore'; requeueAfterMs: number; reason: 'AuditAPIRestored'; message: string };

/** The longest wait between restores of an APIService whose server is heard from but never becomes Available. */
export const MAX_RESTORE_BACKOFF_MS = 600_000;

/** How often to look: a quarter of the grace, between 1 s and 10 s. */
export const pollMs = (graceMs: number): number => Math.min(10_000, Math.max(1_000, Math.round(graceMs / 4)));

/** The wait after a withdrawal before the next restore: none at first, then grace doubling per restore that failed. */
export function restoreBackoffMs(graceMs: number, failedRestores: number): number {
  if (failedRestores <= 0) return 0;
  return Math.min(MAX_RESTORE_BACKOFF_MS, graceMs * 2 ** (failedRestores - 1));
}

/** Pure: the next step, and the memory to keep (mutated in place: one reconciler owns it). */
export function planAuditApiService(o: AuditApiObserved, nowMs: number, graceMs: number, m: AuditApiMemory): AuditApiAction {
  const poll = pollMs(graceMs);
  const seconds = Math.round(graceMs / 1000);
  if (o.apiService) {
    if (o.apiService.available) {
      m.unavailableSinceMs = undefined;
      m.failedRestores = 0;
      m.restorePending = false;
      return { type: 'none', requeueAfterMs: poll };
    }
    m.unavailableSinceMs ??= nowMs;
    const left = m.unavailableSinceMs + graceMs - nowMs;
    if (left > 0) return { type: 'none', requeueAfterMs: Math.min(poll, left) };
    if (m.restorePending) m.failedRestores++;
    m.restorePending = false;
    m.unavailableSinceMs = undefined;
    m.withdrawnAtMs = nowMs;
    return {
      type: 'withdraw',
      uid: o.apiService.uid,
      requeueAfterMs: poll,
      reason: 'AuditAPIWithdrawn',
      message:
        `no webhook replica has served the audit API for ${seconds}s: APIService withdrawn from discovery so that namespaces can finish deleting; ` +
        'kubectl get auditevents is unknown until a webhook replica serving --audit-port is ready again (then it is restored); ' +
        'fix: check the agentgate-webhook pods and the agentgate-audit Service',
    };
  }
  m.unavailableSinceMs = undefined;
  if (!o.webhookHeard) return { type: 'none', requeueAfterMs: poll };
  const wait = m.withdrawnAtMs === undefined ? 0 : m.withdrawnAtMs + restoreBackoffMs(graceMs, m.failedRestores) - nowMs;
  if (wait > 0) return { type: 'none', requeueAfterMs: Math.min(poll, wait) };
  m.restorePending = true;
  return {
    type: 'restore',
    requeueAfterMs: poll,
    reason: 'AuditAPIRestored',
    message:
      m.failedRestores > 0
        ? `a webhook replica serves the audit API again: APIService restored (attempt ${m.failedRestores + 1}; the earlier ones never became Available: check that the apiserver can reach the agentgate-audit Service)`
        : 'a webhook replica serves the audit API again: APIService restored; kubectl get auditevents works once it is Available',
  };
}
