import { expect } from 'chai';
import type { ApprovalRule } from '../api/types.js';
import {
  MAX_EXPRESSION_LENGTH,
  MAX_REGEX_LENGTH,
  celEnvironment,
  compileCached,
  compileRegex,
  compileRule,
  conversionError,
  evaluateRule,
  formatCompileError,
  prepareVars,
} from './cel.js';
import type { CompiledRule, RuleCompileError, RuleEvaluation, RuleVars } from './cel.js';
import { deployment, vars } from './testdata.js';

const rule = (expression: string, name = 'test-rule'): ApprovalRule => ({ name, expression, action: 'RequireApproval' });

function compiled(expression: string): CompiledRule {
  const c = compileRule(rule(expression));
  if (!c.ok) throw new Error(formatCompileError(c.error));
  return c.value;
}

function compileError(expression: string): RuleCompileError {
  const c = compileRule(rule(expression));
  if (c.ok) throw new Error(`expected a compile error for ${expression}`);
  return c.error;
}

const run = (expression: string, v: RuleVars): RuleEvaluation => evaluateRule(compiled(expression), v);

const podDelete = (namespace: string): RuleVars => vars({ op: 'DELETE', resource: 'pods', namespace, oldObject: { metadata: {} } });
const withObject = (object: unknown): RuleVars => vars({ op: 'CREATE', resource: 'configmaps', object });

