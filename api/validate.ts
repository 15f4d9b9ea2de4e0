// ajv validators compiled from the CRD schemas themselves (crds/), so client-side checks
// (the CLI, tests) and the apiserver agree on what a valid object is. CEL rules
// (x-kubernetes-validations) are the apiserver's to enforce; here they are annotations.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { schemaOf, type JSONSchemaProps } from './crds.js';

export interface FieldError {
  /** Dotted path, e.g. spec.roleRef.kind or spec.subjects[0].namespace */
  field: string;
  message: string;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, useDefaults: false });
  for (const keyword of [
    'x-kubernetes-validations',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-embedded-resource',
  ]) {
    ajv.addKeyword({ keyword, schemaType: ['array', 'string', 'boolean'] });
  }
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  return ajv;
}

const ajv = newAjv();
const compiled = new Map<string, ValidateFunction>();

// The apiserver prunes unknown fields and `kubectl apply` (strict field validation)
// refuses them; closing every object that lists its properties does the same here.
function closeObjects(s: JSONSchemaProps, isRoot = true): JSONSchemaProps {
  const out: JSONSchemaProps = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, isRoot && k === 'metadata' ? v : closeObjects(v, false)]));
    if (s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (s.items) out.items = closeObjects(s.items, false);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    out.additionalProperties = closeObjects(s.additionalProperties, false);
  }
  return out;
}

function validatorFor(kind: string): ValidateFunction {
  let v = compiled.get(kind);
  if (!v) {
    v = ajv.compile(closeObjects(schemaOf(kind)));
    compiled.set(kind, v);
  }
  return v;
}

/** "/spec/subjects/0/namespace" -> "spec.subjects[0].namespace" */
export function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function describe(e: ErrorObject): FieldError {
  let field = pointerToField(e.instancePath);
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    field = field ? `${field}.${missing}` : missing;
    message = 'Required value';
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`;
  } else if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    field = field ? `${field}.${extra}` : extra;
    message = 'unknown field: remove it (check its spelling with kubectl explain)';
  }
  return { field, message };
}

/** Validates a whole object of an agentgate kind; an empty list means valid. */
export function validateObject(kind: string, obj: unknown): FieldError[] {
  const v = validatorFor(kind);
  if (v(obj)) return [];
  return (v.errors ?? []).map(describe);
}

export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}
