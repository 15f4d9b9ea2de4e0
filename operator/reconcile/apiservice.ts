// The audit APIService reconciler: withdraws v1alpha1.audit.agentgate.io from discovery
// while no webhook replica serves it, and restores it when one does (why deletion, and
// the rules: operator/plan/apiservice.ts). One key, polled by its own requeue.
//
// One owner per field: the installer (chart, harness) writes the spec; the webhook (or
// cert-manager's cainjector) keeps spec.caBundle current; this reconciler only deletes the
// object and re-creates it as it last saw it (caBundle included, so it is Available at
// once; the webhook re-publishes the bundle within a minute either way).
import type * as k8s from '@kubernetes/client-node';
import { HEARTBEAT_PERIOD_MS } from '../../audit/heartbeat.js';
import { AUDIT_APISERVICE, AUDIT_GROUP, AUDIT_SERVICE, VERSION } from '../../api/types.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../lib/kube.js';
import { recordKey } from '../../lib/leader.js';
import { type AuditApiMemory, planAuditApiService } from '../plan/apiservice.js';
import type { ReconcileContext, Result } from './context.js';

/** How long a heartbeat counts after the operator saw it change: three renewal periods. */
const HEARTBEAT_DURATION_MS = 3 * HEARTBEAT_PERIOD_MS;

type LeaseRecord = Parameters<typeof recordKey>[0];

/** The reads and writes of this reconciler (a seam: fakes in unit tests). */
export interface AuditApiServiceApi {
  /** undefined when it does not exist. */
  read(): Promise<k8s.V1APIService | undefined>;
  /** The heartbeat Lease's spec; undefined when it does not exist. */
  heartbeat(): Promise<LeaseRecord | undefined>;
  create(body: k8s.V1APIService): Promise<void>;
  /** With a uid precondition: an APIService re-created meanwhile (helm upgrade) is left alone (409). */
  delete(uid: string): Promise<void>;
}

const APISERVICE_TARGET = { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService' } as const;

/** cert-manager's cainjector fills spec.caBundle of an object carrying this annotation (namespace/Certificate). */
const CERT_MANAGER_INJECT_CA_FROM = 'cert-manager.io/inject-ca-from';

/**
 * What to re-create when none was seen since the operator started: the chart's (Service
 * agentgate-audit:443), with cert-manager's annotation when it injects the CA (else the
 * webhook re-publishes the bundle: tls.mode=auto).
 */
export function defaultAuditApiService(namespace: string, injectCaFrom?: string): k8s.V1APIService {
  return {
    ...APISERVICE_TARGET,
    metadata: {
      name: AUDIT_APISERVICE,
      labels: { 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/component': 'webhook' },
      ...(injectCaFrom ? { annotations: { [CERT_MANAGER_INJECT_CA_FROM]: injectCaFrom } } : {}),
    },
    spec: { group: AUDIT_GROUP, version: VERSION, service: { name: AUDIT_SERVICE, namespace, port: 443 }, groupPriorityMinimum: 1000, versionPriority: 15 },
  };
}

/** The object as it can be re-created: its spec and who it belongs to (labels, annotations such as cert-manager's inject-ca-from). */
function restorable(a: k8s.V1APIService): k8s.V1APIService {
  const { name, labels, annotations } = a.metadata ?? {};
  return { ...APISERVICE_TARGET, metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) }, spec: a.spec };
}

const isAvailable = (a: k8s.V1APIService): boolean => (a.status?.conditions ?? []).some((c) => c.type === 'Available' && c.status === 'True');

export class AuditApiServiceReconciler {
  private readonly memory: AuditApiMemory = { failedRestores: 0, restorePending: false };
  private heard?: { key: string; atMs: number; changed: boolean };
  private lastSeen?: k8s.V1APIService;

  constructor(
    private readonly c: Pick<ReconcileContext, 'clock' | 'log' | 'recorder' | 'namespace'>,
    private readonly api: AuditApiServiceApi,
    private readonly graceMs: number,
    /** --audit-apiservice-inject-ca-from: kept on the default when the withdrawn one was never seen. */
    private readonly injectCaFrom?: string,
  ) {}

  async reconcile(): Promise<Result> {
    const nowMs = this.c.clock.now().getTime();
    const [apiService, lease] = await Promise.all([this.api.read(), this.api.heartbeat()]);
    if (apiService) this.lastSeen = restorable(apiService);
    const action = planAuditApiService(
      {
        ...(apiService ? { apiService: { available: isAvailable(apiService), uid: apiService.metadata?.uid ?? '' } } : {}),
        webhookHeard: this.webhookHeard(lease, nowMs),
      },
      nowMs,
      this.graceMs,
      this.memory,
    );
    if (action.type === 'withdraw') {
      try {
        await this.api.delete(action.uid);
      } catch (e) {
        // Gone already, or re-created meanwhile (a new uid): look again next time.
        if (!isNotFound(e) && !isConflict(e)) throw e;
        return { requeueAfterMs: action.requeueAfterMs };
      }
      this.report('Warning', action.reason, action.message);
    } else if (action.type === 'restore') {
      try {
        await this.api.create(this.lastSeen ?? defaultAuditApiService(this.c.namespace, this.injectCaFrom));
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      this.report('Normal', action.reason, action.message);
    }
    return { requeueAfterMs: action.requeueAfterMs };
  }

  /** Heard: the Lease changed (or appeared), on our clock, within HEARTBEAT_DURATION_MS; what the first look finds may be a dead replica's. */
  private webhookHeard(lease: LeaseRecord | undefined, nowMs: number): boolean {
    const key = recordKey(lease);
    if (!this.heard) this.heard = { key, atMs: nowMs, changed: false };
    else if (this.heard.key !== key) this.heard = { key, atMs: nowMs, changed: true };
    return key !== '' && this.heard.changed && nowMs - this.heard.atMs < HEARTBEAT_DURATION_MS;
  }

  private report(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.c.recorder.emit({ ...APISERVICE_TARGET, metadata: { name: AUDIT_APISERVICE } }, type, reason, message);
    const fields = { apiService: AUDIT_APISERVICE, reason, why: message, graceMs: this.graceMs };
    if (type === 'Warning') this.c.log.warn('audit APIService withdrawn', fields);
    else this.c.log.info('audit APIService restored', fields);
  }
}
