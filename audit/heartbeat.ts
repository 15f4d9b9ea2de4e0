// The audit API's heartbeat: every webhook replica serving it renews one Lease in
// agentgate's namespace. While the APIService is withdrawn (the apiserver then has no
// Available condition to tell), this is how the operator hears that a replica is back
// (operator/reconcile/apiservice.ts). All replicas renew the same Lease: the operator
// needs "someone serves", not who.
import { V1MicroTime } from '@kubernetes/client-node/dist/types.js';
import { AUDIT_HEARTBEAT_LEASE } from '../api/types.js';
import { apiPath, GV, isAlreadyExists, isNotFound, type KubeApi } from '../lib/kube.js';

/** How often a replica renews; the operator counts a heartbeat for three periods after it saw it change. */
export const HEARTBEAT_PERIOD_MS = 10_000;

/** One renewal: a merge patch of the Lease's spec, creating the Lease when it does not exist. */
export async function renewAuditHeartbeat(kube: KubeApi, namespace: string, id: string, now: Date): Promise<void> {
  const spec = { holderIdentity: id, renewTime: new V1MicroTime(now), leaseDurationSeconds: (3 * HEARTBEAT_PERIOD_MS) / 1000 };
  try {
    await kube.mergePatch(apiPath(GV.coordination, 'leases', namespace, AUDIT_HEARTBEAT_LEASE), { spec });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    try {
      await kube.create(apiPath(GV.coordination, 'leases', namespace), {
        apiVersion: GV.coordination,
        kind: 'Lease',
        metadata: { name: AUDIT_HEARTBEAT_LEASE, namespace, labels: { 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/component': 'webhook' } },
        spec,
      });
    } catch (e2) {
      if (!isAlreadyExists(e2)) throw e2;
    }
  }
}
