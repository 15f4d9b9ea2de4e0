import { expect } from 'chai';
import { COMMANDS, commandHelp, mainHelp, outputFormat, parseCommandLine, UsageError } from './args.js';

describe('cli args: command words and flags', () => {
  it('finds the command after global flags and their values, as kubectl users write them', () => {
    const p = parseCommandLine(['--context', 'prod', '--kubeconfig', '/tmp/kc', 'verify', 'deploy-bot', '-o', 'json']);
    expect(p.command?.words).to.deep.equal(['verify']);
    expect(p.positionals).to.deep.equal(['deploy-bot']);
    expect(p.values).to.include({ context: 'prod', kubeconfig: '/tmp/kc', output: 'json' });
    expect(p.help).to.equal(false);
  });

  it('accepts -n with the namespace before or after the command, and --flag=value', () => {
    expect(parseCommandLine(['-n', 'payments', 'approve', 'ar-1']).values.namespace).to.equal('payments');
    const p = parseCommandLine(['approve', 'ar-1', '--namespace=payments']);
    expect(p.values.namespace).to.equal('payments');
    expect(p.positionals).to.deep.equal(['ar-1']);
  });

  it('prefers the longer command: audit verify over audit', () => {
    expect(parseCommandLine(['audit', 'verify']).command?.words).to.deep.equal(['audit', 'verify']);
    expect(parseCommandLine(['audit', '--agent', 'deploy-bot', '--since', '1h']).command?.words).to.deep.equal(['audit']);
    expect(parseCommandLine(['eks', 'access-entry', 'deploy-bot', '--cluster', 'prod']).positionals).to.deep.equal(['deploy-bot']);
  });

  it('parses request flags including a reason with spaces', () => {
    const p = parseCommandLine([
      'request',
      '--agent',
      'deploy-bot',
      '--role',
      'edit',
      '-n',
      'payments',
      '--duration',
      '30m',
      '--reason',
      'Roll out the hotfix',
      '--ticket',
      'INC-1',
      '--wait',
    ]);
    expect(p.values).to.include({
      agent: 'deploy-bot',
      role: 'edit',
      namespace: 'payments',
      duration: '30m',
      reason: 'Roll out the hotfix',
      ticket: 'INC-1',
      wait: true,
    });
  });

  it('shows help for --help, -h, help COMMAND, and no command at all', () => {
    expect(parseCommandLine([]).help).to.equal(true);
    expect(parseCommandLine(['--help']).help).to.equal(true);
    const h = parseCommandLine(['verify', '-h']);
    expect(h.help).to.equal(true);
    expect(h.command?.words).to.deep.equal(['verify']);
    expect(parseCommandLine(['help', 'audit', 'verify']).command?.words).to.deep.equal(['audit', 'verify']);
    // Help wins over missing arguments.
    expect(parseCommandLine(['approve', '--help']).help).to.equal(true);
  });

  it('refuses unknown commands, unknown flags, missing and extra arguments, naming them', () => {
    const err = (argv: string[]) => {
      try {
        parseCommandLine(argv);
      } catch (e) {
        expect(e).to.be.instanceOf(UsageError);
        return e as UsageError;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(err(['frobnicate']).message).to.contain('unknown command "frobnicate"');
    const unknown = err(['verify', '--bogus']);
    expect(unknown.message).to.equal('unknown flag --bogus');
    expect(unknown.command).to.equal('verify');
    expect(err(['approve']).message)
      .to.contain('missing NAME')
      .and.contain('usage: agentgate approve NAME');
    expect(err(['approve', 'a', 'b']).message).to.contain('unexpected argument "b"');
    expect(err(['eks', 'access-entry']).message).to.contain('missing AGENT');
    expect(err(['audit', '--agent']).message).to.contain('--agent needs a value');
    // A flag of another command is not accepted.
    expect(err(['verify', '--wait']).message).to.equal('unknown flag --wait');
  });

  it('checks -o values per command', () => {
    expect(outputFormat({ output: 'json' })).to.equal('json');
    expect(outputFormat({})).to.equal('text');
    expect(outputFormat({}, ['yaml', 'json'])).to.equal('yaml');
    expect(() => outputFormat({ output: 'wide' })).to.throw(UsageError, '-o wide is not supported here; use text or json');
  });

  it('has help text for every command with usage, global flags and an example', () => {
    for (const c of COMMANDS) {
      const h = commandHelp(c);
      expect(h, c.words.join(' ')).to.contain(`Usage:\n  ${c.usage}`);
      expect(h).to.contain('--kubeconfig FILE').and.contain('--context NAME').and.contain('-n, --namespace NS');
      expect(h).to.contain('Examples:');
      for (const name of Object.keys(c.options)) expect(h).to.contain(`--${name}`);
    }
    const m = mainHelp();
    for (const c of COMMANDS) expect(m).to.contain(c.words.join(' '));
    expect(m).to.contain('kubectl agentgate');
  });
});
