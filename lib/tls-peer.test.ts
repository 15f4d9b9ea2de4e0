// A connection's peer judged once: the first request's answer serves the rest of the
// connection, only after renegotiation (which could change the peer) is refused on it.
import { expect } from 'chai';
import type { TLSSocket } from 'node:tls';
import { perConnection } from './tls-peer.js';

function fakeSocket(cn: string): { socket: TLSSocket; events: string[] } {
  const events: string[] = [];
  const socket = {
    disableRenegotiation: () => void events.push('renegotiation refused'),
    getPeerCertificate: () => {
      events.push('peer read');
      return { subject: { CN: cn } };
    },
  } as unknown as TLSSocket;
  return { socket, events };
}

describe('perConnection', () => {
  const judge = perConnection((s) => s.getPeerCertificate().subject?.CN === 'kube-apiserver');

  it('judges a connection once, after refusing renegotiation on it, and keeps the answer', () => {
    const a = fakeSocket('kube-apiserver');
    expect(judge(a.socket)).to.equal(true);
    expect(judge(a.socket)).to.equal(true);
    expect(judge(a.socket)).to.equal(true);
    expect(a.events).to.deep.equal(['renegotiation refused', 'peer read']);
  });

  it('judges another connection anew, a false answer included', () => {
    const a = fakeSocket('kube-apiserver');
    const b = fakeSocket('mallory');
    expect(judge(a.socket)).to.equal(true);
    expect(judge(b.socket)).to.equal(false);
    expect(judge(b.socket)).to.equal(false);
    expect(b.events).to.deep.equal(['renegotiation refused', 'peer read']);
    expect(judge(a.socket)).to.equal(true);
    expect(a.events).to.deep.equal(['renegotiation refused', 'peer read']);
  });
});
