// The CEL environment agentgate rules run in.
//
// Rules see the same variables as a Kubernetes ValidatingAdmissionPolicy (`request`,
// `object`, `oldObject`) plus `agent` (the AgentIdentity) and `grant` (the AccessGrant
// or null). Every variable is `dyn`: objects are arbitrary Kubernetes JSON, so the type
// checker can only prove a rule's result is `bool` when its top-level operator says so;
// otherwise the result type is checked when the rule runs.
//
// Regular expressions never reach JavaScript's backtracking RegExp: a rule is written by
// an administrator but its input (object names, labels, data) is written by the agent,
// so a backtracking engine would hand the agent a ReDoS lever against the webhook.

import { Environment } from '@marcbachmann/cel-js';
import type { ParseResult } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { LRUCache } from 'lru-cache';
import type { ApprovalRule, RuleAction } from '../api/types.js';
import type { AdmissionRequest, GroupVersionKind, GroupVersionResource } from '../lib/admission.js';

/** Matches the CRD's `maxLength` for `approvalRules[].expression`. */
export const MAX_EXPRESSION_LENGTH = 4096;
/** RE2 is linear in input × program size; this bounds the program side. */
export const MAX_REGEX_LENGTH = 1024;
/** Matches the CRD's `maxLength` for `approvalRules[].message`. */
const MAX_MESSAGE_LENGTH = 1024;

const RULE_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const RULE_NAME_MAX = 63;
const RULE_ACTIONS: readonly RuleAction[] = ['Deny', 'RequireApproval', 'Allow'];

const RULE_VARIABLES = ['request', 'object', 'oldObject', 'agent', 'grant', 'effects'] as const;

// ---------------------------------------------------------------------------
// Variables

/**
 * What a caller hands to a rule. `object`/`oldObject` default to the ones inside
 * `request` (an AdmissionRequest carries them), so passing the raw request is enough.
 */
export interface RuleVars {
  request: Partial<AdmissionRequest> & Pick<AdmissionRequest, 'operation'>;
  object?: unknown;
  oldObject?: unknown;
  /** The AgentIdentity object. */
  agent?: unknown;
  /** The AccessGrant object, or null when none applies. */
  grant?: unknown;
  /** What the write does beyond its verb, computed by the webhook (see webhook/effects.ts); absent: nothing known. */
  effects?: unknown;
}

declare const preparedBrand: unique symbol;
/** Variables already converted to CEL values; reuse across the rules of one request. */
export type CelVars = Readonly<Record<(typeof RULE_VARIABLES)[number], unknown>> & {
  readonly [preparedBrand]: true;
};

/** The `effects` variable when the caller computed none: same shape, nothing found, so rules need no has() guards. */
const NO_EFFECTS = Object.freeze({ routeClass: '', workload: Object.freeze({ serviceAccounts: [], exceedsGrant: [], privileged: [] }) });
const MAX_VALUE_DEPTH = 512;

const UNSET: unique symbol = Symbol('unset');

/**
 * One request's variables, each converted to a CEL value on first read (once for all
 * rules): most rules test `request` fields and stop there (see guardsOf), so the object of
 * an allowed call (a ~10 KB Pod) is usually never converted at all. Getters on the
 * prototype: cel-js reads variables as properties of the object it is given.
 */
class PreparedVars {
  readonly #raw: RuleVars;
  #normalized: Record<string, unknown> | undefined;
  #request: unknown = UNSET;
  #object: unknown = UNSET;
  #oldObject: unknown = UNSET;
  #agent: unknown = UNSET;
  #grant: unknown = UNSET;
  #effects: unknown = UNSET;
  #failure: string | undefined;

  constructor(raw: RuleVars) {
    this.#raw = raw;
  }

  /** The request with every field a ValidatingAdmissionPolicy can read, before conversion (strings are the same after). */
  static normalizedRequest(vars: PreparedVars): Record<string, unknown> {
    vars.#normalized ??= normalizeRequest(vars.#raw.request);
    return vars.#normalized;
  }

  static failure(vars: PreparedVars): string | undefined {
    return vars.#failure;
  }

