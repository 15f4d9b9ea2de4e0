// meta.k8s.io/v1 Table responses, so `kubectl get auditevents` (and -o wide, --sort-by)
// print the schema's printer columns exactly as they printed for the CRD.
import type { PrinterColumn } from './resource.js';

/** A dot path such as .spec.agent (what printer columns use here), as its parts. */
function pathParts(jsonPath: string): string[] {
  return jsonPath.replace(/^\./, '').split('.');
}

function valueAt(obj: unknown, parts: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const part of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** kubectl's human durations (k8s.io/apimachinery/pkg/util/duration.HumanDuration). */
function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 192) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function cell(v: unknown, type: string, now: Date): unknown {
  if (v === undefined || v === null) return type === 'integer' || type === 'number' ? null : '<none>';
  if (type === 'date' && typeof v === 'string') return humanDuration(now.getTime() - Date.parse(v));
  if (Array.isArray(v)) return v.join(',');
  return v;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function table(
  objects: ReadonlyArray<{ metadata: { name?: string } }>,
  columns: readonly PrinterColumn[],
  opts: { include: IncludeObject; now: Date; resourceVersion?: string; continue?: string; apiVersion: string; kind: string },
): Record<string, unknown> {
  const defs = [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...columns.map((c) => ({
      name: c.name,
      type: c.type === 'date' ? 'date' : c.type,
      format: '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ];
  const paths = columns.map((c) => pathParts(c.jsonPath));
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}), ...(opts.continue ? { continue: opts.continue } : {}) },
    columnDefinitions: defs,
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...columns.map((c, i) => cell(valueAt(o, paths[i]!), c.type, opts.now))],
      ...(opts.include === 'None'
        ? {}
        : { object: opts.include === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } }),
    })),
  };
}

/** Whether the Accept header asks for a Table (kubectl get does). */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && accept.split(',').some((a) => /;\s*as=Table/.test(a) && /g=meta\.k8s\.io/.test(a));
}
