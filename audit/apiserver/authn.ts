// Delegated authentication, as every aggregated API server does it (metrics-server,
// kyverno/reports-server): the kube-apiserver's front proxy authenticates the user and
// passes the identity in X-Remote-* headers over a TLS connection on which it presents
// its own client certificate. Those headers are believed ONLY when that certificate
// chains to the requestheader client CA and names an allowed proxy; anyone else sending
// X-Remote-User is treated as anonymous (and refused). Direct clients authenticate with a
// bearer token (TokenReview) or a client certificate from the cluster's client CA.
//
// The CAs and header names come from kube-system/extension-apiserver-authentication,
// which the kube-apiserver publishes.
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { perConnection } from '../../lib/tls-peer.js';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

interface RequestHeaderConfig {
  clientCAs: X509Certificate[];
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export interface AuthnConfig {
  requestHeader?: RequestHeaderConfig;
  clientCAs: X509Certificate[];
}

type TokenReviewer = (token: string) => Promise<UserInfo | undefined>;

type AuthnResult = { ok: true; user: UserInfo; via: 'front-proxy' | 'client-certificate' | 'token' } | { ok: false; reason: string };

/** PEM bundle -> certificates. */
export function parsePemBundle(pem: string | undefined): X509Certificate[] {
  if (!pem) return [];
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function jsonList(v: string | undefined): string[] {
  if (!v) return [];
  try {
    const parsed = JSON.parse(v) as unknown;
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The extension-apiserver-authentication ConfigMap's data -> configuration. */
export function authnConfigFrom(data: Record<string, string> | undefined): AuthnConfig {
  const d = data ?? {};
  const rhCAs = parsePemBundle(d['requestheader-client-ca-file']);
  return {
    clientCAs: parsePemBundle(d['client-ca-file']),
    ...(rhCAs.length
      ? {
          requestHeader: {
            clientCAs: rhCAs,
            allowedNames: jsonList(d['requestheader-allowed-names']),
            usernameHeaders: jsonList(d['requestheader-username-headers']),
            groupHeaders: jsonList(d['requestheader-group-headers']),
            extraHeaderPrefixes: jsonList(d['requestheader-extra-headers-prefix']),
          },
        }
      : {}),
  };
}

/**
 * Whether the peer's chain (leaf first, as Node gives it) ends at one of the CAs, with
 * every certificate in its validity window and signed by the next. Node's own check
 * (socket.authorized) accepts any CA of the server's `ca` list; this says which.
 */
export function chainsTo(chain: readonly X509Certificate[], cas: readonly X509Certificate[], now: Date, usage: 'client' = 'client'): boolean {
  if (!chain.length) return false;
  const t = now.getTime();
  const inWindow = (c: X509Certificate) => Date.parse(c.validFrom) <= t && t <= Date.parse(c.validTo);
  const leaf = chain[0]!;
  if (usage === 'client' && leaf.keyUsage && leaf.keyUsage.length && !leaf.keyUsage.includes('1.3.6.1.5.5.7.3.2')) return false;
  // The signature is the proof; the name check keeps a CA from vouching for a certificate
  // that names another issuer (OpenSSL's checkIssued also compares key identifiers, which
  // not every issuer writes).
  const issuedBy = (cert: X509Certificate, ca: X509Certificate) => ca.ca && (ca.checkIssued(cert) || cert.issuer === ca.subject) && cert.verify(ca.publicKey);
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    if (!inWindow(cert)) return false;
    if (cas.some((c) => inWindow(c) && issuedBy(cert, c))) return true;
    const next = chain[i + 1];
    if (!next || !issuedBy(cert, next)) return false;
  }
  return false;
}

/**
 * The peer's chain as X509Certificates, leaf first, parsed once per connection
 * (lib/tls-peer.ts): the aggregator sends many requests over one keep-alive connection.
 */
export const peerChain: (socket: TLSSocket) => readonly X509Certificate[] = perConnection(parseChain);

function parseChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = socket.getPeerCertificate(true) as (ReturnType<TLSSocket['getPeerCertificate']> & { issuerCertificate?: unknown; raw?: Buffer }) | undefined;
  const seen = new Set<string>();
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate as typeof c;
  }
  return out;
}

function subjectField(cert: X509Certificate, field: 'CN' | 'O'): string[] {
  return cert.subject
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${field}=`))
    .map((l) => l.slice(field.length + 1));
}

function header(h: IncomingHttpHeaders, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    const v = h[n.toLowerCase()];
    if (Array.isArray(v)) out.push(...v);
    else if (typeof v === 'string') out.push(v);
  }
  return out.filter(Boolean);
}

export class Authenticator {
  private readonly tokens = new LRUCache<string, { user?: UserInfo }>({ max: 1000, ttl: 10_000 });
  constructor(
    private config: () => AuthnConfig,
    private readonly reviewToken: TokenReviewer,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async authenticate(headers: IncomingHttpHeaders, chain: readonly X509Certificate[]): Promise<AuthnResult> {
    const cfg = this.config();
    const rh = cfg.requestHeader;
    if (chain.length && rh && chainsTo(chain, rh.clientCAs, this.now())) {
      const cn = subjectField(chain[0]!, 'CN')[0] ?? '';
      if (rh.allowedNames.length && !rh.allowedNames.includes(cn))
        return { ok: false, reason: `front-proxy certificate CN ${JSON.stringify(cn)} is not an allowed name` };
      const username = header(headers, rh.usernameHeaders)[0];
      if (!username) return { ok: false, reason: 'front-proxy request without a username header' };
      const groups = header(headers, rh.groupHeaders)
        .flatMap((g) => g.split(',').map((x) => x.trim()))
        .filter(Boolean);
      const extra: Record<string, string[]> = {};
      for (const [k, v] of Object.entries(headers)) {
        for (const p of rh.extraHeaderPrefixes) {
          if (k.toLowerCase().startsWith(p.toLowerCase())) {
            const key = decodeURIComponent(k.slice(p.length)).toLowerCase();
            extra[key] = [...(extra[key] ?? []), ...(Array.isArray(v) ? v : [String(v)])];
          }
        }
      }
      return { ok: true, user: { username, groups, extra }, via: 'front-proxy' };
    }
    // Not the front proxy: identity headers mean nothing here.
    if (chain.length && chainsTo(chain, cfg.clientCAs, this.now())) {
      const username = subjectField(chain[0]!, 'CN')[0];
      if (username)
        return { ok: true, user: { username, groups: [...subjectField(chain[0]!, 'O'), 'system:authenticated'], extra: {} }, via: 'client-certificate' };
    }
    const auth = headers.authorization;
    if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) {
      const token = auth.replace(/^bearer\s+/i, '').trim();
      let cached = this.tokens.get(token);
      if (!cached) {
        cached = { user: await this.reviewToken(token) };
        this.tokens.set(token, cached);
      }
      return cached.user ? { ok: true, user: cached.user, via: 'token' } : { ok: false, reason: 'the bearer token was not accepted (TokenReview)' };
    }
    return { ok: false, reason: 'no credentials: use the kube-apiserver (kubectl), a bearer token or a client certificate' };
  }
}
