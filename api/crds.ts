// Loads the CRDs in crds/ — the single source of truth for the agentgate.io API —
// so that validators and generated types derive from the same schemas the apiserver uses.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

/** The subset of OpenAPI v3 that structural CRD schemas use. */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps | boolean;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-validations'?: Array<{ rule: string; message?: string }>;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export interface CRD {
  metadata: { name: string };
  spec: {
    group: string;
    scope: 'Cluster' | 'Namespaced';
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchemaProps };
      additionalPrinterColumns?: Array<{ name: string; type: string; jsonPath: string; priority?: number; description?: string }>;
    }>;
  };
}

export const crdDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'crds');
/** AuditEvent's schema: same shape, but served by the aggregated API, never installed as a CRD. */
const auditApiDir = path.resolve(crdDir, '..', 'audit', 'api');

let loaded: Map<string, CRD> | undefined;

/** All CRDs by kind. */
export function loadCrds(dir = crdDir): Map<string, CRD> {
  if (loaded && dir === crdDir) return loaded;
  const byKind = new Map<string, CRD>();
  const dirs = dir === crdDir ? [crdDir, auditApiDir] : [dir];
  for (const d of dirs) {
    for (const f of readdirSync(d)
      .filter((n) => n.endsWith('.yaml'))
      .sort()) {
      const crd = yaml.load(readFileSync(path.join(d, f), 'utf8')) as CRD;
      byKind.set(crd.spec.names.kind, crd);
    }
  }
  if (dir === crdDir) loaded = byKind;
  return byKind;
}

/** The v1alpha1 schema of one kind. */
export function schemaOf(kind: string, version = 'v1alpha1'): JSONSchemaProps {
  const crd = loadCrds().get(kind);
  if (!crd) throw new Error(`no CRD for kind ${kind} in ${crdDir}`);
  const v = crd.spec.versions.find((x) => x.name === version);
  if (!v) throw new Error(`CRD ${crd.metadata.name} has no version ${version}`);
  return v.schema.openAPIV3Schema;
}
