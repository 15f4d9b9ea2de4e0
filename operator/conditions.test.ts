import { expect } from 'chai';
import { setCondition } from './conditions.js';

describe('setCondition', function () {
  const t0 = new Date('2030-01-01T00:00:00Z');
  const t1 = new Date('2030-01-01T01:00:00Z');
  it('moves lastTransitionTime only when the status flips', function () {
    let c = setCondition(undefined, { type: 'Active', status: 'False', reason: 'A', message: 'a' }, t0, 1);
    c = setCondition(c, { type: 'Active', status: 'False', reason: 'B', message: 'b' }, t1, 2);
    expect(c).to.deep.equal([
      { type: 'Active', status: 'False', reason: 'B', message: 'b', lastTransitionTime: '2030-01-01T00:00:00Z', observedGeneration: 2 },
    ]);
    c = setCondition(c, { type: 'Active', status: 'True', reason: 'C', message: 'c' }, t1, 2);
    expect(c[0]!.lastTransitionTime).to.equal('2030-01-01T01:00:00Z');
  });
  it('keeps other conditions in place', function () {
    let c = setCondition(undefined, { type: 'Valid', status: 'True', reason: 'V', message: '' }, t0, 1);
    c = setCondition(c, { type: 'Active', status: 'True', reason: 'A', message: '' }, t0, 1);
    c = setCondition(c, { type: 'Valid', status: 'False', reason: 'X', message: '' }, t1, 1);
    expect(c.map((x) => x.type)).to.deep.equal(['Valid', 'Active']);
  });
});
