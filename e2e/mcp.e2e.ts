// `agentgate mcp` driven by the MCP SDK's own client, spawned as the agent's identity
// (`node dist/cli/main.js mcp --kubeconfig <agent kubeconfig>`), against the real
// apiserver with agentgate's webhook and operator running: the seed scenario through the
// tools (request, wait with progress, allowed call, held call, explain, approval by alice
// with kubectl, retry), what the apiserver really hands the agent from the webhook's
// Status and warnings, the server's limits (the agent's rights, its input schemas), and a
// cluster that goes away under it.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { CAUSE, HELD_RETRY_AFTER_SECONDS, REASON } from '../api/reasons.js';
import type { Status } from '../lib/admission.js';
import { applyJson, clusterEnv, eventually, kubectl, kubectlOk, repoRoot, uniqueName } from '../harness/cluster.js';
import { startAgentgate, stopAgentgate } from '../harness/components.js';
import type { RunningComponent } from '../harness/components.js';
import { agentIdentity, asNew } from '../testing/fixtures.js';

const CLI = path.join(repoRoot, 'dist', 'cli', 'main.js');
const AGENT_USER = 'agent:deploy-bot';
const apply = (doc: unknown) => applyJson(doc, 'mcp-e2e');

interface Mcp {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
}

async function connectMcp(kubeconfig: string, extra: string[] = []): Promise<Mcp> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--kubeconfig', kubeconfig, ...extra], stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'mcp-e2e', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr: () => err };
}

async function call(mcp: Mcp, name: string, args: Record<string, unknown> = {}, onprogress?: (p: Progress) => void): Promise<CallToolResult> {
  return (await mcp.client.callTool({ name, arguments: args }, undefined, {
    timeout: 120_000,
    ...(onprogress ? { onprogress, resetTimeoutOnProgress: true } : {}),
  })) as CallToolResult;
}

