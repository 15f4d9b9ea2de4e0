// The operator's read view of the cluster: informers, secondary indexes over them, and
// the objects this operator wrote until the informers catch up (OperatorCache).
import type * as k8s from '@kubernetes/client-node';
import { LABEL_AGENT, LABEL_GRANT, type AccessGrant, type AgentIdentity, type ApprovalRequest } from '../api/types.js';
import type { Informer } from '../lib/informer.js';
import { key, type FreshKind, type OperatorCache } from './reconcile/context.js';

/**
 * Objects we wrote, kept until the informer catches up: a reconcile right after our own
 * write must not plan from the older cached copy. Entry: the rv we wrote over and the result.
 */
class Fresher<T extends { metadata?: { resourceVersion?: string } }> {
  private readonly m = new Map<string, { prevRv: string | undefined; obj: T }>();
  wrote(k: string, prevRv: string | undefined, obj: T): void {
    this.m.set(k, { prevRv, obj });
  }
  pick(k: string, cached: T | undefined): T | undefined {
    const e = this.m.get(k);
    if (!e) return cached;
    if (cached && cached.metadata?.resourceVersion === e.prevRv) return e.obj;
    this.m.delete(k);
    return cached;
  }
  forget(k: string): void {
    this.m.delete(k);
  }
  /** The informer saw a version other than the one we wrote over: the cache has caught up. */
  observe(k: string, obj: T | undefined): void {
    const e = this.m.get(k);
    if (e && obj?.metadata?.resourceVersion !== e.prevRv) this.m.delete(k);
  }
}

/** A secondary index over an informer: index key -> object key -> object. */
export class Index<T extends { metadata?: { name?: string; namespace?: string } }> {
  private readonly byIndex = new Map<string, Map<string, T>>();
  private readonly keysOf = new Map<string, string[]>();
  constructor(private readonly indexKeys: (o: T) => string[]) {}
  upsert(o: T): void {
    this.remove(o);
    const ok = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const ks = this.indexKeys(o);
    this.keysOf.set(ok, ks);
    for (const k of ks) {
      let m = this.byIndex.get(k);
      if (!m) this.byIndex.set(k, (m = new Map()));
      m.set(ok, o);
    }
  }
  remove(o: T): void {
    const ok = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    for (const k of this.keysOf.get(ok) ?? []) {
      const m = this.byIndex.get(k);
      m?.delete(ok);
      if (m && m.size === 0) this.byIndex.delete(k);
    }
    this.keysOf.delete(ok);
  }
  get(k: string): T[] {
    return [...(this.byIndex.get(k)?.values() ?? [])];
  }
}

interface Informers {
  grants: Informer<AccessGrant>;
  agents: Informer<AgentIdentity>;
  approvals: Informer<ApprovalRequest>;
  bindings: Informer<k8s.V1RoleBinding>;
  namespaces: Informer<k8s.V1Namespace>;
}

type Fresh = AccessGrant | AgentIdentity | ApprovalRequest;
const objKey = (kind: FreshKind, o: { metadata: { namespace?: string; name?: string } }): string =>
  key(kind, o.metadata.namespace ?? '', o.metadata.name ?? '');

/** OperatorCache over the informers; the Operator feeds it every informer event. */
export class InformerCache implements OperatorCache {
  private readonly fresh: Record<FreshKind, Fresher<Fresh>> = { AccessGrant: new Fresher(), AgentIdentity: new Fresher(), ApprovalRequest: new Fresher() };
  // Bindings by `ns/grant-label` and by agent label; grants by agent.
  private readonly bindingsByGrant = new Index<k8s.V1RoleBinding>((b) => {
    const g = b.metadata?.labels?.[LABEL_GRANT];
    return g ? [`${b.metadata?.namespace ?? ''}/${g}`] : [];
  });
  private readonly bindingsByAgent = new Index<k8s.V1RoleBinding>((b) => {
    const a = b.metadata?.labels?.[LABEL_AGENT];
    return a ? [a] : [];
  });
  private readonly grantsByAgent = new Index<AccessGrant>((g) => (g.spec?.agent ? [g.spec.agent] : []));

  constructor(private readonly inf: Informers) {}

  /** An informer event of a kind we may have written: drop our copy once the cache moved past it. */
  observe(kind: FreshKind, o: Fresh, deleted: boolean): void {
    this.fresh[kind].observe(objKey(kind, o), deleted ? undefined : o);
    if (kind === 'AccessGrant') {
      if (deleted) this.grantsByAgent.remove(o as AccessGrant);
      else this.grantsByAgent.upsert(o as AccessGrant);
    }
  }

  observeBinding(b: k8s.V1RoleBinding, deleted: boolean): void {
    if (deleted) {
      this.bindingsByGrant.remove(b);
      this.bindingsByAgent.remove(b);
    } else {
      this.bindingsByGrant.upsert(b);
      this.bindingsByAgent.upsert(b);
    }
  }

  grant(namespace: string, name: string): AccessGrant | undefined {
    return this.fresh.AccessGrant.pick(key('AccessGrant', namespace, name), this.inf.grants.get(name, namespace)) as AccessGrant | undefined;
  }
  agent(name: string): AgentIdentity | undefined {
    return this.fresh.AgentIdentity.pick(key('AgentIdentity', '', name), this.inf.agents.get(name)) as AgentIdentity | undefined;
  }
  approval(namespace: string, name: string): ApprovalRequest | undefined {
    return this.fresh.ApprovalRequest.pick(key('ApprovalRequest', namespace, name), this.inf.approvals.get(name, namespace)) as ApprovalRequest | undefined;
  }
  namespaceLabels(namespace: string): Record<string, string> | undefined {
    const ns = this.inf.namespaces.get(namespace);
    return ns ? (ns.metadata?.labels ?? {}) : undefined;
  }
  namespaceTerminating(namespace: string): boolean {
    return !!this.inf.namespaces.get(namespace)?.metadata?.deletionTimestamp;
  }
  binding(namespace: string, name: string): k8s.V1RoleBinding | undefined {
    return this.inf.bindings.get(name, namespace);
  }
  bindingsOfGrant(namespace: string, grantLabel: string): k8s.V1RoleBinding[] {
    return this.bindingsByGrant.get(`${namespace}/${grantLabel}`);
  }
  bindingsOfAgent(agentLabel: string): k8s.V1RoleBinding[] {
    return this.bindingsByAgent.get(agentLabel);
  }
  grantsOfAgent(agent: string): AccessGrant[] {
    return this.grantsByAgent.get(agent).map((g) => this.grant(g.metadata.namespace ?? '', g.metadata.name ?? '') ?? g);
  }
  wrote(kind: FreshKind, prevRv: string | undefined, obj: Fresh): void {
    this.fresh[kind].wrote(objKey(kind, obj), prevRv, obj);
  }
  refreshed(kind: FreshKind, obj: Fresh): void {
    const inf = (kind === 'AccessGrant' ? this.inf.grants : kind === 'AgentIdentity' ? this.inf.agents : this.inf.approvals) as Informer<Fresh>;
    this.fresh[kind].wrote(objKey(kind, obj), inf.get(obj.metadata.name ?? '', obj.metadata.namespace)?.metadata.resourceVersion, obj);
  }
  forget(kind: FreshKind, namespace: string, name: string): void {
    this.fresh[kind].forget(key(kind, namespace, name));
  }
}