  #convert(name: string, value: unknown): unknown {
    try {
      return toCelValue(value, 0);
    } catch (err) {
      this.#failure ??= `${name}: ${(err as Error).message}`;
      throw err;
    }
  }

  get request(): unknown {
    if (this.#request === UNSET) this.#request = this.#convert('request', PreparedVars.normalizedRequest(this));
    return this.#request;
  }
  get object(): unknown {
    const raw = this.#raw;
    if (this.#object === UNSET) this.#object = this.#convert('object', raw.object !== undefined ? raw.object : (raw.request.object ?? null));
    return this.#object;
  }
  get oldObject(): unknown {
    const raw = this.#raw;
    if (this.#oldObject === UNSET) this.#oldObject = this.#convert('oldObject', raw.oldObject !== undefined ? raw.oldObject : (raw.request.oldObject ?? null));
    return this.#oldObject;
  }
  get agent(): unknown {
    if (this.#agent === UNSET) this.#agent = cachedCelValue(this.#raw.agent ?? null);
    return this.#agent;
  }
  get grant(): unknown {
    if (this.#grant === UNSET) this.#grant = cachedCelValue(this.#raw.grant ?? null);
    return this.#grant;
  }
  get effects(): unknown {
    if (this.#effects === UNSET) this.#effects = this.#convert('effects', this.#raw.effects ?? NO_EFFECTS);
    return this.#effects;
  }
}

/**
 * Converts one request's variables to CEL values (each on first read, once for all rules).
 * - Integral JSON numbers become CEL `int` (bigint), as Go's unstructured decoding makes
 *   them int64; without this `object.spec.replicas + 1` would be a double/int mismatch.
 * - `undefined` properties are dropped so `has()` and "no such key" behave as for JSON.
 * - Every AdmissionRequest field a ValidatingAdmissionPolicy can read is present (empty
 *   string, empty list, false or null), so rules need no `has()` guard on `request`.
 * A conversion that fails (nesting deeper than MAX_VALUE_DEPTH) throws inside the rule that
 * read the variable, and conversionError reports it for the whole set (evaluateRules denies).
 */
export function prepareVars(vars: RuleVars | CelVars): CelVars {
  if (vars instanceof PreparedVars) return vars as unknown as CelVars;
  return new PreparedVars(vars as RuleVars) as unknown as CelVars;
}

/** A variable these prepared variables could not convert when a rule read it ("object: ..."), if any. */
export function conversionError(vars: CelVars): string | undefined {
  return PreparedVars.failure(vars as unknown as PreparedVars);
}

// Incoming JSON may omit fields the TypeScript type calls required; fill them anyway.
const gvk = (k?: Partial<GroupVersionKind>): GroupVersionKind => ({ group: k?.group ?? '', version: k?.version ?? '', kind: k?.kind ?? '' });
const gvr = (r?: Partial<GroupVersionResource>): GroupVersionResource => ({
  group: r?.group ?? '',
  version: r?.version ?? '',
  resource: r?.resource ?? '',
});

function normalizeRequest(req: RuleVars['request']): Record<string, unknown> {
  const kind = gvk(req.kind);
  const resource = gvr(req.resource);
  const user = req.userInfo ?? {};
  return {
    uid: req.uid ?? '',
    operation: req.operation,
    kind,
    resource,
    subResource: req.subResource ?? '',
    requestKind: req.requestKind ? gvk(req.requestKind) : kind,
    requestResource: req.requestResource ? gvr(req.requestResource) : resource,
    requestSubResource: req.requestSubResource ?? req.subResource ?? '',
    name: req.name ?? '',
    namespace: req.namespace ?? '',
    userInfo: {
      username: user.username ?? '',
      uid: user.uid ?? '',
      groups: user.groups ?? [],
      extra: user.extra ?? {},
    },
    dryRun: req.dryRun ?? false,
    options: req.options ?? null,
  };
}

// The AgentIdentity and the AccessGrant come from informer caches, which replace an object
// on change and never edit it in place (as in client-go): one conversion per object
// version serves every call, instead of one per call.
const converted = new WeakMap<object, unknown>();
function cachedCelValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return toCelValue(value, 0);
  let v = converted.get(value);
  if (v === undefined) {
    v = toCelValue(value, 0);
    converted.set(value, v);
  }
  return v;
}

function toCelValue(value: unknown, depth: number): unknown {
  if (depth > MAX_VALUE_DEPTH) throw new Error(`object nesting exceeds ${MAX_VALUE_DEPTH} levels`);
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => toCelValue(v === undefined ? null : v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) out[k] = toCelValue(v, depth + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Regular expressions (RE2 only)

class RegexFailure {
  constructor(readonly message: string) {}
}

const regexCache = new LRUCache<string, RE2JS | RegexFailure>({ max: 512 });

/** Compiles an RE2 pattern (cached, failures too); throws an Error with a readable message. */
export function compileRegex(pattern: string): RE2JS {
  const hit = regexCache.get(pattern);
  if (hit instanceof RE2JS) return hit;
  if (hit) throw new Error(hit.message);
  const result = tryCompileRegex(pattern);
  regexCache.set(pattern, result);
  if (result instanceof RegexFailure) throw new Error(result.message);
  return result;
}

function tryCompileRegex(pattern: string): RE2JS | RegexFailure {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return new RegexFailure(`regular expression is ${pattern.length} characters long; the limit is ${MAX_REGEX_LENGTH}`);
  }
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return new RegexFailure(
      `invalid regular expression ${JSON.stringify(pattern)}: ${detail} ` + '(agentgate uses RE2 syntax, which has no backreferences or lookaround)',
    );
  }
}

/** Go's FindAllString: empty matches right after a previous match are skipped. */
function findAll(input: string, pattern: string, limit: number): string[] {
  if (limit === 0) return [];
  const m = compileRegex(pattern).matcher(input);
  const out: string[] = [];
  let prevEnd = -1;
  while ((limit < 0 || out.length < limit) && m.find()) {
    const start = m.start();
    const end = m.end();
    if (!(start === end && start === prevEnd)) out.push(m.group() ?? '');
    prevEnd = end;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Extension functions

// cel-js ships `string.matches` backed by JS RegExp and refuses a second overload with
// the same signature. So every call to a method we must replace is renamed in the parsed
// AST (before type checking binds it) to an internal name registered with our handler.
const OVERRIDDEN_METHODS: Readonly<Record<string, string>> = {
  matches: '__agentgate_re2_matches',
  lowerAscii: '__agentgate_lower_ascii',
  upperAscii: '__agentgate_upper_ascii',
};

const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (c) => c.toLowerCase());
const asciiUpper = (s: string): string => s.replace(/[a-z]+/g, (c) => c.toUpperCase());

/** Go's strings.Replace: n < 0 replaces all; an empty `from` matches around every code point. */
function replaceN(s: string, from: string, to: string, n: bigint): string {
  if (n === 0n) return s;
  if (from === '') {
    const chars = Array.from(s);
    const limit = n < 0n || n > BigInt(chars.length + 1) ? chars.length + 1 : Number(n);
    return chars.reduce((out, c, i) => out + c + (i + 1 < limit ? to : ''), limit > 0 ? to : '');
  }
  const parts = s.split(from);
  if (n < 0n || BigInt(parts.length - 1) <= n) return parts.join(to);
  const k = Number(n);
  return parts.slice(0, k + 1).join(to) + from + parts.slice(k + 1).join(from);
}

function celEquals(a: unknown, b: unknown): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return typeof a === typeof b ? a === b : Number(a) === Number(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const rb = b as Record<string, unknown>;
    return ka.length === Object.keys(b).length && ka.every((k) => k in rb && celEquals((a as Record<string, unknown>)[k], rb[k]));
  }
  return a === b;
}

const listIncludes = (list: readonly unknown[], x: unknown): boolean => list.some((y) => celEquals(x, y));

/** The receiver type of Kubernetes' `sets.*` functions (cel-js names namespaces by type). */
class SetsNamespace {}

function registerExtensions(env: Environment): void {
  const fn = (sig: string, handler: (...args: never[]) => unknown, description: string): void => {
    env.registerFunction(sig, handler as (...args: unknown[]) => unknown, { description });
  };

  // Regex, RE2 only (Kubernetes: standard `matches`, ext `find`/`findAll`).
  fn(`string.${OVERRIDDEN_METHODS.matches}(string): bool`, (s: string, re: string) => compileRegex(re).test(s), 'RE2 partial match');
  fn('matches(string, string): bool', (s: string, re: string) => compileRegex(re).test(s), 'RE2 partial match');
  fn('string.find(string): string', (s: string, re: string) => findAll(s, re, 1)[0] ?? '', 'first RE2 match or ""');
  fn('string.findAll(string): list<string>', (s: string, re: string) => findAll(s, re, -1), 'all RE2 matches');
  fn('string.findAll(string, int): list<string>', (s: string, re: string, n: bigint) => findAll(s, re, Number(n)), 'at most n RE2 matches');

  // Kubernetes string library: ASCII-only case mapping, as the spec says.
  fn(`string.${OVERRIDDEN_METHODS.lowerAscii}(): string`, asciiLower, 'ASCII lower case');
  fn(`string.${OVERRIDDEN_METHODS.upperAscii}(): string`, asciiUpper, 'ASCII upper case');
  fn('string.replace(string, string): string', (s: string, a: string, b: string) => replaceN(s, a, b, -1n), 'replace all');
  fn('string.replace(string, string, int): string', replaceN, 'replace the first n');
  fn(
    'string.charAt(int): string',
    (s: string, i: bigint) => {
      const chars = Array.from(s);
      if (i < 0n || i > BigInt(chars.length)) throw new Error(`charAt: index ${i} out of range`);
      return chars[Number(i)] ?? '';
    },
    'code point at index',
  );
  fn('string.reverse(): string', (s: string) => Array.from(s).reverse().join(''), 'reverse code points');

  // Kubernetes sets library: handy for userInfo.groups.
  env.registerType('SetsNamespace', SetsNamespace);
  env.registerConstant('sets', 'SetsNamespace', new SetsNamespace());
  fn('SetsNamespace.contains(list, list): bool', (_: SetsNamespace, a: unknown[], b: unknown[]) => b.every((x) => listIncludes(a, x)), 'a ⊇ b');
  fn('SetsNamespace.intersects(list, list): bool', (_: SetsNamespace, a: unknown[], b: unknown[]) => b.some((x) => listIncludes(a, x)), 'a ∩ b ≠ ∅');
  fn(
    'SetsNamespace.equivalent(list, list): bool',
    (_: SetsNamespace, a: unknown[], b: unknown[]) => b.every((x) => listIncludes(a, x)) && a.every((x) => listIncludes(b, x)),
    'same elements',
  );
}

// ---------------------------------------------------------------------------
// AST helpers. cel-js types AST nodes as readonly; the rename below is the one place we
// write to them, before type checking, on an AST nobody else holds.

interface AstNodeLike {
  op: string;
  args: unknown;
  start?: number;
  pos?: number;
  readonly meta?: { alternate?: unknown; macro?: Record<string, unknown> };
}

function isAstNode(v: unknown): v is AstNodeLike {
  return typeof v === 'object' && v !== null && typeof (v as { op?: unknown }).op === 'string' && 'args' in v;
}

/** Visits every AST node reachable from root, including macro expansions (all, exists, map, cel.bind...). */
function walkAst(root: unknown, visit: (node: AstNodeLike) => void): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      stack.push(...v);
    } else if (isAstNode(v)) {
      visit(v);
      stack.push(v.args);
      const meta = v.meta;
      if (meta?.alternate) stack.push(meta.alternate);
      if (meta?.macro) stack.push(...Object.values(meta.macro));
    } else if (Object.getPrototypeOf(v) === Object.prototype) {
      stack.push(...Object.values(v));
    }
  }
}

function renameOverriddenMethods(root: unknown): void {
  walkAst(root, (node) => {
    if (node.op !== 'rcall' || !Array.isArray(node.args)) return;
    const internal = OVERRIDDEN_METHODS[node.args[0] as string];
    if (internal !== undefined) node.args[0] = internal;
  });
}

const REGEX_METHODS = new Set([OVERRIDDEN_METHODS.matches, 'find', 'findAll']);

/** A regex given as a literal is compiled now, so a bad pattern is a compile error, not a deny at 3 a.m. */
function findBadLiteralRegex(root: unknown): { message: string; offset: number } | undefined {
  let found: { message: string; offset: number } | undefined;
  walkAst(root, (node) => {
    if (found || !Array.isArray(node.args)) return;
    let patternNode: unknown;
    if (node.op === 'rcall' && REGEX_METHODS.has(node.args[0] as string)) patternNode = (node.args[2] as unknown[] | undefined)?.[0];
    else if (node.op === 'call' && node.args[0] === 'matches') patternNode = (node.args[1] as unknown[] | undefined)?.[1];
    if (!isAstNode(patternNode) || patternNode.op !== 'value' || typeof patternNode.args !== 'string') return;
    try {
      compileRegex(patternNode.args);
    } catch (err) {
      found = { message: (err as Error).message, offset: patternNode.start ?? patternNode.pos ?? 0 };
    }
  });
  return found;
}

/** cel-js messages name the internal method; users wrote `matches`. */
function publicMessage(message: string): string {
  let out = message;
  for (const [name, internal] of Object.entries(OVERRIDDEN_METHODS)) out = out.split(internal).join(name);
  return out;
}

// ---------------------------------------------------------------------------
// Environment

let environment: Environment | undefined;

/** The shared environment, built on first use; throws if the RE2 override did not take. */
export function celEnvironment(): Environment {
  if (environment) return environment;
  const env = new Environment({ enableOptionalTypes: true });
  for (const name of RULE_VARIABLES) env.registerVariable(name, 'dyn');
  registerExtensions(env);
  assertRe2Only(env);
  environment = env;
  return env;
}

// A cel-js upgrade that changed how calls are bound would silently bring back RegExp;
// lookahead is valid for RegExp and invalid for RE2, so it tells the engines apart.
function assertRe2Only(env: Environment): void {
  const parsed = env.parse('request.name.matches(request.namespace)');
  renameOverriddenMethods(parsed.ast);
  let usedRe2 = false;
  try {
    parsed({ request: { name: 'a', namespace: '(?=a)' }, object: null, oldObject: null, agent: null, grant: null, effects: null });
  } catch (err) {
    usedRe2 = /RE2/.test(String((err as Error).message));
  }
  if (!usedRe2) throw new Error('agentgate: CEL matches() is not backed by RE2; refusing to evaluate rules');
}

// ---------------------------------------------------------------------------
// Compilation

export interface RuleCompileError {
  field: 'expression' | 'name' | 'action' | 'message';
  message: string;
  /** 1-based, in the expression text. */
  line?: number;
  column?: number;
}

/** A checked expression, independent of the rule that uses it (so it can be cached). */
interface CelProgram {
  readonly expression: string;
  /** `bool` when the checker proved it; `dyn` when the result is checked at run time. */
  readonly resultType: 'bool' | 'dyn';
  /** Runs the expression; throws on evaluation errors. */
  run(vars: CelVars): unknown;
  /** Conjuncts that, when false, make the expression false (see Guards); run checks them too. */
  readonly guards: readonly Guard[];
}

export interface CompiledRule {
  readonly name: string;
  readonly action: RuleAction;
  readonly message?: string;
  readonly expression: string;
  readonly program: CelProgram;
}

type CompileResult<T> = { ok: true; value: T } | { ok: false; error: RuleCompileError };

/** "<message> at line L column C" for display. */
export function formatCompileError(err: RuleCompileError): string {
  return err.line !== undefined ? `${err.message} at line ${err.line} column ${err.column}` : err.message;
}

function position(expression: string, offset: number): { line: number; column: number } {
  const before = expression.slice(0, Math.max(0, Math.min(offset, expression.length)));
  const lastNl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: before.length - lastNl };
}

