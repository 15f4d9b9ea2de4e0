import { expect } from 'chai';
import type { AccessGrant, AgentIdentity, ApprovalRequest, AuditEvent } from '../api/types.js';
import type { BoundaryReport } from '../boundary/types.js';
import { appendEvent, emptyHead, verifyChain } from '../lib/audit-chain.js';
import { agentIdentity } from '../testing/fixtures.js';
import { UsageError } from './args.js';
import {
  buildGrantRequest,
  describeGrant,
  eksAccessEntry,
  filterAudit,
  formatAudit,
  formatChain,
  formatPending,
  formatReport,
  grantSettled,
  relative,
  table,
  verifyExitCode,
} from './format.js';

const NOW = new Date('2030-01-01T12:00:00Z');

const report = (findings: BoundaryReport['agents'][number]['findings']): BoundaryReport => ({
  generatedAt: NOW.toISOString(),
  agents: [{ agent: 'deploy-bot', verified: !findings.some((f) => f.severity === 'Critical'), findings, reviews: 120 }],
});

const critical = {
  severity: 'Critical' as const,
  route: 'StandingBinding' as const,
  object: 'ClusterRoleBinding/x',
  message: 'binds cluster-admin',
  fix: 'kubectl delete clusterrolebinding x',
};
const warning = { severity: 'Warning' as const, route: 'IndirectPodCreation' as const, object: 'create pods in namespace p', message: 'pods', fix: 'move it' };

describe('cli format: verify', () => {
  it('prints each agent, then each finding with object, message and fix', () => {
    const text = formatReport(report([critical, warning]));
    expect(text).to.contain('agent deploy-bot: BOUNDARY NOT VERIFIED: 1 critical, 1 warning (120 access reviews)');
    expect(text).to.contain('CRITICAL  StandingBinding  ClusterRoleBinding/x');
    expect(text).to.contain('fix: kubectl delete clusterrolebinding x');
    expect(text).to.contain('WARNING   IndirectPodCreation');
    expect(formatReport(report([]))).to.contain('agent deploy-bot: boundary verified, no findings');
    expect(formatReport(report([warning]))).to.contain('boundary verified with 1 warning');
    expect(formatReport({ generatedAt: '', agents: [] })).to.equal('no AgentIdentities to verify\n');
  });

  it('exits 1 on Critical, 0 on Warnings unless --fail-on warning', () => {
    expect(verifyExitCode(report([]))).to.equal(0);
    expect(verifyExitCode(report([warning]))).to.equal(0);
    expect(verifyExitCode(report([warning]), 'warning')).to.equal(1);
    expect(verifyExitCode(report([critical]))).to.equal(1);
  });
});

describe('cli format: tables and times', () => {
  it('aligns columns like kubectl', () => {
    expect(
      table(
        ['NAME', 'AGE'],
        [
          ['a', '1m'],
          ['long-name', '2h'],
        ],
      ),
    ).to.equal('NAME        AGE\na           1m\nlong-name   2h\n');
  });

  it('says times relative to now', () => {
    expect(relative('2030-01-01T12:05:00Z', NOW)).to.equal('in 5m');
    expect(relative('2030-01-01T11:00:00Z', NOW)).to.equal('1h ago');
    expect(relative(undefined, NOW)).to.equal('-');
  });
});

function ar(name: string, extra: Partial<ApprovalRequest['spec']> = {}): ApprovalRequest {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name, namespace: 'payments' },
    spec: {
      agent: 'deploy-bot',
      type: 'Operation',
      grant: 'hotfix',
      fingerprint: 'f'.repeat(64),
      summary: 'deploy-bot wants to DELETE deployment payments/api',
      preview: 'delete deployments/api\nreplicas: 3',
      matchedRules: ['delete'],
      requestedBy: 'agent:deploy-bot',
      expiresAt: '2030-01-01T12:30:00Z',
      ...extra,
    },
    status: { phase: 'Pending', approvals: [] },
  };
}

