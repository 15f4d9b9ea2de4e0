// Serving certificates for the webhook.
//
// Without mounted certificates the webhook makes its own: a self-signed CA and a serving
// certificate for the hosts the apiserver will call (the --url host, or the Service's DNS
// names). They live in the Secret agentgate-webhook-tls, created if absent, so replicas
// share one CA and the caBundle in the webhook configurations stays stable. The CA key is
// not kept: when the certificate no longer fits (new host, near expiry) a new CA is made.
// The same Secret carries the HMAC key for fingerprints, which replicas must share so
// that they name an operation's ApprovalRequest alike.
//
// Keys come from node:crypto (native, fast); node-forge only assembles and signs X.509.
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import type * as k8s from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, isNotFound } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';

export const TLS_SECRET = 'agentgate-webhook-tls';
export const FINGERPRINT_KEY = 'fingerprint.key';
const VALIDITY_MS = 365 * 24 * 3600_000;
/** Renew when less than this remains. */
const RENEW_BEFORE_MS = 30 * 24 * 3600_000;

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

function forgeKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    pem,
    privateKey: forge.pki.privateKeyFromPem(pem),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey,
  };
}

function serial(): string {
  // Positive: a leading 0 nibble keeps the DER integer from reading as negative.
  return '0' + randomBytes(15).toString('hex');
}

/** A new CA and a serving certificate for hosts (DNS names and IP addresses). */
export function generateTls(hosts: readonly string[], now = new Date()): TlsMaterial {
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + VALIDITY_MS);

  const ca = forgeKeys();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = notBefore;
  caCert.validity.notAfter = notAfter;
  const caName = [{ name: 'commonName', value: 'agentgate-webhook-ca' }, { name: 'organizationName', value: 'agentgate' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  const srv = forgeKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = srv.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: hosts.find((h) => !isIP(h)) ?? hosts[0] ?? 'agentgate-webhook' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());

  return { ca: forge.pki.certificateToPem(caCert), cert: forge.pki.certificateToPem(cert), key: srv.pem };
}

/** Whether the serving certificate names every host and stays valid long enough. */
export function certificateFits(material: TlsMaterial, hosts: readonly string[], now = new Date()): boolean {
  try {
    const x = new X509Certificate(material.cert);
    const ca = new X509Certificate(material.ca);
    if (!x.verify(ca.publicKey)) return false;
    if (Date.parse(x.validTo) - now.getTime() < RENEW_BEFORE_MS || Date.parse(x.validFrom) > now.getTime()) return false;
    return hosts.every((h) => (isIP(h) ? x.checkIP(h) !== undefined : x.checkHost(h) !== undefined));
  } catch {
    return false;
  }
}

/** The hosts the apiserver may call: the --url host, or the Service's names; always loopback. */
export function hostsFor(opts: { url?: string; service?: string; namespace: string }): string[] {
  const hosts = new Set<string>(['localhost', '127.0.0.1']);
  if (opts.url) hosts.add(new URL(opts.url).hostname.replace(/^\[|\]$/g, ''));
  if (opts.service) {
    const s = opts.service;
    const ns = opts.namespace;
    for (const h of [s, `${s}.${ns}`, `${s}.${ns}.svc`, `${s}.${ns}.svc.cluster.local`]) hosts.add(h);
  }
  return [...hosts];
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

export interface SecretContents {
  tls?: TlsMaterial;
  fingerprintKey: string;
}

function readSecret(secret: k8s.V1Secret): { tls?: TlsMaterial; fingerprintKey?: string } {
  const d = secret.data ?? {};
  const ca = unb64(d['ca.crt']);
  const cert = unb64(d['tls.crt']);
  const key = unb64(d['tls.key']);
  const fp = unb64(d[FINGERPRINT_KEY]);
  return { ...(ca && cert && key ? { tls: { ca, cert, key } } : {}), ...(fp ? { fingerprintKey: fp } : {}) };
}

/**
 * Loads (or creates) the shared Secret. With needTls, makes sure it holds a CA and a
 * serving certificate that fit hosts. Races between replicas resolve through
 * AlreadyExists/Conflict: the loser reads the winner's Secret and uses it.
 */
export async function ensureWebhookSecret(core: k8s.CoreV1Api, namespace: string, hosts: readonly string[], needTls: boolean, log: Logger): Promise<SecretContents> {
  for (let attempt = 0; attempt < 5; attempt++) {
    let existing: k8s.V1Secret | undefined;
    try {
      existing = await core.readNamespacedSecret({ name: TLS_SECRET, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const have = existing ? readSecret(existing) : {};
    const tlsOk = !needTls || (have.tls !== undefined && certificateFits(have.tls, hosts));
    if (existing && have.fingerprintKey && tlsOk) return { ...(needTls ? { tls: have.tls! } : {}), fingerprintKey: have.fingerprintKey };

    const fingerprintKey = have.fingerprintKey ?? randomBytes(32).toString('hex');
    const tls = needTls ? (tlsOk ? have.tls! : generateTls(hosts)) : have.tls;
    const data: Record<string, string> = { ...(existing?.data ?? {}), [FINGERPRINT_KEY]: b64(fingerprintKey) };
    if (tls) Object.assign(data, { 'ca.crt': b64(tls.ca), 'tls.crt': b64(tls.cert), 'tls.key': b64(tls.key) });
    const body: k8s.V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: TLS_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'app.kubernetes.io/component': 'webhook' }, ...(existing ? { resourceVersion: existing.metadata?.resourceVersion } : {}) },
      data,
    };
    try {
      if (existing) await core.replaceNamespacedSecret({ name: TLS_SECRET, namespace, body });
      else await core.createNamespacedSecret({ namespace, body });
      log.info(existing ? 'webhook secret renewed' : 'webhook secret created', { object: `${namespace}/${TLS_SECRET}`, hosts: needTls ? hosts : undefined });
      return { ...(tls ? { tls } : {}), fingerprintKey };
    } catch (err) {
      if (!isAlreadyExists(err) && !isConflict(err)) throw err;
      // Another replica won the race: read theirs.
    }
  }
  throw new Error(`could not create or update Secret ${namespace}/${TLS_SECRET} after 5 attempts`);
}
