import { expect } from 'chai';
import type { ApprovalRule } from '../../api/types.js';
import { DEFAULT_RULES, DEFAULT_RULE_NAMES } from './catalogue.js';
import { buildRuleSet, evaluateRules } from './evaluate.js';
import type { CompiledRuleSet } from './evaluate.js';
import { deployment, vars } from '../../cel/testdata.js';

const podDelete = (namespace: string) => vars({ op: 'DELETE', resource: 'pods', namespace, oldObject: { metadata: { name: 'p' } } });
const cmCreate = (namespace = 'default') => vars({ op: 'CREATE', resource: 'configmaps', namespace, object: { data: {} } });

const defaultsOnly = (): CompiledRuleSet => buildRuleSet(DEFAULT_RULES, undefined, undefined, undefined);

describe('rules/evaluate', () => {
  describe('buildRuleSet', () => {
    it('compiles the defaults without errors or warnings', () => {
      const set = defaultsOnly();
      expect(set.errors).to.deep.equal([]);
      expect(set.warnings).to.deep.equal([]);
      expect(set.rules.map((r) => r.name)).to.deep.equal([...DEFAULT_RULE_NAMES]);
      expect(set.rules.every((r) => r.source === 'default')).to.equal(true);
    });

    it('orders defaults, then agent rules, then grant rules', () => {
      const set = buildRuleSet(
        DEFAULT_RULES,
        [{ name: 'agent-one', expression: 'false', action: 'Deny' }],
        [{ name: 'grant-one', expression: 'false', action: 'Deny' }],
        [],
      );
      expect(set.rules.map((r) => r.name).slice(-2)).to.deep.equal(['agent-one', 'grant-one']);
      expect(set.rules.at(-1)).to.include({ source: 'grant', index: 0 });
    });

    it('drops disabled defaults and warns about unknown names', () => {
      const set = buildRuleSet(DEFAULT_RULES, [], [], ['delete', 'no-such-rule']);
      expect(set.rules.map((r) => r.name)).not.to.include('delete');
      expect(set.rules.map((r) => r.name)).to.include('namespace-delete');
      expect(set.warnings).to.deep.equal(['spec.disabledDefaultRules: "no-such-rule" is not a built-in default rule']);
      expect(set.errors).to.deep.equal([]);
    });

    it('an agent rule with a default name replaces the default', () => {
      const agent: ApprovalRule[] = [
        { name: 'delete', expression: "request.operation == 'DELETE' && request.namespace.startsWith('prod')", action: 'RequireApproval' },
      ];
      const set = buildRuleSet(DEFAULT_RULES, agent, [], []);
      const deletes = set.rules.filter((r) => r.name === 'delete');
      expect(deletes).to.have.length(1);
      expect(deletes[0]).to.include({ source: 'agent', index: 0, replacesDefault: true });
      expect(evaluateRules(set, podDelete('dev')).verdict).to.equal('Allow');
      expect(evaluateRules(set, podDelete('prod-eu')).verdict).to.equal('RequireApproval');
      expect(evaluateRules(defaultsOnly(), podDelete('dev')).verdict).to.equal('RequireApproval');
    });

    it('a grant rule with a default name replaces the default', () => {
      const set = buildRuleSet(DEFAULT_RULES, [], [{ name: 'delete', expression: 'false', action: 'RequireApproval' }], []);
      expect(set.errors).to.deep.equal([]);
      expect(set.rules.find((r) => r.name === 'delete')).to.include({ source: 'grant' });
      expect(evaluateRules(set, podDelete('dev')).verdict).to.equal('Allow');
    });

    it('a grant rule may not replace an AgentIdentity rule', () => {
      const set = buildRuleSet(
        DEFAULT_RULES,
        [{ name: 'no-prod', expression: "request.namespace == 'prod'", action: 'Deny' }],
        [{ name: 'no-prod', expression: 'false', action: 'Deny' }],
        [],
      );
      expect(set.errors).to.have.length(1);
      expect(set.errors[0]?.text).to.contain('spec.approvalRules[0].name: rule name "no-prod" is already used by AgentIdentity');
      expect(set.rules.find((r) => r.name === 'no-prod')).to.include({ source: 'agent' });
      const result = evaluateRules(set, cmCreate('prod'));
      expect(result.verdict).to.equal('Deny');
      expect(result.reasons[0]).to.contain('AccessGrant spec.approvalRules[0].name');
    });

    it('reports compile errors by source path, index, line and column', () => {
      const agent: ApprovalRule[] = [
        { name: 'ok-one', expression: 'true', action: 'Allow' },
        { name: 'ok-two', expression: 'false', action: 'Deny' },
        { name: 'broken', expression: "request.name == 'a' &&& true", action: 'Deny' },
      ];
      const set = buildRuleSet(DEFAULT_RULES, agent, [], []);
      expect(set.errors).to.have.length(1);
      const err = set.errors[0]!;
      expect(err).to.include({ source: 'agent', index: 2, ruleName: 'broken', field: 'expression', path: 'spec.approvalRules[2].expression', line: 1 });
      expect(err.text).to.match(/^spec\.approvalRules\[2\]\.expression: syntax error: .+ at line 1 column \d+$/);
      expect(set.rules.map((r) => r.name)).not.to.include('broken');
    });

    it('rejects duplicate names within one source', () => {
      const set = buildRuleSet(
        DEFAULT_RULES,
        [
          { name: 'same', expression: 'true', action: 'Deny' },
          { name: 'same', expression: 'false', action: 'Deny' },
        ],
        [],
        [],
      );
      expect(set.errors.map((e) => e.text)).to.deep.equal(['spec.approvalRules[1].name: duplicate rule name "same" (also spec.approvalRules[0])']);
    });

    it('a disabled default can be re-added under its name as a fresh agent rule', () => {
      const set = buildRuleSet(DEFAULT_RULES, [{ name: 'delete', expression: 'false', action: 'Deny' }], [], ['delete']);
      expect(set.rules.find((r) => r.name === 'delete')).to.deep.include({ source: 'agent', action: 'Deny' });
      expect(set.rules.find((r) => r.name === 'delete')).not.to.have.property('replacesDefault');
    });
  });

  describe('evaluateRules', () => {
    it('Allow (no objection) for a benign call, with nothing matched', () => {
      const r = evaluateRules(defaultsOnly(), cmCreate());
      expect(r).to.deep.equal({ verdict: 'Allow', reasons: [], matched: [], errors: [], exemptedBy: [] });
    });

    it('Deny when a rule read a variable that could not be converted, even where the rule itself came out false', () => {
      let deep: unknown = {};
      for (let i = 0; i < 600; i++) deep = { a: deep };
      const reads = buildRuleSet([], [{ name: 'reads-object', expression: 'object != null && false', action: 'Deny' }], [], []);
      const r = evaluateRules(reads, vars({ op: 'CREATE', resource: 'configmaps', object: deep }));
      expect(r.verdict).to.equal('Deny');
      expect(r.reasons).to.deep.equal(['cannot prepare rule variables: object: object nesting exceeds 512 levels']);
      const ignores = buildRuleSet([], [{ name: 'ignores-object', expression: "request.operation == 'DELETE'", action: 'Deny' }], [], []);
      expect(evaluateRules(ignores, vars({ op: 'CREATE', resource: 'configmaps', object: deep })).verdict).to.equal('Allow');
    });

    it('RequireApproval when a RequireApproval rule matches, listing every match', () => {
      const r = evaluateRules(defaultsOnly(), vars({ op: 'DELETE', resource: 'persistentvolumeclaims', oldObject: {} }));
      expect(r.verdict).to.equal('RequireApproval');
      expect(r.matched.map((m) => m.name)).to.deep.equal(['delete', 'pvc-delete']);
      expect(r.reasons).to.have.length(2);
      expect(r.matched[0]).to.include({ source: 'default', action: 'RequireApproval' });
    });

    it('Deny beats RequireApproval and carries the Deny messages', () => {
      const set = buildRuleSet(
        DEFAULT_RULES,
        [
          {
            name: 'no-prod-deletes',
            expression: "request.operation == 'DELETE' && request.namespace == 'prod'",
            action: 'Deny',
            message: 'never delete in prod',
          },
        ],
        [],
        [],
      );
      const r = evaluateRules(set, podDelete('prod'));
      expect(r.verdict).to.equal('Deny');
      expect(r.reasons).to.deep.equal(['never delete in prod']);
      expect(r.matched.map((m) => m.name)).to.deep.equal(['delete', 'no-prod-deletes']);
    });

    it('a matching Allow rule exempts from RequireApproval', () => {
      const set = buildRuleSet(DEFAULT_RULES, [{ name: 'scratch-ok', expression: "request.namespace.startsWith('scratch-')", action: 'Allow' }], [], []);
      const r = evaluateRules(set, podDelete('scratch-1'));
      expect(r.verdict).to.equal('Allow');
      expect(r.exemptedBy).to.deep.equal(['scratch-ok']);
      expect(r.matched.map((m) => m.name)).to.deep.equal(['delete', 'scratch-ok']);
      expect(evaluateRules(set, podDelete('prod')).verdict).to.equal('RequireApproval');
    });

    it('an Allow rule never cancels a Deny', () => {
      const set = buildRuleSet(
        DEFAULT_RULES,
        [
          { name: 'allow-all', expression: 'true', action: 'Allow' },
          { name: 'deny-secrets', expression: "request.resource.resource == 'secrets'", action: 'Deny' },
        ],
        [],
        [],
      );
      const r = evaluateRules(set, vars({ op: 'CREATE', resource: 'secrets', object: {} }));
      expect(r.verdict).to.equal('Deny');
      expect(r.reasons).to.deep.equal(['denied by rule "deny-secrets"']);
      expect(r.exemptedBy).to.deep.equal([]);
    });

    it('an evaluation error denies (fail closed) and names the rule and the error', () => {
      const set = buildRuleSet(DEFAULT_RULES, [{ name: 'big-scale', expression: 'object.spec.replicas > 10', action: 'RequireApproval' }], [], []);
      // A DELETE has no object: the rule's author forgot has()/null guards.
      const r = evaluateRules(set, podDelete('dev'));
      expect(r.verdict).to.equal('Deny');
      expect(r.errors).to.have.length(1);
      expect(r.errors[0]).to.include({ name: 'big-scale', source: 'agent' });
      expect(r.reasons[0]).to.equal('AgentIdentity rule "big-scale" failed to evaluate: No such key: spec at line 1 column 8');
      // The match list still shows what did match, for the audit record.
      expect(r.matched.map((m) => m.name)).to.deep.equal(['delete']);
      // The same rule is fine where it makes sense.
      expect(evaluateRules(set, vars({ op: 'UPDATE', resource: 'apps/deployments', object: deployment(20), oldObject: deployment(3) })).verdict).to.equal(
        'RequireApproval',
      );
    });

    it('a rule set with compile errors denies every call', () => {
      const set = buildRuleSet(DEFAULT_RULES, [{ name: 'oops', expression: 'request.', action: 'Deny' }], [], []);
      const r = evaluateRules(set, cmCreate());
      expect(r.verdict).to.equal('Deny');
      expect(r.reasons[0]).to.match(/^AgentIdentity spec\.approvalRules\[0\]\.expression: syntax error: /);
    });

    it('disabling every default leaves nothing to object to', () => {
      const set = buildRuleSet(DEFAULT_RULES, [], [], DEFAULT_RULE_NAMES);
      expect(evaluateRules(set, podDelete('prod')).verdict).to.equal('Allow');
    });
  });
});
