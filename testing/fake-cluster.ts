// In-memory stand-ins behind the I/O seams, for unit tests. FakeCluster serves the
// operator's reconcilers: one store behind OperatorCache (reads, as an informer that
// has caught up) and ClusterWrites (writes, with resourceVersions, 404/409 like the
// apiserver, and injectable failures). FakeApprovalStore serves the webhook's admit.ts.
import type * as k8s from '@kubernetes/client-node';
import { LABEL_AGENT, LABEL_GRANT, type AccessGrant, type AgentIdentity, type ApprovalRequest, type AuditEvent } from '../api/types.js';
import type { AgentgateKind } from '../lib/kube.js';
import type { Clock } from '../lib/clock.js';
import { newLogger, type Logger } from '../lib/log.js';
import { OperatorMetrics } from '../operator/metrics.js';
import type { ClusterWrites, FreshKind, OperatorCache, ReconcileContext } from '../operator/reconcile/context.js';
import type { ApprovalStore } from '../webhook/admit.js';
import { POLICY_EPOCH } from './fixtures.js';

type Obj = { metadata: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; finalizers?: string[]; deletionTimestamp?: string } };
type Op = keyof ClusterWrites;

/** An apiserver-like error: lib/kube.ts reads its code. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    message = `HTTP ${code}`,
  ) {
    super(message);
  }
}

export class FakeCluster implements OperatorCache, ClusterWrites {
  readonly objects = new Map<string, Obj>();
  readonly bindings = new Map<string, k8s.V1RoleBinding>();
  readonly namespaces = new Map<string, Record<string, string>>();
  /** Namespaces being deleted. */
  readonly terminating = new Set<string>();
  /** Every write, in order: `op kind/ns/name`. */
  readonly calls: string[] = [];
  private readonly failures: Array<{ op: Op; code: number }> = [];
  private rv = 100;

  constructor(
    init: {
      objects?: Array<AccessGrant | AgentIdentity | ApprovalRequest | AuditEvent>;
      bindings?: k8s.V1RoleBinding[];
      namespaces?: Record<string, Record<string, string>>;
    } = {},
  ) {
    for (const o of init.objects ?? []) this.put(o.kind, o);
    for (const b of init.bindings ?? []) this.bindings.set(`${b.metadata?.namespace}/${b.metadata?.name}`, structuredClone(b));
    for (const [n, labels] of Object.entries(init.namespaces ?? {})) this.namespaces.set(n, labels);
  }

  /** The next call of `op` fails with this HTTP status. */
  failNext(op: Op, code: number): this {
    this.failures.push({ op, code });
    return this;
  }

  private maybeFail(op: Op): void {
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) throw new StatusError(this.failures.splice(i, 1)[0]!.code);
  }

  private put(kind: string, o: Obj): Obj {
    const copy = structuredClone(o);
    copy.metadata.resourceVersion = String(++this.rv);
    this.objects.set(`${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`, copy);
    return structuredClone(copy);
  }

  private obj<T>(kind: string, namespace: string | undefined, name: string): T | undefined {
    const o = this.objects.get(`${kind}/${namespace ?? ''}/${name}`);
    return o ? (structuredClone(o) as T) : undefined;
  }

  // --- OperatorCache ---------------------------------------------------------------------
  grant(namespace: string, name: string): AccessGrant | undefined {
    return this.obj('AccessGrant', namespace, name);
  }
  agent(name: string): AgentIdentity | undefined {
    return this.obj('AgentIdentity', '', name);
  }
  approval(namespace: string, name: string): ApprovalRequest | undefined {
    return this.obj('ApprovalRequest', namespace, name);
  }
  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.namespaces.get(namespace);
  }
  namespaceTerminating(namespace: string): boolean {
    return this.terminating.has(namespace);
  }
  binding(namespace: string, name: string): k8s.V1RoleBinding | undefined {
    const b = this.bindings.get(`${namespace}/${name}`);
    return b && structuredClone(b);
  }
  bindingsOfGrant(namespace: string, grantLabel: string): k8s.V1RoleBinding[] {
    return [...this.bindings.values()]
      .filter((b) => b.metadata?.namespace === namespace && b.metadata?.labels?.[LABEL_GRANT] === grantLabel)
      .map((b) => structuredClone(b));
  }
  bindingsOfAgent(agentLabel: string): k8s.V1RoleBinding[] {
    return [...this.bindings.values()].filter((b) => b.metadata?.labels?.[LABEL_AGENT] === agentLabel).map((b) => structuredClone(b));
  }
  grantsOfAgent(agent: string): AccessGrant[] {
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith('AccessGrant/') && (o as AccessGrant).spec.agent === agent)
      .map(([, o]) => structuredClone(o as AccessGrant));
  }
  wrote(_kind: FreshKind, _prevRv: string | undefined, _obj: Obj): void {
    // The store is the cache: our writes are visible at once.
  }
  refreshed(_kind: FreshKind, _obj: Obj): void {}
  forget(_kind: FreshKind, _namespace: string, _name: string): void {}

  // --- ClusterWrites ---------------------------------------------------------------------
  async createRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void> {
    this.calls.push(`createRoleBinding ${namespace}/${body.metadata?.name}`);
    this.maybeFail('createRoleBinding');
    const k = `${namespace}/${body.metadata?.name}`;
    if (this.bindings.has(k)) throw new StatusError(409, 'AlreadyExists');
    this.bindings.set(k, { ...structuredClone(body), metadata: { ...body.metadata, namespace, uid: `rb-${++this.rv}`, resourceVersion: String(this.rv) } });
  }
  async readRoleBinding(namespace: string, name: string): Promise<k8s.V1RoleBinding> {
    const b = this.binding(namespace, name);
    if (!b) throw new StatusError(404);
    return b;
  }
  async replaceRoleBinding(namespace: string, body: k8s.V1RoleBinding): Promise<void> {
    this.calls.push(`replaceRoleBinding ${namespace}/${body.metadata?.name}`);
    this.maybeFail('replaceRoleBinding');
    const k = `${namespace}/${body.metadata?.name}`;
    if (!this.bindings.has(k)) throw new StatusError(404);
    this.bindings.set(k, structuredClone(body));
  }
  async deleteRoleBinding(namespace: string, name: string, uid?: string): Promise<void> {
    this.calls.push(`deleteRoleBinding ${namespace}/${name}`);
    this.maybeFail('deleteRoleBinding');
    const k = `${namespace}/${name}`;
    const b = this.bindings.get(k);
    if (!b) throw new StatusError(404);
    if (uid && b.metadata?.uid !== uid) throw new StatusError(409, 'uid precondition failed');
    this.bindings.delete(k);
  }
  async get<T>(kind: AgentgateKind, name: string, namespace?: string): Promise<T> {
    const o = this.obj<T>(kind, namespace, name);
    if (!o) throw new StatusError(404);
    return o;
  }
  async create<T>(kind: AgentgateKind, body: T, namespace?: string): Promise<T> {
    const o = body as unknown as Obj;
    this.calls.push(`create ${kind}/${namespace ?? ''}/${o.metadata.name}`);
    this.maybeFail('create');
    if (this.obj(kind, namespace, o.metadata.name ?? '')) throw new StatusError(409, 'AlreadyExists');
    return this.put(kind, { ...o, metadata: { ...o.metadata, namespace: namespace ?? o.metadata.namespace, uid: `uid-${this.rv}` } }) as T;
  }
  private store<T>(kind: AgentgateKind, namespace: string | undefined, name: string, merged: Obj): T {
    if (merged.metadata.deletionTimestamp && (merged.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(`${kind}/${namespace ?? ''}/${name}`);
      return merged as T;
    }
    return this.put(kind, merged) as T;
  }
  async replaceStatus<T>(kind: AgentgateKind, name: string, body: T, namespace?: string): Promise<T> {
    this.calls.push(`replaceStatus ${kind}/${namespace ?? ''}/${name}`);
    this.maybeFail('replaceStatus');
    const cur = this.obj<Obj & { status?: unknown }>(kind, namespace, name);
    if (!cur) throw new StatusError(404);
    const next = structuredClone(body) as unknown as Obj & { status?: unknown };
    if (next.metadata.resourceVersion !== cur.metadata.resourceVersion) throw new StatusError(409, 'Conflict');
    // The status subresource writes status only.
    return this.store(kind, namespace, name, { ...cur, status: next.status } as Obj);
  }
  /** RFC 7386 on the main resource (status untouched); a resourceVersion in the patch is a precondition. */
  async mergePatch<T>(kind: AgentgateKind, name: string, patch: object, namespace?: string): Promise<T> {
    this.calls.push(`mergePatch ${kind}/${namespace ?? ''}/${name}`);
    this.maybeFail('mergePatch');
    const cur = this.obj<Obj & { status?: unknown }>(kind, namespace, name);
    if (!cur) throw new StatusError(404);
    const rv = (patch as Partial<Obj>).metadata?.resourceVersion;
    if (rv !== undefined && rv !== cur.metadata.resourceVersion) throw new StatusError(409, 'Conflict');
    const { status: _ignored, ...rest } = patch as { status?: unknown };
    return this.store(kind, namespace, name, mergePatch(cur, rest) as Obj);
  }
  async delete(kind: AgentgateKind, name: string, namespace?: string): Promise<void> {
    this.calls.push(`delete ${kind}/${namespace ?? ''}/${name}`);
    this.maybeFail('delete');
    if (!this.objects.delete(`${kind}/${namespace ?? ''}/${name}`)) throw new StatusError(404);
  }
  async listAuditEvents(namespace: string, limit: number, cont?: string): Promise<{ items: AuditEvent[]; continue?: string }> {
    // Like the apiserver: the continue token is the last key returned, so deletions between pages skip nothing.
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(`AuditEvent/${namespace}/`) && (cont === undefined || k > cont)).sort();
    const page = keys.slice(0, limit);
    const items = page.map((k) => structuredClone(this.objects.get(k) as AuditEvent));
    return keys.length > limit ? { items, continue: page[page.length - 1]! } : { items };
  }
}

