// X.509 serial numbers for the certificates agentgate (and its tests) sign with node-forge.
//
// RFC 5280 wants a positive INTEGER, and DER wants it minimally encoded. forge writes the
// hex it is given as the INTEGER's bytes and strips at most one leading zero byte, so a hex
// that begins with two zero bytes (1 in 512 of `'0' + random hex`, the earlier recipe) came
// out as `00 7f ...`, which OpenSSL refuses ("illegal padding"): a certificate that cannot
// be loaded. A first byte in 1..0x7f is positive and minimal as it stands.
import { randomBytes } from 'node:crypto';

/** Hex of a random positive serial of `bytes` bytes (at most 20, RFC 5280), minimally encoded. */
export function certificateSerial(bytes = 16, random: (n: number) => Buffer = randomBytes): string {
  const b = Buffer.from(random(bytes));
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex');
}
