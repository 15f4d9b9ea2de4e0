// Benchmark: the heap the operator's caches retain per grant, before and after the cache
// shapes (operator/cache.ts), at 10,000 and 50,000 grants with their RoleBindings. No
// apiserver: objects are built as the apiserver serves them (managedFields of the three
// writers, kubectl's last-applied annotation, a status with three conditions), so the
// figure is a count of bytes, not a timing, and does not move with CPU contention.
// "before" is what the cache held before this change: the object as parsed, minus
// managedFields (deleted in place). The whole operator's RSS at cold start is
// bench/operator-coldstart's figure.
import v8 from 'node:v8';
import vm from 'node:vm';
import { FINALIZER, type AccessGrant } from '../api/types.js';
import { grantShape, roleBindingShape } from '../operator/cache-shapes.js';
import type * as k8s from '@kubernetes/client-node';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SIZES = (process.env.BENCH_CACHE_GRANTS ?? '10000,50000').split(',').map(Number);

function managedFields(n: number): object[] {
  return Array.from({ length: n }, (_, i) => ({
    manager: ['kubectl-create', 'agentgate-operator', 'agentgate-operator'][i % 3],
    operation: 'Update',
    apiVersion: 'agentgate.io/v1alpha1',
    time: '2030-01-01T00:00:00Z',
    fieldsType: 'FieldsV1',
    ...(i === 2 ? { subresource: 'status' } : {}),
    fieldsV1: {
      'f:metadata': { 'f:finalizers': { '.': {}, [`v:"${FINALIZER}"`]: {} } },
      'f:spec': { '.': {}, 'f:agent': {}, 'f:duration': {}, 'f:reason': {}, 'f:roleRef': { '.': {}, 'f:kind': {}, 'f:name': {} } },
      'f:status': { 'f:conditions': {}, 'f:phase': {}, 'f:expiresAt': {} },
    },
  }));
}

/** A grant as a watch delivers it (a fresh parse, as JSON.parse of the wire would give). */
function grantJson(i: number): string {
  const cond = (type: string, reason: string) => ({
    type,
    status: 'True',
    reason,
    message: `RoleBinding agentgate-g-${i} binds ClusterRole/agentgate-edit to bench-agent until 2030-01-01T01:00:00Z`,
    lastTransitionTime: '2030-01-01T00:00:00Z',
    observedGeneration: 1,
  });
  const g = {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'AccessGrant',
    metadata: {
      name: `g-${i}`,
      namespace: `bench-${i % 10}`,
      uid: `0f6a3c1e-${String(i).padStart(4, '0')}-4d2b-9c1a-7e5f3b2a1c0d`,
      resourceVersion: String(100000 + i),
      generation: 1,
      creationTimestamp: '2030-01-01T00:00:00Z',
      finalizers: [FINALIZER],
      labels: { team: 'payments' },
      annotations: {
        'agentgate.io/requested-by': 'alice',
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
          apiVersion: 'agentgate.io/v1alpha1',
          kind: 'AccessGrant',
          metadata: { name: `g-${i}`, namespace: `bench-${i % 10}` },
          spec: { agent: 'bench-agent', duration: '1h', reason: 'benchmark', roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' } },
        }),
      },
      managedFields: managedFields(3),
    },
    spec: { agent: 'bench-agent', roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '1h', reason: 'benchmark', activation: 'Immediate' },
    status: {
      phase: 'Active',
      activatedAt: '2030-01-01T00:00:00Z',
      expiresAt: '2030-01-01T01:00:00Z',
      roleBinding: `agentgate-g-${i}`,
      requestedBy: 'alice',
      observedGeneration: 1,
      conditions: [cond('Valid', 'WithinCeiling'), cond('Approved', 'NotRequired'), cond('Active', 'Activated')],
    },
  };
  return JSON.stringify(g);
}

function bindingJson(i: number): string {
  const b = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: {
      name: `agentgate-g-${i}`,
      namespace: `bench-${i % 10}`,
      uid: `7a1b2c3d-${String(i).padStart(4, '0')}-4e5f-8a9b-0c1d2e3f4a5b`,
      resourceVersion: String(200000 + i),
      creationTimestamp: '2030-01-01T00:00:00Z',
      labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/grant': `g-${i}`, 'agentgate.io/agent': 'bench-agent' },
      annotations: { 'agentgate.io/activated-at': '2030-01-01T00:00:00Z', 'agentgate.io/expires-at': '2030-01-01T01:00:00Z' },
      ownerReferences: [
        {
          apiVersion: 'agentgate.io/v1alpha1',
          kind: 'AccessGrant',
          name: `g-${i}`,
          uid: `0f6a3c1e-${String(i).padStart(4, '0')}-4d2b-9c1a-7e5f3b2a1c0d`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: managedFields(1),
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'agentgate-edit' },
    subjects: [{ kind: 'User', name: 'bench:bench-agent', apiGroup: 'rbac.authorization.k8s.io' }],
  };
  return JSON.stringify(b);
}

function retained(n: number, keep: (g: AccessGrant, b: k8s.V1RoleBinding) => [unknown, unknown]): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const store: unknown[] = new Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [g, b] = keep(JSON.parse(grantJson(i)) as AccessGrant, JSON.parse(bindingJson(i)) as k8s.V1RoleBinding);
    store[2 * i] = g;
    store[2 * i + 1] = b;
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (store.length !== 2 * n) throw new Error('unreachable');
  return bytes;
}

const dropInPlace = <T extends { metadata?: object }>(o: T): T => {
  delete (o.metadata as { managedFields?: unknown }).managedFields;
  return o;
};

console.log('operator-cache-memory: heap retained by the grant and RoleBinding caches (counted bytes, not timed)');
for (const n of SIZES) {
  const before = retained(n, (g, b) => [dropInPlace(g), dropInPlace(b)]);
  const after = retained(n, (g, b) => [grantShape(g), roleBindingShape(b)]);
  const mb = (x: number) => (x / 1024 / 1024).toFixed(1);
  console.log(
    `  ${n} grants + ${n} RoleBindings: before ${mb(before)} MB (${mb((before / n) * 1000)} MB per 1,000), after ${mb(after)} MB (${mb((after / n) * 1000)} MB per 1,000); after/before ${(after / before).toFixed(2)}`,
  );
}