function celErrorOffset(err: unknown): number | undefined {
  const e = err as { range?: { start?: unknown }; node?: { pos?: unknown } } | null;
  if (typeof e?.range?.start === 'number') return e.range.start;
  if (typeof e?.node?.pos === 'number') return e.node.pos;
  return undefined;
}

/** The one-line description of a cel-js error (its `message` embeds a source excerpt). */
function celErrorSummary(err: unknown): string {
  const e = err as { summary?: unknown; message?: unknown } | null;
  const text = typeof e?.summary === 'string' && e.summary ? e.summary : typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
  return publicMessage(text ?? String(err));
}

function expressionError(expression: string, message: string, offset?: number): CompileResult<never> {
  const error: RuleCompileError = { field: 'expression', message };
  if (offset !== undefined) Object.assign(error, position(expression, offset));
  return { ok: false, error };
}

function compileExpression(expression: string): CompileResult<CelProgram> {
  if (expression.trim() === '') return expressionError(expression, 'expression is empty');
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    return expressionError(expression, `expression is ${expression.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`);
  }
  const env = celEnvironment();
  let parsed: ParseResult;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    return expressionError(expression, `syntax error: ${celErrorSummary(err)}`, celErrorOffset(err));
  }
  renameOverriddenMethods(parsed.ast);
  const checked = parsed.check();
  if (!checked.valid) {
    return expressionError(expression, `type error: ${celErrorSummary(checked.error)}`, celErrorOffset(checked.error));
  }
  const badRegex = findBadLiteralRegex(parsed.ast);
  if (badRegex) return expressionError(expression, badRegex.message, badRegex.offset);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return expressionError(expression, `expression must evaluate to bool, but it evaluates to ${checked.type}`);
  }
  const guards = guardsOf(parsed.ast);
  const listTest = nonEmptyListTest(parsed.ast);
  // A list test answers in JavaScript when it can (undefined: anything else), CEL otherwise.
  const evaluate = listTest ? (vars: CelVars): unknown => listTest(vars) ?? parsed(vars) : (vars: CelVars): unknown => parsed(vars);
  const program: CelProgram = Object.freeze({
    expression,
    resultType: checked.type,
    guards: Object.freeze(guards),
    run: guards.length ? (vars: CelVars): unknown => (guards.some((g) => guardFails(g, guardedRequest(vars))) ? false : evaluate(vars)) : evaluate,
  });
  return { ok: true, value: program };
}

