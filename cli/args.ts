// Command-line parsing for `agentgate` / `kubectl agentgate`, on lib/flags.ts (node:util parseArgs).
//
// kubectl users put global flags anywhere (`kubectl agentgate --context prod verify`),
// so the command words are found first, skipping global flags and their values, and
// the rest is parsed with the union of global and command options.
import type { ParseArgsConfig } from 'node:util';
import { type ParsedFlags, parseFlags } from '../lib/flags.js';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { help: string; arg?: string };

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  kubeconfig: { type: 'string', help: 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)', arg: 'FILE' },
  context: { type: 'string', help: 'The kubeconfig context to use', arg: 'NAME' },
  namespace: { type: 'string', short: 'n', help: "The namespace (default: the context's namespace)", arg: 'NS' },
  help: { type: 'boolean', short: 'h', help: 'Show help for the command' },
};

interface CommandSpec {
  /** Words that name the command, e.g. ['audit', 'verify']. */
  words: string[];
  usage: string;
  summary: string;
  description: string;
  options: Record<string, OptionSpec>;
  /** [min, max] positional arguments after the command words. */
  positionals: [number, number];
  examples: string[];
}

const SELECTOR: OptionSpec = { type: 'string', short: 'l', help: 'Only AuditEvents with these labels (a kubectl label selector)', arg: 'SELECTOR' };
const OUTPUT_JSON: OptionSpec = { type: 'string', short: 'o', help: 'Output format: text (default) or json', arg: 'FORMAT' };

