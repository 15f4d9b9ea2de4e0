// What decide() may know about the cluster: a read-only view, filled from informer
// caches in production and from plain arrays in tests. decide() never calls the
// apiserver; the I/O around it overlays freshly read objects (e.g. an ApprovalRequest
// after a conflict) and decides again.

import type { AccessGrant, AgentIdentity, ApprovalRequest } from '../api/types.js';
import type { PolicyRule, RbacSubject } from '../lib/rbac.js';

export interface RoleLike {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  rules?: PolicyRule[] | null;
}

export interface NamespaceLike {
  metadata?: { name?: string; labels?: Record<string, string> };
}

/** A RoleBinding or ClusterRoleBinding (structurally client-node's). */
export interface BindingObject {
  metadata?: { name?: string; namespace?: string };
  subjects?: RbacSubject[] | null;
  roleRef: { kind: string; name: string; apiGroup?: string };
}

export interface Snapshot {
  agents(): readonly AgentIdentity[];
  grants(namespace: string): readonly AccessGrant[];
  approvalRequest(namespace: string, name: string): ApprovalRequest | undefined;
  clusterRole(name: string): RoleLike | undefined;
  role(namespace: string, name: string): RoleLike | undefined;
  namespace(name: string): NamespaceLike | undefined;
  /** Every RoleBinding, for ServiceAccounts' RBAC (webhook/effects.ts); absent: none known. */
  roleBindings?(): readonly BindingObject[];
  clusterRoleBindings?(): readonly BindingObject[];
}

export interface SnapshotData {
  agents?: AgentIdentity[];
  grants?: AccessGrant[];
  approvalRequests?: ApprovalRequest[];
  clusterRoles?: RoleLike[];
  roles?: RoleLike[];
  namespaces?: NamespaceLike[];
  roleBindings?: BindingObject[];
  clusterRoleBindings?: BindingObject[];
}

const key = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;

/** A snapshot over fixed lists (tests, benchmarks). */
export class StaticSnapshot implements Snapshot {
  private readonly ars = new Map<string, ApprovalRequest>();
  constructor(private readonly data: SnapshotData) {
    for (const ar of data.approvalRequests ?? []) this.ars.set(key(ar.metadata.namespace, ar.metadata.name), ar);
  }
  agents(): readonly AgentIdentity[] {
    return this.data.agents ?? [];
  }
  grants(namespace: string): readonly AccessGrant[] {
    return (this.data.grants ?? []).filter((g) => g.metadata.namespace === namespace);
  }
  approvalRequest(namespace: string, name: string): ApprovalRequest | undefined {
    return this.ars.get(key(namespace, name));
  }
  clusterRole(name: string): RoleLike | undefined {
    return (this.data.clusterRoles ?? []).find((r) => r.metadata?.name === name);
  }
  role(namespace: string, name: string): RoleLike | undefined {
    return (this.data.roles ?? []).find((r) => r.metadata?.name === name && r.metadata?.namespace === namespace);
  }
  namespace(name: string): NamespaceLike | undefined {
    return (this.data.namespaces ?? []).find((n) => n.metadata?.name === name);
  }
  roleBindings(): readonly BindingObject[] {
    return this.data.roleBindings ?? [];
  }
  clusterRoleBindings(): readonly BindingObject[] {
    return this.data.clusterRoleBindings ?? [];
  }
}

/** base, with some ApprovalRequests replaced by fresher copies read from the apiserver. */
export function withApprovalRequests(base: Snapshot, fresh: readonly ApprovalRequest[]): Snapshot {
  const map = new Map(fresh.map((ar) => [key(ar.metadata.namespace, ar.metadata.name), ar]));
  return {
    agents: () => base.agents(),
    grants: (ns) => base.grants(ns),
    approvalRequest: (ns, name) => map.get(key(ns, name)) ?? base.approvalRequest(ns, name),
    clusterRole: (name) => base.clusterRole(name),
    role: (ns, name) => base.role(ns, name),
    namespace: (name) => base.namespace(name),
    roleBindings: () => base.roleBindings?.() ?? [],
    clusterRoleBindings: () => base.clusterRoleBindings?.() ?? [],
  };
}