describe('cel', () => {
  describe('variables', () => {
    it("request.namespace.startsWith('prod')", () => {
      expect(run("request.namespace.startsWith('prod')", podDelete('prod-eu'))).to.deep.equal({ matched: true });
      expect(run("request.namespace.startsWith('prod')", podDelete('dev'))).to.deep.equal({ matched: false });
    });

    it('exposes request, object, oldObject, agent and grant like a ValidatingAdmissionPolicy', () => {
      const v = vars(
        { op: 'UPDATE', resource: 'apps/deployments', object: deployment(1), oldObject: deployment(2) },
        { grant: { metadata: { name: 'g1' }, spec: { reason: 'incident 42' } } },
      );
      const expr = [
        "request.operation == 'UPDATE'",
        "request.resource.group == 'apps' && request.resource.resource == 'deployments'",
        "request.kind.kind == 'Thing' && request.userInfo.username == 'agent:bot'",
        "'agents' in request.userInfo.groups && request.dryRun == false",
        'object.spec.replicas == 1 && oldObject.spec.replicas == 2',
        "agent.metadata.name == 'bot' && grant.spec.reason.contains('incident')",
      ].join(' && ');
      expect(run(expr, v)).to.deep.equal({ matched: true });
    });

    it('fills request fields a VAP always has, so rules need no has() on request', () => {
      const v: RuleVars = { request: { operation: 'CREATE' } };
      const expr =
        "request.subResource == '' && request.name == '' && request.namespace == '' && " +
        "size(request.userInfo.groups) == 0 && request.options == null && request.resource.group == '' && " +
        'object == null && oldObject == null && grant == null && agent == null';
      expect(run(expr, v)).to.deep.equal({ matched: true });
    });

    it('takes object and oldObject from the AdmissionRequest when not given separately', () => {
      const v: RuleVars = { request: { operation: 'UPDATE', object: { a: 1 }, oldObject: { a: 2 } } };
      expect(run('object.a == 1 && oldObject.a == 2', v)).to.deep.equal({ matched: true });
    });

    it('treats integral JSON numbers as CEL int, so int arithmetic works', () => {
      expect(run('object.spec.replicas + 1 == 4 && type(object.spec.replicas) == int', withObject(deployment(3)))).to.deep.equal({ matched: true });
      expect(run('object.ratio > 0.4 && type(object.ratio) == double', withObject({ ratio: 0.5 }))).to.deep.equal({ matched: true });
    });

    it('prepares variables once and reuses them', () => {
      const p = prepareVars(podDelete('prod'));
      expect(prepareVars(p)).to.equal(p);
      expect(evaluateRule(compiled("request.namespace == 'prod'"), p)).to.deep.equal({ matched: true });
    });

    it('reads the AgentIdentity as given on each call: a replaced object (a new version from the informer) is seen at once', () => {
      const base = podDelete('prod');
      const v1 = { metadata: { name: 'bot', labels: { tier: 'one' } } };
      const v2 = { metadata: { name: 'bot', labels: { tier: 'two' } } };
      const isTwo = "agent.metadata.labels.tier == 'two'";
      expect(run(isTwo, { ...base, agent: v1 })).to.deep.equal({ matched: false });
      expect(run(isTwo, { ...base, agent: v2 })).to.deep.equal({ matched: true });
      expect(run(isTwo, { ...base, agent: v1 })).to.deep.equal({ matched: false });
    });

    it('rejects unknown variables at compile time', () => {
      const err = compileError('params.limit > 1');
      expect(err.field).to.equal('expression');
      expect(err.message).to.contain('Unknown variable: params');
    });
  });

  describe('request tests answered before the rule runs', () => {
    const nested = (depth: number): unknown => {
      let o: unknown = { leaf: 1 };
      for (let i = 0; i < depth; i++) o = { a: o };
      return o;
    };

    it('matches on equality and list membership of request fields, wherever the test sits in the conjunction', () => {
      const expr = "request.operation in ['CREATE', 'UPDATE'] && object != null && request.resource.resource == 'configmaps'";
      expect(run(expr, withObject({ data: {} }))).to.deep.equal({ matched: true });
      expect(run(expr, podDelete('prod'))).to.deep.equal({ matched: false });
      expect(run("object.missing == 1 && request.operation == 'DELETE'", withObject({}))).to.deep.equal({ matched: false });
    });

    it('still runs the rule, errors included, when the request passes the test', () => {
      expect(run("request.operation == 'CREATE' && object.missing == 1", withObject({})))
        .to.have.property('error')
        .that.contains('No such key: missing');
    });

    it('leaves variables no rule reads unconverted: a request that fails the test never converts its object', () => {
      const deep = vars({ op: 'CREATE', resource: 'configmaps', object: nested(600) });
      const p = prepareVars(deep);
      expect(evaluateRule(compiled("request.operation == 'DELETE' && has(object.a)"), p)).to.deep.equal({ matched: false });
      expect(conversionError(p)).to.equal(undefined);
      expect(evaluateRule(compiled("request.operation == 'CREATE' && has(object.a)"), p))
        .to.have.property('error')
        .that.contains('nesting exceeds 512');
      expect(conversionError(p)).to.equal('object: object nesting exceeds 512 levels');
    });
  });

  describe('has() and optional fields', () => {
    const expr = 'has(object.spec.replicas)';
    it('is true when the field is set and false when it is not', () => {
      expect(run(expr, withObject(deployment(0)))).to.deep.equal({ matched: true });
      expect(run(expr, withObject(deployment(undefined)))).to.deep.equal({ matched: false });
    });

    it('needs its parent to exist (as in Kubernetes); guard with has() on the parent', () => {
      const r = run(expr, withObject({ metadata: {} }));
      expect(r).to.have.property('error').that.contains('No such key: spec');
      expect(run('has(object.spec) && has(object.spec.replicas)', withObject({ metadata: {} }))).to.deep.equal({ matched: false });
    });

    it('supports optional chaining with a default', () => {
      expect(run('object.?spec.?replicas.orValue(1) == 1', withObject({}))).to.deep.equal({ matched: true });
      expect(run('object.?spec.?replicas.orValue(1) == 0', withObject(deployment(0)))).to.deep.equal({ matched: true });
    });

    it('drops undefined properties so has() sees them as absent', () => {
      expect(run('has(object.a)', withObject({ a: undefined }))).to.deep.equal({ matched: false });
    });

    it('does not expose JavaScript prototype members', () => {
      expect(run('has(object.constructor)', withObject({}))).to.deep.equal({ matched: false });
    });
  });

  describe('string extensions', () => {
    const cases: Array<[string, string]> = [
      ['lowerAscii', "'ABC-Äx'.lowerAscii() == 'abc-Äx'"],
      ['upperAscii', "'abc-äX'.upperAscii() == 'ABC-äX'"],
      ['startsWith/endsWith/contains', "'prod-eu'.startsWith('prod') && 'prod-eu'.endsWith('-eu') && 'prod-eu'.contains('d-e')"],
      ['split', "'a,b,c'.split(',') == ['a', 'b', 'c'] && 'a,b,c'.split(',', 2) == ['a', 'b,c']"],
      ['join', "['a', 'b'].join('-') == 'a-b' && ['a', 'b'].join() == 'ab'"],
      ['trim', "'  x '.trim() == 'x'"],
      [
        'replace',
        "'a-b-c'.replace('-', '_') == 'a_b_c' && 'a-b-c'.replace('-', '_', 1) == 'a_b-c' && 'ab'.replace('', '.') == '.a.b.' && 'ab'.replace('', '.', 2) == '.a.b'",
      ],
      ['indexOf/lastIndexOf', "'abcabc'.indexOf('c') == 2 && 'abcabc'.lastIndexOf('c') == 5"],
      ['substring', "'abcdef'.substring(1, 3) == 'bc'"],
      ['charAt/reverse', "'abc'.charAt(1) == 'b' && 'abc'.reverse() == 'cba'"],
      ['matches (method and function)', "'prod-eu'.matches('^prod-[a-z]+$') && matches('prod-eu', 'eu$') && !'dev'.matches('^prod')"],
      ['find', "'image: nginx:1.25'.find('[0-9]+[.][0-9]+') == '1.25' && 'abc'.find('[0-9]') == ''"],
      ['findAll', "'a1b22c333'.findAll('[0-9]+') == ['1', '22', '333'] && 'a1b22c333'.findAll('[0-9]+', 2) == ['1', '22']"],
      ['findAll skips empty matches next to a match (as Go does)', "'baaab'.findAll('a*') == ['', 'aaa', '']"],
      [
        'sets',
        "sets.contains(request.userInfo.groups, ['agents']) && sets.intersects(['x', 'agents'], request.userInfo.groups) && sets.equivalent([1, 2], [2, 1])",
      ],
    ];
    for (const [label, expr] of cases) {
      it(label, () => expect(run(expr, podDelete('prod'))).to.deep.equal({ matched: true }));
    }
  });

  describe('regular expressions are RE2 (re2js), never RegExp', () => {
    const evil = 'a'.repeat(30000) + '!';

    it('a catastrophic-backtracking pattern on 30 000 characters finishes with a result', () => {
      expect(run("object.data.payload.matches('(a+)+$')", withObject({ data: { payload: evil } }))).to.deep.equal({ matched: false });
      expect(run("object.data.payload.matches('^(a|aa)+!$')", withObject({ data: { payload: evil } }))).to.deep.equal({ matched: true });
    });

    it('inside macros and cel.bind too', () => {
      const v = withObject({ data: { payload: evil } });
      expect(run("[object.data.payload].exists(s, s.matches('(a+)+$'))", v)).to.deep.equal({ matched: false });
      expect(run("cel.bind(p, object.data.payload, p.matches('(a+)+$') || p.find('(a+)+b') != '')", v)).to.deep.equal({ matched: false });
    });

    it('a backreference is a compile error that says RE2 and where', () => {
      const err = compileError("request.name.matches('(a)\\\\1')");
      expect(err.field).to.equal('expression');
      expect(err.message).to.contain('invalid regular expression');
      expect(err.message).to.contain('RE2');
      expect(err.message).to.contain('backreferences');
      expect(err.line).to.equal(1);
      expect(err.column).to.equal(22);
    });

    it('lookaround is rejected, where RegExp would accept it', () => {
      expect(compileError("request.name.find('a(?=b)') != ''").message).to.contain('RE2');
      expect(compileError("matches(request.name, '(?<!a)b')").message).to.contain('RE2');
    });

    it('a bad pattern that only appears at run time is an evaluation error that says so', () => {
      const r = run('request.name.matches(object.pattern)', withObject({ pattern: '(a)\\1' }));
      expect(r).to.have.property('error').that.contains('rule "test-rule" failed to evaluate');
      expect((r as { error: string }).error).to.contain('RE2');
    });

    it('caps pattern length', () => {
      expect(() => compileRegex('a'.repeat(MAX_REGEX_LENGTH + 1))).to.throw(/limit is 1024/);
      expect(compileRegex('a+')).to.equal(compileRegex('a+'));
    });

    it('the environment refuses to exist if matches() fell back to RegExp', () => {
      // celEnvironment() self-tests on creation; reaching here means the override holds.
      expect(celEnvironment()).to.equal(celEnvironment());
    });
  });

  describe('compile errors', () => {
    it('a parse error reports line and column', () => {
      const err = compileError("request.operation ==\n  == 'DELETE'");
      expect(err.field).to.equal('expression');
      expect(err.message).to.match(/^syntax error: /);
      expect(err).to.include({ line: 2, column: 3 });
      expect(formatCompileError(err)).to.match(/ at line 2 column 3$/);
    });

    it('an unterminated string reports its position', () => {
      expect(compileError("request.name == 'abc")).to.include({ line: 1, column: 17 });
    });

    it('a type error reports its position', () => {
      const err = compileError("request.name == 'a' && 1 + 'a' == 2");
      expect(err.message).to.match(/^type error: /);
      expect(err).to.include({ line: 1, column: 24 });
    });

    it('a statically non-bool result is rejected', () => {
      expect(compileError('1 + 2').message).to.equal('expression must evaluate to bool, but it evaluates to int');
      expect(compileError("request.name + 'x'").message).to.contain('bool');
    });

    it('a dyn result that is not bool is an evaluation error', () => {
      expect(run('object.spec', withObject({ spec: { a: 1 } }))).to.deep.equal({
        error: 'rule "test-rule": expression must evaluate to bool, but returned map',
      });
    });

    it('caps expression length', () => {
      const long = "request.name == '" + 'x'.repeat(MAX_EXPRESSION_LENGTH) + "'";
      expect(compileError(long).message).to.contain(`the limit is ${MAX_EXPRESSION_LENGTH}`);
      expect(compileError('   ').message).to.equal('expression is empty');
    });

    it('validates name and action', () => {
      const bad = compileRule({ name: 'Not_Kebab', expression: 'true', action: 'RequireApproval' });
      expect(bad.ok).to.equal(false);
      if (!bad.ok) expect(bad.error.field).to.equal('name');
      const badAction = compileRule({ name: 'x', expression: 'true', action: 'Maybe' as never });
      expect(badAction.ok).to.equal(false);
      if (!badAction.ok) expect(badAction.error.field).to.equal('action');
    });

    it('uses the public method name in messages', () => {
      expect(compileError("1.matches('x')").message).to.contain('int.matches(string)');
    });
  });

  describe('evaluation errors', () => {
    it('reading a missing field without has() is an error naming the rule and place', () => {
      const r = evaluateRule(compiled('object.spec.replicas == 0'), withObject({ metadata: {} }));
      expect(r).to.deep.equal({ error: 'rule "test-rule" failed to evaluate: No such key: spec at line 1 column 8' });
    });

    it('reading a field of a null object is an error', () => {
      expect(run('object.spec.replicas == 0', podDelete('prod')))
        .to.have.property('error')
        .that.contains('failed to evaluate');
    });

    it('never throws', () => {
      const c = compiled('object.x.y.z');
      expect(() => evaluateRule(c, { request: { operation: 'CREATE' }, object: { x: 'str' } })).not.to.throw();
    });
  });

  describe('compileCached', () => {
    it('returns the same program for the same text, and caches errors too', () => {
      const a = compileCached("request.operation == 'DELETE'");
      expect(compileCached("request.operation == 'DELETE'")).to.equal(a);
      const e = compileCached('(((');
      expect(e.ok).to.equal(false);
      expect(compileCached('(((')).to.equal(e);
    });

    it('shares a program between rules with different names', () => {
      const a = compileRule(rule('true', 'a'));
      const b = compileRule(rule('true', 'b'));
      expect(a.ok && b.ok && a.value.program === b.value.program).to.equal(true);
    });
  });
});