// ---------------------------------------------------------------------------
// `size(<variable>.<field>...) > 0` (the workload rules: `size(effects.workload.privileged) > 0`)
// answered in JavaScript from the variable CEL would read, converted the same way (so a
// conversion failure is recorded as when CEL reads it). Only when every step is a key the
// converted map holds and the value is a list: CEL's size of a list is its length. Any other
// case (a missing key, null, a string or a map, a variable that fails to convert) runs the
// expression in CEL, which gives CEL's answer or error.

const isPlainMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

function nonEmptyListTest(root: unknown): ((vars: CelVars) => boolean | undefined) | undefined {
  if (!isAstNode(root) || root.op !== '>' || !Array.isArray(root.args) || root.args.length !== 2) return undefined;
  const [call, zero] = root.args as unknown[];
  if (!isAstNode(zero) || zero.op !== 'value' || zero.args !== 0n) return undefined;
  if (!isAstNode(call) || call.op !== 'call' || !Array.isArray(call.args) || call.args[0] !== 'size') return undefined;
  const callArgs: unknown = call.args[1];
  if (!Array.isArray(callArgs) || callArgs.length !== 1) return undefined;
  const path: string[] = [];
  let n: unknown = callArgs[0];
  while (isAstNode(n) && n.op === '.' && Array.isArray(n.args) && typeof n.args[1] === 'string') {
    path.unshift(n.args[1]);
    n = n.args[0];
  }
  if (!isAstNode(n) || n.op !== 'id' || typeof n.args !== 'string' || !(RULE_VARIABLES as readonly string[]).includes(n.args) || path.length === 0) {
    return undefined;
  }
  const variable = n.args as (typeof RULE_VARIABLES)[number];
  return (vars) => {
    let v: unknown;
    try {
      v = vars[variable];
    } catch {
      return undefined;
    }
    for (const k of path) {
      if (!isPlainMap(v) || !Object.hasOwn(v, k)) return undefined;
      v = v[k];
    }
    return Array.isArray(v) ? v.length > 0 : undefined;
  };
}

