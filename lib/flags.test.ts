import { expect } from 'chai';
import { durationFlag, FlagError, type FlagSpec, flagErrorMessage, flagLines, intFlag, numberFlag, parseFlags, switchFlag } from './flags.js';

const FLAGS: Record<string, FlagSpec> = {
  namespace: { type: 'string', short: 'n', arg: 'NS', help: 'the namespace' },
  'leader-elect': { type: 'string', switch: true, help: 'campaign first' },
  'client-cert-name': { type: 'string', multiple: true, arg: 'NAME', help: 'a name\nand a second line' },
  wait: { type: 'boolean', help: 'wait' },
};

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(FlagError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('lib/flags: one flag parser for operator, webhook and CLI', function () {
  it('reads --flag VALUE, --flag=VALUE, short flags and repeated flags', function () {
    const { values } = parseFlags(['-n', 'a', '--client-cert-name=x', '--client-cert-name', 'y', '--wait'], FLAGS);
    expect(values).to.deep.include({ namespace: 'a', 'client-cert-name': ['x', 'y'], wait: true });
  });

  it('reads a switch bare, with =, or with a separate true/false word', function () {
    expect(parseFlags(['--leader-elect'], FLAGS).values['leader-elect']).to.equal(true);
    expect(parseFlags(['--leader-elect=false'], FLAGS).values['leader-elect']).to.equal(false);
    expect(parseFlags(['--leader-elect', '0', '--wait'], FLAGS).values).to.include({ 'leader-elect': false, wait: true });
    expect(parseFlags(['--leader-elect', '--wait'], FLAGS).values).to.include({ 'leader-elect': true, wait: true });
    expect(refusal(() => parseFlags(['--leader-elect=maybe'], FLAGS))).to.equal(
      '--leader-elect: expected true or false, got "maybe" (write --leader-elect=true or --leader-elect=false)',
    );
  });

  it('names the flag and the fix in every refusal', function () {
    expect(refusal(() => parseFlags(['--namespce', 'a'], FLAGS))).to.equal('unknown flag --namespce (did you mean --namespace?)');
    expect(refusal(() => parseFlags(['--bogus'], FLAGS))).to.equal('unknown flag --bogus');
    expect(refusal(() => parseFlags(['--namespace'], FLAGS))).to.equal('--namespace needs a value');
    expect(refusal(() => parseFlags(['-n'], FLAGS))).to.equal('--namespace needs a value');
    expect(refusal(() => parseFlags(['--namespace', '--wait'], FLAGS))).to.contain('write --namespace=VALUE');
    expect(refusal(() => parseFlags(['stray'], FLAGS))).to.equal('unexpected argument "stray": every value follows its flag (--flag VALUE or --flag=VALUE)');
    expect(parseFlags(['stray'], FLAGS, { positionals: true }).positionals).to.deep.equal(['stray']);
  });

  it('turns values into durations, whole numbers and rates, naming the flag when it cannot', function () {
    expect(durationFlag('--ttl', '2m')).to.equal(120_000);
    expect(durationFlag('--every', '0', { zero: true })).to.equal(0);
    expect(refusal(() => durationFlag('--ttl', '0'))).to.match(/^--ttl: expected a Go duration such as 30s/);
    expect(refusal(() => durationFlag('--ttl', '30d'))).to.contain('got "30d"');
    expect(refusal(() => durationFlag('--lease', '1s', { min: '2s' }))).to.equal('--lease: at least 2s, got "1s"');
    expect(intFlag('--port', '0', 0, 65535)).to.equal(0);
    expect(refusal(() => intFlag('--port', '70000', 0, 65535))).to.equal('--port: expected a whole number from 0 to 65535, got "70000"');
    expect(refusal(() => intFlag('--workers', '1.5', 1))).to.equal('--workers: expected a whole number >= 1, got "1.5"');
    expect(numberFlag('--rate', '0.5')).to.equal(0.5);
    expect(refusal(() => numberFlag('--rate', 'fast'))).to.equal('--rate: expected a number such as 0.5, got "fast"');
    expect(switchFlag('--x', '1')).to.equal(true);
  });

  it('prints usage lines from the same table, continuation lines aligned', function () {
    expect(flagLines(FLAGS)).to.deep.equal([
      '  -n, --namespace NS             the namespace',
      '      --leader-elect=true|false  campaign first',
      '      --client-cert-name NAME    a name',
      '                                 and a second line',
      '      --wait                     wait',
    ]);
    expect(flagLines({ id: { type: 'string', arg: 'NAME', help: 'who' }, help: { type: 'boolean' } })).to.deep.equal(['  --id NAME  who']);
  });

  it("translates a parseArgs error thrown elsewhere (the CLI's own call)", function () {
    expect(flagErrorMessage(new Error('something else\nmore'))).to.equal('something else');
  });
});
