import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { certificateFits, generateTls, mergeCaBundle, renewalTime, splitPem } from './tls.js';

const HOSTS = ['agentgate-webhook.agentgate-system.svc', '127.0.0.1'];
const t0 = new Date('2030-01-01T00:00:00Z');
const DAY = 24 * 3600_000;

describe('webhook certificates', function () {
  this.timeout(30_000);
  const first = generateTls(HOSTS, t0, 90 * DAY);
  const second = generateTls(HOSTS, new Date(t0.getTime() + 60 * DAY), 90 * DAY);

  it("gives certificates OpenSSL loads when the serials' random bytes begin with zeros (the case that used to fail)", function () {
    // Two leading zero bytes: the old '0' + hex recipe produced `00 7f ...` here.
    const zeros = (n: number) => Buffer.concat([Buffer.from([0x00, 0x00, 0x7f]), Buffer.alloc(n - 3, 0x11)]);
    const tls = generateTls(['127.0.0.1'], new Date(), 3_600_000, zeros);
    for (const pem of [tls.ca, tls.cert]) expect(() => new X509Certificate(pem)).to.not.throw();
  });

  it('is due for renewal at 2/3 of its lifetime, not at the end', function () {
    const x = new X509Certificate(first.cert);
    const from = Date.parse(x.validFrom);
    expect(renewalTime(first.cert).getTime()).to.equal(from + (Date.parse(x.validTo) - from) * (2 / 3));
    expect(certificateFits(first, HOSTS, new Date(t0.getTime() + 59 * DAY))).to.equal(true);
    expect(certificateFits(first, HOSTS, new Date(t0.getTime() + 61 * DAY))).to.equal(false);
  });

  it('does not fit a host it does not name', function () {
    expect(certificateFits(first, [...HOSTS, 'other.example'], t0)).to.equal(false);
  });

  it('checks the certificate against the newest CA of a bundle', function () {
    const bundle = mergeCaBundle([second.ca, first.ca], t0);
    expect(certificateFits({ ...second, ca: bundle }, HOSTS, new Date(t0.getTime() + 61 * DAY))).to.equal(true);
    expect(certificateFits({ ...first, ca: bundle }, HOSTS, t0), 'signed by an older CA of the bundle').to.equal(false);
  });

  it('merges CA bundles: order kept (newest first), each CA once, expired ones dropped', function () {
    const merged = mergeCaBundle([second.ca, `${first.ca}${second.ca}`, 'not a certificate'], new Date(t0.getTime() + 61 * DAY));
    expect(splitPem(merged)).to.deep.equal([second.ca, first.ca].map((p) => splitPem(p)[0]));
    // Past the first CA's notAfter it leaves the bundle.
    expect(splitPem(mergeCaBundle([second.ca, first.ca], new Date(t0.getTime() + 91 * DAY)))).to.deep.equal(splitPem(second.ca));
  });

  it('backdates notBefore by at most a tenth of a short lifetime, so renewal is not due at once', function () {
    const short = generateTls(HOSTS, t0, 45_000);
    expect(certificateFits(short, HOSTS, t0)).to.equal(true);
    expect(renewalTime(short.cert).getTime()).to.be.greaterThan(t0.getTime() + 20_000);
  });
});
