import { expect } from 'chai';
import type { AgentIdentity } from '../../api/types.js';
import { agentIdentity } from '../../testing/fixtures.js';
import { DEFAULT_RULE_NAMES } from '../../webhook/rules/catalogue.js';
import { rulesView } from './views.js';

const agent = (spec: Partial<AgentIdentity['spec']>): AgentIdentity => agentIdentity('a', spec);

describe('cli/mcp/views: the rules an agent is told about', () => {
  it('are the defaults it keeps, then its own; a rule of its own replaces the default of that name', () => {
    const v = rulesView(
      agent({
        disabledDefaultRules: ['scale-to-zero'],
        approvalRules: [
          { name: 'delete', expression: 'false', action: 'RequireApproval' },
          { name: 'mine', expression: 'true', action: 'Deny', message: 'no' },
        ],
      }),
    );
    const names = v.map((r) => r.name);
    expect(names).to.not.include('scale-to-zero');
    expect(v.filter((r) => r.name === 'delete')).to.deep.equal([{ name: 'delete', action: 'RequireApproval', source: 'agent', expression: 'false' }]);
    expect(v[v.length - 1]).to.deep.equal({ name: 'mine', action: 'Deny', source: 'agent', expression: 'true', message: 'no' });
    expect(rulesView(undefined).map((r) => r.name)).to.deep.equal([...DEFAULT_RULE_NAMES]);
  });
});
