import { expect } from 'chai';
import { boundaryCondition, countFindings, namespacesToReview, planAccessReviews, powerfulServiceAccounts, verifyAgent, verifyAgents } from './verify.js';
import { principalsOf } from './principals.js';
import { Route } from './types.js';
import { agent, base, CA_PEM, entry, findings, grant, grantBinding, NOT_AGENTGATE, NOW, reviewed, routes, USER_CONDITION, vwc } from '../testing/boundary.js';
import type { BoundarySnapshot, PlannedReview, WebhookEntry } from './types.js';

describe('boundary: a clean cluster', () => {
  it('has no findings and is verified', () => {
    const report = verifyAgents(reviewed(base()), { now: NOW });
    expect(report.agents).to.have.length(1);
    expect(report.agents[0]!.findings).to.deep.equal([]);
    expect(report.agents[0]!.verified).to.equal(true);
    expect(report.agents[0]!.reviews).to.be.greaterThan(30);
    expect(report.generatedAt).to.equal(NOW.toISOString());
  });

  it("ignores the agent's own active grant binding", () => {
    const g = grant('hotfix', 'payments', 'deploy-bot');
    expect(findings(reviewed(base({ grants: [g], roleBindings: [grantBinding(g)] })))).to.deep.equal([]);
  });

  it('ignores bindings that do not name the agent', () => {
    const s = base({
      clusterRoleBindings: [
        {
          metadata: { name: 'ops' },
          subjects: [
            { kind: 'User', name: 'alice' },
            { kind: 'Group', name: 'sre' },
          ],
          roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
        },
      ],
    });
    expect(findings(reviewed(s))).to.deep.equal([]);
  });
});

