// The webhook's view of the cluster: informer caches behind the Snapshot interface, so
// the allow path reads only memory.
import type * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../api/types.js';
import { Informer } from '../lib/informer.js';
import { agentgatePath, apiPath, GV } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import type { BindingObject, NamespaceLike, RoleLike, Snapshot } from './snapshot.js';

export class ClusterState implements Snapshot {
  readonly agentInformer: Informer<AgentIdentity>;
  readonly grantInformer: Informer<AccessGrant>;
  readonly arInformer: Informer<ApprovalRequest>;
  readonly clusterRoleInformer: Informer<k8s.V1ClusterRole>;
  readonly roleInformer: Informer<k8s.V1Role>;
  readonly namespaceInformer: Informer<k8s.V1Namespace>;
  // ServiceAccounts' RBAC, to tell whether pods an agent starts would hold more than its grant (webhook/effects.ts).
  readonly roleBindingInformer: Informer<k8s.V1RoleBinding>;
  readonly clusterRoleBindingInformer: Informer<k8s.V1ClusterRoleBinding>;
  private agentList: readonly AgentIdentity[] | undefined;
  private ready = false;

  constructor(kc: k8s.KubeConfig, log: Logger) {
    this.agentInformer = new Informer<AgentIdentity>({
      kc,
      log,
      name: 'agentidentities',
      path: agentgatePath('AgentIdentity'),
    });
    this.grantInformer = new Informer<AccessGrant>({
      kc,
      log,
      name: 'accessgrants',
      path: agentgatePath('AccessGrant'),
    });
    this.arInformer = new Informer<ApprovalRequest>({
      kc,
      log,
      name: 'approvalrequests',
      path: agentgatePath('ApprovalRequest'),
    });
    this.clusterRoleInformer = new Informer<k8s.V1ClusterRole>({
      kc,
      log,
      name: 'clusterroles',
      path: apiPath(GV.rbac, 'clusterroles'),
    });
    this.roleInformer = new Informer<k8s.V1Role>({
      kc,
      log,
      name: 'roles',
      path: apiPath(GV.rbac, 'roles'),
    });
    this.namespaceInformer = new Informer<k8s.V1Namespace>({ kc, log, name: 'namespaces', path: apiPath(GV.core, 'namespaces') });
    this.roleBindingInformer = new Informer<k8s.V1RoleBinding>({
      kc,
      log,
      name: 'rolebindings',
      path: apiPath(GV.rbac, 'rolebindings'),
    });
    this.clusterRoleBindingInformer = new Informer<k8s.V1ClusterRoleBinding>({
      kc,
      log,
      name: 'clusterrolebindings',
      path: apiPath(GV.rbac, 'clusterrolebindings'),
    });
    this.agentInformer.onChange(() => (this.agentList = undefined));
  }

  private get informers(): Informer<{ metadata?: { name?: string } }>[] {
    return [
      this.agentInformer,
      this.grantInformer,
      this.arInformer,
      this.clusterRoleInformer,
      this.roleInformer,
      this.namespaceInformer,
      this.roleBindingInformer,
      this.clusterRoleBindingInformer,
    ] as never;
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
    await Promise.all(this.informers.map((i) => i.synced));
    this.ready = true;
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  get synced(): boolean {
    return this.ready;
  }

  agents(): readonly AgentIdentity[] {
    this.agentList ??= this.agentInformer.list();
    return this.agentList;
  }
  grants(namespace: string): readonly AccessGrant[] {
    return this.grantInformer.list(namespace);
  }
  approvalRequest(namespace: string, name: string): ApprovalRequest | undefined {
    return this.arInformer.get(name, namespace);
  }
  clusterRole(name: string): RoleLike | undefined {
    return this.clusterRoleInformer.get(name) as RoleLike | undefined;
  }
  role(namespace: string, name: string): RoleLike | undefined {
    return this.roleInformer.get(name, namespace) as RoleLike | undefined;
  }
  namespace(name: string): NamespaceLike | undefined {
    return this.namespaceInformer.get(name) as NamespaceLike | undefined;
  }
  roleBindings(): readonly BindingObject[] {
    return this.roleBindingInformer.list() as BindingObject[];
  }
  clusterRoleBindings(): readonly BindingObject[] {
    return this.clusterRoleBindingInformer.list() as BindingObject[];
  }
  pendingApprovals(): number {
    return this.arInformer.list().filter((ar) => (ar.status?.phase ?? 'Pending') === 'Pending').length;
  }
}
