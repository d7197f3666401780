import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { Hono, type Context } from 'hono';
import type { DiseMcpService } from './server.js';

/** Where `dise mcp --http` answers. */
export const MCP_HTTP_PATH = '/mcp';

/** Host names a loopback server answers to: anything else is a DNS-rebinding attempt. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface McpHttpOptions {
  service: DiseMcpService;
  /** The operator token every request must carry (Authorization: Bearer <token>). */
  token: string;
  /** 127.0.0.1 unless told otherwise; the DNS-rebinding check allows loopback names only. */
  host?: string;
  port: number;
  /** Bound on a request body (default 4 MiB); bigger ones are answered 413 before being read whole. */
  maxBodyBytes?: number;
  log?: (line: string) => void;
}

export interface RunningMcpHttp {
  url: string;
  /** Sessions open now. */
  sessions(): number;
  /** Stops taking requests, answers those in flight, closes every session and the listener. */
  close(): Promise<void>;
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A JSON-RPC error as an HTTP answer (the SDK's clients read the message from it). */
function rpcError(c: Context, status: 400 | 401 | 403 | 404 | 503, code: number, message: string): Response {
  return c.json({ jsonrpc: '2.0', id: null, error: { code, message } }, status);
}

/**
 * Serves MCP's Streamable HTTP transport on loopback: one MCP server per session, each request
 * checked first for its Host and Origin (a web page that rebinds a name to 127.0.0.1 is refused)
 * and for the operator token.
 */
export async function startMcpHttp(options: McpHttpOptions): Promise<RunningMcpHttp> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  let stopping = false;
  let port = options.port;

  const app = new Hono();
  app.use('*', async (c, next) => {
    const hostHeader = c.req.header('host') ?? '';
    const hostname = hostHeader.startsWith('[')
      ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
      : hostHeader.split(':')[0]!;
    if (!LOOPBACK_HOSTS.has(hostname.toLowerCase())) {
      return rpcError(
        c,
        403,
        ErrorCode.InvalidRequest,
        `Host "${hostHeader}" refused: dise mcp answers loopback names only (DNS-rebinding protection)`,
      );
    }
    const origin = c.req.header('origin');
    if (origin) {
      let originHost = '';
      try {
        const u = new URL(origin);
        originHost = u.port === String(port) ? u.hostname : '';
      } catch {
        originHost = '';
      }
      if (!LOOPBACK_HOSTS.has(originHost) && !LOOPBACK_HOSTS.has(`[${originHost}]`)) {
        return rpcError(c, 403, ErrorCode.InvalidRequest, `Origin "${origin}" refused (DNS-rebinding protection)`);
      }
    }
    const m = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '');
    if (!m || !sameToken(m[1]!, options.token)) {
      c.header('WWW-Authenticate', 'Bearer realm="dise"');
      return rpcError(
        c,
        401,
        ErrorCode.InvalidRequest,
        'the operator token is required (Authorization: Bearer <token>; ui.token in config.yaml)',
      );
    }
    await next();
  });

  app.all(MCP_HTTP_PATH, async (c) => {
    const sessionId = c.req.header('mcp-session-id');
    if (sessionId) {
      const transport = sessions.get(sessionId);
      if (!transport)
        return rpcError(
          c,
          404,
          ErrorCode.InvalidRequest,
          `unknown or closed session ${sessionId}: initialize a new one`,
        );
      return transport.handleRequest(c.req.raw);
    }
    if (stopping) return rpcError(c, 503, ErrorCode.InternalError, 'dise mcp is shutting down: no new sessions');
    // A request without a session must be an initialize; the transport refuses anything else.
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
      maxRequestBodySize: options.maxBodyBytes ?? 4 * 1024 * 1024,
      enableJsonResponse: false,
    });
    const server = options.service.createServer();
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw);
    if (!transport.sessionId) await server.close().catch(() => undefined);
    return response;
  });
  app.all('*', (c) => rpcError(c, 404, ErrorCode.InvalidRequest, `MCP is served at ${MCP_HTTP_PATH}`));

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  port = address.port;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}${MCP_HTTP_PATH}`,
    sessions: () => sessions.size,
    async close() {
      stopping = true;
      await options.service.drain();
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      await options.service.closeServers();
      await new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      });
      log('dise mcp: HTTP listener closed');
    },
  };
}