describe('cli format: pending', () => {
  it('shows summary, preview, rules, approvals, expiry and the commands to decide', () => {
    const text = formatPending([{ request: ar('ar-1'), eligible: true, required: 2 }], 'alice', NOW);
    expect(text).to.contain('payments/ar-1  agent deploy-bot, held operation, requested by agent:deploy-bot');
    expect(text).to.contain('summary:   deploy-bot wants to DELETE deployment payments/api');
    expect(text).to.contain('preview:\n    delete deployments/api\n    replicas: 3');
    expect(text).to.contain('rules:     delete');
    expect(text).to.contain('approvals: 0 of 2');
    expect(text).to.contain('expires:   in 30m');
    expect(text).to.contain('approve:   agentgate approve ar-1 -n payments');
    expect(text).to.contain('deny:      agentgate deny ar-1 -n payments');
    expect(text).to.contain('origin:    UNCONFIRMED: no kube-apiserver audit event shows the agent making this call yet');
  });

  it("says an operation request's origin is confirmed once the apiserver's audit log showed the call; an activation has none", () => {
    const confirmed = ar('ar-3');
    confirmed.status = { phase: 'Pending', origin: 'Confirmed' };
    expect(formatPending([{ request: confirmed, eligible: true, required: 1 }], 'alice', NOW)).to.contain(
      "origin:    confirmed by the kube-apiserver's audit log",
    );
    expect(formatPending([{ request: ar('ar-4', { type: 'Activation' }), eligible: true, required: 1 }], 'alice', NOW)).to.not.contain('origin:');
  });

  it('says why a listed request may not be decided, and when there is nothing', () => {
    const text = formatPending(
      [{ request: ar('ar-2', { type: 'Activation' }), eligible: false, reason: 'mallory is not an approver', required: 1 }],
      'mallory',
      NOW,
    );
    expect(text).to.contain('activation of grant hotfix');
    expect(text).to.contain('you may not decide it: mallory is not an approver');
    expect(text).to.not.contain('agentgate approve');
    expect(formatPending([], 'alice', NOW)).to.equal('no pending approval requests for alice\n');
  });
});

function events(): AuditEvent[] {
  let head = emptyHead('webhook-0');
  const out: AuditEvent[] = [];
  const specs = [
    { time: '2030-01-01T10:00:00Z', agent: 'deploy-bot', operation: 'CREATE', resource: 'configmaps', decision: 'Allowed' as const },
    { time: '2030-01-01T11:30:00Z', agent: 'other-bot', operation: 'DELETE', resource: 'pods', decision: 'Held' as const },
    {
      time: '2030-01-01T11:45:00Z',
      agent: 'deploy-bot',
      operation: 'CONNECT',
      resource: 'pods',
      subresource: 'exec',
      command: ['sh', '-c', 'ls'],
      decision: 'Denied' as const,
    },
  ];
  for (const [i, s] of specs.entries()) {
    const r = appendEvent(head, {
      ...s,
      user: `agent:${s.agent}`,
      group: '',
      version: 'v1',
      namespace: 'payments',
      name: `obj-${i}`,
      reason: 'because',
      requestUID: `uid-${i}`,
    });
    head = r.head;
    out.push({ apiVersion: 'audit.agentgate.io/v1alpha1', kind: 'AuditEvent', metadata: { name: `ev-${i}`, namespace: 'agentgate-system' }, spec: r.spec });
  }
  return out;
}