/** A ReconcileContext over a FakeCluster; `enqueued` collects the keys reconcilers add. */
export function fakeContext(
  cluster: FakeCluster,
  clock: Clock,
  over: Partial<ReconcileContext> = {},
): ReconcileContext & { enqueued: string[]; events: string[] } {
  const enqueued: string[] = [];
  const events: string[] = [];
  return {
    cache: cluster,
    writes: cluster,
    clock,
    log: quietLogger(),
    metrics: new OperatorMetrics(),
    recorder: { emit: (o, type, reason) => events.push(`${o.kind}/${o.metadata.name} ${type} ${reason}`) },
    namespace: 'agentgate-system',
    approvalTtlMs: 3_600_000,
    // The approval-stamps policy is in force, unchanged, unless a test says otherwise.
    approvalPolicy: async () => ({ problems: [], epoch: POLICY_EPOCH }),
    auditRetentionMs: 30 * 24 * 3_600_000,
    enqueue: (k) => enqueued.push(k),
    enqueued,
    events,
    ...over,
  };
}

/** The webhook's ApprovalStore seam in memory, with injectable failures; decisions arrive via decide(). */
export class FakeApprovalStore implements ApprovalStore {
  readonly stored = new Map<string, ApprovalRequest>();
  readonly calls: string[] = [];
  private readonly failures: Array<{ op: 'create' | 'replaceStatus' | 'get'; code: number }> = [];
  private rv = 10;

