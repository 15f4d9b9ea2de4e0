import { expect } from 'chai';
import type { AgentIdentity } from '../api/types.js';
import { auditPolicy } from './policy.js';

const agent = (name: string, subjects: AgentIdentity['spec']['subjects']): AgentIdentity =>
  ({ apiVersion: 'agentgate.io/v1alpha1', kind: 'AgentIdentity', metadata: { name }, spec: { subjects } }) as AgentIdentity;

describe('audit policy', function () {
  it("selects exactly the agents' users, ServiceAccounts and groups, at Metadata level, and nothing else", function () {
    const p = auditPolicy([
      agent('a', [
        { kind: 'User', name: 'agent:deploy-bot' },
        { kind: 'Group', name: 'agentgate:agents' },
      ]),
      agent('b', [{ kind: 'ServiceAccount', name: 'bot', namespace: 'agents' }]),
    ]);
    expect(p.omitStages).to.deep.equal(['RequestReceived', 'ResponseStarted']);
    expect(p.rules).to.deep.equal([
      { level: 'Metadata', users: ['agent:deploy-bot', 'system:serviceaccount:agents:bot'] },
      { level: 'Metadata', userGroups: ['agentgate:agents'] },
      { level: 'None' },
    ]);
  });

  it('records nobody when there is no agent', function () {
    expect(auditPolicy([]).rules).to.deep.equal([{ level: 'None' }]);
  });
});
