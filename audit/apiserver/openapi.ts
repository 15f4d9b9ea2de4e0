// OpenAPI v3 for the group-version, which the kube-apiserver aggregates into its own
// /openapi/v3 so `kubectl explain auditevent.spec` teaches the fields.
import { createHash } from 'node:crypto';
import type { ResourceInfo } from './resource.js';

export function groupVersionPath(r: ResourceInfo): string {
  return `apis/${r.group}/${r.version}`;
}

function schemaName(r: ResourceInfo, kind: string): string {
  return `${r.group.split('.').reverse().join('.')}.${r.version}.${kind}`;
}

export function openApiV3Document(r: ResourceInfo): Record<string, unknown> {
  const gvk = [{ group: r.group, version: r.version, kind: r.kind }];
  const obj = schemaName(r, r.kind);
  const list = schemaName(r, r.listKind);
  const ref = (n: string) => ({ $ref: `#/components/schemas/${n}` });
  const params = [
    {
      name: 'labelSelector',
      in: 'query',
      schema: { type: 'string' },
      description: 'agentgate.io/agent, agentgate.io/decision, agentgate.io/writer, agentgate.io/outcome, agentgate.io/source',
    },
    {
      name: 'fieldSelector',
      in: 'query',
      schema: { type: 'string' },
      description:
        'spec.agent, spec.decision, spec.operation, spec.namespace, spec.user, spec.resource, spec.requestUID, status.outcome, metadata.name; spec.time with <, <=, >, >= (RFC 3339)',
    },
    { name: 'limit', in: 'query', schema: { type: 'integer' } },
    { name: 'continue', in: 'query', schema: { type: 'string' } },
    { name: 'watch', in: 'query', schema: { type: 'boolean' } },
    { name: 'resourceVersion', in: 'query', schema: { type: 'string' } },
  ];
  const ok = (schema: unknown) => ({ '200': { description: 'OK', content: { 'application/json': { schema } } } });
  const base = `/apis/${r.group}/${r.version}`;
  // kubectl explain finds the kind from the operation of the resource's path.
  const op = (operationId: string, action: string) => ({ operationId, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk[0] });
  return {
    openapi: '3.0.0',
    info: { title: `agentgate ${r.group}`, version: r.version },
    paths: {
      [`${base}/${r.plural}`]: { get: { ...op(`list${r.kind}ForAllNamespaces`, 'list'), parameters: params, responses: ok(ref(list)) } },
      [`${base}/namespaces/{namespace}/${r.plural}`]: {
        parameters: [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }],
        get: { ...op(`listNamespaced${r.kind}`, 'list'), parameters: params, responses: ok(ref(list)) },
      },
      [`${base}/namespaces/{namespace}/${r.plural}/{name}`]: {
        parameters: [
          { name: 'namespace', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
        ],
        get: { ...op(`readNamespaced${r.kind}`, 'get'), responses: ok(ref(obj)) },
      },
    },
    components: {
      schemas: {
        [obj]: { ...r.schema, 'x-kubernetes-group-version-kind': gvk },
        [list]: {
          type: 'object',
          description: `A list of ${r.kind}s.`,
          required: ['items'],
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            metadata: { type: 'object' },
            items: { type: 'array', items: ref(obj) },
          },
          'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: r.listKind }],
        },
      },
    },
  };
}

export function documentHash(doc: unknown): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 64).toUpperCase();
}
