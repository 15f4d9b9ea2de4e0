// ClusterWrites over the real apiserver (client-node).
import * as k8s from '@kubernetes/client-node';
import { GROUP, VERSION, type AuditEvent } from '../api/types.js';
import { AgentgateClient, type AgentgateKind } from '../lib/kube.js';
import type { ClusterWrites } from './reconcile/context.js';

export class KubeWrites implements ClusterWrites {
  readonly client: AgentgateClient;
  private readonly rbac: k8s.RbacAuthorizationV1Api;

  constructor(kc: k8s.KubeConfig) {
    this.client = new AgentgateClient(kc);
    this.rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  }

  async createRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void> {
    await this.rbac.createNamespacedRoleBinding({ namespace, body });
  }
  readRoleBinding(namespace: string, name: string): Promise<k8s.V1RoleBinding> {
    return this.rbac.readNamespacedRoleBinding({ name, namespace });
  }
  async replaceRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void> {
    await this.rbac.replaceNamespacedRoleBinding({ name: body.metadata?.name ?? '', namespace, body });
  }
  async deleteRoleBinding(namespace: string, name: string, uid?: string): Promise<void> {
    await this.rbac.deleteNamespacedRoleBinding({ name, namespace, body: uid ? { preconditions: { uid } } : {} });
  }
  get<T>(kind: AgentgateKind, name: string, namespace?: string): Promise<T> {
    return this.client.get<T>(kind, name, namespace);
  }
  create<T>(kind: AgentgateKind, body: T, namespace?: string): Promise<T> {
    return this.client.create<T>(kind, body, namespace);
  }
  mergePatch<T>(kind: AgentgateKind, name: string, patch: object, namespace?: string): Promise<T> {
    return this.client.mergePatch<T>(kind, name, patch, namespace);
  }
  replaceStatus<T>(kind: AgentgateKind, name: string, body: T, namespace?: string): Promise<T> {
    return this.client.replaceStatus<T>(kind, name, body, namespace);
  }
  delete(kind: AgentgateKind, name: string, namespace?: string): Promise<void> {
    return this.client.delete(kind, name, namespace);
  }
  async listAuditEvents(namespace: string, limit: number, cont?: string): Promise<{ items: AuditEvent[]; continue?: string }> {
    const res = (await this.client.api.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'auditevents',
      limit,
      _continue: cont,
    })) as {
      items: AuditEvent[];
      metadata?: { _continue?: string; continue?: string };
    };
    const next = res.metadata?.continue ?? res.metadata?._continue;
    return next ? { items: res.items, continue: next } : { items: res.items };
  }
}
