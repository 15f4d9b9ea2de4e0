// The CLI end to end without a cluster: help, usage errors and exit codes, offline commands.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMMANDS } from './args.js';
import type { Io } from './commands.js';
import { run } from './run.js';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => (out += s), err: (s) => (err += s), env, now: () => new Date('2030-01-01T12:00:00Z'), sleep: async () => {} };
  const code = await run(argv, io);
  return { code, out, err };
}

describe('cli run: without a cluster', () => {
  it('prints help for every command with exit 0', async () => {
    for (const c of COMMANDS) {
      const r = await cli([...c.words, '--help']);
      expect(r.code, c.words.join(' ')).to.equal(0);
      expect(r.out).to.contain(c.usage);
    }
    const main = await cli([]);
    expect(main.code).to.equal(0);
    expect(main.out).to.contain('Commands:');
  });

  it('exits 2 on usage errors and points at the help', async () => {
    const r = await cli(['approve']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('error: missing NAME').and.contain('see: agentgate approve --help');
    expect((await cli(['nope'])).err).to.contain('unknown command "nope"');
  });

  it('validates a request before it touches the cluster', async () => {
    const r = await cli([
      'request',
      '--agent',
      'deploy-bot',
      '--role',
      'edit',
      '-n',
      'payments',
      '--duration',
      'forever',
      '--reason',
      'x',
      '--kubeconfig',
      '/nonexistent',
    ]);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('spec.duration (--duration)');
  });

  it('prints the default rules as YAML or JSON', async () => {
    const yaml = await cli(['rules']);
    expect(yaml.code).to.equal(0);
    expect(yaml.out).to.contain('- name: delete').and.contain('action: RequireApproval');
    const json = await cli(['rules', '-o', 'json']);
    expect((JSON.parse(json.out) as Array<{ name: string }>).map((r) => r.name)).to.include('delete');
    expect((await cli(['rules', '-o', 'text'])).code).to.equal(2);
  });

  it('prints the EKS commands from a manifest, with the role from EKS_ROLE_ARN', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentgate-cli-'));
    const file = path.join(dir, 'agent.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Namespace',
        'metadata: {name: x}',
        '---',
        'apiVersion: agentgate.io/v1alpha1',
        'kind: AgentIdentity',
        'metadata: {name: deploy-bot}',
        'spec:',
        '  subjects: [{kind: User, name: "agent:deploy-bot"}, {kind: Group, name: "agentgate:agents"}]',
        '  maxDuration: 1h',
        '  allowedRoles: [{kind: ClusterRole, name: edit}]',
        '  allowedNamespaces: {names: [payments]}',
      ].join('\n'),
    );
    const r = await cli(['eks', 'access-entry', 'deploy-bot', '-f', file, '--cluster', 'prod'], { EKS_ROLE_ARN: 'arn:aws:iam::123456789012:role/bot' });
    expect(r.code, r.err).to.equal(0);
    expect(r.out)
      .to.contain('--principal-arn arn:aws:iam::123456789012:role/bot')
      .and.contain('--username agent:deploy-bot')
      .and.contain('--kubernetes-groups agentgate:agents');
    const missing = await cli(['eks', 'access-entry', 'other', '-f', file]);
    expect(missing.code).to.equal(2);
    expect(missing.err).to.contain('holds no AgentIdentity named other');
    const noArn = await cli(['eks', 'access-entry', 'deploy-bot', '-f', file, '--cluster', 'prod']);
    expect(noArn.code).to.equal(2);
    expect(noArn.err).to.contain('EKS_ROLE_ARN');
  });

  it('says how to fix an unreadable kubeconfig', async () => {
    const r = await cli(['verify', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('cannot load the kubeconfig /nonexistent/kubeconfig');
  });

  it('says how to fix an unreachable cluster', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentgate-cli-'));
    const file = path.join(dir, 'kc');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const r = await cli(['audit', '--kubeconfig', file]);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('cannot reach the cluster').and.contain('--kubeconfig/--context');
    const ctx = await cli(['audit', '--kubeconfig', file, '--context', 'nope']);
    expect(ctx.err).to.contain('context "nope" is not in the kubeconfig');
  });
});
