import { expect } from 'chai';
import { agentMatchExpression, desiredConfigurations } from './configurations.js';
import { agentIdentity } from '../testing/fixtures.js';
import { verifyAgents } from '../boundary/verify.js';
import type { WebhookConfiguration } from '../boundary/types.js';
import { agent, base, CA_BUNDLE, findings, NOW, reviewed, routes } from '../testing/boundary.js';

describe('webhook/configurations', () => {
  it("routes exactly the agents' subjects: users, groups and ServiceAccounts", () => {
    const agents = [
      agentIdentity('a', {
        subjects: [
          { kind: 'User', name: 'agent:deploy-bot' },
          { kind: 'Group', name: 'agentgate:agents' },
        ],
      }),
      agentIdentity('b', { subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: 'tools' }] }),
    ];
    expect(agentMatchExpression(agents)).to.equal(
      'request.userInfo.username in ["agent:deploy-bot", "system:serviceaccount:tools:bot"] || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ["agentgate:agents"]))',
    );
    expect(agentMatchExpression([])).to.equal('false');
  });

  it('fails closed on every resource and operation for agents, and scopes protection narrowly', () => {
    const d = desiredConfigurations([agentIdentity()], {
      target: { url: 'https://127.0.0.1:9443/' },
      caBundle: 'Q0E=',
      agentgateUsers: ['system:serviceaccount:agentgate-system:agentgate-webhook'],
      cleanupUsers: ['system:serviceaccount:kube-system:namespace-controller'],
      timeoutSeconds: 10,
    });
    const agents = d.agents.webhooks![0]!;
    expect(agents).to.include({ failurePolicy: 'Fail', sideEffects: 'NoneOnDryRun', timeoutSeconds: 10 });
    expect(agents.rules).to.deep.equal([
      { apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'], scope: '*' },
    ]);
    expect(agents.clientConfig).to.deep.equal({ url: 'https://127.0.0.1:9443/validate/agents', caBundle: 'Q0E=' });
    expect(agents.matchConditions!.map((c) => c.name)).to.deep.equal(['not-agentgate', 'agent-subjects', 'not-self-review']);
    expect(agents.matchConditions![0]!.expression).to.contain('agentgate-webhook');
    const [objects, bindings] = d.protect.webhooks!;
    expect(objects!.rules![0]!.apiGroups).to.deep.equal(['agentgate.io']);
    expect(objects!.failurePolicy).to.equal('Fail');
    expect(bindings!.objectSelector).to.deep.equal({ matchLabels: { 'app.kubernetes.io/managed-by': 'agentgate' } });
    expect(bindings!.rules![0]!.resources).to.deep.equal(['rolebindings']);
    expect(bindings!.matchConditions![0]!.expression).to.contain("request.operation == 'DELETE'");
    expect(d.stamp.webhooks![0]!.rules).to.deep.equal([
      { apiGroups: ['agentgate.io'], apiVersions: ['*'], resources: ['accessgrants'], operations: ['CREATE'], scope: 'Namespaced' },
      { apiGroups: ['agentgate.io'], apiVersions: ['*'], resources: ['approvalrequests'], operations: ['UPDATE'], scope: 'Namespaced' },
    ]);
  });

  it('uses a service reference in-cluster', () => {
    const d = desiredConfigurations([], {
      target: { service: { name: 'agentgate-webhook', namespace: 'agentgate-system' } },
      agentgateUsers: [],
      timeoutSeconds: 10,
    });
    expect(d.protect.webhooks![0]!.clientConfig).to.deep.equal({
      service: { name: 'agentgate-webhook', namespace: 'agentgate-system', port: 443, path: '/validate/protect' },
    });
  });
});

describe('webhook/configurations: what it generates passes boundary verification (contract)', () => {
  it('pass verification for agents with User, Group and ServiceAccount subjects', () => {
    const agents = [
      agent('deploy-bot', [
        { kind: 'User', name: 'agent:deploy-bot' },
        { kind: 'Group', name: 'agentgate:agents' },
      ]),
      agent('sa-bot', [{ kind: 'ServiceAccount', name: 'bot', namespace: 'ci' }]),
    ];
    const cfg = desiredConfigurations(agents, {
      target: { service: { name: 'agentgate-webhook', namespace: 'agentgate-system' } },
      caBundle: CA_BUNDLE,
      agentgateUsers: ['system:serviceaccount:agentgate-system:agentgate-operator', 'system:serviceaccount:agentgate-system:agentgate-webhook'],
      cleanupUsers: ['system:serviceaccount:kube-system:namespace-controller'],
      timeoutSeconds: 10,
    });
    const s = reviewed(
      base({
        agents,
        namespaces: [...base().namespaces, { name: 'ci' }],
        webhooks: { agents: cfg.agents as WebhookConfiguration, protect: cfg.protect as WebhookConfiguration, stamp: cfg.stamp as WebhookConfiguration },
      }),
    );
    const report = verifyAgents(s, { now: NOW });
    for (const a of report.agents) expect(a.findings, `${a.agent}: ${JSON.stringify(a.findings, null, 1)}`).to.deep.equal([]);
    // Dropping an agent from the generated conditions is caught.
    const stale = desiredConfigurations([agents[0]!], { target: { url: 'https://x' }, caBundle: CA_BUNDLE, agentgateUsers: [], timeoutSeconds: 10 });
    const s2 = reviewed(
      base({
        agents,
        namespaces: [...base().namespaces, { name: 'ci' }],
        webhooks: { agents: stale.agents as WebhookConfiguration, protect: cfg.protect as WebhookConfiguration },
      }),
    );
    expect(routes(findings(s2, 'sa-bot'))).to.deep.equal(['Critical:WebhookSubjectNotMatched']);
  });
});
