// `make demo-mcp`: the seed scenario as an AI agent lives it, through agentgate's MCP
// server. An MCP client (the SDK's own) starts `agentgate mcp` with the agent's kubeconfig
// and calls the tools; the agent's Kubernetes calls stay plain kubectl; alice approves
// with kubectl. Exits non-zero the moment a step does not behave as narrated.
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { clusterEnv, eventually, kubectl, kubectlOk, repoRoot } from '../harness/cluster.js';
import { removeWebhookConfigurations, startAgentgate, stopAll } from '../harness/components.js';
import { as, bold, dim, expectThat, narrate, runDemo } from './narration.js';

const NS = 'payments';
const AGENT = 'deploy-bot';
const AGENT_USER = 'agent:deploy-bot';
let client: Client | undefined;

async function tool<T>(name: string, args: Record<string, unknown>, show: (r: T) => string, onprogress?: (p: Progress) => void): Promise<T> {
  console.log(`   ${dim('[agent via MCP]')} ${name} ${JSON.stringify(args)}`);
  const r = (await client!.callTool({ name, arguments: args }, undefined, {
    timeout: 180_000,
    ...(onprogress ? { onprogress, resetTimeoutOnProgress: true } : {}),
  })) as CallToolResult;
  const text = (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join('\n');
  expectThat(r.isError !== true && !!r.structuredContent, `${name} answers with structured content`, text);
  const s = r.structuredContent as T;
  console.log(
    show(s)
      .split('\n')
      .map((l) => `     ${l}`)
      .join('\n'),
  );
  return s;
}

async function scenario(): Promise<void> {
  console.log(bold('agentgate: the seed scenario as an MCP agent'));
  console.log(
    dim(
      'The agent asks agentgate for access through MCP tools, runs kubectl as itself, is held on a destructive call,\nasks why, waits for the approval and retries.',
    ),
  );

  narrate(
    'Install agentgate and register the agent',
    "As in make demo, plus the agent's standing rights: ask for access in payments, read its own AgentIdentity.",
  );
  await startAgentgate();
  await kubectlOk('admin', ['apply', '-f', path.join(repoRoot, 'examples', '00-namespace.yaml')]);
  await kubectl('admin', ['delete', 'accessgrants', '--all', '-n', NS, '--wait=true']);
  await kubectl('admin', ['delete', 'deployment', 'web', '-n', NS, '--ignore-not-found']);
  await kubectl('admin', ['delete', 'configmap', 'release-notes', '-n', NS, '--ignore-not-found']);
  await kubectlOk('admin', ['create', 'deployment', 'web', '-n', NS, '--image=registry.k8s.io/pause:3.10']);
  await kubectlOk('admin', ['apply', '-f', path.join(repoRoot, 'examples', '10-agent-eks.yaml')]);
  for (const [kind, name, role, subject] of [
    ['rolebinding', 'deploy-bot-may-request', 'agentgate-requester', `--user=${AGENT_USER}`],
    ['clusterrolebinding', 'deploy-bot-reads-identity', 'agentgate-identity-reader', `--user=${AGENT_USER}`],
    ['clusterrolebinding', 'engineers-may-approve', 'agentgate-approver', '--group=sre-approvers'],
  ] as const) {
    const nsArgs = kind === 'rolebinding' ? ['-n', NS] : [];
    await kubectl('admin', ['delete', kind, name, ...nsArgs, '--ignore-not-found']);
    await as('admin', ['create', kind, name, ...nsArgs, `--clusterrole=${role}`, subject]);
  }

  narrate(
    'Wire agentgate into the MCP client',
    "The client starts `agentgate mcp --kubeconfig <the agent's kubeconfig>`: the server has the agent's rights, no more.",
  );
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'mcp', '--kubeconfig', clusterEnv().kubeconfigs.agent],
    stderr: 'ignore',
  });
  client = new Client({ name: 'agentgate-demo', version: '1.0.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  console.log(`     tools: ${tools.map((t) => t.name).join(', ')}`);
  expectThat(tools.length === 5, 'the desk offers whoami, request_access, wait, explain, my_requests');

  narrate('whoami', 'Who the cluster says the agent is, its ceiling, its grants and the rules that would hold a call.');
  const me = await tool<{
    agent: string;
    identity: { ceiling: { allowedRoles: string[]; allowedNamespaces: { names: string[] }; maxDuration: string } };
    activeGrants: number;
    approvalRules: Array<{ name: string; action: string }>;
  }>(
    'whoami',
    {},
    (r) =>
      `agent ${r.agent}; may hold ${r.identity.ceiling.allowedRoles.join(', ')} in ${r.identity.ceiling.allowedNamespaces.names.join(', ')} for at most ${r.identity.ceiling.maxDuration}; ${r.activeGrants} active grant(s)\nrules needing approval: ${r.approvalRules
        .filter((x) => x.action === 'RequireApproval')
        .map((x) => x.name)
        .join(', ')}`,
  );
  expectThat(me.agent === AGENT && me.activeGrants === 0, 'the agent is deploy-bot, with no standing access');

  narrate('request_access', 'The agent asks for agentgate-edit in payments for 10 minutes, with a reason and a ticket.');
  const req = await tool<{ grant: { name: string; phase: string }; approvalRequest?: { name: string }; next: string }>(
    'request_access',
    { role: 'agentgate-edit', namespace: NS, duration: '10m', reason: 'Roll out release 1.4.2 of web.', ticket: 'CHG-2041' },
    (r) => `grant ${r.grant.name}: ${r.grant.phase}\nnext: ${r.next}`,
  );

  narrate('wait (with progress) while alice approves', 'The tool reports progress; alice approves the activation with kubectl.');
  const waiting = tool<{ outcome: string; grant: { expiresAt: string } }>(
    'wait',
    { grant: req.grant.name, namespace: NS, timeoutSeconds: 120 },
    (r) => `outcome: ${r.outcome}, until ${r.grant.expiresAt}`,
    (p) => console.log(dim(`     progress ${p.progress}/${p.total ?? '?'}: ${p.message ?? ''}`)),
  );
  const activation =
    req.approvalRequest?.name ??
    (await eventually(
      async () => (await kubectlOk('admin', ['get', 'accessgrant', req.grant.name, '-n', NS, '-o', 'jsonpath={.status.approvalRequest}'])).trim(),
      30_000,
      'the activation request',
    ));
  await new Promise((r) => setTimeout(r, 1500));
  await as('alice', ['annotate', 'approvalrequest', activation, '-n', NS, 'approved=true']);
  const waited = await waiting;
  expectThat(waited.outcome === 'Active', 'the grant is Active');

  narrate("An allowed call, with the agent's usual tool", 'kubectl, as the agent.');
  await eventually(
    async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', NS])).stdout.trim() === 'yes',
    30_000,
    'the RoleBinding',
  );
  const allowed = await as('agent', ['create', 'configmap', 'release-notes', '-n', NS, '--from-literal=version=1.4.2']);
  expectThat(allowed.code === 0, 'allowed and recorded');

  narrate('A destructive call is held', 'kubectl prints the machine-readable reason in parentheses.');
  const held = await as('agent', ['delete', 'deployment', 'web', '-n', NS]);
  expectThat(held.code !== 0 && held.stderr.includes('(AgentgateApprovalRequired)'), 'held, with reason AgentgateApprovalRequired');

  narrate('explain', 'The agent hands the error text to explain: which control, what lets it through, who may approve.');
  const why = await tool<{
    refusal: string;
    control: string;
    summary: string;
    approvalRequest: { name: string };
    approvers: { groups: string[]; required: number };
    letThrough: Array<{ step: string }>;
  }>(
    'explain',
    { message: held.stderr },
    (r) =>
      `${r.refusal} (${r.control}): ${r.summary}\napprovers: ${r.approvers.groups.join(', ')} (${r.approvers.required} needed)\n${r.letThrough.map((s, i) => `${i + 1}) ${s.step}`).join('\n')}`,
  );
  expectThat(why.refusal === 'RuleHeld', 'held by a rule, waiting for an approver');

  narrate(
    'alice approves that exact operation; the agent waits for it',
    'The approval is bound to the fingerprint of "delete deployment web in payments by deploy-bot".',
  );
  const deciding = tool<{ outcome: string; approvalRequest: { approvedBy: string[] } }>(
    'wait',
    { approvalRequest: why.approvalRequest.name, namespace: NS, timeoutSeconds: 120 },
    (r) => `outcome: ${r.outcome} (approved by ${r.approvalRequest.approvedBy.join(', ')})`,
  );
  await new Promise((r) => setTimeout(r, 1500));
  await as('alice', ['annotate', 'approvalrequest', why.approvalRequest.name, '-n', NS, 'approved=true']);
  expectThat((await deciding).outcome === 'Approved', 'approved');

  narrate('The retry goes through, once', "kubectl prints agentgate's warning that the approval is used up.");
  const retry = await as('agent', ['delete', 'deployment', 'web', '-n', NS]);
  expectThat(
    retry.code === 0 && retry.stderr.includes('Warning: agentgate: allowed once by ApprovalRequest'),
    'the delete goes through, and says which approval it used',
  );

  narrate('my_requests', "The agent's own requests and grants.");
  const mine = await tool<{
    approvalRequests: Array<{ name: string; type: string; phase: string }>;
    grants: Array<{ name: string; phase: string; secondsLeft?: number }>;
  }>('my_requests', { namespace: NS }, (r) =>
    [
      ...r.approvalRequests.map((a) => `ApprovalRequest ${a.name}: ${a.type}, ${a.phase}`),
      ...r.grants.map((g) => `grant ${g.name}: ${g.phase}${g.secondsLeft !== undefined ? `, ${g.secondsLeft}s left` : ''}`),
    ].join('\n'),
  );
  expectThat(
    mine.approvalRequests.some((a) => a.phase === 'Consumed'),
    'the used approval is Consumed',
  );
}

process.exitCode = await runDemo(scenario, 'The seed scenario behaved as narrated, through agentgate mcp.', async () => {
  await client?.close().catch(() => undefined);
  // The window this demo opened must not outlive it (make demo expects none).
  await kubectl('admin', ['delete', 'accessgrants', '--all', '-n', NS, '--wait=true']).catch(() => undefined);
  // make demo (and the e2e suite) expect an agent that cannot read AgentIdentities.
  await kubectl('admin', ['delete', 'clusterrolebinding', 'deploy-bot-reads-identity', '--ignore-not-found']).catch(() => undefined);
  await removeWebhookConfigurations().catch(() => undefined);
  await stopAll();
});