export const COMMANDS: CommandSpec[] = [
  {
    words: ['verify'],
    usage: 'agentgate verify [AGENT] [-o json] [--no-probe] [--fail-on critical|warning]',
    summary: "Report every route by which an agent could skip agentgate's controls",
    description:
      'Checks, per AgentIdentity: RoleBindings and ClusterRoleBindings that name the agent outside an active grant; ' +
      "escalation rights (SubjectAccessReview for each of its subjects); the agents' webhook configuration " +
      '(present, fails closed, every resource and operation including CONNECT, no exempting selectors, ' +
      'matchConditions that match every subject, a valid CA bundle, an endpoint that answers); and indirect ' +
      'routes such as creating pods next to a more powerful ServiceAccount. Needs cluster-wide read access and ' +
      'permission to create SubjectAccessReviews.\n\nExit status: 0 when no Critical finding (Warnings are printed), ' +
      '1 on any Critical finding (or any finding with --fail-on warning), 2 on usage or cluster errors.',
    options: {
      output: OUTPUT_JSON,
      'no-probe': { type: 'boolean', help: "Do not call the webhook's /healthz (reachability is then not reported)" },
      'fail-on': { type: 'string', help: 'Lowest severity that makes the exit status 1: critical (default) or warning', arg: 'SEVERITY' },
    },
    positionals: [0, 1],
    examples: ['agentgate verify', 'agentgate verify deploy-bot -o json', 'kubectl agentgate verify --context prod --fail-on warning'],
  },
  {
    words: ['pending'],
    usage: 'agentgate pending [-n NS] [--all] [-o json]',
    summary: 'List the ApprovalRequests you may approve, with what each would do',
    description:
      'Asks the cluster who you are (SelfSubjectReview) and lists the pending ApprovalRequests of agents that ' +
      'name you (or one of your groups) as an approver, excluding requests you caused. Every namespace unless -n is given.',
    options: {
      output: OUTPUT_JSON,
      all: { type: 'boolean', help: 'Also list pending requests you may not approve, with the reason' },
    },
    positionals: [0, 0],
    examples: ['agentgate pending', 'agentgate pending -n payments -o json'],
  },
  {
    words: ['approve'],
    usage: 'agentgate approve NAME [-n NS]',
    summary: 'Approve a held operation or grant activation',
    description:
      'Sets the annotation approved=true on the ApprovalRequest (overwriting an earlier decision of yours), exactly as ' +
      '`kubectl annotate approvalrequest NAME approved=true --overwrite` would. agentgate records you, as the ' +
      'apiserver authenticated you, as the approver. Checks first that you are an eligible approver.',
    options: {},
    positionals: [1, 1],
    examples: ['agentgate approve deploy-bot-3f9a1c -n payments'],
  },
  {
    words: ['deny'],
    usage: 'agentgate deny NAME [-n NS]',
    summary: 'Deny a held operation or grant activation',
    description: 'Sets the annotation approved=false on the ApprovalRequest. One denial denies the request.',
    options: {},
    positionals: [1, 1],
    examples: ['agentgate deny deploy-bot-3f9a1c -n payments'],
  },
  {
    words: ['audit', 'policy'],
    usage: 'agentgate audit policy',
    summary: "Print the kube-apiserver audit policy that sends the agents' calls to agentgate",
    description:
      'Generated from the AgentIdentities: Metadata level for their users, ServiceAccounts and groups, nothing for anyone else. ' +
      "Give it to the apiserver with --audit-policy-file (and --audit-webhook-config-file pointing at the webhook's /audit/events), " +
      'so reads and RBAC-refused calls become AuditEvents. Regenerate when agents change.',
    options: {},
    positionals: [0, 0],
    examples: ['agentgate audit policy > /etc/kubernetes/agentgate-audit-policy.yaml'],
  },
  {
    words: ['audit', 'verify'],
    usage: 'agentgate audit verify [-l SELECTOR] [-o json]',
    summary: "Verify the AuditEvents' hash chains",
    description:
      "Checks every writer's chain in agentgate's namespace: each event's hash matches its content, each links to " +
      'the previous one, and no sequence number is missing; without -l, also against the checkpoints agentgate anchors in etcd, ' +
      'which reveal deleted newest events and recomputed chains. Exit status 1 names the altered or missing events.',
    options: { output: OUTPUT_JSON, selector: SELECTOR },
    positionals: [0, 0],
    examples: ['agentgate audit verify'],
  },
  {
    words: ['audit', 'acknowledge'],
    usage: 'agentgate audit acknowledge --writer WRITER --reason TEXT',
    summary: 'Acknowledge a retired writer that audit verify reports as WRITER-DELETED',
    description:
      "When a checkpoint names a writer whose events are all gone on purpose (another store's checkpoints on a reused cluster, " +
      'a reinstall with a new database), records who (as the cluster authenticates you), when and why beside that checkpoint, ' +
      "signed with agentgate's key. audit verify then shows the writer as ACKNOWLEDGED with the reason instead of failing; " +
      'a later checkpoint of the same writer is not covered and fails again. Refused while the store holds events of the writer. ' +
      'Needs the Role agentgate-audit-acknowledger (reads the key Secret, patches the checkpoint ConfigMap).',
    options: {
      writer: { type: 'string', help: 'The writer named by WRITER-DELETED', arg: 'WRITER' },
      reason: { type: 'string', help: "Why this writer's events are gone (kept and shown by audit verify)", arg: 'TEXT' },
    },
    positionals: [0, 0],
    examples: ['agentgate audit acknowledge --writer agentgate-webhook-7d9f --reason "old database replaced at the 2026-11 reinstall (CHG-1234)"'],
  },
  {
    words: ['audit'],
    usage: 'agentgate audit [--agent AGENT] [--since 1h] [-l SELECTOR] [-o json]',
    summary: "Show the audit trail of agents' calls",
    description: "Lists AuditEvents (from agentgate's namespace, or -n), oldest first.",
    options: {
      output: OUTPUT_JSON,
      agent: { type: 'string', help: 'Only this agent', arg: 'AGENT' },
      since: { type: 'string', help: 'Only events newer than this Go duration, e.g. 15m, 1h, 24h', arg: 'DURATION' },
      selector: SELECTOR,
    },
    positionals: [0, 0],
    examples: ['agentgate audit --agent deploy-bot --since 1h', 'agentgate audit verify'],
  },
  {
    words: ['request'],
    usage: 'agentgate request --agent AGENT --role ROLE [--kind ClusterRole|Role] -n NS --duration 30m --reason TEXT [--ticket T] [--wait]',
    summary: 'Ask for an access grant (always needs approval)',
    description:
      "Creates an AccessGrant as you with activation RequiresApproval, after checking it against agentgate's schema. " +
      'With --wait, blocks until the grant is Active, Denied or Invalid and prints the outcome (exit status 0 only when Active).',
    options: {
      agent: { type: 'string', help: 'The AgentIdentity the grant is for', arg: 'AGENT' },
      role: { type: 'string', help: "The role to bind (one of the agent's spec.allowedRoles)", arg: 'ROLE' },
      kind: { type: 'string', help: 'ClusterRole (default) or Role', arg: 'KIND' },
      duration: { type: 'string', help: 'How long the window stays open, a Go duration (e.g. 30m, 2h)', arg: 'DURATION' },
      reason: { type: 'string', help: 'Why the access is needed; shown to approvers and recorded', arg: 'TEXT' },
      ticket: { type: 'string', help: 'A change or incident ticket, e.g. CHG-1234', arg: 'T' },
      name: { type: 'string', help: 'The grant name (default: generated from the agent name)', arg: 'NAME' },
      wait: { type: 'boolean', help: 'Wait until the grant is Active, Denied or Invalid' },
      timeout: { type: 'string', help: 'How long --wait waits (default 15m)', arg: 'DURATION' },
      output: OUTPUT_JSON,
    },
    positionals: [0, 0],
    examples: ['agentgate request --agent deploy-bot --role edit -n payments --duration 30m --reason "Roll out the hotfix" --ticket INC-4711 --wait'],
  },
  {
    words: ['eks', 'access-entry'],
    usage: 'agentgate eks access-entry AGENT [--cluster NAME] [--role-arn ARN] [-f FILE]',
    summary: "Print the aws commands that map the agent's IAM role to its Kubernetes identity",
    description:
      "Prints `aws eks create-access-entry` for the IAM role (--role-arn, else the AgentIdentity's spec.eks.roleArn, " +
      "else $EKS_ROLE_ARN) with the username and groups of the AgentIdentity's subjects. No access policy is " +
      'associated: agentgate grants RBAC itself, just in time. Reads the AgentIdentity from the cluster, or from a manifest with -f.',
    options: {
      cluster: { type: 'string', help: 'The EKS cluster name (else spec.eks.clusterName, else $EKS_CLUSTER_NAME)', arg: 'NAME' },
      'role-arn': { type: 'string', help: 'The IAM role ARN (else spec.eks.roleArn, else $EKS_ROLE_ARN)', arg: 'ARN' },
      filename: { type: 'string', short: 'f', help: 'Read the AgentIdentity from this manifest instead of the cluster', arg: 'FILE' },
    },
    positionals: [1, 1],
    examples: [
      'agentgate eks access-entry deploy-bot',
      'EKS_ROLE_ARN=arn:aws:iam::123456789012:role/deploy-bot agentgate eks access-entry deploy-bot --cluster prod',
    ],
  },
  {
    words: ['routes'],
    usage: 'agentgate routes [--role ROLE[,ROLE]] [-o json] [--fail-on-unclassified]',
    summary: 'Print what an agent could do with a role, by effect class, before anyone grants it',
    description:
      "Reads the live apiserver's discovery (every group, version, resource and subresource with its verbs, CRDs " +
      "included) and the rules of the roles agents may be bound to (default: the ClusterRoles agentgate's operator may " +
      'bind and those any AgentIdentity allows; --role for others), and prints every route those roles reach, ' +
      'classified by effect (read, create, modify, delete-effect, reach, identity-privilege, credential) with the rules ' +
      'that govern it. Unclassified routes (a new API, a CRD subresource agentgate does not know) are listed last.\n\n' +
      'Exit status: 0, or 1 with --fail-on-unclassified when any route is unclassified; 2 on usage or cluster errors.',
    options: {
      role: { type: 'string', help: 'ClusterRoles to inventory, comma-separated (default: the bindable roles)', arg: 'ROLE[,ROLE]' },
      output: OUTPUT_JSON,
      'fail-on-unclassified': { type: 'boolean', help: 'Exit 1 when any route is unclassified' },
    },
    positionals: [0, 0],
    examples: ['agentgate routes', 'agentgate routes --role agentgate-edit', 'agentgate routes --role admin -o json'],
  },
  {
    words: ['mcp'],
    usage: 'agentgate mcp [--kubeconfig FILE] [--http HOST:PORT [--http-token-file FILE]] [--agent AGENT]',
    summary: "Serve the access workflow to an AI agent over MCP, as the agent's own identity",
    description:
      'An MCP server (stdio by default, streamable HTTP with --http) with the tools whoami, request_access, wait, ' +
      'explain and my_requests. It acts only with the credentials of the kubeconfig (or the in-cluster ServiceAccount) it runs with: ' +
      "give it the agent's own, never a human's or an admin's. It performs no Kubernetes operations for the agent; the agent " +
      'keeps its usual tools. The agent needs ClusterRole agentgate-requester where it asks for access, and ' +
      'agentgate-identity-reader (cluster-wide) for whoami to show its ceiling.',
    options: {
      http: { type: 'string', help: 'Serve streamable HTTP on HOST:PORT (path /mcp) instead of stdio; loopback unless --http-token-file', arg: 'HOST:PORT' },
      'http-token-file': { type: 'string', help: 'Require Authorization: Bearer <the token in FILE> over HTTP', arg: 'FILE' },
      agent: { type: 'string', help: 'The AgentIdentity to act for, when the identity may not read AgentIdentities', arg: 'AGENT' },
    },
    positionals: [0, 0],
    examples: ['agentgate mcp --kubeconfig ~/.kube/deploy-bot', 'agentgate mcp --http 127.0.0.1:8787'],
  },
  {
    words: ['rules'],
    usage: 'agentgate rules [-o yaml|json]',
    summary: 'Print the built-in default approval rules',
    description:
      'Every agent starts with these rules. Copy one into an AgentIdentity under the same name to replace it, or list ' +
      'its name in spec.disabledDefaultRules to drop it.',
    options: { output: { type: 'string', short: 'o', help: 'yaml (default) or json', arg: 'FORMAT' } },
    positionals: [0, 0],
    examples: ['agentgate rules', 'agentgate rules -o json'],
  },
  {
    words: ['uninstall'],
    usage: 'agentgate uninstall [--revoke] [-n agentgate-system] [--timeout 5m]',
    summary: "End every agent's access and remove agentgate's webhook configurations, in an order that locks no one out",
    description:
      'Scales the operator to 0 (and waits for its pods), deletes the agentgate-protect configuration, deletes every ' +
      'RoleBinding labelled app.kubernetes.io/managed-by=agentgate (the access grants opened; repeated until none is ' +
      'left), removes the agentgate.io/revoke-access finalizer from every AccessGrant, then deletes agentgate-agents ' +
      'and agentgate-stamp by name. CRDs, AccessGrants and AgentIdentities are kept. Without --revoke it only prints ' +
      'what it would do. The Helm chart runs it as a pre-delete hook; run it yourself before removing agentgate any ' +
      'other way. -n names the namespace agentgate runs in.\n\nExit status: 0 when done (or for the dry run), ' +
      '1 on a timeout, 2 on usage or cluster errors.',
    options: {
      revoke: { type: 'boolean', help: "Do it: end every agent's access (without it: only print the plan)" },
      timeout: { type: 'string', help: 'How long to wait for the operator to stop and bindings to be gone (default 5m)', arg: 'DURATION' },
    },
    positionals: [0, 0],
    examples: ['agentgate uninstall -n agentgate-system', 'agentgate uninstall --revoke -n agentgate-system'],
  },
];