describe('boundary: standing and bypass bindings', () => {
  it("reports a ClusterRoleBinding to the agent's user as Critical StandingBinding", () => {
    const s = base({
      clusterRoleBindings: [
        { metadata: { name: 'bot-admin' }, subjects: [{ kind: 'User', name: 'agent:deploy-bot' }], roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
      ],
    });
    const f = findings(reviewed(s));
    expect(routes(f)).to.deep.equal(['Critical:StandingBinding']);
    expect(f[0]!.object).to.equal('ClusterRoleBinding/bot-admin');
    expect(f[0]!.message).to.contain('ClusterRole cluster-admin').and.contain('User agent:deploy-bot');
    expect(f[0]!.fix).to.contain('kubectl delete clusterrolebinding bot-admin');
  });

  it('reports a RoleBinding outside any grant', () => {
    const s = base({
      roleBindings: [
        {
          metadata: { name: 'manual', namespace: 'payments' },
          subjects: [{ kind: 'User', name: 'agent:deploy-bot' }],
          roleRef: { kind: 'ClusterRole', name: 'edit' },
        },
      ],
    });
    const f = findings(reviewed(s));
    expect(routes(f)).to.deep.equal(['Critical:StandingBinding']);
    expect(f[0]!.object).to.equal('RoleBinding/payments/manual');
    expect(f[0]!.fix).to.contain('kubectl delete rolebinding manual -n payments');
  });

  it("reports a binding to one of the agent's groups", () => {
    const a = agent('deploy-bot', [
      { kind: 'User', name: 'agent:deploy-bot' },
      { kind: 'Group', name: 'agentgate:agents' },
    ]);
    const s = base({
      agents: [a],
      roleBindings: [
        {
          metadata: { name: 'team', namespace: 'default' },
          subjects: [{ kind: 'Group', name: 'agentgate:agents' }],
          roleRef: { kind: 'ClusterRole', name: 'view' },
        },
      ],
    });
    const f = findings(reviewed(s));
    expect(routes(f)).to.deep.equal(['Critical:StandingBinding']);
    expect(f[0]!.message).to.contain('Group agentgate:agents');
  });

  it('reports a binding to the agent ServiceAccount, also by namespace defaulting and by username', () => {
    const a = agent('sa-bot', [{ kind: 'ServiceAccount', name: 'bot', namespace: 'ci' }]);
    const s = base({
      agents: [a],
      namespaces: [...base().namespaces, { name: 'ci' }],
      roleBindings: [
        {
          metadata: { name: 'implicit-ns', namespace: 'ci' },
          subjects: [{ kind: 'ServiceAccount', name: 'bot' }],
          roleRef: { kind: 'ClusterRole', name: 'edit' },
        },
        {
          metadata: { name: 'other-ns', namespace: 'payments' },
          subjects: [{ kind: 'ServiceAccount', name: 'bot' }],
          roleRef: { kind: 'ClusterRole', name: 'edit' },
        },
      ],
      clusterRoleBindings: [
        { metadata: { name: 'as-user' }, subjects: [{ kind: 'User', name: 'system:serviceaccount:ci:bot' }], roleRef: { kind: 'ClusterRole', name: 'view' } },
      ],
    });
    const f = findings(reviewed(s), 'sa-bot').filter((x) => x.route === Route.StandingBinding);
    expect(f.map((x) => x.object).sort()).to.deep.equal(['ClusterRoleBinding/as-user', 'RoleBinding/ci/implicit-ns']);
  });

  it('reports a grant binding whose grant is not Active, or expired past the grace period', () => {
    const pending = grant('later', 'payments', 'deploy-bot', { phase: 'AwaitingApproval' });
    const expired = grant('old', 'payments', 'deploy-bot', { phase: 'Active', expiresAt: '2030-01-01T11:00:00Z' });
    const justExpired = grant('just', 'payments', 'deploy-bot', { phase: 'Active', expiresAt: '2030-01-01T11:59:30Z' });
    const s = base({ grants: [pending, expired, justExpired], roleBindings: [grantBinding(pending), grantBinding(expired), grantBinding(justExpired)] });
    const f = findings(reviewed(s));
    expect(f.map((x) => x.object).sort()).to.deep.equal(['RoleBinding/payments/agentgate-later', 'RoleBinding/payments/agentgate-old']);
    expect(f.find((x) => x.object?.endsWith('later'))!.message).to.contain('is AwaitingApproval');
    expect(f.find((x) => x.object?.endsWith('old'))!.message).to.contain('expired at 2030-01-01T11:00:00Z');
    // A zero grace period makes the just-expired one standing too.
    const strict = verifyAgent(s.agents[0]!, reviewed(s), { now: NOW, expiryGraceMs: 0 });
    expect(strict.findings.filter((x) => x.route === Route.StandingBinding)).to.have.length(3);
  });

  it('does not accept a binding that only looks managed: no ownerReference, wrong uid, or other namespace', () => {
    const g = grant('hotfix', 'payments', 'deploy-bot');
    const noOwner = grantBinding(g);
    noOwner.metadata!.name = 'no-owner';
    noOwner.metadata!.ownerReferences = [];
    const wrongUid = grantBinding(g);
    wrongUid.metadata!.name = 'wrong-uid';
    wrongUid.metadata!.ownerReferences = [{ kind: 'AccessGrant', name: 'hotfix', uid: 'someone-else' }];
    const otherNs = grantBinding(g);
    otherNs.metadata!.name = 'other-ns';
    otherNs.metadata!.namespace = 'default';
    const f = findings(reviewed(base({ grants: [g], roleBindings: [noOwner, wrongUid, otherNs] })));
    expect(
      f
        .filter((x) => x.route === Route.StandingBinding)
        .map((x) => x.object)
        .sort(),
    ).to.deep.equal(['RoleBinding/default/other-ns', 'RoleBinding/payments/no-owner', 'RoleBinding/payments/wrong-uid']);
  });

  it('reports a grant binding edited to bind another role (TamperedBinding)', () => {
    const g = grant('hotfix', 'payments', 'deploy-bot');
    const f = findings(reviewed(base({ grants: [g], roleBindings: [grantBinding(g, undefined, 'cluster-admin')] })));
    expect(routes(f)).to.deep.equal(['Critical:TamperedBinding']);
    expect(f[0]!.message).to.contain('grants ClusterRole edit').and.contain('binds ClusterRole cluster-admin');
  });

  it("reports another agent's grant binding that names this agent (ForeignGrantBinding)", () => {
    const other = agent('other-bot', [
      { kind: 'User', name: 'agent:other' },
      { kind: 'Group', name: 'agentgate:agents' },
    ]);
    const me = agent('deploy-bot', [
      { kind: 'User', name: 'agent:deploy-bot' },
      { kind: 'Group', name: 'agentgate:agents' },
    ]);
    const g = grant('other-hotfix', 'payments', 'other-bot');
    const b = grantBinding(g, [
      { kind: 'User', name: 'agent:other', apiGroup: '' },
      { kind: 'Group', name: 'agentgate:agents', apiGroup: '' },
    ]);
    const s = reviewed(base({ agents: [me, other], grants: [g], roleBindings: [b] }));
    const bindingRoutes = (n: string) => routes(findings(s, n).filter((x) => !x.route.startsWith('Webhook')));
    expect(bindingRoutes('deploy-bot')).to.deep.equal(['Critical:ForeignGrantBinding']);
    expect(bindingRoutes('other-bot')).to.deep.equal([]);
  });

  it('reports any binding of a suspended agent', () => {
    const g = grant('hotfix', 'payments', 'deploy-bot');
    const s = base({ agents: [agent('deploy-bot', undefined, { suspended: true })], grants: [g], roleBindings: [grantBinding(g)] });
    const f = findings(reviewed(s));
    expect(routes(f)).to.deep.equal(['Critical:StandingBinding']);
    expect(f[0]!.message).to.contain('suspended');
  });

  it('reports non-bootstrap bindings to system:authenticated: Critical with write rules, Warning read-only, none for bootstrap', () => {
    const s = base({
      clusterRoleBindings: [
        ...base().clusterRoleBindings,
        { metadata: { name: 'everyone-edit' }, subjects: [{ kind: 'Group', name: 'system:authenticated' }], roleRef: { kind: 'ClusterRole', name: 'edit' } },
        { metadata: { name: 'everyone-view' }, subjects: [{ kind: 'Group', name: 'system:authenticated' }], roleRef: { kind: 'ClusterRole', name: 'view' } },
      ],
    });
    const f = findings(reviewed(s));
    expect(f.map((x) => `${x.severity}:${x.route}:${x.object}`)).to.deep.equal([
      'Critical:BroadGroupBinding:ClusterRoleBinding/everyone-edit',
      'Warning:BroadGroupBinding:ClusterRoleBinding/everyone-view',
    ]);
  });
});

describe('boundary: escalation via SubjectAccessReview', () => {
  it('plans reviews for every principal of the agent, cluster-wide and per namespace', () => {
    const a = agent('deploy-bot', [
      { kind: 'User', name: 'agent:deploy-bot' },
      { kind: 'Group', name: 'agentgate:agents' },
    ]);
    const plan = planAccessReviews(base({ agents: [a] }));
    expect(principalsOf(a).map((p) => p.label)).to.deep.equal(['User agent:deploy-bot', 'Group agentgate:agents']);
    const has = (p: Partial<PlannedReview>) => plan.some((r) => Object.entries(p).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v));
    expect(has({ verb: 'create', resource: 'rolebindings', namespace: 'payments' })).to.equal(true);
    expect(has({ verb: 'create', resource: 'rolebindings', namespace: '' })).to.equal(true);
    expect(has({ verb: 'create', resource: 'clusterrolebindings', namespace: '' })).to.equal(true);
    expect(has({ verb: 'impersonate', resource: 'users' })).to.equal(true);
    expect(has({ verb: 'bind', resource: 'clusterroles', namespace: 'payments' })).to.equal(true);
    expect(has({ verb: 'escalate', resource: 'clusterroles' })).to.equal(true);
    expect(has({ verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'payments' })).to.equal(true);
    expect(has({ verb: 'create', resource: 'certificatesigningrequests' })).to.equal(true);
    expect(has({ verb: 'delete', resource: 'validatingwebhookconfigurations' })).to.equal(true);
    expect(has({ verb: 'patch', resource: 'customresourcedefinitions' })).to.equal(true);
    expect(has({ verb: 'patch', resource: 'approvalrequests', namespace: 'payments' })).to.equal(true);
    expect(has({ verb: 'update', resource: 'approvalrequests', subresource: 'status' })).to.equal(true);
    expect(has({ verb: 'delete', resource: 'auditevents', namespace: 'agentgate-system' })).to.equal(true);
    expect(has({ verb: 'update', resource: 'agentidentities' })).to.equal(true);
    expect(has({ verb: 'get', resource: 'secrets', namespace: 'agentgate-system' })).to.equal(true);
    expect(has({ verb: 'get', resource: 'secrets', namespace: 'payments' })).to.equal(false);
    expect(plan.some((r) => r.principal.label === 'Group agentgate:agents' && r.principal.user === undefined)).to.equal(true);
    // An agent may request grants: creating accessgrants is never a finding, so never asked.
    expect(has({ verb: 'create', resource: 'accessgrants' })).to.equal(false);
    // No duplicates.
    expect(new Set(plan.map((r) => JSON.stringify(r))).size).to.equal(plan.length);
  });

  it('reviews namespaces where it may hold grants, where any RoleBinding names it, and agentgate-system', () => {
    const s = base({
      namespaces: [...base().namespaces, { name: 'labelled', labels: { 'agentgate.io/agents-allowed': 'true' } }],
      agents: [
        agent('deploy-bot', undefined, {
          allowedNamespaces: { names: ['payments', 'gone'], selector: { matchLabels: { 'agentgate.io/agents-allowed': 'true' } } },
        }),
      ],
      roleBindings: [
        {
          metadata: { name: 'x', namespace: 'kube-system' },
          subjects: [{ kind: 'Group', name: 'system:authenticated' }],
          roleRef: { kind: 'ClusterRole', name: 'view' },
        },
      ],
    });
    expect(namespacesToReview(s.agents[0]!, s)).to.deep.equal(['agentgate-system', 'kube-system', 'labelled', 'payments']);
  });

  it('reports an allowed escalation review as Critical Escalation, naming the binding from the review reason', () => {
    const s = reviewed(base(), (r) =>
      r.verb === 'create' && r.resource === 'rolebindings' && r.namespace === 'payments'
        ? 'RBAC: allowed by RoleBinding "rb-writer/payments" of ClusterRole "admin" to User "agent:deploy-bot"'
        : false,
    );
    const f = findings(s);
    expect(routes(f)).to.deep.equal(['Critical:Escalation']);
    expect(f[0]!.object).to.equal('create rolebindings.rbac.authorization.k8s.io in namespace payments');
    expect(f[0]!.message).to.contain('User agent:deploy-bot may').and.contain('rb-writer/payments');
    expect(f[0]!.fix).to.contain('kubectl auth can-i create rolebindings.rbac.authorization.k8s.io -n payments --as agent:deploy-bot');
  });

  it('reports a cluster-wide capability once, not again per namespace', () => {
    const s = reviewed(base(), (r) =>
      r.verb === 'impersonate' || (r.verb === 'patch' && r.resource === 'approvalrequests' && !r.subresource) ? 'RBAC: allowed' : false,
    );
    const f = findings(s);
    expect(f.map((x) => x.object)).to.deep.equal([
      'impersonate groups cluster-wide',
      'impersonate serviceaccounts cluster-wide',
      'impersonate uids.authentication.k8s.io cluster-wide',
      'impersonate users cluster-wide',
      'patch approvalrequests.agentgate.io cluster-wide',
    ]);
  });

  it("reports write access to another agent's grant by name, but never creating grants", () => {
    const other = grant('theirs', 'payments', 'other-bot', { phase: 'Pending' });
    const s = reviewed(base({ grants: [other] }), (r) =>
      r.resource === 'accessgrants' && r.name === 'theirs' && r.verb === 'patch' ? 'RBAC: allowed by Role' : false,
    );
    const f = findings(s);
    expect(routes(f)).to.deep.equal(['Critical:Escalation']);
    expect(f[0]!.object).to.equal('patch accessgrants.agentgate.io theirs in namespace payments');
    expect(f[0]!.message).to.contain("agent other-bot's grant");
  });

  it('reports unanswered reviews as a Warning, never as clean', () => {
    const f = findings(base());
    expect(routes(f)).to.deep.equal(['Warning:ReviewMissing']);
    expect(verifyAgents(base(), { now: NOW }).agents[0]!.verified).to.equal(true);
    expect(f[0]!.fix).to.contain('subjectaccessreviews');
  });
});

