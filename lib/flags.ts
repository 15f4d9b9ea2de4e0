// Command-line flags: one home for the operator, the webhook and the CLI.
//
// node:util's parseArgs does the parsing (strict: an unknown flag or a stray argument is
// an error); this module adds what the three entry points share: switches written
// `--flag=true|false`, typed values (durations, integers, rates) and errors that name
// the flag and say what to write instead. Each entry point declares its flags once, as a
// FlagSpec table, and gets its usage lines from the same table.
//
// Use:
//   const { values } = parseFlags(argv, FLAGS);            // throws FlagError
//   const ttl = durationFlag('--approval-ttl', values['approval-ttl']);
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from './clock.js';
import { isDns1123Label } from '../api/names.js';

/** A command line that cannot be read; the message names the flag and the fix. */
export class FlagError extends Error {
  override name = 'FlagError';
}

/** --help was asked for; the message is the usage text (print it to stdout, exit 0). */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
}

type NodeOption = NonNullable<ParseArgsConfig['options']>[string];

export type FlagSpec = NodeOption & {
  /** One line for the usage text. */
  help?: string;
  /** The value's placeholder in the usage text, e.g. FILE or DUR. */
  arg?: string;
  /**
   * A switch written `--flag`, `--flag=true|false` or `--flag true|false` (1 and 0 too);
   * its value is a boolean. Declare it with type 'string'.
   */
  switch?: boolean;
};

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface ParsedFlags {
  values: FlagValues;
  positionals: string[];
}

const SWITCH_WORDS: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/**
 * Parses argv against the table. Unknown flags, missing values and (unless allowed)
 * positional arguments throw a FlagError; switches come back as booleans.
 */
export function parseFlags(argv: readonly string[], flags: Record<string, FlagSpec>, options: { positionals?: boolean } = {}): ParsedFlags {
  const switches = new Set(Object.entries(flags).flatMap(([name, f]) => (f.switch ? [name] : [])));
  // A bare switch means true; `--flag false` (a separate word) is read as `--flag=false`.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name && switches.has(name)) {
      const next = argv[i + 1];
      if (next !== undefined && next in SWITCH_WORDS) {
        args.push(`${a}=${next}`);
        i++;
      } else args.push(`${a}=true`);
    } else args.push(a);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, nodeOption(f)])),
      strict: true,
      allowPositionals: options.positionals ?? false,
    });
  } catch (e) {
    throw new FlagError(flagErrorMessage(e, Object.keys(flags)));
  }
  const values: FlagValues = { ...parsed.values };
  for (const name of switches) {
    const v = values[name];
    if (typeof v === 'string') values[name] = switchFlag(`--${name}`, v);
  }
  return { values, positionals: parsed.positionals };
}

function nodeOption(f: FlagSpec): NodeOption {
  const { help: _help, arg: _arg, switch: _switch, ...node } = f;
  return node;
}

/**
 * parseArgs' errors speak of "positional arguments" and "strict"; this says it in
 * command-line terms, naming the flag: `unknown flag --nope (did you mean --node?)`,
 * `--id needs a value`, `unexpected argument "stray"`. `known` (long names) feeds the
 * did-you-mean.
 */
export function flagErrorMessage(error: unknown, known: readonly string[] = []): string {
  const e = error as { code?: string; message?: string };
  const message = e.message ?? String(error);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? '';
    const near = closest(flag.replace(/^-+/, ''), known);
    return `unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // "Option '-o, --output <value>' argument missing" or "... argument is ambiguous".
    const flag = (/'([^']+)'/.exec(message)?.[1] ?? '').replace(/^-\w, /, '').replace(/ <value>$/, '');
    if (/ambiguous/.test(message)) return `${flag} needs a value; to give one that starts with a dash write ${flag}=VALUE`;
    if (/argument missing/.test(message)) return `${flag} needs a value`;
    return `${flag} takes no value`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /'([^']*)'/.exec(message)?.[1] ?? '';
    return `unexpected argument "${arg}": every value follows its flag (--flag VALUE or --flag=VALUE)`;
  }
  return message.split('\n')[0] ?? message;
}

/** The known name within two edits of `name`, if one is. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d <= 2 && d < name.length && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

// Typed values. Each takes the flag's name as written (`--workers`) for its message.

export function switchFlag(flag: string, value: string): boolean {
  const b = SWITCH_WORDS[value];
  if (b === undefined) throw new FlagError(`${flag}: expected true or false, got "${value}" (write ${flag}=true or ${flag}=false)`);
  return b;
}

/** A Go duration (30s, 1h, 720h) in milliseconds; `zero` allows "0" (meaning: off). */
export function durationFlag(flag: string, value: string, options: { zero?: boolean; min?: string } = {}): number {
  if (options.zero && value === '0') return 0;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) {
    throw new FlagError(`${flag}: expected a Go duration such as 30s, 10m or 720h${options.zero ? ' (0: off)' : ''}, got "${value}"`);
  }
  if (options.min !== undefined && ms < (parseDuration(options.min) ?? 0)) throw new FlagError(`${flag}: at least ${options.min}, got "${value}"`);
  return ms;
}

/** A whole number in [min, max]. */
export function intFlag(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
    throw new FlagError(`${flag}: expected ${range}, got "${value}"`);
  }
  return n;
}

/** namespace/name, both DNS-1123 labels (a namespaced object's reference, as cert-manager's annotations write it). */
export function namespacedNameFlag(flag: string, value: string): string {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts.every(isDns1123Label))
    throw new FlagError(`${flag}: expected <namespace>/<name> in lowercase DNS labels, such as agentgate-system/agentgate-webhook, got "${value}"`);
  return value;
}

/** A non-negative decimal number, e.g. a rate such as 0.5. */
export function numberFlag(flag: string, value: string, what = 'a number such as 0.5'): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new FlagError(`${flag}: expected ${what}, got "${value}"`);
  return Number(value);
}

/** A string flag's value, or undefined when it is absent (or not a string). */
export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Usage lines for the flags that have help: `  -n, --namespace NS  help`, the help texts in one column. */
export function flagLines(flags: Record<string, FlagSpec>): string[] {
  const listed = Object.entries(flags).filter(([, f]) => f.help);
  const indent = listed.some(([, f]) => f.short) ? '    ' : '';
  const column = listed.map(([name, f]) => {
    const arg = f.switch ? '=true|false' : f.arg ? ` ${f.arg}` : '';
    return `${f.short ? `-${f.short}, ` : indent}--${name}${arg}`;
  });
  const width = Math.max(0, ...column.map((c) => c.length)) + 2;
  return listed.flatMap(([, f], i) => {
    const [first, ...more] = f.help!.split('\n');
    return [`  ${column[i]!.padEnd(width)}${first}`, ...more.map((m) => `  ${''.padEnd(width)}${m}`)];
  });
}
