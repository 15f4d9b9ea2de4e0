import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { approvalRequestName, boundedName, isDns1123Label, isLabelValue, labelValue, roleBindingName } from './names.js';

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
    expect(isLabelValue(long)).to.equal(true);
    expect(labelValue('x'.repeat(253))).to.equal(long);
    expect(labelValue(`${'x'.repeat(252)}y`)).to.not.equal(long);
  });

  it('label values are valid for any name, and stable for names that already are valid', () => {
    for (const name of [
      'deploy-bot',
      'agents.example.com',
      'a'.repeat(63),
      'a'.repeat(64),
      `${'b'.repeat(60)}.-.c`,
      '-x-',
      'ünïcødé',
      '...',
      '',
      'UPPER_case',
    ]) {
      const v = labelValue(name);
      expect(isLabelValue(v), `${name} -> ${v}`).to.equal(true);
      if (isLabelValue(name)) expect(v).to.equal(name);
      else expect(v).to.not.equal(name);
    }
  });
});

describe('names: approvalRequestName', () => {
  const fp = createHash('sha256').update('an operation').digest('hex');

  it('is deterministic and ar-<agent>-<16 hex>', () => {
    const name = approvalRequestName(fp, 'deploy-bot');
    expect(name).to.equal(`ar-deploy-bot-${fp.slice(0, 16)}`);
    expect(approvalRequestName(fp, 'deploy-bot')).to.equal(name);
    expect(isDns1123Label(name)).to.equal(true);
  });

  it('differs for a different fingerprint', () => {
    const other = createHash('sha256').update('another operation').digest('hex');
    expect(approvalRequestName(other, 'deploy-bot')).to.not.equal(approvalRequestName(fp, 'deploy-bot'));
  });

  it('is a valid DNS-1123 label for any agent name', () => {
    const agents = [
      'Deploy.Bot',
      'a'.repeat(253),
      `${'x'.repeat(42)}-.y`,
      '-leading-and-trailing-',
      'agents.example.com',
      '...',
      '',
      'UPPER_case__name',
      'ünïcødé',
    ];
    for (const agent of agents) {
      const name = approvalRequestName(fp, agent);
      expect(isDns1123Label(name), `${agent} -> ${name}`).to.equal(true);
      expect(name.length).to.be.at.most(63);
      expect(name.endsWith(fp.slice(0, 16))).to.equal(true);
    }
    expect(approvalRequestName(fp, '')).to.equal(`ar-${fp.slice(0, 16)}`);
    expect(approvalRequestName(fp, 'a'.repeat(100))).to.have.length(63);
  });

  it('names slots so that every name is a DNS label, slot 0 being the plain name', () => {
    const long = 'a'.repeat(80);
    const names = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const n = approvalRequestName(fp, long, i);
      expect(isDns1123Label(n), n).to.equal(true);
      names.add(n);
    }
    expect(names.size).to.equal(12);
    expect(approvalRequestName(fp, 'bot', 0)).to.equal(approvalRequestName(fp, 'bot'));
    expect(approvalRequestName(fp, 'bot', 2)).to.equal(`ar-bot-${fp.slice(0, 16)}-3`);
  });

  it('accepts upper-case hex and rejects anything that is not a fingerprint', () => {
    expect(approvalRequestName(fp.toUpperCase(), 'x')).to.equal(approvalRequestName(fp, 'x'));
    expect(() => approvalRequestName('not-a-fingerprint', 'x')).to.throw();
    expect(() => approvalRequestName('abc', 'x')).to.throw();
  });
});
