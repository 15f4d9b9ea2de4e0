// What the certificates agentgate (and its tests) sign with node-forge share: their keys and
// serial numbers. Keys come from node:crypto (native, fast); forge only assembles and signs.
//
// Serials: // RFC 5280 wants a positive INTEGER, and DER wants it minimally encoded. forge writes the
// hex it is given as the INTEGER's bytes and strips at most one leading zero byte, so a hex
// that begins with two zero bytes (1 in 512 of `'0' + random hex`, the earlier recipe) came
// out as `00 7f ...`, which OpenSSL refuses ("illegal padding"): a certificate that cannot
// be loaded. A first byte in 1..0x7f is positive and minimal as it stands.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** Hex of a random positive serial of `bytes` bytes (at most 20, RFC 5280), minimally encoded. */
export function certificateSerial(bytes = 16, random: (n: number) => Buffer = randomBytes): string {
  const b = Buffer.from(random(bytes));
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex');
}

/** A new RSA 2048 key pair: forge's objects to sign with, and the private key as PKCS#1 PEM. */
export function rsaKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    pem,
    privateKey: forge.pki.privateKeyFromPem(pem),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey,
  };
}
