// The floor of an admission webhook: a bare node:https server that reads the review, parses
// it and allows it, served as agentgate's webhook serves (webhook/run.ts): a serving
// certificate of its own CA, TLS 1.2 or later, no renegotiation, keep-alive closed by the
// caller; with a client CA, a client certificate asked for (never demanded by TLS), and
// with clientAuth.require, reviews refused (401) unless it names the kube-apiserver.
// Shared by webhook-bench.ts (the floor its servers are measured against) and
// audit-agent-overhead.ts (the hop: what any webhook costs on the apiserver's path).
//
// This file is also the floor's entry point as a child process: startFloor forks it.
import { fork, type ChildProcess } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { perConnection } from '../lib/tls-peer.js';
import { KEEP_ALIVE_TIMEOUT_MS } from '../webhook/drain.js';

const SELF = fileURLToPath(import.meta.url);

/** The floor's whole work: read the review, parse it, allow it. */
export function floorAnswer(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string } };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
  });
}

interface FloorOptions {
  /** PEM: the CA of the callers' client certificates; none asked for without it. */
  clientCa?: string;
  /** Refuse reviews (401) unless the caller's certificate, verified against clientCa, has one of names as its CN. */
  clientAuth?: { names: readonly string[]; require: true };
}

/** https.createServer's options as run.ts passes them. */
export function floorTlsOptions(tls: { cert: string; key: string }, clientCa?: string): https.ServerOptions {
  return { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}) };
}

/** The floor server (not listening yet); handler answers instead of floorAnswer (webhook-bench's express floor). */
export function floorServer(tls: { cert: string; key: string }, opts: FloorOptions = {}, handler = floorAnswer): https.Server {
  const auth = opts.clientAuth;
  // As webhook/server.ts judges the caller: once per connection, the CN from a verified chain.
  const fromApiserver = perConnection((s: TLSSocket) => {
    if (!s.authorized) return false;
    const cn = s.getPeerCertificate().subject?.CN;
    return typeof cn === 'string' && (auth?.names ?? []).includes(cn);
  });
  const server = https.createServer(floorTlsOptions(tls, opts.clientCa), (req, res) => {
    if (auth && !fromApiserver(req.socket as TLSSocket)) {
      res.statusCode = 401;
      res.end('a client certificate of the kube-apiserver is required');
      return;
    }
    handler(req, res);
  });
  server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  return server;
}

/** A floor in a child process, on 127.0.0.1 with a fresh CA; ca: the serving certificate's CA (a caBundle). */
export async function startFloor(opts: FloorOptions = {}): Promise<{ child: ChildProcess; port: number; ca: string; stop: () => Promise<void> }> {
  const child = fork(SELF, ['serve'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
    env: { ...process.env, FLOOR_OPTIONS: JSON.stringify(opts) },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { port, ca } = await new Promise<{ port: number; ca: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; ca: string }));
    child.once('exit', (code) => reject(new Error(`floor webhook exited ${code}`)));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
  };
  return { child, port, ca, stop };
}

async function serveChild(): Promise<void> {
  const { generateTls } = await import('../webhook/tls.js');
  const opts = JSON.parse(process.env.FLOOR_OPTIONS ?? '{}') as FloorOptions;
  const tls = generateTls(['127.0.0.1', 'localhost']);
  const server = floorServer(tls, opts);
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0, ca: tls.ca });
  });
}

if (process.argv[1] === SELF && process.argv[2] === 'serve') void serveChild();
