// ClusterWrites over the real apiserver.
import type * as k8s from '@kubernetes/client-node';
import { AUDIT_APISERVICE, AUDIT_HEARTBEAT_LEASE, type AuditEvent } from '../api/types.js';
import { AgentgateClient, apiPath, GV, isNotFound, type AgentgateKind, type KubeApi } from '../lib/kube.js';
import type { AuditApiServiceApi } from './reconcile/apiservice.js';
import type { ClusterWrites } from './reconcile/context.js';

export class KubeWrites implements ClusterWrites {
  readonly client: AgentgateClient;
  private readonly kube: KubeApi;

  constructor(kc: k8s.KubeConfig) {
    this.client = new AgentgateClient(kc);
    this.kube = this.client.kube;
  }

  // The answer (the object as stored, managedFields and all) is not read: not parsed either.
  async createRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void> {
    await this.kube.send('POST', roleBindingPath(namespace), { body });
  }
  readRoleBinding(namespace: string, name: string): Promise<k8s.V1RoleBinding> {
    return this.kube.get(roleBindingPath(namespace, name));
  }
  async replaceRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void> {
    await this.kube.replace(roleBindingPath(namespace, body.metadata?.name ?? ''), body);
  }
  async deleteRoleBinding(namespace: string, name: string, uid?: string): Promise<void> {
    await this.kube.delete(roleBindingPath(namespace, name), uid ? { preconditions: { uid } } : undefined);
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
    const res = await this.client.list<AuditEvent>('AuditEvent', namespace, { limit, continue: cont });
    const next = res.metadata?.continue;
    return next ? { items: res.items, continue: next } : { items: res.items };
  }
}

const roleBindingPath = (namespace: string, name?: string): string => apiPath(GV.rbac, 'rolebindings', namespace, name);

/** The audit APIService reconciler's seam over the real apiserver (by name only: its RBAC is pinned to these names). */
export function liveAuditApiServiceApi(kube: KubeApi, namespace: string): AuditApiServiceApi {
  const path = apiPath(GV.apiregistration, 'apiservices', undefined, AUDIT_APISERVICE);
  const orUndefined = async <T>(read: Promise<T>): Promise<T | undefined> => {
    try {
      return await read;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  return {
    read: () => orUndefined(kube.get<k8s.V1APIService>(path)),
    heartbeat: async () => (await orUndefined(kube.get<k8s.V1Lease>(apiPath(GV.coordination, 'leases', namespace, AUDIT_HEARTBEAT_LEASE))))?.spec,
    create: async (body) => {
      await kube.create(apiPath(GV.apiregistration, 'apiservices'), body);
    },
    delete: (uid) => kube.delete(path, { preconditions: { uid } }),
  };
}