export interface Parsed {
  command?: CommandSpec;
  /** Option values by long name. */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

const GLOBAL_WITH_VALUE = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === 'string')
    .flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]),
);

/** The command words in argv, skipping global flags and their values. */
function commandWords(argv: string[]): { words: string[]; indexes: number[] } {
  const words: string[] = [];
  const indexes: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (GLOBAL_WITH_VALUE.has(a)) i++;
      continue;
    }
    words.push(a);
    indexes.push(i);
  }
  return { words, indexes };
}

function findCommand(words: string[]): CommandSpec | undefined {
  // Longest match first: `audit verify` before `audit`.
  return [...COMMANDS].sort((a, b) => b.words.length - a.words.length).find((c) => c.words.every((w, i) => words[i] === w));
}

export function parseCommandLine(argv: string[]): Parsed {
  const { words, indexes } = commandWords(argv);
  if (words[0] === 'help') {
    const command = findCommand(words.slice(1));
    return { ...(command ? { command } : {}), values: {}, positionals: [], help: true };
  }
  const command = findCommand(words);
  if (!command) {
    const helpOnly = argv.some((a) => a === '-h' || a === '--help');
    if (words.length === 0 || helpOnly) return { values: {}, positionals: [], help: true };
    throw new UsageError(`unknown command "${words.join(' ')}"; run agentgate --help for the list`);
  }
  const rest = argv.filter((_, i) => !indexes.slice(0, command.words.length).includes(i));
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(rest, options, { positionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message, command.words.join(' '));
  }
  const values = parsed.values as Parsed['values'];
  if (values.help) return { command, values, positionals: parsed.positionals, help: true };
  const [min, max] = command.positionals;
  const n = parsed.positionals.length;
  if (n < min) {
    const what = /^agentgate [a-z -]+? ([A-Z]+)/.exec(command.usage)?.[1] ?? 'an argument';
    throw new UsageError(`missing ${what}: usage: ${command.usage}`, command.words.join(' '));
  }
  if (n > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}": usage: ${command.usage}`, command.words.join(' '));
  return { command, values, positionals: parsed.positionals, help: false };
}