/** The structured result of a tool that must have succeeded. */
async function ok<T = Record<string, unknown>>(mcp: Mcp, name: string, args: Record<string, unknown> = {}, onprogress?: (p: Progress) => void): Promise<T> {
  const r = await call(mcp, name, args, onprogress);
  const text = (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join('\n');
  expect(r.isError, `${name} failed: ${text}`).to.not.equal(true);
  expect(r.structuredContent, `${name} returned no structuredContent`).to.be.an('object');
  return r.structuredContent as T;
}

const errorText = (r: CallToolResult): string => (r.content as Array<{ text?: string }>).map((c) => c.text ?? '').join('\n');

describe("agentgate mcp: the agent's side of the gate", function () {
  this.timeout(240_000);
  const agent = uniqueName('mcp-bot');
  const reader = uniqueName('mcp-reads-identity');
  const approvers = uniqueName('mcp-approvers');
  let ns = '';
  let other = '';
  let agentgate: { webhook: RunningComponent; operator: RunningComponent } | undefined;
  let mcp: Mcp;

  before(async function () {
    agentgate = await startAgentgate({ name: 'mcp' });
    ns = uniqueName('mcp');
    other = uniqueName('mcp-other');
    for (const n of [ns, other]) await kubectlOk('admin', ['create', 'namespace', n]);
    await apply(
      agentIdentity(
        agent,
        {
          subjects: [{ kind: 'User', name: AGENT_USER }],
          maxDuration: '1h',
          allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
          allowedNamespaces: { names: [ns, other] },
        },
        asNew,
      ),
    );
    // The agent's standing rights: ask for access in ns (not in other), read its identity.
    await kubectlOk('admin', ['create', 'rolebinding', 'may-request', '-n', ns, '--clusterrole=agentgate-requester', `--user=${AGENT_USER}`]);
    await kubectlOk('admin', ['create', 'clusterrolebinding', reader, '--clusterrole=agentgate-identity-reader', `--user=${AGENT_USER}`]);
    await kubectlOk('admin', ['create', 'clusterrolebinding', approvers, '--clusterrole=agentgate-approver', '--group=sre-approvers']);
    await kubectlOk('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    await eventually(
      async () => (await kubectl('agent', ['auth', 'can-i', 'list', 'agentidentities.agentgate.io'])).stdout.trim() === 'yes',
      30_000,
      'the identity reader binding',
    );
    mcp = await connectMcp(clusterEnv().kubeconfigs.agent);
  });

  after(async function () {
    await mcp?.client.close().catch(() => undefined);
    for (const n of [ns, other]) if (n) await kubectl('admin', ['delete', 'namespace', n, '--wait=false']);
    await kubectl('admin', ['delete', 'clusterrolebinding', reader, approvers, '--ignore-not-found']);
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await stopAgentgate(agentgate);
  });

  it("offers exactly the desk's five tools, each with an input and an output schema", async function () {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((t) => t.name).sort()).to.deep.equal(['explain', 'my_requests', 'request_access', 'wait', 'whoami']);
    for (const t of tools) {
      expect(t.inputSchema.type, t.name).to.equal('object');
      expect(t.outputSchema?.type, t.name).to.equal('object');
    }
    const request = tools.find((t) => t.name === 'request_access')!;
    expect(request.inputSchema.required).to.include.members(['role', 'namespace', 'duration', 'reason']);
  });

  it('the seed scenario through the tools: request, wait with progress, allowed call, held call, explain, approval by alice, retry', async function () {
    const me = await ok<{
      user: string;
      agent: string;
      identity: { ceiling: { allowedRoles: string[]; maxDuration: string }; approvers: { groups: string[] } };
      grants: unknown[];
      approvalRules: Array<{ name: string; action: string }>;
    }>(mcp, 'whoami');
    expect(me.user).to.equal(AGENT_USER);
    expect(me.agent).to.equal(agent);
    expect(me.identity.ceiling).to.deep.include({ allowedRoles: ['ClusterRole/agentgate-edit'], maxDuration: '1h' });
    expect(me.identity.approvers.groups).to.deep.equal(['sre-approvers']);
    expect(me.grants).to.deep.equal([]);
    expect(me.approvalRules.find((r) => r.name === 'delete')?.action).to.equal('RequireApproval');

    // 1. Request access.
    const req = await ok<{ grant: { name: string; namespace: string; phase: string }; approvalRequest?: { name: string } }>(mcp, 'request_access', {
      role: 'agentgate-edit',
      namespace: ns,
      duration: '10m',
      reason: 'Roll out release 1.4.2 of web.',
      ticket: 'CHG-2041',
    });
    expect(req.grant.namespace).to.equal(ns);
    const stored = JSON.parse(await kubectlOk('admin', ['get', 'accessgrant', req.grant.name, '-n', ns, '-o', 'json'])) as { spec: Record<string, unknown> };
    expect(stored.spec).to.deep.include({ agent, duration: '10m', ticket: 'CHG-2041', activation: 'RequiresApproval' });

    // 2. Wait, with progress notifications, while alice approves the activation with kubectl.
    const progress: Progress[] = [];
    const waiting = ok<{ outcome: string; grant: { secondsLeft: number; expiresAt: string } }>(
      mcp,
      'wait',
      { grant: req.grant.name, namespace: ns, timeoutSeconds: 90 },
      (p) => progress.push(p),
    );
    const activation =
      req.approvalRequest?.name ??
      (await eventually(
        async () => (await kubectlOk('admin', ['get', 'accessgrant', req.grant.name, '-n', ns, '-o', 'jsonpath={.status.approvalRequest}'])).trim(),
        30_000,
        'the activation request',
      ));
    await eventually(async () => progress.length > 0, 30_000, 'a progress notification');
    await kubectlOk('alice', ['annotate', 'approvalrequest', activation, '-n', ns, 'approved=true']);
    const waited = await waiting;
    expect(waited.outcome).to.equal('Active');
    expect(waited.grant.secondsLeft).to.be.above(0);
    expect(progress[0]!.message).to.contain(req.grant.name);
    expect(progress.map((p) => p.progress)).to.satisfy((ps: number[]) => ps.every((p, i) => i === 0 || p > ps[i - 1]!), 'progress increases');

    // 3. An allowed call, with the agent's usual tool.
    await eventually(
      async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', ns])).stdout.trim() === 'yes',
      30_000,
      'the RoleBinding',
    );
    const allowed = await kubectl('agent', ['create', 'configmap', 'release-notes', '-n', ns, '--from-literal=version=1.4.2']);
    expect(allowed.code, allowed.stderr).to.equal(0);

    // 4. A held call: kubectl prints the reason; explain reads it.
    const held = await kubectl('agent', ['delete', 'deployment', 'web', '-n', ns]);
    expect(held.code).to.not.equal(0);
    expect(held.stderr).to.contain(`Error from server (${REASON.ApprovalRequired})`);
    const why = await ok<{
      refusal: string;
      control: string;
      refusedBy: string;
      rules: string[];
      approvalRequest: { name: string; phase: string };
      approvers: { groups: string[]; required: number };
      letThrough: Array<{ tool?: string; arguments?: Record<string, unknown> }>;
    }>(mcp, 'explain', { message: held.stderr });
    expect(why).to.deep.include({ refusal: 'RuleHeld', control: 'approval', refusedBy: 'agentgate' });
    expect(why.rules).to.include('delete');
    expect(why.approvalRequest.phase).to.equal('Pending');
    expect(why.approvers).to.deep.include({ groups: ['sre-approvers'], required: 1 });
    const waitStep = why.letThrough.find((s) => s.tool === 'wait');
    expect(waitStep?.arguments).to.deep.equal({ approvalRequest: why.approvalRequest.name, namespace: ns });

    // 5. alice approves that exact operation; wait says so.
    const deciding = ok<{ outcome: string; approvalRequest: { approvedBy: string[] } }>(mcp, 'wait', {
      approvalRequest: why.approvalRequest.name,
      namespace: ns,
      timeoutSeconds: 60,
    });
    await kubectlOk('alice', ['annotate', 'approvalrequest', why.approvalRequest.name, '-n', ns, 'approved=true']);
    const decided = await deciding;
    expect(decided.outcome).to.equal('Approved');
    expect(decided.approvalRequest.approvedBy).to.deep.equal(['alice']);

    // 6. The identical retry goes through once, and says it used the approval.
    const retry = await kubectl('agent', ['delete', 'deployment', 'web', '-n', ns]);
    expect(retry.code, retry.stderr).to.equal(0);
    expect(retry.stderr).to.contain(`Warning: agentgate: allowed once by ApprovalRequest ${ns}/${why.approvalRequest.name}`);

    const mine = await ok<{
      agent: string;
      approvalRequests: Array<{ name: string; phase: string; type: string }>;
      grants: Array<{ name: string; phase: string }>;
    }>(mcp, 'my_requests', { namespace: ns });
    expect(mine.agent).to.equal(agent);
    expect(mine.approvalRequests.find((a) => a.name === why.approvalRequest.name)?.phase).to.equal('Consumed');
    expect(mine.approvalRequests.find((a) => a.name === activation)?.type).to.equal('Activation');
    expect(mine.grants.find((g) => g.name === req.grant.name)?.phase).to.equal('Active');
    const after = await ok<{ activeGrants: number; grants: Array<{ name: string; secondsLeft: number }> }>(mcp, 'whoami');
    expect(after.activeGrants).to.equal(1);
    expect(after.grants[0]!.name).to.equal(req.grant.name);
  });

  it('what the apiserver hands a client from the webhook: reason, code, details, retryAfterSeconds, and warnings', async function () {
    // The same agent, through @kubernetes/client-node instead of kubectl.
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(clusterEnv().kubeconfigs.agent);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    // A window of its own (an admin's Immediate grant), so this test does not lean on the scenario's.
    await apply({
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'status-check', namespace: ns },
      spec: { agent, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '10m', reason: 'check what the agent sees', activation: 'Immediate' },
    });
    await eventually(
      async () => (await kubectl('agent', ['auth', 'can-i', 'delete', 'deployments', '-n', ns])).stdout.trim() === 'yes',
      30_000,
      'the status-check grant',
    );
    await kubectlOk('admin', ['create', 'deployment', 'api', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    let caught: unknown;
    try {
      await apps.deleteNamespacedDeployment({ name: 'api', namespace: ns });
    } catch (e) {
      caught = e;
    }
    const err = caught as { code?: number; body?: unknown; headers?: Record<string, string> };
    expect(err?.code, String(caught)).to.equal(403);
    const status = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as Status & { kind: string };
    expect(status).to.deep.include({ kind: 'Status', status: 'Failure', code: 403, reason: REASON.ApprovalRequired });
    // The apiserver prefixes the message, and passes details through untouched.
    expect(status.message).to.match(/^admission webhook "[^"]+" denied the request: agentgate: held for approval: /);
    expect(status.details).to.deep.include({ group: 'agentgate.io', kind: 'ApprovalRequest', retryAfterSeconds: HELD_RETRY_AFTER_SECONDS });
    const arName = status.details!.name!;
    expect(JSON.parse(await kubectlOk('admin', ['get', 'approvalrequest', arName, '-n', ns, '-o', 'json'])).spec.operation).to.deep.include({
      operation: 'DELETE',
      name: 'api',
    });
    const causes = status.details!.causes ?? [];
    expect(causes).to.deep.include({ reason: CAUSE.Namespace, field: 'metadata.namespace', message: ns });
    expect(causes).to.deep.include({ reason: CAUSE.Agent, message: agent });
    expect(causes).to.deep.include({ reason: CAUSE.Rule, message: 'delete' });
    // retryAfterSeconds also becomes the Retry-After header (client-go retries only 429/5xx by itself).
    const header = Object.entries(err.headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
    expect(header).to.equal(String(HELD_RETRY_AFTER_SECONDS));
    // explain takes the Status as the client returned it.
    const why = await ok<{ refusal: string; approvalRequest: { name: string } }>(mcp, 'explain', { status });
    expect(why.refusal).to.equal('RuleHeld');
    expect(why.approvalRequest.name).to.equal(arName);

    // A call through a binding agentgate did not make: RBAC lets it in, agentgate says NotCovered.
    await kubectlOk('admin', ['create', 'rolebinding', 'bypass', '-n', other, '--clusterrole=agentgate-edit', `--user=${AGENT_USER}`]);
    await eventually(
      async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', other])).stdout.trim() === 'yes',
      30_000,
      'the bypass binding',
    );
    const bypass = await kubectl(
      'agent',
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: other }, data: { a: 'b' } }),
    );
    expect(bypass.code).to.not.equal(0);
    expect(bypass.stderr).to.contain(`Error from server (${REASON.NotCovered})`);
    // kubectl's generators (create configmap, ...) print only the message, without the reason;
    // explain classifies it from the text.
    const generated = await kubectl('agent', ['create', 'configmap', 'x', '-n', other, '--from-literal=a=b']);
    expect(generated.stderr).to.contain('error: failed to create configmap: admission webhook').and.contain('denied the request: agentgate: ');
    expect(generated.stderr).to.not.contain(REASON.NotCovered);
    const notCovered = await ok<{ refusal: string; refusedBy: string; letThrough: Array<{ tool?: string; arguments?: Record<string, unknown> }> }>(
      mcp,
      'explain',
      { message: generated.stderr },
    );
    expect(notCovered).to.deep.include({ refusal: 'NotCovered', refusedBy: 'agentgate' });
    expect(notCovered.letThrough[0]).to.deep.include({ tool: 'request_access' });
    expect(notCovered.letThrough[0]!.arguments).to.deep.include({ role: 'agentgate-edit', namespace: other });
    await kubectlOk('admin', ['delete', 'rolebinding', 'bypass', '-n', other]);

    // Late in a window, an allowed call carries a warning that kubectl prints.
    await apply({
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'short', namespace: other },
      spec: { agent, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '60s', reason: 'a short window', activation: 'Immediate' },
    });
    const expiresAt = await eventually(
      async () => {
        const [phase, at] = (
          await kubectlOk('admin', ['get', 'accessgrant', 'short', '-n', other, '-o', 'jsonpath={.status.phase} {.status.expiresAt}'])
        ).split(' ');
        return phase === 'Active' && at ? Date.parse(at) : undefined;
      },
      30_000,
      'the short grant',
    );
    await eventually(
      async () => (await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', other])).stdout.trim() === 'yes',
      30_000,
      'its RoleBinding',
    );
    const early = await kubectl('agent', ['create', 'configmap', 'early', '-n', other, '--from-literal=a=b']);
    expect(early.code, early.stderr).to.equal(0);
    // A 60 s window is late in its last 15 s.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 13_000)));
    const late = await kubectl('agent', ['create', 'configmap', 'late', '-n', other, '--from-literal=a=b']);
    expect(late.code, late.stderr).to.equal(0);
    if (Date.now() < expiresAt - 15_000) expect.fail('the late call ran before the last quarter of the window');
    expect(early.stderr).to.not.contain('expires in');
    expect(late.stderr).to.match(new RegExp(`Warning: agentgate: grant ${other}/short expires in \\d+s`));
  });

  it("refuses to act beyond the agent's rights, and says whose rights are missing", async function () {
    // No agentgate-requester binding in `other`: RBAC refuses, the server adds nothing.
    const noRbac = await call(mcp, 'request_access', { role: 'agentgate-edit', namespace: other, duration: '10m', reason: 'try' });
    expect(noRbac.isError).to.equal(true);
    expect(errorText(noRbac)).to.contain(`you may not create accessgrants in namespace ${other}`).and.contain('agentgate-requester');
    // Outside the ceiling: the webhook refuses the request.
    const tooMuch = await call(mcp, 'request_access', { role: 'cluster-admin', namespace: ns, duration: '10m', reason: 'try' });
    expect(tooMuch.isError).to.equal(true);
    expect(errorText(tooMuch)).to.contain('refused the grant').and.contain('allowedRoles');
    const tooLong = await call(mcp, 'request_access', { role: 'agentgate-edit', namespace: ns, duration: '3h', reason: 'try' });
    expect(tooLong.isError).to.equal(true);
    expect(errorText(tooLong)).to.contain('maxDuration');
    // Reading what it may not read.
    const unreadable = await call(mcp, 'wait', { approvalRequest: 'anything', namespace: other, timeoutSeconds: 1 });
    expect(unreadable.isError).to.equal(true);
    expect(errorText(unreadable)).to.contain(`you may not read approvalrequests in namespace ${other}`);
    // Nothing was created on the agent's behalf.
    expect((await kubectlOk('admin', ['get', 'accessgrants', '-n', other, '-o', 'name'])).trim()).to.not.contain('mcp-bot');
  });

  it('a bad tool input gets a schema error naming the field and the fix', async function () {
    const badDuration = await call(mcp, 'request_access', { role: 'agentgate-edit', namespace: ns, duration: 'soon', reason: 'r' });
    expect(badDuration.isError).to.equal(true);
    expect(errorText(badDuration)).to.contain('duration must be a Go duration').and.contain('at duration');
    const missing = await call(mcp, 'request_access', { role: 'agentgate-edit', namespace: ns, duration: '10m' });
    expect(errorText(missing)).to.contain('reason is required');
    const typo = await call(mcp, 'wait', { grant: 'g', namespce: ns });
    expect(typo.isError).to.equal(true);
    expect(errorText(typo)).to.contain('namespce');
    const both = await call(mcp, 'wait', { grant: 'g', approvalRequest: 'a', namespace: ns });
    expect(errorText(both)).to.contain('exactly one of grant or approvalRequest');
    const wrongType = await call(mcp, 'wait', { grant: 'g', namespace: ns, timeoutSeconds: 'long' });
    expect(errorText(wrongType)).to.contain('timeoutSeconds must be a number');
  });

  it('survives the apiserver going away, says so, and recovers when it is back', async function () {
    const env = clusterEnv();
    const doc = yaml.load(readFileSync(env.kubeconfigs.agent, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
    const upstream = new URL(doc.clusters[0]!.cluster.server);
    const sockets = new Set<net.Socket>();
    const listen = (port: number) =>
      new Promise<net.Server>((resolve, reject) => {
        const s = net.createServer((client) => {
          const up = net.connect(Number(upstream.port), upstream.hostname);
          for (const x of [client, up]) {
            sockets.add(x);
            x.on('close', () => sockets.delete(x));
            x.on('error', () => x.destroy());
          }
          client.pipe(up).pipe(client);
        });
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve(s));
      });
    let proxy = await listen(0);
    const port = (proxy.address() as net.AddressInfo).port;
    for (const c of doc.clusters) c.cluster.server = `https://127.0.0.1:${port}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'agentgate-mcp-'));
    const kubeconfig = path.join(dir, 'agent.kubeconfig');
    writeFileSync(kubeconfig, yaml.dump(doc), { mode: 0o600 });
    const viaProxy = await connectMcp(kubeconfig);
    try {
      expect((await ok<{ agent: string }>(viaProxy, 'whoami')).agent).to.equal(agent);
      const closed = new Promise<void>((r) => proxy.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      const down = await call(viaProxy, 'whoami');
      expect(down.isError).to.equal(true);
      expect(errorText(down)).to.contain('cannot reach the cluster').and.contain('ECONNREFUSED');
      expect(viaProxy.transport.pid, 'the server process').to.be.a('number');
      proxy = await listen(port);
      expect((await ok<{ agent: string }>(viaProxy, 'whoami')).agent).to.equal(agent);
    } finally {
      await viaProxy.client.close();
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });

  it('serves streamable HTTP behind --http, on loopback only unless a token is required', async function () {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'mcp', '--kubeconfig', clusterEnv().kubeconfigs.agent, '--http', '127.0.0.1:0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await eventually(async () => /serving streamable HTTP on (http:\/\/\S+)/.exec(err)?.[1], 30_000, 'the HTTP server');
      const client = new Client({ name: 'mcp-e2e-http', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const r = (await client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult;
      expect((r.structuredContent as { agent: string }).agent).to.equal(agent);
      await client.close();
    } finally {
      child.kill('SIGTERM');
    }
    const { run } = await import('../harness/cluster.js');
    const open = await run(process.execPath, [CLI, 'mcp', '--kubeconfig', clusterEnv().kubeconfigs.agent, '--http', '0.0.0.0:0']);
    expect(open.code).to.equal(2);
    expect(open.stderr).to.contain('not a loopback address').and.contain('--http-token-file');
  });
});
