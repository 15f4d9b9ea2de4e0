// The main job: the seed scenario, narrated, every step a real kubectl call as the agent,
// an approver or a bystander, against a real control plane with agentgate running.
// Exits non-zero the moment a step does not behave as narrated, so it doubles as a smoke test.
import path from 'node:path';
import { clusterEnv, eventually, kubectl, kubectlOk, repoRoot, type Identity, type RunResult } from '../harness/cluster.js';
import { as, bold, dim, expectThat, narrate, runDemo, showOutput } from './narration.js';
import { removeWebhookConfigurations, startAgentgate, stopAll } from '../harness/components.js';
import { AGENTGATE_NAMESPACE, AGENTS_WEBHOOK } from '../api/types.js';
import { countdown } from './countdown.js';

const NS = 'payments';
const AGENT = 'deploy-bot';
const WINDOW = process.env.DEMO_WINDOW ?? '60s';
async function agentgateCli(who: Identity, args: string[]): Promise<RunResult> {
  const { run } = await import('../harness/cluster.js');
  console.log(`   ${dim(`[${who}]`)} $ agentgate ${args.join(' ')}`);
  const r = await run(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), '--kubeconfig', clusterEnv().kubeconfigs[who], ...args]);
  showOutput(r);
  return r;
}

const jsonpath = (who: Identity, args: string[], p: string) => kubectlOk(who, [...args, '-o', `jsonpath=${p}`]);