describe("boundary: the agents' webhook configuration", () => {
  const withAgents = (...entries: WebhookEntry[]) =>
    reviewed(base({ webhooks: { agents: vwc('agentgate-agents', ...entries), protect: base().webhooks.protect! } }));

  it('reports a missing configuration, or one without webhooks', () => {
    expect(routes(findings(reviewed(base({ webhooks: { protect: base().webhooks.protect! } }))))).to.deep.equal(['Critical:WebhookMissing']);
    expect(findings(withAgents())[0]!.message).to.contain('has no webhooks');
  });

  it('reports failurePolicy Ignore', () => {
    const f = findings(withAgents(entry({ failurePolicy: 'Ignore' })));
    expect(routes(f)).to.deep.equal(['Critical:WebhookFailOpen']);
    expect(f[0]!.fix).to.contain('"value":"Fail"');
  });

  it('treats an absent failurePolicy as Fail (the v1 default)', () => {
    const e = entry();
    delete e.failurePolicy;
    expect(findings(withAgents(e))).to.deep.equal([]);
  });

  it('reports missing CONNECT and missing operations; accepts "*"', () => {
    const noConnect = entry({ rules: [{ operations: ['CREATE', 'UPDATE', 'DELETE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }] });
    expect(routes(findings(withAgents(noConnect)))).to.deep.equal(['Critical:WebhookMissingConnect']);
    const noDelete = entry({ rules: [{ operations: ['CREATE', 'UPDATE', 'CONNECT'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }] });
    const f = findings(withAgents(noDelete));
    expect(routes(f)).to.deep.equal(['Critical:WebhookMissingOperation']);
    expect(f[0]!.message).to.contain('DELETE');
    expect(findings(withAgents(entry({ rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }] })))).to.deep.equal([]);
  });

  it('accepts operations split over several rules that each cover everything', () => {
    const split = entry({
      rules: [
        { operations: ['CREATE', 'UPDATE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] },
        { operations: ['DELETE', 'CONNECT'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], scope: '*' },
      ],
    });
    expect(findings(withAgents(split))).to.deep.equal([]);
  });

  it('reports rules that cover only some resources, no subresources, or only one scope', () => {
    for (const rule of [
      { operations: ['*'], apiGroups: [''], apiVersions: ['*'], resources: ['*/*'] },
      { operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] },
      { operations: ['*'], apiGroups: ['*'], apiVersions: ['v1'], resources: ['*/*'] },
      { operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], scope: 'Namespaced' },
    ]) {
      const f = findings(withAgents(entry({ rules: [rule] })));
      expect(new Set(routes(f)), JSON.stringify(rule)).to.deep.equal(new Set(['Critical:WebhookMissingResources']));
      expect(f).to.have.length(4);
    }
  });

  it('evaluates matchConditions with CEL and reports a subject they miss', () => {
    const a = agent('deploy-bot', [
      { kind: 'User', name: 'agent:deploy-bot' },
      { kind: 'Group', name: 'bots' },
      { kind: 'ServiceAccount', name: 'bot', namespace: 'ci' },
    ]);
    const s = reviewed(base({ agents: [a] }));
    const f = findings(s).filter((x) => x.route === Route.WebhookSubjectNotMatched);
    expect(f.map((x) => x.message.match(/for (\S+ \S+)/)?.[1])).to.deep.equal(['Group bots', 'ServiceAccount ci/bot']);
    expect(f[0]!.message).to.contain('matchCondition "agents"');
    expect(f[0]!.severity).to.equal('Critical');
    // Conditions that cover them all: clean.
    const covering = entry({
      matchConditions: [
        {
          name: 'agents',
          expression: "request.userInfo.username in ['agent:deploy-bot', 'system:serviceaccount:ci:bot'] || 'bots' in request.userInfo.groups",
        },
        NOT_AGENTGATE,
      ],
    });
    const ok = reviewed(base({ agents: [a], webhooks: { agents: vwc('agentgate-agents', covering), protect: base().webhooks.protect! } }));
    expect(findings(ok).filter((x) => x.route.startsWith('Webhook'))).to.deep.equal([]);
  });

  it("reports a matchCondition that lets some of the agent's operations skip the webhook", () => {
    const noExec = entry({ matchConditions: [USER_CONDITION, { name: 'skip-exec', expression: "request.subResource != 'exec'" }] });
    const f = findings(withAgents(noExec));
    expect(routes(f)).to.deep.equal(['Critical:WebhookSubjectNotMatched']);
    expect(f[0]!.message).to.contain('skip-exec').and.contain('CONNECT pods/exec');
  });

  it('falls back to a structural check for conditions the CEL environment cannot evaluate', () => {
    const authz = entry({
      matchConditions: [{ name: 'authz', expression: "authorizer.requestResource.check('x').allowed() || request.userInfo.username == 'agent:deploy-bot'" }],
    });
    const f = findings(withAgents(authz));
    expect(routes(f)).to.deep.equal(['Warning:WebhookMatchConditionUnverified']);
    const authzMissing = entry({ matchConditions: [{ name: 'authz', expression: "authorizer.requestResource.check('x').allowed()" }] });
    expect(routes(findings(withAgents(authzMissing)))).to.deep.equal(['Critical:WebhookSubjectNotMatched']);
  });

  it('counts a condition that errors at run time as matched (failurePolicy Fail rejects the call)', () => {
    const erroring = entry({ matchConditions: [USER_CONDITION, { name: 'err', expression: 'request.userInfo.extra["x"][0] == "y"' }] });
    expect(findings(withAgents(erroring))).to.deep.equal([]);
  });

  it('reports a namespaceSelector exempting a namespace the agent works in as Critical, else Warning', () => {
    const exemptPayments = entry({
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['payments'] }] },
    });
    const f = findings(withAgents(exemptPayments));
    expect(routes(f)).to.deep.equal(['Critical:WebhookExemptsNamespaces']);
    expect(f[0]!.message).to.contain('payments');
    const exemptKubeSystem = entry({
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] },
    });
    expect(routes(findings(withAgents(exemptKubeSystem)))).to.deep.equal(['Warning:WebhookExemptsNamespaces']);
  });

  it('reports any objectSelector', () => {
    const f = findings(withAgents(entry({ objectSelector: { matchLabels: { 'agentgate.io/gated': 'true' } } })));
    expect(routes(f)).to.deep.equal(['Critical:WebhookExemptsObjects']);
    expect(f[0]!.message).to.contain('agentgate.io/gated=true');
  });

  it('reports a missing, garbage or expired CA bundle as a Warning (fails closed)', () => {
    const noCa = entry({ clientConfig: { url: 'https://127.0.0.1:9443/validate' } });
    expect(routes(findings(withAgents(noCa)))).to.deep.equal(['Warning:WebhookBadCABundle']);
    const garbage = entry({ clientConfig: { url: 'https://x/validate', caBundle: Buffer.from('not a cert').toString('base64') } });
    expect(findings(withAgents(garbage))[0]!.message).to.contain('without a PEM certificate');
    const corrupt = entry({ clientConfig: { url: 'https://x/validate', caBundle: Buffer.from(CA_PEM.replace('MIIB', 'AAAA')).toString('base64') } });
    expect(findings(withAgents(corrupt))[0]!.message).to.contain('does not parse');
    const report = verifyAgents(withAgents(entry()), { now: new Date('2200-01-01T00:00:00Z') });
    expect(report.agents[0]!.findings.map((x) => x.route)).to.deep.equal([Route.WebhookBadCABundle]);
    expect(report.agents[0]!.findings[0]!.message).to.contain('expired');
  });

  it('reports a failed endpoint probe: Warning under Fail, Critical under Ignore; nothing when not probed', () => {
    const probes = [
      { configuration: 'agentgate-agents', webhook: 'agents.agentgate.io', target: 'https://127.0.0.1:1/healthz', ok: false, error: 'ECONNREFUSED' },
    ];
    const s = { ...withAgents(entry()), webhookProbes: probes };
    const f = findings(s);
    expect(routes(f)).to.deep.equal(['Warning:WebhookUnreachable']);
    expect(f[0]!.message).to.contain('ECONNREFUSED');
    const open = { ...withAgents(entry({ failurePolicy: 'Ignore' })), webhookProbes: probes };
    expect(routes(findings(open))).to.deep.equal(['Critical:WebhookFailOpen', 'Critical:WebhookUnreachable']);
    expect(findings({ ...withAgents(entry()), webhookProbes: [{ ...probes[0]!, ok: true }] })).to.deep.equal([]);
  });

  it("is satisfied by one good entry among several; otherwise shows every entry's gaps", () => {
    const bad = entry({ name: 'bad.agentgate.io', failurePolicy: 'Ignore' });
    expect(findings(withAgents(bad, entry()))).to.deep.equal([]);
    const alsoBad = entry({ name: 'bad2.agentgate.io', rules: [] });
    const f = findings(withAgents(bad, alsoBad));
    expect(f.some((x) => x.message.includes('bad.agentgate.io'))).to.equal(true);
    expect(f.some((x) => x.message.includes('bad2.agentgate.io'))).to.equal(true);
  });

  it('reports the protect webhook missing or failing open, as a Warning', () => {
    const missing = reviewed(base({ webhooks: { agents: vwc('agentgate-agents', entry()) } }));
    expect(routes(findings(missing))).to.deep.equal(['Warning:ProtectWebhookMissing']);
    const open = reviewed(
      base({ webhooks: { agents: vwc('agentgate-agents', entry()), protect: vwc('agentgate-protect', entry({ failurePolicy: 'Ignore' })) } }),
    );
    expect(routes(findings(open))).to.deep.equal(['Warning:ProtectWebhookFailOpen']);
  });

  it("reports the approval-stamps policy missing, and a webhook port reachable from the agent's namespaces, as Warnings", () => {
    const hooks = { agents: vwc('agentgate-agents', entry()), protect: vwc('agentgate-protect', entry()) };
    const noPolicy = reviewed(base({ webhooks: hooks, approvalPolicy: {} }));
    expect(routes(findings(noPolicy))).to.deep.equal(['Warning:ApprovalPolicyMissing']);
    const network = { webhookNamespace: 'agentgate-system', podLabels: { app: 'agentgate-webhook' }, port: 8443 };
    const open = reviewed(base({ webhooks: hooks, webhookNetwork: { ...network, networkPolicies: [] } }));
    expect(routes(findings(open))).to.deep.equal(['Warning:WebhookPortExposed']);
    const narrowed = reviewed(
      base({
        webhooks: hooks,
        webhookNetwork: {
          ...network,
          networkPolicies: [
            {
              metadata: { name: 'w', namespace: 'agentgate-system' },
              spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/28' } }] }] },
            },
          ],
        },
      }),
    );
    expect(routes(findings(narrowed))).to.deep.equal([]);
  });
});