// ---------------------------------------------------------------------------
// Guards: most rules start `request.operation == 'DELETE' && request.resource.resource ==
// ...`, and most calls fail such a test. A conjunct of the expression's top-level && that
// compares a string field of `request` with string literals is checked in JavaScript
// first; when it is false the rule is false without running it. That is CEL's own answer:
// one false conjunct makes a conjunction false, whatever the others give (errors included).

/** Fields of the `request` variable that normalizeRequest always makes strings. */
const GUARD_FIELDS = new Set([
  'operation',
  'subResource',
  'name',
  'namespace',
  'resource.group',
  'resource.version',
  'resource.resource',
  'kind.group',
  'kind.version',
  'kind.kind',
]);

interface Guard {
  readonly path: readonly string[];
  /** The conjunct is true when the field's value is one of these. */
  readonly values: readonly string[];
}

/** `request.a.b` as ['a', 'b'], for the fields in GUARD_FIELDS. */
function requestField(node: unknown): string[] | undefined {
  const path: string[] = [];
  let n = node;
  while (isAstNode(n) && n.op === '.' && Array.isArray(n.args) && typeof n.args[1] === 'string') {
    path.unshift(n.args[1]);
    n = n.args[0];
  }
  return isAstNode(n) && n.op === 'id' && n.args === 'request' && GUARD_FIELDS.has(path.join('.')) ? path : undefined;
}

