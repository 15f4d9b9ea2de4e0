// Test-only PKI: a CA and client certificates, as the kube-apiserver's front proxy has.
import forge from 'node-forge';
import { certificateSerial, rsaKeyPair } from '../../lib/x509.js';
import { parsePemBundle } from './authn.js';
import type { AuthnConfig } from './authn.js';

interface Pair {
  cert: string;
  key: string;
}

export class TestCa {
  private readonly k = rsaKeyPair();
  private readonly certObj: forge.pki.Certificate;
  readonly cert: string;
  constructor(readonly name: string) {
    const c = forge.pki.createCertificate();
    c.publicKey = this.k.publicKey;
    c.serialNumber = certificateSerial(8);
    c.validity.notBefore = new Date(Date.now() - 60_000);
    c.validity.notAfter = new Date(Date.now() + 86_400_000);
    c.setSubject([{ name: 'commonName', value: name }]);
    c.setIssuer([{ name: 'commonName', value: name }]);
    c.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true },
    ]);
    c.sign(this.k.privateKey, forge.md.sha256.create());
    this.certObj = c;
    this.cert = forge.pki.certificateToPem(c);
  }
  client(cn: string, orgs: string[] = []): Pair {
    return this.issue(
      [{ name: 'commonName', value: cn }, ...orgs.map((o) => ({ name: 'organizationName', value: o }))],
      [{ name: 'extKeyUsage', clientAuth: true }],
    );
  }
  /** A serving certificate for one IP address, with this CA as its chain (ca). */
  serving(ip: string): Pair & { ca: string } {
    const pair = this.issue(
      [{ name: 'commonName', value: ip }],
      [
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip }] },
      ],
    );
    return { ...pair, ca: this.cert };
  }
  private issue(subject: forge.pki.CertificateField[], extensions: object[]): Pair {
    const k = rsaKeyPair();
    const c = forge.pki.createCertificate();
    c.publicKey = k.publicKey;
    c.serialNumber = certificateSerial(8);
    c.validity.notBefore = new Date(Date.now() - 60_000);
    c.validity.notAfter = new Date(Date.now() + 86_400_000);
    c.setSubject(subject);
    c.setIssuer(this.certObj.subject.attributes);
    c.setExtensions([{ name: 'basicConstraints', cA: false }, ...extensions]);
    c.sign(this.k.privateKey, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(c), key: k.pem };
  }
}

/** extension-apiserver-authentication as kubeadm writes it, trusting this front proxy CA (and clientCa for direct clients). */
export function frontProxyAuthn(proxyCa: TestCa, clientCa?: TestCa): AuthnConfig {
  return {
    clientCAs: clientCa ? parsePemBundle(clientCa.cert) : [],
    requestHeader: {
      clientCAs: parsePemBundle(proxyCa.cert),
      allowedNames: ['front-proxy-client'],
      usernameHeaders: ['X-Remote-User'],
      groupHeaders: ['X-Remote-Group'],
      extraHeaderPrefixes: ['X-Remote-Extra-'],
    },
  };
}