describe('boundary: indirect routes', () => {
  const powerful = (): Partial<BoundarySnapshot> => ({
    serviceAccounts: [...base().serviceAccounts, { namespace: 'payments', name: 'deployer' }, { namespace: 'kube-system', name: 'weak' }],
    clusterRoleBindings: [
      ...base().clusterRoleBindings,
      {
        metadata: { name: 'deployer-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'payments' }],
        roleRef: { kind: 'ClusterRole', name: 'cluster-admin' },
      },
    ],
    roleBindings: [
      {
        metadata: { name: 'weak-view', namespace: 'kube-system' },
        subjects: [{ kind: 'ServiceAccount', name: 'weak' }],
        roleRef: { kind: 'ClusterRole', name: 'view' },
      },
    ],
  });

  it('finds ServiceAccounts with write power or Secret reads, not read-only ones', () => {
    const s = base(powerful());
    expect(powerfulServiceAccounts(s).map((p) => `${p.sa.namespace}/${p.sa.name} ${p.via}`)).to.deep.equal([
      'payments/deployer ClusterRoleBinding/deployer-admin (ClusterRole cluster-admin)',
    ]);
  });

  it('plans workload and Secret creation reviews only where a powerful ServiceAccount lives', () => {
    expect(planAccessReviews(base()).some((r) => r.resource === 'pods')).to.equal(false);
    const plan = planAccessReviews(base(powerful()));
    expect(
      plan
        .filter((r) => r.verb === 'create' && r.resource === 'pods')
        .map((r) => r.namespace)
        .sort(),
    ).to.deep.equal(['', 'payments']);
    expect(plan.some((r) => r.resource === 'deployments' && r.namespace === 'payments')).to.equal(true);
    expect(plan.some((r) => r.resource === 'secrets' && r.verb === 'create' && r.namespace === 'payments')).to.equal(true);
  });

  it('reports pod and Secret creation next to a powerful ServiceAccount as Warnings', () => {
    const s = reviewed(base(powerful()), (r) =>
      r.namespace === 'payments' && r.verb === 'create' && ['pods', 'deployments', 'secrets'].includes(r.resource)
        ? 'RBAC: allowed by RoleBinding "agentgate-hotfix/payments"'
        : false,
    );
    const f = findings(s);
    expect(routes(f)).to.deep.equal(['Warning:IndirectPodCreation', 'Warning:IndirectPodCreation', 'Warning:IndirectServiceAccountToken']);
    expect(f[0]!.message).to.contain('ServiceAccount payments/deployer via ClusterRoleBinding/deployer-admin');
    expect(verifyAgents(s, { now: NOW }).agents[0]!.verified).to.equal(true);
  });

  it("does not count the agent's own ServiceAccount as a route", () => {
    const a = agent('sa-bot', [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'payments' }]);
    const s = base({ ...powerful(), agents: [a] });
    expect(planAccessReviews(s).some((r) => r.resource === 'pods')).to.equal(false);
  });
});

