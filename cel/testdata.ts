// Request builders shared by the rules tests (not imported by production code).

import type { AdmissionOperation } from '../lib/admission.js';
import type { RuleVars } from './cel.js';

export interface RequestSpec {
  op: AdmissionOperation;
  /** "group/resource" or "resource" for the core group, e.g. "apps/deployments", "pods". */
  resource: string;
  sub?: string;
  name?: string;
  namespace?: string;
  object?: unknown;
  oldObject?: unknown;
}

export function vars(spec: RequestSpec, extra: Partial<RuleVars> = {}): RuleVars {
  const [group, resource] = spec.resource.includes('/') ? (spec.resource.split('/') as [string, string]) : ['', spec.resource];
  return {
    request: {
      uid: 'uid-1',
      operation: spec.op,
      kind: { group, version: 'v1', kind: 'Thing' },
      resource: { group, version: 'v1', resource },
      ...(spec.sub !== undefined ? { subResource: spec.sub } : {}),
      name: spec.name ?? 'x',
      namespace: spec.namespace ?? 'default',
      userInfo: { username: 'agent:bot', groups: ['agents', 'system:authenticated'] },
    },
    object: spec.object ?? null,
    oldObject: spec.oldObject ?? null,
    agent: { metadata: { name: 'bot' }, spec: { subjects: [] } },
    grant: null,
    ...extra,
  };
}

export const deployment = (replicas: number | undefined): Record<string, unknown> => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
  spec: replicas === undefined ? { template: {} } : { replicas, template: {} },
});

/** autoscaling/v1 Scale: spec.replicas is omitempty, so 0 is absent on the wire. */
export const scale = (replicas: number): Record<string, unknown> => ({
  apiVersion: 'autoscaling/v1',
  kind: 'Scale',
  metadata: { name: 'web', namespace: 'default' },
  spec: replicas === 0 ? {} : { replicas },
  status: { replicas: 3 },
});
