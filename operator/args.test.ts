import { expect } from 'chai';
import { parseArgs } from './args.js';

describe('operator flags', function () {
  it('has production defaults', function () {
    const a = parseArgs([], {}, 'host_1');
    expect(a).to.include({
      namespace: 'agentgate-system',
      id: 'host_1',
      leaderElect: true,
      leaseName: 'agentgate-operator',
      metricsPort: 8080,
      approvalTtlMs: 3_600_000,
      sweepIntervalMs: 30_000,
    });
    expect(a.auditRetentionMs).to.equal(720 * 3_600_000);
    expect(parseArgs([], { POD_NAME: 'op-0' }).id).to.equal('op-0');
  });
  it('takes --flag value and --flag=value', function () {
    const a = parseArgs([
      '--kubeconfig',
      '/k',
      '--context=c',
      '--id',
      'a',
      '--leader-elect=false',
      '--lease-name=l',
      '--metrics-port',
      '0',
      '--audit-retention',
      '24h',
      '--approval-ttl=10m',
      '--sweep-interval',
      '5s',
      '--lease-duration',
      '4s',
    ]);
    expect(a).to.include({
      kubeconfig: '/k',
      context: 'c',
      id: 'a',
      leaderElect: false,
      leaseName: 'l',
      metricsPort: 0,
      auditRetentionMs: 86_400_000,
      approvalTtlMs: 600_000,
      sweepIntervalMs: 5000,
      leaseDurationMs: 4000,
    });
  });
  it('refuses nonsense, naming the flag', function () {
    expect(() => parseArgs(['--leader-elect=maybe'])).to.throw('--leader-elect');
    expect(() => parseArgs(['--audit-retention', '30d'])).to.throw('--audit-retention');
    expect(() => parseArgs(['--metrics-port', '-1'])).to.throw('--metrics-port');
    expect(() => parseArgs(['--nope'])).to.throw('unknown flag --nope');
    expect(() => parseArgs(['--id'])).to.throw('--id needs a value');
    expect(() => parseArgs(['stray'])).to.throw('unexpected argument');
  });

  it('reads the boundary interval (0 turns it off) and the notification URL file', function () {
    expect(parseArgs([]).boundaryIntervalMs).to.equal(300_000);
    expect(parseArgs(['--boundary-interval', '0']).boundaryIntervalMs).to.equal(0);
    expect(parseArgs(['--boundary-interval=2m']).boundaryIntervalMs).to.equal(120_000);
    expect(() => parseArgs(['--boundary-interval', 'soon'])).to.throw(/--boundary-interval/);
    expect(parseArgs(['--notify-url-file', '/notify/url']).notifyUrlFile).to.equal('/notify/url');
  });

  it("reads cert-manager's Certificate for a restored audit APIService as namespace/name, none by default", function () {
    expect(parseArgs([]).auditApiServiceInjectCaFrom).to.equal(undefined);
    expect(parseArgs(['--audit-apiservice-inject-ca-from=agentgate-system/agentgate-webhook']).auditApiServiceInjectCaFrom).to.equal(
      'agentgate-system/agentgate-webhook',
    );
    for (const bad of ['agentgate-webhook', 'a/b/c', 'Agentgate/x', '/x'])
      expect(() => parseArgs(['--audit-apiservice-inject-ca-from', bad]), bad).to.throw(
        `--audit-apiservice-inject-ca-from: expected <namespace>/<name> in lowercase DNS labels, such as agentgate-system/agentgate-webhook, got "${bad}"`,
      );
  });

  it('reads the audit APIService grace: 60s by default, 0 = never withdraw, at least 1s', function () {
    expect(parseArgs([]).auditApiServiceGraceMs).to.equal(60_000);
    expect(parseArgs(['--audit-apiservice-grace', '0']).auditApiServiceGraceMs).to.equal(0);
    expect(parseArgs(['--audit-apiservice-grace=3s']).auditApiServiceGraceMs).to.equal(3_000);
    expect(() => parseArgs(['--audit-apiservice-grace', '500ms'])).to.throw('--audit-apiservice-grace: at least 1s');
    expect(() => parseArgs(['--audit-apiservice-grace', 'soon'])).to.throw(/--audit-apiservice-grace: expected a Go duration/);
  });

  it('reads --leader-elect bare, with = or as a separate word, and lists every flag in --help', function () {
    expect(parseArgs(['--leader-elect']).leaderElect).to.equal(true);
    expect(parseArgs(['--leader-elect', 'false']).leaderElect).to.equal(false);
    expect(() => parseArgs(['--lease-duration', '1s'])).to.throw('--lease-duration: at least 2s');
    expect(() => parseArgs(['--metrics-port', '70000'])).to.throw('--metrics-port: expected a whole number from 0 to 65535');
    expect(() => parseArgs(['--worker', '3'])).to.throw('unknown flag --worker (did you mean --workers?)');
    let help = '';
    try {
      parseArgs(['--help']);
    } catch (e) {
      help = (e as Error).message;
    }
    for (const flag of ['--kubeconfig FILE', '--leader-elect=true|false', '--boundary-review-rate R', '--notify-url-file FILE']) expect(help).to.contain(flag);
  });
});
