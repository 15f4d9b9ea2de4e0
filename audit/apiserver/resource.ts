// The served resource's description: names, schema, printer columns. One source, the
// schema file audit/api/auditevents.audit.agentgate.io.yaml (also the generated types).
import { loadCrds } from '../../api/crds.js';
import type { JSONSchemaProps } from '../../api/crds.js';
import { AUDIT_GROUP, VERSION } from '../../api/types.js';

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
  description?: string;
}

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  schema: JSONSchemaProps;
  columns: PrinterColumn[];
}

let cached: ResourceInfo | undefined;

export function auditResource(): ResourceInfo {
  if (cached) return cached;
  const crd = loadCrds().get('AuditEvent');
  if (!crd || crd.spec.group !== AUDIT_GROUP) throw new Error(`the AuditEvent schema must be in group ${AUDIT_GROUP}`);
  const v = crd.spec.versions.find((x) => x.name === VERSION) as (typeof crd.spec.versions)[number] & { additionalPrinterColumns?: PrinterColumn[] };
  if (!v) throw new Error(`the AuditEvent schema has no version ${VERSION}`);
  cached = {
    group: crd.spec.group,
    version: VERSION,
    kind: crd.spec.names.kind,
    listKind: `${crd.spec.names.kind}List`,
    plural: crd.spec.names.plural,
    singular: crd.spec.names.singular,
    shortNames: crd.spec.names.shortNames ?? [],
    categories: crd.spec.names.categories ?? [],
    schema: v.schema.openAPIV3Schema,
    columns: v.additionalPrinterColumns ?? [],
  };
  return cached;
}

/** The top-level spec fields the printer columns show (.spec.agent -> agent): all a Table needs of a spec. */
export function columnSpecFields(r: ResourceInfo): string[] {
  return r.columns.flatMap((c) => /^\.spec\.([A-Za-z]+)/.exec(c.jsonPath)?.[1] ?? []);
}
