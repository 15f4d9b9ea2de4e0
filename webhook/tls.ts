// Serving certificates for the webhook, and the webhook's own key.
//
// tls.mode=auto: without mounted certificates the webhook makes its own: a self-signed CA
// and a serving certificate for the hosts the apiserver will call (the --url host, or the
// Service's DNS names). They live in the Secret agentgate-webhook-tls, created if absent,
// so replicas share them. The CA key is not kept: at 2/3 of the certificate's lifetime (or
// when it no longer names every host) a replica makes a new CA and certificate, while the
// process runs. The Secret's ca.crt is a bundle, newest CA first, that keeps every earlier
// CA until it expires: the configurations' caBundle carries old and new during a rollover,
// so replicas still serving the old certificate keep working until they pick up the new.
//
// The HMAC key for fingerprints, which replicas must share so that they name an
// operation's ApprovalRequest alike, lives apart in agentgate-webhook-key: with
// tls.mode=certManager the certificate Secret is cert-manager's (type kubernetes.io/tls,
// immutable type) and agentgate never writes it.
//
// Keys and serials: lib/x509.ts.
import { randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import type * as k8s from '@kubernetes/client-node';
import { apiPath, GV, isAlreadyExists, isConflict, isNotFound, type KubeApi } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import { certificateSerial, rsaKeyPair } from '../lib/x509.js';

export const TLS_SECRET = 'agentgate-webhook-tls';
export const KEY_SECRET = 'agentgate-webhook-key';
export const FINGERPRINT_KEY = 'fingerprint.key';
export const DEFAULT_VALIDITY_MS = 365 * 24 * 3600_000;
/** Renew once this share of a certificate's lifetime has passed (cert-manager's default too). */
const RENEW_AT_FRACTION = 2 / 3;
/** notBefore is set this far back (clock skew between nodes), at most a tenth of the lifetime. */
const BACKDATE_MS = 5 * 60_000;

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** A new CA and a serving certificate for hosts (DNS names and IP addresses). */
export function generateTls(
  hosts: readonly string[],
  now = new Date(),
  validityMs = DEFAULT_VALIDITY_MS,
  /** The serials' random source (a test seam). */
  random?: (n: number) => Buffer,
): TlsMaterial {
  const notBefore = new Date(now.getTime() - Math.min(BACKDATE_MS, validityMs / 10));
  const notAfter = new Date(now.getTime() + validityMs);

  const ca = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = certificateSerial(16, random);
  caCert.validity.notBefore = notBefore;
  caCert.validity.notAfter = notAfter;
  const caName = [
    { name: 'commonName', value: 'agentgate-webhook-ca' },
    { name: 'organizationName', value: 'agentgate' },
  ];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  const srv = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = srv.publicKey;
  cert.serialNumber = certificateSerial(16, random);
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

/** The certificates of a PEM bundle, in order. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => `${p}\n`) ?? [];
}

/**
 * One CA bundle from several, in the order given (the newest CA first): each certificate
 * once, expired ones and unparsable blocks dropped. Replicas and renewals merge instead of
 * replacing, so a CA still in use is never taken out of the bundle by another writer.
 */
export function mergeCaBundle(bundles: readonly string[], now = new Date()): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pem of bundles.flatMap(splitPem)) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (Date.parse(x.validTo) <= now.getTime() || seen.has(x.fingerprint256)) continue;
    seen.add(x.fingerprint256);
    out.push(pem);
  }
  return out.join('');
}

/** When a certificate is due for renewal: 2/3 of the way from notBefore to notAfter. */
export function renewalTime(certPem: string): Date {
  const x = new X509Certificate(certPem);
  const from = Date.parse(x.validFrom);
  return new Date(from + (Date.parse(x.validTo) - from) * RENEW_AT_FRACTION);
}

