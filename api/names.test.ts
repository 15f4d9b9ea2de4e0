import { expect } from 'chai';
import { boundedName, labelValue, roleBindingName } from './names.js';

describe('names', function () {
  it('uses agentgate-<grant> when it fits', function () {
    expect(roleBindingName('hotfix')).to.equal('agentgate-hotfix');
    expect(roleBindingName('a'.repeat(53))).to.equal(`agentgate-${'a'.repeat(53)}`);
  });

  it('truncates long names with a hash: deterministic, bounded, distinct', function () {
    const a = roleBindingName(`${'a'.repeat(100)}.x`);
    const b = roleBindingName(`${'a'.repeat(100)}.y`);
    expect(a.length).to.equal(63);
    expect(a).to.match(/^agentgate-a+-[0-9a-f]{10}$/);
    expect(a).to.not.equal(b);
    expect(roleBindingName(`${'a'.repeat(100)}.x`)).to.equal(a);
  });

  it('never leaves a dot or dash before the hash', function () {
    const n = boundedName('p-', `${'a'.repeat(49)}.-.${'b'.repeat(30)}`);
    expect(n).to.match(/^p-a+-[0-9a-f]{10}$/);
  });

  it('label values are names when short, bounded hashes when long', function () {
    expect(labelValue('deploy-bot')).to.equal('deploy-bot');
    const long = labelValue('x'.repeat(253));
    expect(long.length).to.be.at.most(63);
    expect(long).to.match(/^[a-z0-9A-Z].*[a-z0-9A-Z]$/);
  });
});
