// `agentgate uninstall --revoke`: takes agentgate out of a cluster without locking anyone
// out. The chart runs it as a pre-delete hook (its own narrowly bound ServiceAccount);
// people run it by hand before deleting the manifests any other way.
//
// The order is the point. agentgate's configurations fail closed, and the access it gave
// must not outlive it:
//   1. stop-operator        scale the operator to 0 and wait for its pods to go, so no
//                           replica re-creates a RoleBinding behind us;
//   2. remove-protect       delete agentgate-protect by name: it guards agentgate's objects
//                           and RoleBindings, which the next steps change. Agents stay gated
//                           by agentgate-agents until their access is gone;
//   3. revoke               delete every RoleBinding labelled managed-by=agentgate (the
//                           access grants opened), repeated until none is left;
//   4. release-grants       remove the revoke-access finalizer from every AccessGrant, so
//                           grants (and namespaces holding them) can be deleted without agentgate;
//   5. remove-configurations delete agentgate-agents and agentgate-stamp (and protect again,
//                           in case a webhook replica still running restored it).
// Each step is idempotent: a failed run is simply run again.
import * as k8s from '@kubernetes/client-node';
import type { AccessGrant } from '../api/types.js';
import { AGENTS_WEBHOOK, FINALIZER, LABEL_MANAGED_BY, MANAGED_BY, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { AgentgateClient, isConflict, isNotFound } from '../lib/kube.js';

const OPERATOR_DEPLOYMENT = 'agentgate-operator';
const OPERATOR_POD_SELECTOR = 'app.kubernetes.io/name=agentgate,app.kubernetes.io/component=operator';
const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

/** The cluster did not settle within --timeout; running the command again resumes. */
export class UninstallTimeout extends Error {}

export interface BindingRef {
  namespace: string;
  name: string;
}

/** What uninstall needs from the cluster: the seam its unit tests fake. */
export interface UninstallCluster {
  /** Scales the operator Deployment to 0; false when there is none (e.g. run as local processes). */
  scaleOperatorToZero(namespace: string): Promise<boolean>;
  operatorPods(namespace: string): Promise<number>;
  deleteConfiguration(kind: 'Validating' | 'Mutating', name: string): Promise<boolean>;
  managedBindings(): Promise<BindingRef[]>;
  deleteBinding(b: BindingRef): Promise<void>;
  grantsWithFinalizer(): Promise<AccessGrant[]>;
  /** Replaces the grant with its finalizer removed; throws Conflict when it changed meanwhile. */
  releaseGrant(g: AccessGrant): Promise<void>;
}

interface UninstallOptions {
  namespace: string;
  /** false: report what would be done, change nothing. */
  revoke: boolean;
  timeoutMs: number;
  sleep(ms: number): Promise<void>;
  now(): number;
  out(line: string): void;
}

interface UninstallReport {
  operatorStopped: boolean;
  bindingsDeleted: number;
  grantsReleased: number;
  configurationsDeleted: string[];
}

const CONFIGURATIONS: Array<['Validating' | 'Mutating', string]> = [
  ['Validating', AGENTS_WEBHOOK],
  ['Mutating', STAMP_WEBHOOK],
  ['Validating', PROTECT_WEBHOOK],
];

export async function uninstall(c: UninstallCluster, o: UninstallOptions): Promise<UninstallReport> {
  const report: UninstallReport = { operatorStopped: false, bindingsDeleted: 0, grantsReleased: 0, configurationsDeleted: [] };
  const deadline = o.now() + o.timeoutMs;
  const beforeDeadline = (what: string): void => {
    if (o.now() > deadline) throw new UninstallTimeout(`timed out (--timeout) waiting for ${what}; run agentgate uninstall --revoke again`);
  };

  if (!o.revoke) {
    const bindings = await c.managedBindings();
    const grants = await c.grantsWithFinalizer();
    o.out(`would scale deployment ${o.namespace}/${OPERATOR_DEPLOYMENT} to 0 and wait for its pods`);
    o.out(`would delete validatingwebhookconfiguration ${PROTECT_WEBHOOK}`);
    o.out(`would delete ${bindings.length} RoleBinding(s) labelled ${MANAGED_SELECTOR}: every agent's access ends`);
    for (const b of bindings) o.out(`  ${b.namespace}/${b.name}`);
    o.out(`would remove the ${FINALIZER} finalizer from ${grants.length} AccessGrant(s)`);
    o.out(`would delete validatingwebhookconfiguration ${AGENTS_WEBHOOK} and mutatingwebhookconfiguration ${STAMP_WEBHOOK}`);
    o.out('nothing changed: pass --revoke to do it');
    return report;
  }

  // 1. stop-operator
  if (await c.scaleOperatorToZero(o.namespace)) {
    o.out(`scaled deployment ${o.namespace}/${OPERATOR_DEPLOYMENT} to 0`);
    while ((await c.operatorPods(o.namespace)) > 0) {
      beforeDeadline('the operator pods to stop');
      await o.sleep(1000);
    }
    report.operatorStopped = true;
  } else {
    o.out(`no deployment ${o.namespace}/${OPERATOR_DEPLOYMENT}: stop the operator yourself if it runs elsewhere`);
  }

  // 2. remove-protect
  if (await c.deleteConfiguration('Validating', PROTECT_WEBHOOK)) report.configurationsDeleted.push(PROTECT_WEBHOOK);

  // 3 + 4, repeated until a pass finds nothing: level-based, so an operator replica that
  // acted after step 1 (or a grant created meanwhile) is caught by the next pass.
  for (;;) {
    const bindings = await c.managedBindings();
    for (const b of bindings) await c.deleteBinding(b);
    report.bindingsDeleted += bindings.length;
    const grants = await c.grantsWithFinalizer();
    for (const g of grants) {
      try {
        await c.releaseGrant(g);
        report.grantsReleased++;
      } catch (err) {
        // Changed or gone meanwhile: the next pass reads it again.
        if (!isConflict(err) && !isNotFound(err)) throw err;
      }
    }
    if (bindings.length === 0 && grants.length === 0) break;
    beforeDeadline('RoleBindings and finalizers to be gone');
  }
  o.out(`deleted ${report.bindingsDeleted} RoleBinding(s) labelled ${MANAGED_SELECTOR}; agents' access has ended`);
  o.out(`removed the ${FINALIZER} finalizer from ${report.grantsReleased} AccessGrant(s)`);

  // 5. remove-configurations
  for (const [kind, name] of CONFIGURATIONS) {
    if ((await c.deleteConfiguration(kind, name)) && !report.configurationsDeleted.includes(name)) report.configurationsDeleted.push(name);
  }
  o.out(`deleted webhook configurations: ${report.configurationsDeleted.join(', ') || 'none were left'}`);
  o.out('agentgate holds nothing in this cluster any more; its CRDs, grants and AgentIdentities are kept');
  return report;
}

/** The real cluster behind UninstallCluster. */
export class KubeUninstallCluster implements UninstallCluster {
  private readonly apps: k8s.AppsV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly rbac: k8s.RbacAuthorizationV1Api;
  private readonly admission: k8s.AdmissionregistrationV1Api;
  private readonly agentgate: AgentgateClient;
  constructor(kc: k8s.KubeConfig) {
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    this.admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    this.agentgate = new AgentgateClient(kc);
  }

  async scaleOperatorToZero(namespace: string): Promise<boolean> {
    try {
      // An unconditional update of the scale subresource: no read, no patch verb needed.
      await this.apps.replaceNamespacedDeploymentScale({
        name: OPERATOR_DEPLOYMENT,
        namespace,
        body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: OPERATOR_DEPLOYMENT, namespace }, spec: { replicas: 0 } },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async operatorPods(namespace: string): Promise<number> {
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: OPERATOR_POD_SELECTOR });
    return pods.items.length;
  }

  async deleteConfiguration(kind: 'Validating' | 'Mutating', name: string): Promise<boolean> {
    try {
      if (kind === 'Validating') await this.admission.deleteValidatingWebhookConfiguration({ name });
      else await this.admission.deleteMutatingWebhookConfiguration({ name });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async managedBindings(): Promise<BindingRef[]> {
    const list = await this.rbac.listRoleBindingForAllNamespaces({ labelSelector: MANAGED_SELECTOR });
    return list.items.map((b) => ({ namespace: b.metadata!.namespace!, name: b.metadata!.name! }));
  }

  async deleteBinding(b: BindingRef): Promise<void> {
    try {
      await this.rbac.deleteNamespacedRoleBinding({ name: b.name, namespace: b.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async grantsWithFinalizer(): Promise<AccessGrant[]> {
    const list = await this.agentgate.list<AccessGrant>('AccessGrant');
    return list.items.filter((g) => (g.metadata.finalizers ?? []).includes(FINALIZER));
  }

  async releaseGrant(g: AccessGrant): Promise<void> {
    const body = { ...g, metadata: { ...g.metadata, finalizers: (g.metadata.finalizers ?? []).filter((f) => f !== FINALIZER) } };
    await this.agentgate.replace('AccessGrant', g.metadata.name!, body, g.metadata.namespace);
  }
}
