import { expect } from 'chai';
import { certificateSerial } from './x509.js';

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
});
