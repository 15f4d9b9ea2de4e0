// `agentgate mcp`: serves the desk over stdio (default: the MCP client starts this process)
// or over streamable HTTP (--http HOST:PORT, for a sidecar next to the agent). Over HTTP
// anyone who reaches the port acts as the agent, so it listens on loopback unless a
// bearer token file is given.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import { str, UsageError } from '../args.js';
import type { Ctx } from '../commands.js';
import { CliError } from '../errors.js';
import { Desk } from './desk.js';
import { createMcpServer } from './server.js';

const VERSION = '0.1.0';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--http ${value}: use HOST:PORT, e.g. 127.0.0.1:8787 (port 0 picks a free one)`, 'mcp');
  return { host: (m[1] ?? m[2])!, port };
}

export async function runMcp(ctx: Ctx): Promise<number> {
  const { values } = ctx.parsed;
  const agent = str(values, 'agent');
  const kc = ctx.kc();
  const desk = new Desk({
    kc,
    ...(agent ? { agentName: agent } : {}),
    defaultNamespace: ctx.namespace(),
    now: () => ctx.io.now(),
    sleep: (ms) => ctx.io.sleep(ms),
  });
  const http = str(values, 'http');
  if (!http) {
    const server = createMcpServer(desk, VERSION);
    const transport = new StdioServerTransport();
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve;
      // The client closing our stdin ends the session (the SDK's transport does not watch for it).
      process.stdin.once('end', resolve);
    });
    await server.connect(transport);
    ctx.io.err(
      `agentgate mcp: serving on stdio as ${kc.getCurrentUser()?.name ?? 'the kubeconfig user'} of ${kc.getCurrentCluster()?.server ?? 'the cluster'}\n`,
    );
    await closed;
    await server.close().catch(() => undefined);
    return 0;
  }
  return serveHttp(ctx, desk, parseListen(http), str(values, 'http-token-file'));
}

function bearerCheck(tokenFile: string | undefined): (req: Request) => boolean {
  if (!tokenFile) return () => true;
  let token: Buffer;
  try {
    token = Buffer.from(readFileSync(tokenFile, 'utf8').trim());
  } catch (e) {
    throw new CliError(`cannot read --http-token-file ${tokenFile}: ${(e as Error).message}`, 2);
  }
  if (token.length < 16) throw new CliError(`--http-token-file ${tokenFile}: the token must be at least 16 characters`, 2);
  return (req) => {
    const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    return given.length === token.length && timingSafeEqual(given, token);
  };
}

async function serveHttp(ctx: Ctx, desk: Desk, listen: { host: string; port: number }, tokenFile: string | undefined): Promise<number> {
  if (!LOOPBACK.has(listen.host) && !tokenFile) {
    throw new UsageError(
      `--http ${listen.host}:${listen.port} is not a loopback address: whoever reaches it acts as the agent, so give --http-token-file FILE (clients send Authorization: Bearer <token>)`,
      'mcp',
    );
  }
  const authorized = bearerCheck(tokenFile);
  const app = createMcpExpressApp({ host: listen.host });
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: Request, res: Response): Promise<void> => {
    if (!authorized(req)) {
      res.status(401).json({ jsonrpc: '2.0', error: { code: -32001, message: 'agentgate mcp: missing or wrong bearer token' }, id: null });
      return;
    }
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'no valid session: send initialize first' }, id: null });
        return;
      }
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, t),
      });
      t.onclose = () => {
        if (t.sessionId) sessions.delete(t.sessionId);
      };
      await createMcpServer(desk, VERSION).connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  };
  app.post('/mcp', (req, res) => void handle(req, res).catch((e: unknown) => res.headersSent || res.status(500).json({ error: String(e) })));
  app.get('/mcp', (req, res) => void handle(req, res).catch(() => undefined));
  app.delete('/mcp', (req, res) => void handle(req, res).catch(() => undefined));
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(listen.port, listen.host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  ctx.io.err(`agentgate mcp: serving streamable HTTP on http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/mcp\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