const stringLiteral = (node: unknown): string | undefined => (isAstNode(node) && node.op === 'value' && typeof node.args === 'string' ? node.args : undefined);

/** `request.f == 'x'` or `request.f in ['x', 'y']`. */
function guardOf(node: AstNodeLike): Guard | undefined {
  if (!Array.isArray(node.args) || node.args.length !== 2) return undefined;
  const path = requestField(node.args[0]);
  const right: unknown = node.args[1];
  if (!path) return undefined;
  if (node.op === '==') {
    const value = stringLiteral(right);
    return value === undefined ? undefined : { path, values: [value] };
  }
  if (node.op === 'in' && isAstNode(right) && right.op === 'list' && Array.isArray(right.args)) {
    const values = right.args.map(stringLiteral);
    return values.every((v) => v !== undefined) ? { path, values: values as string[] } : undefined;
  }
  return undefined;
}

/** The guards among the conjuncts of the expression's top-level && (all of it, when it is one). */
function guardsOf(root: unknown): Guard[] {
  const out: Guard[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const n = stack.pop();
    if (!isAstNode(n)) continue;
    if (n.op === '&&' && Array.isArray(n.args)) stack.push(...n.args);
    else {
      const g = guardOf(n);
      if (g) out.push(g);
    }
  }
  return out;
}

