// agentgate's MCP server: the access workflow as tools with JSON schemas and structured
// results. Wiring only: the desk (desk.ts) does the work, schemas.ts declares the shapes.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { UsageError } from '../args.js';
import { describeApiError } from '../commands.js';
import { CliError } from '../errors.js';
import type { Desk, Progress } from './desk.js';
import {
  explainInput,
  explainOutput,
  myRequestsInput,
  myRequestsOutput,
  requestAccessInput,
  requestAccessOutput,
  waitInput,
  waitOutput,
  whoamiInput,
  whoamiOutput,
} from './schemas.js';

const SERVER_NAME = 'agentgate';

const INSTRUCTIONS = [
  'agentgate is the access desk for this Kubernetes cluster: you act as your own identity, with no standing access.',
  'To change anything: whoami (your ceiling, open grants, rules), request_access (role, namespace, duration, reason), wait (until the grant is Active), then use your usual Kubernetes tools.',
  'Destructive calls are held for a human: the error names an ApprovalRequest; call explain with the error text, wait for the ApprovalRequest, then retry the identical call once.',
  'This server never performs Kubernetes operations for you and has no rights beyond yours.',
].join(' ');

/** A tool's answer: the structured result, and the same as JSON text for clients that only read text. */
function ok(structured: Record<string, unknown>, headline: string): CallToolResult {
  return { content: [{ type: 'text', text: `${headline}\n${JSON.stringify(structured, null, 2)}` }], structuredContent: structured };
}

/** What went wrong, said so that the agent knows what to do; the server itself keeps running. */
function toolError(e: unknown): CallToolResult {
  const text = e instanceof CliError || e instanceof UsageError ? e.message : describeApiError(e).message;
  return { content: [{ type: 'text', text: `agentgate: ${text}` }], isError: true };
}

async function guarded(fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (e) {
    return toolError(e);
  }
}

export function createMcpServer(desk: Desk, version: string): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version }, { instructions: INSTRUCTIONS, capabilities: { tools: {} } });

  server.registerTool(
    'whoami',
    {
      title: 'Who am I to agentgate',
      description:
        'Your identity as the cluster authenticates it, the AgentIdentity it maps to, your ceiling (roles, namespaces, longest window), your grants with the time left, your approvers, and the rules that hold or deny calls.',
      inputSchema: whoamiInput,
      outputSchema: whoamiOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () =>
      guarded(async () => {
        const r = await desk.whoami();
        return ok(r, r.agent ? `${r.user} is agent ${r.agent}: ${r.activeGrants} active grant(s)` : `${r.user} maps to no AgentIdentity you can read`);
      }),
  );

  server.registerTool(
    'request_access',
    {
      title: 'Request access',
      description:
        "Ask for a role in a namespace for a bounded time (an AccessGrant). An agent's request always waits for a human; the result names the grant and the ApprovalRequest to wait on. Must fit your ceiling (see whoami).",
      inputSchema: requestAccessInput,
      outputSchema: requestAccessOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const r = await desk.requestAccess(args);
        return ok(r, `requested grant ${r.grant.namespace}/${r.grant.name} (${r.grant.phase})`);
      }),
  );

  server.registerTool(
    'wait',
    {
      title: 'Wait for a grant or an approval',
      description:
        'Wait until an AccessGrant is Active (or Denied/Invalid/Expired/Revoked) or an ApprovalRequest is decided (or expires), sending progress notifications meanwhile. On timeout the outcome is TimedOut: call again. When denied, says who denied and why.',
      inputSchema: waitInput,
      outputSchema: waitOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const token = extra._meta?.progressToken;
        const progress =
          token === undefined
            ? undefined
            : async (p: Progress): Promise<void> => {
                await extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken: token, progress: p.progress, ...(p.total ? { total: p.total } : {}), message: p.message },
                  })
                  .catch(() => undefined);
              };
        const r = await desk.wait(args, progress, extra.signal);
        return ok(r, `${r.target.kind} ${r.target.namespace}/${r.target.name}: ${r.outcome}`);
      }),
  );

  server.registerTool(
    'explain',
    {
      title: 'Explain a refused call',
      description:
        'Give the error of a refused Kubernetes call (the text kubectl printed, or the metav1.Status) or an ApprovalRequest name: says which control refused it (no identity, not covered, expired, held by a rule, denied by a rule or an approver...), what would let it through, and who may approve.',
      inputSchema: explainInput,
      outputSchema: explainOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const r = await desk.explain(args);
        return ok(r, `${r.refusal} (${r.control}): ${r.summary}`);
      }),
  );

  server.registerTool(
    'my_requests',
    {
      title: 'My requests',
      description: 'Your pending and recent ApprovalRequests (held operations and grant activations) and your grants.',
      inputSchema: myRequestsInput,
      outputSchema: myRequestsOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args) =>
      guarded(async () => {
        const r = await desk.myRequests(args);
        return ok(r, `${r.approvalRequests.filter((a) => a.phase === 'Pending').length} pending approval request(s), ${r.grants.length} grant(s)`);
      }),
  );

  return server;
}
