// Merging rule sources into one set, and turning a set's results into one verdict.
//
// Both functions are pure (apart from the shared compile cache) so that decide() can
// call them with no I/O, and so tests can pin the semantics down:
//
// - Order: built-in defaults, then the AgentIdentity's rules, then the AccessGrant's.
// - A default listed in spec.disabledDefaultRules is dropped.
// - An agent or grant rule named like a default replaces that default.
// - A grant rule may not reuse the name of an AgentIdentity rule: the AgentIdentity is
//   the agent's ceiling, and a grant that could replace its rules could lift it. That is
//   a compile error, which denies every call until fixed.
// - Verdict: any error (compile or evaluation) -> Deny (fail closed); else any matching
//   Deny rule -> Deny; else any matching RequireApproval rule -> RequireApproval, unless
//   an Allow rule also matched, which exempts the call from approval (never from Deny);
//   else Allow, meaning "no rule objects" (identity, coverage and the rest still apply).

import type { ApprovalRule, RuleAction } from '../../api/types.js';
import { compileRule, conversionError, evaluateRule, formatCompileError, guardFilter, prepareVars } from '../../cel/cel.js';
import type { CelVars, CompiledRule, RuleCompileError, RuleVars } from '../../cel/cel.js';

type RuleSource = 'default' | 'agent' | 'grant';

interface SourcedRule extends CompiledRule {
  readonly source: RuleSource;
  /** Index in the source's list (the catalogue, or spec.approvalRules). */
  readonly index: number;
  /** Set when this agent/grant rule replaced the default of the same name. */
  readonly replacesDefault?: true;
}

interface RuleSetError extends RuleCompileError {
  readonly source: RuleSource;
  readonly index: number;
  readonly ruleName: string;
  /** Field path inside the source object, e.g. spec.approvalRules[2].expression. */
  readonly path: string;
  /** `${path}: ${message}[ at line L column C]` - ready to show to a user. */
  readonly text: string;
}

export interface CompiledRuleSet {
  readonly rules: readonly SourcedRule[];
  /** Non-empty errors make every evaluation Deny. */
  readonly errors: readonly RuleSetError[];
  /** Harmless oddities, e.g. disabling a default that does not exist. */
  readonly warnings: readonly string[];
  /** Per rule: false when its request tests already make it false for these variables (cel.ts guardFilter). */
  readonly mayMatch: (vars: CelVars) => readonly boolean[];
}

const SOURCE_LABEL: Record<RuleSource, string> = {
  default: 'built-in default rule',
  agent: 'AgentIdentity',
  grant: 'AccessGrant',
};

function pathOf(source: RuleSource, index: number, field?: string): string {
  const base = source === 'default' ? `defaults[${index}]` : `spec.approvalRules[${index}]`;
  return field ? `${base}.${field}` : base;
}

function setError(source: RuleSource, index: number, ruleName: string, err: RuleCompileError): RuleSetError {
  const path = pathOf(source, index, err.field);
  return { ...err, source, index, ruleName, path, text: `${path}: ${formatCompileError(err)}` };
}

function duplicateError(source: RuleSource, index: number, name: string, detail: string): RuleSetError {
  return setError(source, index, name, { field: 'name', message: detail });
}

/**
 * Merges and compiles the rules that apply to one agent (and grant).
 * Compile errors name their source and index, e.g.
 * `spec.approvalRules[2].expression: syntax error: ... at line 1 column 14`.
 */
export function buildRuleSet(
  defaults: readonly ApprovalRule[],
  agentRules: readonly ApprovalRule[] | undefined,
  grantRules: readonly ApprovalRule[] | undefined,
  disabledDefaultNames: readonly string[] | undefined,
): CompiledRuleSet {
  const errors: RuleSetError[] = [];
  const warnings: string[] = [];
  const disabled = new Set(disabledDefaultNames ?? []);
  const defaultNames = new Set(defaults.map((r) => r.name));
  for (const name of disabled) {
    if (!defaultNames.has(name)) warnings.push(`spec.disabledDefaultRules: "${name}" is not a built-in default rule`);
  }

  // name -> the rule currently holding it; a Map keeps insertion order for the result.
  const byName = new Map<string, SourcedRule>();
  const add = (source: RuleSource, rules: readonly ApprovalRule[] | undefined): void => {
    const seenHere = new Map<string, number>();
    (rules ?? []).forEach((rule, index) => {
      const earlier = seenHere.get(rule.name);
      if (earlier !== undefined) {
        errors.push(duplicateError(source, index, rule.name, `duplicate rule name "${rule.name}" (also ${pathOf(source, earlier)})`));
        return;
      }
      seenHere.set(rule.name, index);
      if (source === 'default' && disabled.has(rule.name)) return;

      const holder = byName.get(rule.name);
      if (holder && holder.source !== 'default') {
        errors.push(
          duplicateError(
            source,
            index,
            rule.name,
            `rule name "${rule.name}" is already used by ${SOURCE_LABEL[holder.source]} ${pathOf(holder.source, holder.index)}; ` +
              'a grant cannot replace an AgentIdentity rule',
          ),
        );
        return;
      }
      const compiled = compileRule(rule);
      if (!compiled.ok) {
        errors.push(setError(source, index, rule.name, compiled.error));
        return;
      }
      // Delete first so the replacement takes its own source's place in the order.
      if (holder) byName.delete(rule.name);
      byName.set(rule.name, { ...compiled.value, source, index, ...(holder ? { replacesDefault: true as const } : {}) });
    });
  };
  add('default', defaults);
  add('agent', agentRules);
  add('grant', grantRules);

  const rules = Object.freeze([...byName.values()]);
  return Object.freeze({ rules, errors: Object.freeze(errors), warnings: Object.freeze(warnings), mayMatch: guardFilter(rules) });
}