async function scenario(): Promise<void> {
  console.log(bold('agentgate: the seed scenario'));
  console.log(
    dim(
      'An agent requests access, gets a bounded window, runs an allowed command that is recorded,\nand is blocked on a destructive one until a human approves.',
    ),
  );

  narrate('Install agentgate', 'CRDs, least-privilege RBAC, the operator and the webhook (each under its own ServiceAccount).');
  const running = await startAgentgate();
  const agentsWebhook = await kubectl('admin', ['get', 'validatingwebhookconfiguration', AGENTS_WEBHOOK]);
  expectThat(
    running.operator.alive && running.webhook.alive && agentsWebhook.code === 0,
    'operator and webhook are running; the agents webhook configuration is in place',
    agentsWebhook,
  );

  narrate(
    'Prepare the workload',
    'The platform team owns namespace payments with a Deployment "web"; the agent may ask for access there; engineers may annotate ApprovalRequests.',
  );
  await kubectlOk('admin', ['apply', '-f', path.join(repoRoot, 'examples', '00-namespace.yaml')]);
  await kubectl('admin', ['delete', 'deployment', 'web', '-n', NS, '--ignore-not-found']);
  await as('admin', ['create', 'deployment', 'web', '-n', NS, '--image=registry.k8s.io/pause:3.10', '--replicas=2']);
  // Agents may ask for access (create AccessGrants) in namespaces they may work in; that is all.
  await kubectl('admin', ['delete', 'rolebinding', 'deploy-bot-may-request', '-n', NS, '--ignore-not-found']);
  await as('admin', ['create', 'rolebinding', 'deploy-bot-may-request', '-n', NS, '--clusterrole=agentgate-requester', '--user=agent:deploy-bot']);
  // RBAC lets every engineer touch ApprovalRequests; agentgate decides whose approval counts.
  await kubectl('admin', ['delete', 'clusterrolebinding', 'engineers-may-approve', '--ignore-not-found']);
  await as('admin', [
    'create',
    'clusterrolebinding',
    'engineers-may-approve',
    '--clusterrole=agentgate-approver',
    '--group=sre-approvers',
    '--group=developers',
  ]);

  narrate(
    'Register the agent',
    'AgentIdentity deploy-bot: who it authenticates as, its ceiling (agentgate-edit or view in payments, at most 2h) and its approvers (group sre-approvers).',
  );
  await as('admin', ['apply', '-f', path.join(repoRoot, 'examples', '10-agent-eks.yaml')]);
  const before = await as('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', NS]);
  expectThat(before.stdout.trim() === 'no', 'with no grant, the agent can do nothing in payments', before);

  narrate('The agent requests access', `It asks for agentgate-edit in payments for ${WINDOW}; a request made by an agent always waits for a human.`);
  const grant = `${AGENT}-release`;
  const grantYaml = `apiVersion: agentgate.io/v1alpha1
kind: AccessGrant
metadata:
  name: ${grant}
  namespace: ${NS}
spec:
  agent: ${AGENT}
  roleRef: {kind: ClusterRole, name: agentgate-edit}
  duration: ${WINDOW}
  reason: Roll out release 1.4.2 of web.
  ticket: CHG-2041
  activation: RequiresApproval
`;
  await kubectl('admin', ['delete', 'accessgrant', grant, '-n', NS, '--ignore-not-found', '--wait=true']);
  const req = await as('agent', ['create', '-f', '-'], grantYaml);
  expectThat(req.code === 0, 'the request is accepted', req);
  const activation = await eventually(
    async () => {
      const phase = await jsonpath('admin', ['get', 'accessgrant', grant, '-n', NS], '{.status.phase} {.status.approvalRequest}');
      const [p, ar] = phase.split(' ');
      return p === 'AwaitingApproval' && ar ? ar : undefined;
    },
    30_000,
    'the grant to await approval',
  );
  const seen = await as('alice', ['get', 'approvalrequest', activation, '-n', NS]);
  expectThat(seen.code === 0, `the grant is AwaitingApproval on ApprovalRequest ${activation}, which alice can see`, seen);

  narrate('An approver approves the activation', 'alice (sre-approvers) approves; agentgate takes her identity from the authenticated request.');
  const approveActivation = await as('alice', ['annotate', 'approvalrequest', activation, '-n', NS, 'approved=true']);
  expectThat(approveActivation.code === 0, 'alice may approve', approveActivation);

  narrate('A bounded window opens', 'The operator creates one RoleBinding for the grant, until expiresAt.');
  const expiresAt = await eventually(
    async () => {
      const s = await jsonpath('admin', ['get', 'accessgrant', grant, '-n', NS], '{.status.phase} {.status.expiresAt}');
      const [p, e] = s.split(' ');
      return p === 'Active' && e ? e : undefined;
    },
    30_000,
    'the grant to become Active',
  );
  await as('admin', ['get', 'accessgrant', grant, '-n', NS]);
  const can = await as('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', NS]);
  expectThat(can.stdout.trim() === 'yes', `the agent may now edit payments, until ${expiresAt}`, can);
  const elsewhere = await as('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', 'default']);
  expectThat(elsewhere.stdout.trim() === 'no', 'and nothing anywhere else', elsewhere);

  narrate('An allowed command runs and is recorded', 'Creating a ConfigMap is covered by the grant and matches no destructive rule.');
  await kubectl('admin', ['delete', 'configmap', 'release-notes', '-n', NS, '--ignore-not-found']);
  const allowed = await as('agent', ['create', 'configmap', 'release-notes', '-n', NS, '--from-literal=version=1.4.2']);
  expectThat(allowed.code === 0, 'allowed', allowed);
  // Written before the webhook answered; Completed once the apiserver's own audit event joins it.
  const audit = await eventually(
    async () => {
      const out = await kubectlOk('admin', [
        'get',
        'auditevents',
        '-n',
        AGENTGATE_NAMESPACE,
        '-l',
        `agentgate.io/agent=${AGENT}`,
        '--field-selector',
        `spec.namespace=${NS},spec.name=release-notes`,
        '-o',
        'json',
      ]);
      const items = (JSON.parse(out) as { items: Array<{ metadata: { name: string }; spec: Record<string, unknown>; status?: { outcome?: string } }> }).items;
      return items.find((e) => e.spec.resource === 'configmaps' && e.spec.decision === 'Allowed' && e.status?.outcome === 'Completed');
    },
    20_000,
    'the AuditEvent of the ConfigMap creation, Completed',
  );
  const shown = await as('admin', ['get', 'auditevent', audit.metadata.name, '-n', AGENTGATE_NAMESPACE, '-o', 'wide']);
  expectThat(
    shown.code === 0 && audit.spec.agent === AGENT,
    `recorded as AuditEvent ${audit.metadata.name} (in the audit database, not etcd), naming the agent, and Completed by the apiserver`,
    shown,
  );

  narrate('A destructive command is blocked', 'Deleting the Deployment matches the built-in "delete" rule: it is held until approved.');
  const held = await as('agent', ['delete', 'deployment', 'web', '-n', NS]);
  const arName = /ApprovalRequest (?:[a-z0-9-]+\/)?([a-z0-9-]+)/.exec(held.stderr)?.[1];
  expectThat(held.code !== 0 && !!arName, 'denied, naming the ApprovalRequest to approve', held);
  const stillThere = await kubectl('admin', ['get', 'deployment', 'web', '-n', NS]);
  expectThat(stillThere.code === 0, 'the Deployment is untouched', stillThere);
  await as('alice', ['get', 'approvalrequest', arName!, '-n', NS, '-o', 'custom-columns=NAME:.metadata.name,PHASE:.status.phase,SUMMARY:.spec.summary']);

  narrate('A non-approver cannot approve', "mallory is not among deploy-bot's approvers; the webhook refuses her annotation.");
  const mallory = await as('mallory', ['annotate', 'approvalrequest', arName!, '-n', NS, 'approved=true']);
  expectThat(mallory.code !== 0, "mallory's approval is rejected", mallory);
  const self = await as('agent', ['annotate', 'approvalrequest', arName!, '-n', NS, 'approved=true']);
  expectThat(self.code !== 0, 'and the agent cannot approve its own operation', self);

  narrate('The approver approves that exact operation', 'The approval is bound to the fingerprint of "delete deployment web in payments by deploy-bot".');
  const approve = await as('alice', ['annotate', 'approvalrequest', arName!, '-n', NS, 'approved=true']);
  expectThat(approve.code === 0, 'alice approves', approve);
  // The operator records her decision from the persisted, policy-checked object, never from the review.
  const recorded = await eventually(
    async () => ((await jsonpath('admin', ['get', 'approvalrequest', arName!, '-n', NS], '{.status.phase}')) === 'Approved' ? true : undefined),
    30_000,
    'the approval to be recorded',
  );
  expectThat(recorded, `agentgate recorded alice's approval from the stored ApprovalRequest`);

  narrate('The retry passes, once', 'The identical command now goes through and uses the approval up.');
  const retry = await as('agent', ['delete', 'deployment', 'web', '-n', NS]);
  expectThat(retry.code === 0, 'the delete goes through', retry);
  const phase = await jsonpath('admin', ['get', 'approvalrequest', arName!, '-n', NS], '{.status.phase}');
  expectThat(phase === 'Consumed', `ApprovalRequest ${arName} is Consumed`);
  await as('agent', ['create', 'deployment', 'web', '-n', NS, '--image=registry.k8s.io/pause:3.10']);
  const again = await as('agent', ['delete', 'deployment', 'web', '-n', NS]);
  expectThat(again.code !== 0 && /ApprovalRequest/.test(again.stderr), 'the same command is held again: an approval is single-use', again);

  narrate('The window closes', `At ${expiresAt} the operator removes the RoleBinding; the webhook denies by the clock even before that.`);
  await countdown(Date.parse(expiresAt) + 500, `waiting for the window to close at ${expiresAt}`);
  const closed = await eventually(
    async () => {
      const r = await kubectl('agent', ['auth', 'can-i', 'create', 'configmaps', '-n', NS]);
      return r.stdout.trim() === 'no' ? r : undefined;
    },
    30_000,
    'access to be gone',
  );
  expectThat(closed.stdout.trim() === 'no', 'the agent can no longer edit payments');
  const denied = await as('agent', ['create', 'configmap', 'after-hours', '-n', NS, '--from-literal=a=b']);
  expectThat(denied.code !== 0, 'a create after the window fails', denied);
  // RBAC refused it before admission: the apiserver's audit backend is what records it.
  const refused = await eventually(
    async () => {
      const out = await kubectlOk('admin', [
        'get',
        'auditevents',
        '-n',
        AGENTGATE_NAMESPACE,
        '-l',
        'agentgate.io/source=apiserver,agentgate.io/decision=Denied',
        '--field-selector',
        `spec.namespace=${NS},spec.resource=configmaps,spec.operation=CREATE`,
        '-o',
        'json',
      ]);
      // (A create's audit entry names no object: the name is in the body, which Metadata level omits.)
      return (JSON.parse(out) as { items: Array<{ metadata: { name: string }; status?: { code?: number } }> }).items[0];
    },
    20_000,
    'the refused create recorded from the apiserver audit log',
  );
  expectThat(refused.status?.code === 403, `and it is recorded too: AuditEvent ${refused.metadata.name}, refused ${refused.status?.code} by RBAC`);
  await as('admin', ['get', 'accessgrant', grant, '-n', NS]);

  narrate(
    'The record and the boundary',
    'Every attempt above, allowed or not, is an AuditEvent in a hash chain; the boundary report checks no route skips a control.',
  );
  await as('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE, '--sort-by=.spec.time']);
  const chain = await agentgateCli('admin', ['audit', 'verify']);
  expectThat(chain.code === 0, 'the audit hash chain verifies', chain);
  const boundary = await agentgateCli('admin', ['verify', AGENT]);
  expectThat(boundary.code === 0, 'no route skips a control: the boundary is verified', boundary);
}

process.exitCode = await runDemo(scenario, 'The seed scenario behaved as narrated.', async () => {
  await removeWebhookConfigurations().catch(() => undefined);
  await stopAll();
});
