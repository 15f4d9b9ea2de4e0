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

describe('rules/evaluate: the short paths give CEL’s answers', () => {
  // Every expression wrapped as `(e) || false`: the same value and errors in CEL, but no
  // top-level conjunction (no request tests) and no `size(...) > 0` at the top (no list
  // test), so the reference set runs every rule in CEL on every call.
  const extra: ApprovalRule[] = [
    { name: 'named', action: 'Deny', expression: "request.name in ['1:x', 'x:1'] && request.namespace == 'prod'" },
    { name: 'containers', action: 'RequireApproval', expression: 'size(object.spec.containers) > 0' },
    { name: 'subjects', action: 'Allow', expression: 'size(agent.spec.subjects) > 0' },
    { name: 'accounts', action: 'RequireApproval', expression: "request.operation == 'CREATE' && size(effects.workload.serviceAccounts) > 0" },
    { name: 'grant-rules', action: 'RequireApproval', expression: 'size(grant.spec.approvalRules) > 0' },
  ];
  const wrap = (rules: readonly ApprovalRule[]): ApprovalRule[] => rules.map((r) => ({ ...r, expression: `(${r.expression}) || false` }));
  const sets = [
    { fast: buildRuleSet(DEFAULT_RULES, undefined, undefined, undefined), plain: buildRuleSet(wrap(DEFAULT_RULES), undefined, undefined, undefined) },
    { fast: buildRuleSet(DEFAULT_RULES, extra, undefined, ['delete']), plain: buildRuleSet(wrap(DEFAULT_RULES), wrap(extra), undefined, ['delete']) },
  ];
  // Positions differ by the wrapping's opening parenthesis; everything else must be equal.
  const outcome = (r: ReturnType<typeof evaluateRules>) => ({
    verdict: r.verdict,
    matched: r.matched.map((m) => m.name),
    errors: r.errors.map((e) => `${e.name}: ${e.error.replace(/ at line \d+ column \d+/, '')}`),
    exemptedBy: r.exemptedBy,
  });
  const deep = (n: number): unknown => {
    let v: unknown = [];
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };
  const workload = (w: unknown) => ({ routeClass: '', workload: w });
  const effectsShapes: unknown[] = [
    undefined,
    workload({ serviceAccounts: [], exceedsGrant: [], privileged: [] }),
    workload({ serviceAccounts: ['default'], exceedsGrant: ['ServiceAccount p/default: get secrets'], privileged: ['spec.hostNetwork'] }),
    workload({ serviceAccounts: 'default', exceedsGrant: { a: 1 }, privileged: null }),
    workload({ serviceAccounts: [null, 1.5, { a: [] }], exceedsGrant: [undefined], privileged: deep(60) }),
    workload(null),
    { routeClass: 'read' },
    workload(Object.assign(Object.create(null), { serviceAccounts: ['x'], exceedsGrant: ['x'], privileged: ['x'] })),
  ];
  const objects: unknown[] = [
    null,
    { metadata: { name: 'o' }, data: {} },
    { metadata: { name: 'o', labels: { a: 'b' } }, spec: { containers: [{ name: 'c' }], replicas: 0, selector: { a: 'b' } } },
    { spec: { containers: 'none', replicas: 2 } },
  ];
  const resources = [
    'pods',
    'configmaps',
    'secrets',
    'serviceaccounts',
    'persistentvolumeclaims',
    'apps/deployments',
    'batch/cronjobs',
    'rbac.authorization.k8s.io/rolebindings',
    '1:x/x:1',
    'x/1:x',
  ];
  const ops = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
  const subs = [undefined, 'scale', 'exec', 'eviction', 'token'];

  it('over the catalogue (and rules with other tests) for every combination of operation, resource, subresource, object and effects', () => {
    let compared = 0;
    for (const op of ops)
      for (const resource of resources)
        for (const sub of subs)
          for (const [i, object] of objects.entries()) {
            const effects = effectsShapes[(compared + i) % effectsShapes.length];
            const name = ['x', '1:x', 'x:1'][compared % 3]!;
            const namespace = compared % 2 ? 'prod' : 'default';
            const spec = { op, resource, ...(sub !== undefined ? { sub } : {}), name, namespace, object, oldObject: compared % 5 ? object : null };
            const grant = compared % 7 ? null : { spec: { approvalRules: compared % 2 ? [] : [{ name: 'r' }] } };
            for (const { fast, plain } of sets) {
              const v = () => vars(spec, { ...(effects !== undefined ? { effects } : {}), grant });
              expect(
                outcome(evaluateRules(fast, v())),
                JSON.stringify({ spec: { ...spec, object: i }, effects: effectsShapes.indexOf(effects) }),
              ).to.deep.equal(outcome(evaluateRules(plain, v())));
            }
            compared++;
          }
    expect(compared).to.equal(ops.length * resources.length * subs.length * objects.length);
  });

  it('for requests whose fields are missing, null, not strings, or odd strings', () => {
    const base = vars({ op: 'DELETE', resource: 'pods' }).request;
    const requests: unknown[] = [
      { ...base, resource: { group: 5, version: 'v1', resource: 'pods' } },
      { ...base, resource: undefined },
      { ...base, resource: { version: 'v1', resource: 'namespaces' } },
      { ...base, subResource: null },
      { ...base, operation: 'delete' },
      { ...base, operation: undefined },
      { ...base, name: 5, namespace: null },
      { ...base, resource: { group: '', version: 'v1', resource: 'pods\u0000' } },
      { ...base, resource: { group: '3:', version: 'v1', resource: 'pods' } },
      { ...base, resource: { group: '', version: 'v1', resource: '3:pods' } },
      { ...base, operation: 'CONNECT', resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec' },
      // Fields that are no string where the next request has strings: never one remembered shape.
      { ...base, operation: 'CREATE', resource: { group: 'secrets', version: 'v1', resource: 5 } },
      { ...base, operation: 'CREATE', resource: { group: 5, version: 'v1', resource: 'secrets' } },
      { ...base, operation: 'CREATE', resource: { group: 'secrets', version: 'v1', resource: '' }, subResource: 7 },
      { ...base, operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'secrets' }, subResource: 7 },
      { ...base, operation: 'UPDATE', resource: { group: '', version: 'v1', resource: 'pods' }, object: { metadata: deep(600) } },
      { ...base, operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, object: { spec: deep(600) } },
    ];
    // Effects too deep to convert: the set fails (Deny) whichever path reads them.
    for (const op of ops) {
      const effects = workload({ serviceAccounts: [], exceedsGrant: [], privileged: deep(600) });
      for (const { fast, plain } of sets) {
        const v = () => vars({ op, resource: 'pods', object: { spec: {} } }, { effects });
        expect(outcome(evaluateRules(fast, v())), op).to.deep.equal(outcome(evaluateRules(plain, v())));
        expect(evaluateRules(fast, v()).verdict).to.equal('Deny');
      }
    }
    for (const request of [...requests, ...requests]) {
      for (const { fast, plain } of sets) {
        const v = () => ({ ...vars({ op: 'DELETE', resource: 'pods' }), request: request as never });
        expect(outcome(evaluateRules(fast, v())), JSON.stringify(request)).to.deep.equal(outcome(evaluateRules(plain, v())));
      }
    }
  });
});