interface MatchedRule {
  readonly name: string;
  readonly source: RuleSource;
  readonly action: RuleAction;
  /** The rule's message, or a generated one. */
  readonly message: string;
}

interface RuleFailure {
  readonly name: string;
  readonly source: RuleSource;
  readonly error: string;
}

export interface RulesResult {
  /** Allow means only that no rule objects. */
  readonly verdict: RuleAction;
  /** Why: the messages behind the verdict, one per rule or error. */
  readonly reasons: readonly string[];
  /** Every rule that matched, whatever its action, in rule-set order (for the audit record). */
  readonly matched: readonly MatchedRule[];
  /** Compile and evaluation errors; non-empty means Deny. */
  readonly errors: readonly RuleFailure[];
  /** Allow rules that exempted the call from approval. */
  readonly exemptedBy: readonly string[];
}

function defaultMessage(rule: SourcedRule): string {
  switch (rule.action) {
    case 'Deny':
      return `denied by rule "${rule.name}"`;
    case 'RequireApproval':
      return `rule "${rule.name}" requires approval`;
    case 'Allow':
      return `rule "${rule.name}" exempts this call from approval`;
  }
}

/** Evaluates every rule (no short-circuit, so the audit record lists all matches). */
export function evaluateRules(ruleSet: CompiledRuleSet, vars: RuleVars | CelVars): RulesResult {
  const matched: MatchedRule[] = [];
  const errors: RuleFailure[] = ruleSet.errors.map((e) => ({
    name: e.ruleName,
    source: e.source,
    error: `${SOURCE_LABEL[e.source]} ${e.text}`,
  }));

  const celVars = prepareVars(vars);
  // A rule its request tests rule out is false without running: most calls run two or three of the defaults.
  const may = ruleSet.mayMatch(celVars);
  for (let i = 0; i < ruleSet.rules.length; i++) {
    if (!may[i]) continue;
    const rule = ruleSet.rules[i]!;
    const outcome = evaluateRule(rule, celVars);
    if ('error' in outcome) {
      errors.push({ name: rule.name, source: rule.source, error: `${SOURCE_LABEL[rule.source]} ${outcome.error}` });
    } else if (outcome.matched) {
      matched.push({ name: rule.name, source: rule.source, action: rule.action, message: rule.message ?? defaultMessage(rule) });
    }
  }
  // A variable a rule read but could not be converted fails the set, even where the rule
  // reading it let the error go (`x && false` is false in CEL).
  const unconverted = conversionError(celVars);
  if (unconverted) errors.push({ name: '', source: 'default', error: `cannot prepare rule variables: ${unconverted}` });

  return decideVerdict(matched, errors);
}

function decideVerdict(matched: MatchedRule[], errors: RuleFailure[]): RulesResult {
  // Most calls match no rule.
  if (matched.length === 0 && errors.length === 0) return { matched, errors, exemptedBy: [], verdict: 'Allow', reasons: [] };
  const of = (action: RuleAction): MatchedRule[] => matched.filter((m) => m.action === action);
  const base = { matched, errors, exemptedBy: [] as string[] };
  if (errors.length > 0) {
    return { ...base, verdict: 'Deny', reasons: [...errors.map((e) => e.error), ...of('Deny').map((m) => m.message)] };
  }
  const denies = of('Deny');
  if (denies.length > 0) return { ...base, verdict: 'Deny', reasons: denies.map((m) => m.message) };
  const approvals = of('RequireApproval');
  const allows = of('Allow');
  if (approvals.length > 0 && allows.length === 0) {
    return { ...base, verdict: 'RequireApproval', reasons: approvals.map((m) => m.message) };
  }
  if (approvals.length > 0) {
    return {
      ...base,
      verdict: 'Allow',
      exemptedBy: allows.map((m) => m.name),
      reasons: allows.map((m) => m.message),
    };
  }
  return { ...base, verdict: 'Allow', reasons: [] };
}
