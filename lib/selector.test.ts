import { expect } from 'chai';
import { describeSelector, selectorMatches } from './selector.js';

describe('selectorMatches', function () {
  const labels = { env: 'prod', team: 'payments' };
  it('matchLabels', function () {
    expect(selectorMatches({ matchLabels: { env: 'prod' } }, labels)).to.equal(true);
    expect(selectorMatches({ matchLabels: { env: 'dev' } }, labels)).to.equal(false);
    expect(selectorMatches({ matchLabels: { missing: 'x' } }, labels)).to.equal(false);
  });
  it('matchExpressions with upstream semantics', function () {
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, labels)).to.equal(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'absent', operator: 'NotIn', values: ['x'] }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, labels)).to.equal(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'Bogus' as never }] }, labels)).to.equal(false);
  });
  it('an empty selector matches everything, as upstream; undefined labels are empty', function () {
    expect(selectorMatches({}, undefined)).to.equal(true);
    expect(selectorMatches({ matchLabels: { a: 'b' } }, undefined)).to.equal(false);
  });
  it('describes itself for messages', function () {
    expect(
      describeSelector({
        matchLabels: { a: 'b' },
        matchExpressions: [
          { key: 'c', operator: 'In', values: ['d', 'e'] },
          { key: 'f', operator: 'Exists' },
        ],
      }),
    ).to.equal('a=b,c in (d,e),f');
  });
});