describe('cli format: audit', () => {
  it('filters by agent and --since, oldest first', () => {
    const all = events();
    expect(filterAudit([...all].reverse(), {}, NOW).map((e) => e.metadata.name)).to.deep.equal(['ev-0', 'ev-1', 'ev-2']);
    expect(filterAudit(all, { agent: 'deploy-bot' }, NOW).map((e) => e.metadata.name)).to.deep.equal(['ev-0', 'ev-2']);
    expect(filterAudit(all, { since: '1h' }, NOW).map((e) => e.metadata.name)).to.deep.equal(['ev-1', 'ev-2']);
    expect(() => filterAudit(all, { since: 'yesterday' }, NOW)).to.throw(UsageError, 'Go duration');
  });

  it('prints one row per event with the exec command', () => {
    const text = formatAudit(events());
    const lines = text.trim().split('\n');
    expect(lines[0]).to.match(/^TIME\s+AGENT\s+OPERATION\s+RESOURCE\s+OBJECT\s+DECISION\s+REASON$/);
    expect(lines).to.have.length(4);
    expect(text).to.contain('pods/exec').and.contain('payments/obj-2 -- sh -c ls').and.contain('Denied');
    expect(formatAudit([])).to.equal('no audit events\n');
  });

  it('reports an intact chain, and names the missing and the altered event', () => {
    const all = events();
    expect(formatChain(verifyChain(all), 3)).to.contain('audit chain intact: 3 event(s) from 1 writer(s) verified');
    const missing = formatChain(verifyChain([all[0]!, all[2]!]), 2);
    expect(missing).to.contain('AUDIT CHAIN BROKEN').and.contain('MISSING').and.contain('sequence 2');
    const altered = structuredClone(all);
    altered[1]!.spec.decision = 'Allowed';
    expect(formatChain(verifyChain(altered), 3)).to.contain('ALTERED: event ev-1');
  });

  it('says every acknowledged retired writer, with its reason, whether the chain is intact or not', () => {
    const all = events();
    const retired = [
      {
        writer: 'old',
        sequence: 3,
        by: 'alice',
        at: '2026-02-01T00:00:00.000Z',
        reason: 'reinstall',
        message: 'writer old: ... acknowledged as retired by alice at 2026-02-01T00:00:00.000Z: reinstall',
      },
    ];
    const intact = formatChain(verifyChain(all), 3, 'verified', retired);
    expect(intact).to.contain('audit chain intact: 3 event(s) from 1 writer(s) verified; 1 retired writer(s) acknowledged, not verified (below)');
    expect(intact).to.contain('  ACKNOWLEDGED: writer old: ... acknowledged as retired by alice at 2026-02-01T00:00:00.000Z: reinstall');
    expect(formatChain(verifyChain([all[0]!, all[2]!]), 2, 'verified', retired))
      .to.contain('AUDIT CHAIN BROKEN')
      .and.contain('ACKNOWLEDGED: writer old');
  });
});

describe('cli format: request', () => {
  const ok = { agent: 'deploy-bot', role: 'edit', namespace: 'payments', duration: '30m', reason: 'Roll out the hotfix' };

  it('builds a RequiresApproval grant with a generated name', () => {
    const g = buildGrantRequest({ ...ok, ticket: 'INC-1' });
    expect(g.spec).to.deep.equal({
      agent: 'deploy-bot',
      roleRef: { kind: 'ClusterRole', name: 'edit' },
      duration: '30m',
      reason: 'Roll out the hotfix',
      activation: 'RequiresApproval',
      ticket: 'INC-1',
    });
    expect(g.metadata).to.deep.equal({ namespace: 'payments', generateName: 'deploy-bot-' });
    expect(buildGrantRequest({ ...ok, name: 'mine', kind: 'Role' }).metadata.name).to.equal('mine');
  });

  it('names every missing flag', () => {
    expect(() => buildGrantRequest({ namespace: 'p' })).to.throw(UsageError, /--agent.*--role.*--duration.*--reason/);
    expect(() => buildGrantRequest({ ...ok, reason: '  ' })).to.throw(UsageError, '--reason');
  });

  it('refuses what the CRD schema refuses, naming the field and the flag', () => {
    expect(() => buildGrantRequest({ ...ok, kind: 'Group' })).to.throw(UsageError, /spec\.roleRef\.kind \(--kind\): must be one of ClusterRole, Role/);
    expect(() => buildGrantRequest({ ...ok, duration: 'soon' })).to.throw(UsageError, /spec\.duration \(--duration\)/);
  });

  it('describes where a grant stands and when it is settled', () => {
    const g: AccessGrant = { ...buildGrantRequest({ ...ok, name: 'g1' }), status: { phase: 'AwaitingApproval', approvalRequest: 'ar-9' } };
    expect(describeGrant(g, NOW)).to.equal('grant payments/g1 is awaiting approval: an approver runs agentgate approve ar-9 -n payments');
    expect(grantSettled(g)).to.equal(false);
    g.status = { phase: 'Active', expiresAt: '2030-01-01T12:30:00Z' };
    expect(describeGrant(g, NOW)).to.equal('grant payments/g1 is Active: ClusterRole edit in payments until 2030-01-01T12:30:00Z (in 30m)');
    expect(grantSettled(g)).to.equal(true);
    g.status = {
      phase: 'Invalid',
      conditions: [
        {
          type: 'Valid',
          status: 'False',
          reason: 'RoleNotAllowed',
          message: 'ClusterRole admin is not in allowedRoles',
          lastTransitionTime: '2030-01-01T12:00:00Z',
        },
      ],
    };
    expect(describeGrant(g, NOW)).to.equal('grant payments/g1 is Invalid: ClusterRole admin is not in allowedRoles');
  });
});

