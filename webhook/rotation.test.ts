import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import { newLogger } from '../lib/log.js';
import { CertificateRenewal, nextCheckMs } from './rotation.js';
import { generateTls, type TlsMaterial } from './tls.js';

const HOSTS = ['127.0.0.1'];

describe('certificate renewal while running', function () {
  this.timeout(30_000);
  const clock = new FakeClock('2030-01-01T00:00:00Z');
  const current = generateTls(HOSTS, clock.now(), 3600_000);
  const renewed = generateTls(HOSTS, clock.now(), 3600_000);

  function renewal(load: () => Promise<TlsMaterial>, events: string[]) {
    return new CertificateRenewal(current, {
      clock,
      log: newLogger('test'),
      load,
      publishCa: async (pem) => void events.push(`publish ${pem === renewed.ca ? 'new' : 'old'} CA`),
      serve: (m) => void events.push(`serve ${m.cert === renewed.cert ? 'new' : 'old'} certificate`),
      settleMs: 2000,
      pollMs: 60_000,
      sleep: async (ms) => void events.push(`wait ${ms}ms`),
    });
  }

  it('publishes the new CA bundle, lets the apiserver see it, and only then serves the new certificate', async function () {
    const events: string[] = [];
    const r = renewal(async () => renewed, events);
    expect(await r.step()).to.equal(true);
    expect(events).to.deep.equal(['publish new CA', 'wait 2000ms', 'serve new certificate']);
    expect(r.material).to.equal(renewed);
  });

  it('does nothing while the Secret holds what is served', async function () {
    const events: string[] = [];
    expect(await renewal(async () => current, events).step()).to.equal(false);
    expect(events).to.deep.equal([]);
  });

  it('checks again when renewal is due, but at least every poll interval and never in a busy loop', function () {
    // 1 h lifetime, backdated 5 min: due at 2/3 of 65 min from notBefore = 38 min 20 s from now.
    expect(nextCheckMs(current, clock.now(), 60_000)).to.equal(60_000);
    expect(nextCheckMs(current, clock.now(), 3600_000)).to.be.closeTo(2_300_000, 1000);
    expect(nextCheckMs(current, new Date(clock.now().getTime() + 3600_000), 60_000)).to.equal(1000);
  });
});