describe('boundary: report helpers', () => {
  it('selects agents by name and sorts findings Critical first', () => {
    const s = reviewed(
      base({
        agents: [agent('b-bot'), agent('a-bot', [{ kind: 'User', name: 'agent:a' }])],
        webhooks: { agents: vwc('agentgate-agents', entry({ failurePolicy: 'Ignore' })) },
      }),
    );
    const all = verifyAgents(s, { now: NOW });
    expect(all.agents.map((a) => a.agent)).to.deep.equal(['a-bot', 'b-bot']);
    const a = all.agents[0]!;
    expect(a.findings[0]!.severity).to.equal('Critical');
    expect(a.findings.at(-1)!.severity).to.equal('Warning');
    expect(verifyAgents(s, { now: NOW, agents: ['b-bot'] }).agents.map((x) => x.agent)).to.deep.equal(['b-bot']);
  });

  it('builds the BoundaryVerified condition', () => {
    const critical = verifyAgents(reviewed(base({ webhooks: {} })), { now: NOW }).agents[0]!;
    const c = boundaryCondition(critical);
    expect(c).to.include({ type: 'BoundaryVerified', status: 'False', reason: 'BypassRoutesFound' });
    expect(c.message).to.contain('WebhookMissing').and.contain('agentgate verify deploy-bot');
    expect(countFindings(critical.findings)).to.deep.equal({ Critical: 1, Warning: 1 });
    const warn = verifyAgents(base(), { now: NOW }).agents[0]!;
    expect(boundaryCondition(warn)).to.include({ status: 'True', reason: 'VerifiedWithWarnings' });
    expect(boundaryCondition(verifyAgents(reviewed(base()), { now: NOW }).agents[0]!)).to.include({ status: 'True', reason: 'Verified' });
  });
});

