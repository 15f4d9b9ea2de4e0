import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { generateTls } from '../webhook/tls.js';
import { certificateSerial } from './x509-serial.js';

describe('certificateSerial', function () {
  it('is positive and minimally encoded whatever the random bytes (first byte 1..0x7f)', function () {
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      for (const second of [0x00, 0x7f, 0x80]) {
        const hex = certificateSerial(16, (n) => Buffer.concat([Buffer.from([first, second]), Buffer.alloc(n - 2, 0xab)]));
        expect(hex).to.have.length(32);
        const b0 = Number.parseInt(hex.slice(0, 2), 16);
        expect(b0, hex).to.be.within(1, 0x7f);
      }
    }
  });

  it('gives certificates OpenSSL loads when the random bytes begin with zeros (the case that used to fail)', function () {
    // Two leading zero bytes: the old '0' + hex recipe produced `00 7f ...` here.
    const zeros = (n: number) => Buffer.concat([Buffer.from([0x00, 0x00, 0x7f]), Buffer.alloc(n - 3, 0x11)]);
    const tls = generateTls(['127.0.0.1'], new Date(), 3_600_000, zeros);
    for (const pem of [tls.ca, tls.cert]) expect(() => new X509Certificate(pem)).to.not.throw();
  });
});