export function str(values: Parsed['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function outputFormat(values: Parsed['values'], allowed: readonly string[] = ['text', 'json']): string {
  const o = str(values, 'output') ?? allowed[0]!;
  if (!allowed.includes(o)) throw new UsageError(`-o ${o} is not supported here; use ${allowed.join(' or ')}`);
  return o;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    return `  ${flag.padEnd(34)} ${o.help}`;
  });
}

function wrap(text: string, width = 100): string {
  return text
    .split('\n')
    .map((para) => {
      const lines: string[] = [];
      let line = '';
      for (const word of para.split(/\s+/).filter(Boolean)) {
        if (line && line.length + word.length + 1 > width) {
          lines.push(line);
          line = word;
        } else line = line ? `${line} ${word}` : word;
      }
      lines.push(line);
      return lines.join('\n');
    })
    .join('\n');
}

export function commandHelp(c: CommandSpec): string {
  return [
    `${c.summary}.`,
    '',
    wrap(c.description),
    '',
    'Usage:',
    `  ${c.usage}`,
    '',
    ...(Object.keys(c.options).length ? ['Options:', ...optionLines(c.options), ''] : []),
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.words.join(' ').length)) + 2;
  return [
    'agentgate: production access control for AI agents on Kubernetes.',
    'Also usable as a kubectl plugin: kubectl agentgate <command>.',
    '',
    'Usage:',
    '  agentgate <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "Run agentgate <command> --help for a command's flags and examples.",
    '',
  ].join('\n');
}