  failNext(op: 'create' | 'replaceStatus' | 'get', code: number): this {
    this.failures.push({ op, code });
    return this;
  }
  private maybeFail(op: 'create' | 'replaceStatus' | 'get'): void {
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) throw new StatusError(this.failures.splice(i, 1)[0]!.code);
  }
  /** An approver's (or another replica's) write, outside the webhook. */
  put(ar: ApprovalRequest): ApprovalRequest {
    const copy = structuredClone(ar);
    copy.metadata.resourceVersion = String(++this.rv);
    this.stored.set(`${ar.metadata.namespace}/${ar.metadata.name}`, copy);
    return structuredClone(copy);
  }
  async get(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    this.maybeFail('get');
    const ar = this.stored.get(`${namespace}/${name}`);
    return ar && structuredClone(ar);
  }
  async create(ar: ApprovalRequest): Promise<ApprovalRequest> {
    this.calls.push(`create ${ar.metadata.namespace}/${ar.metadata.name}`);
    this.maybeFail('create');
    if (this.stored.has(`${ar.metadata.namespace}/${ar.metadata.name}`)) throw new StatusError(409, 'AlreadyExists');
    return this.put(ar);
  }
  async replaceStatus(ar: ApprovalRequest): Promise<ApprovalRequest> {
    this.calls.push(`replaceStatus ${ar.metadata.namespace}/${ar.metadata.name}`);
    this.maybeFail('replaceStatus');
    const cur = this.stored.get(`${ar.metadata.namespace}/${ar.metadata.name}`);
    if (!cur) throw new StatusError(404);
    if (cur.metadata.resourceVersion !== ar.metadata.resourceVersion) throw new StatusError(409, 'Conflict');
    return this.put({ ...cur, status: ar.status });
  }
  async waitDecided(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    const ar = this.stored.get(`${namespace}/${name}`);
    return ar && (ar.status?.phase ?? 'Pending') !== 'Pending' ? structuredClone(ar) : undefined;
  }
}

/** A logger that writes nothing (tests assert on outcomes, not on log lines). */
export function quietLogger(): Logger {
  const log = newLogger('test', 'error');
  log.silent = true;
  return log;
}

/** JSON merge patch (RFC 7386): objects merge, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
