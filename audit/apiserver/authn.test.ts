// The peer's chain: read from the TLS connection once, then the same for every request on it.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { peerChain } from './authn.js';
import { TestCa } from './certs.test-helpers.js';

/** A TLS socket whose peer is this client certificate, issued by ca; counts the reads of its peer. */
function socketOf(clientPem: string, ca: TestCa): { socket: TLSSocket; reads: () => number } {
  const leaf = new X509Certificate(clientPem);
  const root = new X509Certificate(ca.cert);
  const issuer = { raw: root.raw, fingerprint256: root.fingerprint256 } as Record<string, unknown>;
  issuer.issuerCertificate = issuer; // a self-signed root is its own issuer, as Node reports it
  let reads = 0;
  const socket = {
    disableRenegotiation: () => undefined,
    getPeerCertificate: () => {
      reads++;
      return { raw: leaf.raw, fingerprint256: leaf.fingerprint256, issuerCertificate: issuer };
    },
  } as unknown as TLSSocket;
  return { socket, reads: () => reads };
}

describe('audit API: the peer chain of a connection', function () {
  this.timeout(30_000);
  const ca = new TestCa('front-proxy-ca');

  it('is the leaf then its issuers, each once', function () {
    const { socket } = socketOf(ca.client('front-proxy-client').cert, ca);
    const chain = peerChain(socket);
    expect(chain.map((c) => c.subject)).to.deep.equal(['CN=front-proxy-client', 'CN=front-proxy-ca']);
  });

  it('is parsed on the first request of a connection only; another connection has its own', function () {
    const a = socketOf(ca.client('front-proxy-client').cert, ca);
    const first = peerChain(a.socket);
    expect(peerChain(a.socket)).to.equal(first);
    expect(a.reads()).to.equal(1);
    const b = socketOf(ca.client('alice').cert, ca);
    expect(peerChain(b.socket)[0]!.subject).to.equal('CN=alice');
    expect(b.reads()).to.equal(1);
  });
});