describe('boundary: the request-access role', function () {
  it('accepts rules that only create and read AccessGrants, and nothing broader', async function () {
    const { onlyRequestsAccess } = await import('./verify.js');
    expect(
      onlyRequestsAccess([
        { apiGroups: ['agentgate.io'], resources: ['accessgrants'], verbs: ['create', 'get', 'list', 'watch'] },
        { apiGroups: ['agentgate.io'], resources: ['accessgrants/status'], verbs: ['get'] },
      ]),
    ).to.equal(true);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['accessgrants'], verbs: ['update'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['accessgrants/status'], verbs: ['create'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['*'], verbs: ['create'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['*'], resources: ['accessgrants'], verbs: ['create'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['accessgrants'], verbs: ['*'] }])).to.equal(false);
    expect(onlyRequestsAccess([])).to.equal(false);
    expect(onlyRequestsAccess(undefined)).to.equal(false);
  });

  it('accepts reading approval requests and identities (agentgate mcp), never writing them', async function () {
    const { onlyRequestsAccess } = await import('./verify.js');
    const { readFileSync } = await import('node:fs');
    const yaml = (await import('js-yaml')).default;
    const roles = yaml.loadAll(readFileSync(new URL('../../config/rbac/requester.yaml', import.meta.url), 'utf8')) as Array<{
      metadata: { name: string };
      rules: [];
    }>;
    expect(roles.map((r) => r.metadata.name)).to.deep.equal(['agentgate-requester', 'agentgate-identity-reader']);
    for (const r of roles) expect(onlyRequestsAccess(r.rules), r.metadata.name).to.equal(true);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['approvalrequests'], verbs: ['create'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['approvalrequests'], verbs: ['update', 'patch'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['agentidentities'], verbs: ['get', 'patch'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['auditevents'], verbs: ['get'] }])).to.equal(false);
    expect(onlyRequestsAccess([{ apiGroups: ['agentgate.io'], resources: ['accessgrants', 'approvalrequests'], verbs: ['create'] }])).to.equal(false);
  });
});
