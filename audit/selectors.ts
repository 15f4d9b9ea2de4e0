// Kubernetes label and field selectors over the audit table, as parameterised SQL.
// Only known keys map to columns; a requirement on an unknown label cannot match (no
// record carries other labels), an unknown field is a 400 that names the fields there are.
export class SelectorError extends Error {}

/** Labels every served AuditEvent carries, and the column behind each. */
const LABEL_COLUMNS: Record<string, string> = {
  'agentgate.io/agent': 'agent',
  'agentgate.io/decision': 'decision',
  'agentgate.io/writer': 'writer',
  'agentgate.io/outcome': 'outcome',
  'agentgate.io/source': 'source',
};
const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** Fields a field selector may name. spec.time also takes <, <=, >, >= (RFC 3339). */
const FIELD_COLUMNS: Record<string, string> = {
  'metadata.name': 'name',
  'spec.agent': 'agent',
  'spec.decision': 'decision',
  'spec.operation': 'operation',
  'spec.namespace': 'namespace',
  'spec.user': 'user_name',
  'spec.resource': 'resource',
  'spec.name': "(spec->>'name')",
  'spec.requestUID': 'request_uid',
  'spec.source': 'source',
  'status.outcome': 'outcome',
  'spec.time': 'time',
};

/** The table column holding a spec field (spec.agent -> agent), if it has one of its own. */
export function specFieldColumn(field: string): string | undefined {
  const col = FIELD_COLUMNS[`spec.${field}`];
  return col && /^[a-z_]+$/.test(col) ? col : undefined;
}

export interface Where {
  clauses: string[];
  params: unknown[];
}

function param(w: Where, v: unknown): string {
  w.params.push(v);
  return `$${w.params.length}`;
}

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

const FALSE = 'FALSE';

/** Adds a label selector (k=v, k==v, k!=v, k in (..), k notin (..), k, !k) to where. */
export function addLabelSelector(w: Where, selector: string | undefined, managedBy: string): void {
  if (!selector?.trim()) return;
  for (const req of splitTop(selector)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req))) {
      const values = m[3]!
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      labelReq(w, m[1]!, m[2] === 'in' ? 'in' : 'notin', values, managedBy);
    } else if ((m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(req))) {
      labelReq(w, m[1]!, m[2] === '!=' ? 'notin' : 'in', [m[3]!], managedBy);
    } else if ((m = /^!\s*([^\s!=(),]+)$/.exec(req))) {
      labelReq(w, m[1]!, 'absent', [], managedBy);
    } else if ((m = /^([^\s!=(),]+)$/.exec(req))) {
      labelReq(w, m[1]!, 'exists', [], managedBy);
    } else {
      throw new SelectorError(`unable to parse requirement "${req}" of labelSelector: use key=value, key!=value, key in (a,b), key notin (a,b), key or !key`);
    }
  }
}

function labelReq(w: Where, key: string, op: 'in' | 'notin' | 'exists' | 'absent', values: string[], managedBy: string): void {
  if (key === MANAGED_BY_LABEL) {
    const has = true;
    const matches = op === 'in' ? values.includes(managedBy) : op === 'notin' ? !values.includes(managedBy) : op === 'exists' ? has : !has;
    if (!matches) w.clauses.push(FALSE);
    return;
  }
  const col = LABEL_COLUMNS[key];
  if (!col) {
    // No served record carries this label.
    if (op === 'in' || op === 'exists') w.clauses.push(FALSE);
    return;
  }
  // agent is '' when the caller mapped to no agent: such records carry no agent label.
  const present = col === 'agent' ? `${col} <> ''` : 'TRUE';
  if (op === 'exists') w.clauses.push(present);
  else if (op === 'absent') w.clauses.push(`NOT (${present})`);
  else if (op === 'in') w.clauses.push(`(${present} AND ${col} = ANY(${param(w, values)}::text[]))`);
  else w.clauses.push(`NOT (${present} AND ${col} = ANY(${param(w, values)}::text[]))`);
}

/** Adds a field selector (f=v, f==v, f!=v; spec.time also <, <=, >, >=). */
export function addFieldSelector(w: Where, selector: string | undefined, namespace: string): void {
  if (!selector?.trim()) return;
  for (const req of selector
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z.]+)\s*(==|=|!=|>=|<=|>|<)\s*(.*)$/.exec(req);
    if (!m) throw new SelectorError(`unable to parse requirement "${req}" of fieldSelector: use field=value or field!=value`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (field === 'metadata.namespace') {
      const eq = value === namespace;
      if ((op === '!=' && eq) || (op !== '!=' && !eq)) w.clauses.push(FALSE);
      continue;
    }
    const col = FIELD_COLUMNS[field];
    if (!col)
      throw new SelectorError(
        `field selector "${field}" is not supported for auditevents; use one of ${[...Object.keys(FIELD_COLUMNS), 'metadata.namespace'].join(', ')}`,
      );
    if (col === 'time') {
      const t = new Date(value);
      if (Number.isNaN(t.getTime())) throw new SelectorError(`field selector spec.time: "${value}" is not an RFC 3339 time such as 2026-01-02T15:04:05Z`);
      const sqlOp = op === '==' ? '=' : op;
      w.clauses.push(`time ${sqlOp} ${param(w, t.toISOString())}::timestamptz`);
      continue;
    }
    if (op !== '=' && op !== '==' && op !== '!=')
      throw new SelectorError(`field selector ${field}: only =, == and != are supported (<, <=, >, >= only for spec.time)`);
    w.clauses.push(`${col} ${op === '!=' ? '<>' : '='} ${param(w, value)}`);
  }
}

export function whereSql(w: Where): string {
  return w.clauses.length ? `WHERE ${w.clauses.join(' AND ')}` : '';
}
