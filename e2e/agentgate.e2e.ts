// agentgate as a whole, as the chart runs it: the operator keeps every agent's
// BoundaryVerified condition and findings current, and tells approvers about held
// operations through a Slack-compatible webhook.
import { expect } from 'chai';
import { writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AgentIdentity } from '../api/types.js';
import { eventually, kubectl, kubectlOk, uniqueName } from '../harness/cluster.js';
import { runDir, startAgentgate, stopAgentgate, type RunningComponent } from '../harness/components.js';
import { applyAgent, applyGrant } from './agents.js';

interface Received {
  text: string;
  blocks: Array<{ text?: { text: string } }>;
}

describe('agentgate: continuous boundary verification and approver notifications', function () {
  const agent = uniqueName('e2e-whole');
  const ns = uniqueName('whole');
  const crb = uniqueName('standing');
  const received: Received[] = [];
  let hook: http.Server;
  let components: { webhook: RunningComponent; operator: RunningComponent } | undefined;

  before(async function () {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as Received);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    const port = (hook.address() as { port: number }).port;
    mkdirSync(runDir, { recursive: true });
    const urlFile = path.join(runDir, 'notify-url');
    writeFileSync(urlFile, `http://127.0.0.1:${port}/hooks/agentgate\n`);
    components = await startAgentgate({
      name: 'whole',
      operatorArgs: ['--boundary-interval', '3s', '--notify-url-file', urlFile, '--lease-name', uniqueName('whole-lease')],
    });

    await kubectlOk('admin', ['create', 'namespace', ns]);
    await applyAgent(agent, [ns]);
    await kubectlOk('admin', ['create', 'clusterrolebinding', `${agent}-approvers`, '--clusterrole=agentgate-approver', '--group=sre-approvers']);
  });

  after(async function () {
    await kubectl('admin', ['delete', 'clusterrolebinding', crb, `${agent}-approvers`, '--ignore-not-found']);
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await stopAgentgate(components);
    hook?.close();
  });

  async function condition(): Promise<{ status?: string; reason?: string; findings: NonNullable<AgentIdentity['status']>['findings'] }> {
    const a = JSON.parse(await kubectlOk('admin', ['get', 'agentidentity', agent, '-o', 'json'])) as AgentIdentity;
    const c = a.status?.conditions?.find((x) => x.type === 'BoundaryVerified');
    return { status: c?.status, reason: c?.reason, findings: a.status?.findings ?? [] };
  }

  it('marks a clean agent BoundaryVerified, flags a planted standing binding, and clears it once removed', async function () {
    await eventually(async () => (await condition()).reason === 'Verified', 60_000, 'BoundaryVerified=True (Verified)');

    await kubectlOk('admin', ['create', 'clusterrolebinding', crb, '--clusterrole=view', '--user=agent:deploy-bot']);
    const bad = await eventually(
      async () => {
        const c = await condition();
        return c.status === 'False' ? c : undefined;
      },
      60_000,
      'BoundaryVerified=False',
    );
    expect(bad.reason).to.equal('BypassRoutesFound');
    expect(bad.findings?.map((f) => `${f.route} ${f.object}`)).to.include(`StandingBinding ClusterRoleBinding/${crb}`);
    const cols = await kubectlOk('admin', ['get', 'agentidentity', agent]);
    expect(cols.split('\n')[1]).to.match(/\bFalse\b/);

    await kubectlOk('admin', ['delete', 'clusterrolebinding', crb]);
    await eventually(async () => (await condition()).reason === 'Verified', 60_000, 'BoundaryVerified=True again');
  });

  it("tells approvers of a held activation, with the exact approve command, and of alice's decision", async function () {
    await applyGrant('needs-ok', ns, agent, { duration: '10m', reason: 'e2e: notifications', activation: 'RequiresApproval' });
    const ar = await eventually(
      async () => (await kubectlOk('admin', ['get', 'accessgrant', 'needs-ok', '-n', ns, '-o', 'jsonpath={.status.approvalRequest}'])) || undefined,
      30_000,
      'the activation request',
    );
    const created = await eventually(
      async () => received.find((m) => JSON.stringify(m).includes(`approvalrequest ${ar} -n ${ns} approved=true`)),
      30_000,
      'the "created" message',
    );
    expect(created.text).to.contain('waits for approval');

    await kubectlOk('alice', ['annotate', 'approvalrequest', ar, '-n', ns, 'approved=true']);
    const decided = await eventually(
      async () => received.find((m) => m.text.includes('approved') && m.text.includes('alice')),
      30_000,
      'the "approved" message',
    );
    expect(decided.text).to.contain('activate');
  });
});