/** Whether the serving certificate chains to the bundle's newest CA, names every host, and is not yet due for renewal. */
export function certificateFits(material: TlsMaterial, hosts: readonly string[], now = new Date()): boolean {
  try {
    const x = new X509Certificate(material.cert);
    const issuer = splitPem(material.ca)[0];
    if (!issuer || !x.verify(new X509Certificate(issuer).publicKey)) return false;
    if (renewalTime(material.cert).getTime() <= now.getTime() || Date.parse(x.validFrom) > now.getTime()) return false;
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

function readTls(secret: k8s.V1Secret | undefined): TlsMaterial | undefined {
  const d = secret?.data ?? {};
  const ca = unb64(d['ca.crt']);
  const cert = unb64(d['tls.crt']);
  const key = unb64(d['tls.key']);
  return ca && cert && key ? { ca, cert, key } : undefined;
}

const ownLabels = { 'app.kubernetes.io/managed-by': 'agentgate', 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/component': 'webhook' };

const secretPath = (namespace: string, name?: string): string => apiPath(GV.core, 'secrets', namespace, name);

async function readOptional(kube: KubeApi, name: string, namespace: string): Promise<k8s.V1Secret | undefined> {
  try {
    return await kube.get<k8s.V1Secret>(secretPath(namespace, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Writes one of agentgate's own Opaque Secrets: creates it, or replaces it at the
 * resourceVersion read. Races between replicas resolve through AlreadyExists/Conflict:
 * the loser reads again (the caller's loop) and uses the winner's.
 */
async function writeOwnSecret(
  kube: KubeApi,
  name: string,
  namespace: string,
  existing: k8s.V1Secret | undefined,
  data: Record<string, string>,
): Promise<boolean> {
  const body: k8s.V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: { ...(existing?.metadata?.labels ?? {}), ...ownLabels },
      ...(existing ? { resourceVersion: existing.metadata?.resourceVersion } : {}),
    },
    data,
  };
  try {
    if (existing) await kube.replace(secretPath(namespace, name), body);
    else await kube.create(secretPath(namespace), body);
    return true;
  } catch (err) {
    if (isAlreadyExists(err) || isConflict(err)) return false;
    throw err;
  }
}

/**
 * The HMAC key replicas share (agentgate-webhook-key), created once. An install from
 * before the key had its own Secret kept it in agentgate-webhook-tls: it is carried
 * over, so ApprovalRequests keep their names across the upgrade.
 */
export async function ensureKeySecret(kube: KubeApi, namespace: string, log: Logger): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await readOptional(kube, KEY_SECRET, namespace);
    const have = unb64(existing?.data?.[FINGERPRINT_KEY]);
    if (have) return have;
    let key = '';
    const legacy = await readOptional(kube, TLS_SECRET, namespace).catch(() => undefined);
    if (legacy?.type !== 'kubernetes.io/tls') key = unb64(legacy?.data?.[FINGERPRINT_KEY]);
    key ||= randomBytes(32).toString('hex');
    if (await writeOwnSecret(kube, KEY_SECRET, namespace, existing, { ...(existing?.data ?? {}), [FINGERPRINT_KEY]: b64(key) })) {
      log.info('webhook key secret created', { object: `${namespace}/${KEY_SECRET}` });
      return key;
    }
  }
  throw new Error(`could not create Secret ${namespace}/${KEY_SECRET} after 5 attempts`);
}

/**
 * tls.mode=auto: the serving certificate and CA bundle in agentgate-webhook-tls, renewed
 * when it no longer fits (see certificateFits). Idempotent and shared: every replica calls
 * it at start and on its renewal timer, and uses whatever the Secret holds once it fits.
 */
export async function ensureServingSecret(
  kube: KubeApi,
  namespace: string,
  hosts: readonly string[],
  log: Logger,
  opts: { validityMs?: number; now?: () => Date } = {},
): Promise<TlsMaterial> {
  const now = opts.now ?? (() => new Date());
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await readOptional(kube, TLS_SECRET, namespace);
    if (existing?.type === 'kubernetes.io/tls') {
      throw new Error(
        `Secret ${namespace}/${TLS_SECRET} is of type kubernetes.io/tls (cert-manager's?); agentgate's own serving Secret is Opaque. Delete it, or mount the certificate with --tls-cert/--tls-key (tls.mode=certManager)`,
      );
    }
    const have = readTls(existing);
    if (have && certificateFits(have, hosts, now())) return have;
    const fresh = generateTls(hosts, now(), opts.validityMs);
    // The new CA first; every earlier CA stays until it expires.
    const material = { ...fresh, ca: mergeCaBundle([fresh.ca, have?.ca ?? ''], now()) };
    const data = { ...(existing?.data ?? {}), 'ca.crt': b64(material.ca), 'tls.crt': b64(material.cert), 'tls.key': b64(material.key) };
    if (await writeOwnSecret(kube, TLS_SECRET, namespace, existing, data)) {
      log.info(existing ? 'webhook certificate renewed' : 'webhook certificate created', {
        object: `${namespace}/${TLS_SECRET}`,
        hosts,
        renewAt: renewalTime(material.cert).toISOString(),
        cas: splitPem(material.ca).length,
      });
      return material;
    }
    // Another replica won the race: read theirs.
  }
  throw new Error(`could not create or update Secret ${namespace}/${TLS_SECRET} after 5 attempts`);
}