describe('cli format: eks access-entry', () => {
  const agent = (subjects: AgentIdentity['spec']['subjects'], eks?: AgentIdentity['spec']['eks']): AgentIdentity =>
    agentIdentity('deploy-bot', { subjects, ...(eks ? { eks } : {}) });
  const arn = 'arn:aws:iam::123456789012:role/deploy-bot';

  it('prints create-access-entry with username and groups, and no access policy', () => {
    const text = eksAccessEntry(
      agent(
        [
          { kind: 'User', name: 'agent:deploy-bot' },
          { kind: 'Group', name: 'agentgate:agents' },
        ],
        { roleArn: arn, clusterName: 'prod' },
      ),
      {},
    );
    expect(text).to.contain('aws eks create-access-entry \\\n    --cluster-name prod \\\n    --principal-arn arn:aws:iam::123456789012:role/deploy-bot');
    expect(text).to.contain('--type STANDARD').and.contain('--username agent:deploy-bot').and.contain('--kubernetes-groups agentgate:agents');
    expect(text).to.contain('Do not run `aws eks associate-access-policy`');
    expect(text.split('\n').filter((l) => l.startsWith('aws eks associate-access-policy'))).to.have.length(0);
  });

  it('lets flags override the spec, and omits groups when there are none', () => {
    const text = eksAccessEntry(agent([{ kind: 'User', name: 'agent:deploy-bot' }], { roleArn: 'arn:aws:iam::000000000000:role/old' }), {
      roleArn: arn,
      cluster: 'my cluster',
    });
    expect(text).to.contain(`--principal-arn ${arn}`).and.contain("--cluster-name 'my cluster'");
    expect(text).to.not.contain('--kubernetes-groups');
  });

  it('says what to do when the role, cluster or username is missing or unusable', () => {
    const user = [{ kind: 'User' as const, name: 'agent:deploy-bot' }];
    expect(() => eksAccessEntry(agent(user), { cluster: 'c' })).to.throw(UsageError, /--role-arn.*spec\.eks\.roleArn.*EKS_ROLE_ARN/);
    expect(() => eksAccessEntry(agent(user), { roleArn: arn })).to.throw(UsageError, /--cluster/);
    expect(() => eksAccessEntry(agent(user), { roleArn: 'deploy-bot', cluster: 'c' })).to.throw(UsageError, 'not an IAM role ARN');
    expect(() => eksAccessEntry(agent([{ kind: 'ServiceAccount', name: 'bot', namespace: 'ci' }]), { roleArn: arn, cluster: 'c' })).to.throw(
      UsageError,
      'no User subject',
    );
    expect(() => eksAccessEntry(agent([{ kind: 'User', name: 'system:bot' }]), { roleArn: arn, cluster: 'c' })).to.throw(UsageError, 'system:');
  });
});