/** What guards read: the request before conversion (its strings are the same after), so passing them converts nothing. */
const guardedRequest = (vars: CelVars): unknown => (vars instanceof PreparedVars ? PreparedVars.normalizedRequest(vars) : vars.request);

/** The request's field at path; undefined when some step is missing. */
function fieldAt(request: unknown, path: readonly string[]): unknown {
  let v = request;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** True only when the field is a string none of the guard's values: anything unexpected runs the rule. */
function guardFails(g: Guard, request: unknown): boolean {
  const v = fieldAt(request, g.path);
  return typeof v === 'string' && !g.values.includes(v);
}

/** Distinct request shapes (guarded field values) remembered per rule set; more clear the memory. */
const MAX_GUARD_SHAPES = 128;

/**
 * For the rules of one set: which of them may be true for these variables (false
 * where a guard fails, so the caller need not run it: its answer is false). That depends
 * only on the values of the request fields the set's guards read, so it is worked out once
 * per distinct tuple of them (operation, resource, subresource... for the defaults) and
 * remembered, bounded; a tuple with a value that is no string is worked out every time.
 */
export function guardFilter(rules: readonly CompiledRule[]): (vars: CelVars) => readonly boolean[] {
  const paths = [...new Map(rules.flatMap((r) => r.program.guards.map((g) => [g.path.join('.'), g.path] as const))).values()];
  const all = Object.freeze(rules.map(() => true));
  if (paths.length === 0) return () => all;
  const work = (request: unknown): readonly boolean[] => Object.freeze(rules.map((r) => !r.program.guards.some((g) => guardFails(g, request))));
  const shapes = new Map<string, readonly boolean[]>();
  return (vars) => {
    const request = guardedRequest(vars);
    let key = '';
    for (const path of paths) {
      const v = fieldAt(request, path);
      if (typeof v !== 'string') return work(request);
      // Length-prefixed: no two tuples give the same key, whatever the strings hold.
      key += `${v.length}:${v}`;
    }
    let may = shapes.get(key);
    if (!may) {
      if (shapes.size >= MAX_GUARD_SHAPES) shapes.clear();
      may = work(request);
      shapes.set(key, may);
    }
    return may;
  };
}

const programCache = new LRUCache<string, CompileResult<CelProgram>>({ max: 1000 });

/** Compiles an expression, caching successes and failures by its text. */
export function compileCached(expression: string): CompileResult<CelProgram> {
  const hit = programCache.get(expression);
  if (hit) return hit;
  const result = compileExpression(expression);
  programCache.set(expression, result);
  return result;
}

function validateRuleShape(rule: ApprovalRule): RuleCompileError | undefined {
  if (typeof rule.name !== 'string' || !RULE_NAME_PATTERN.test(rule.name) || rule.name.length > RULE_NAME_MAX) {
    return { field: 'name', message: `rule name ${JSON.stringify(rule.name)} must be kebab-case (a-z, 0-9, '-'), at most ${RULE_NAME_MAX} characters` };
  }
  if (!RULE_ACTIONS.includes(rule.action)) {
    return { field: 'action', message: `action ${JSON.stringify(rule.action)} must be one of ${RULE_ACTIONS.join(', ')}` };
  }
  if (rule.message !== undefined && (typeof rule.message !== 'string' || rule.message.length > MAX_MESSAGE_LENGTH)) {
    return { field: 'message', message: `message must be a string of at most ${MAX_MESSAGE_LENGTH} characters` };
  }
  if (typeof rule.expression !== 'string') return { field: 'expression', message: 'expression must be a string' };
  return undefined;
}

/** Validates a rule and compiles its expression (cached). */
export function compileRule(rule: ApprovalRule): CompileResult<CompiledRule> {
  const shapeError = validateRuleShape(rule);
  if (shapeError) return { ok: false, error: shapeError };
  const program = compileCached(rule.expression);
  if (!program.ok) return program;
  const compiled: CompiledRule = {
    name: rule.name,
    action: rule.action,
    expression: rule.expression,
    program: program.value,
    ...(rule.message !== undefined ? { message: rule.message } : {}),
  };
  return { ok: true, value: Object.freeze(compiled) };
}

// ---------------------------------------------------------------------------
// Evaluation

export type RuleEvaluation = { matched: boolean } | { error: string };

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'object') return 'map';
  return typeof v;
}

/** Runs a compiled rule; never throws. An error names the rule and where in it it failed. */
export function evaluateRule(compiled: CompiledRule, vars: RuleVars | CelVars): RuleEvaluation {
  try {
    const result = compiled.program.run(prepareVars(vars));
    if (typeof result === 'boolean') return { matched: result };
    if (result instanceof Promise) {
      result.catch(() => undefined);
      return { error: `rule "${compiled.name}": expression is asynchronous, which rules do not support` };
    }
    return { error: `rule "${compiled.name}": expression must evaluate to bool, but returned ${describeValue(result)}` };
  } catch (err) {
    const offset = celErrorOffset(err);
    const where = offset !== undefined ? (({ line, column }) => ` at line ${line} column ${column}`)(position(compiled.expression, offset)) : '';
    return { error: `rule "${compiled.name}" failed to evaluate: ${celErrorSummary(err)}${where}` };
  }
}
