import { expect } from 'chai';
import { webhookExposure } from './webhook-exposure.js';
import type { NetworkPolicyLike } from './webhook-exposure.js';

const POD = { 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/component': 'webhook' };
const AGENT_NS = [{ name: 'payments', labels: { team: 'payments', 'kubernetes.io/metadata.name': 'payments' } }];
const np = (
  name: string,
  ingress: NonNullable<NetworkPolicyLike['spec']>['ingress'],
  podSelector = { matchLabels: { 'app.kubernetes.io/component': 'webhook' } },
): NetworkPolicyLike => ({
  metadata: { name, namespace: 'agentgate-system' },
  spec: { podSelector, policyTypes: ['Ingress'], ingress },
});
const input = (networkPolicies: NetworkPolicyLike[], port = 8443) => ({
  webhookNamespace: 'agentgate-system',
  podLabels: POD,
  port,
  networkPolicies,
  agentNamespaces: AGENT_NS,
});

describe('lib/webhook-exposure', () => {
  it('no NetworkPolicy selecting the webhook pods: every pod reaches it', () => {
    expect(webhookExposure(input([]))).to.include({ exposed: true });
    expect(webhookExposure(input([np('other', [], { matchLabels: { 'app.kubernetes.io/component': 'operator' } })])).exposed).to.equal(true);
  });

  it("the chart's default (port open to any source) is exposed; narrowed to control-plane CIDRs it is not", () => {
    expect(webhookExposure(input([np('agentgate-webhook', [{ ports: [{ port: 8443, protocol: 'TCP' }] }])])).exposed).to.equal(true);
    const narrowed = np('agentgate-webhook', [{ ports: [{ port: 8443 }], from: [{ ipBlock: { cidr: '10.0.0.0/24' } }] }]);
    expect(webhookExposure(input([narrowed]))).to.include({ exposed: false });
    expect(webhookExposure(input([np('w', [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }])])).exposed).to.equal(true);
  });

  it("names the agents' namespaces a namespaceSelector admits; rules for other ports do not count", () => {
    const e = webhookExposure(input([np('w', [{ from: [{ namespaceSelector: { matchLabels: { team: 'payments' } } }] }])]));
    expect(e).to.deep.include({ exposed: true, from: ['payments'] });
    expect(webhookExposure(input([np('w', [{ ports: [{ port: 9090 }] }])])).exposed).to.equal(false);
    expect(webhookExposure(input([np('w', [{ from: [{ namespaceSelector: { matchLabels: { team: 'monitoring' } } }] }])])).exposed).to.equal(false);
  });

  it('a port known only by name counts every numeric rule (never reports closed by mistake)', () => {
    expect(webhookExposure({ ...input([np('w', [{ ports: [{ port: 8443 }] }])], 0), portName: 'https' }).exposed).to.equal(true);
  });
});
