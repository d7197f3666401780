import type { DiseConfig } from '../../config/schema.js';
import { readLiveDevState } from '../../infra/dev-state.js';
import { startMcpHttp } from '../../mcp/http.js';
import { DEFAULT_MAX_ARGUMENT_BYTES, REPORT_TOOL } from '../../mcp/server.js';
import { createMcpStack } from '../../mcp/stack.js';
import { DEFAULT_MAX_MESSAGE_BYTES, LineStdioTransport } from '../../mcp/stdio-transport.js';
import { generateToken } from '../../ui/server.js';
import { withPool, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { optionalSignaler } from '../temporal-client.js';

export interface McpOptions {
  /** Serve Streamable HTTP on this port (0: any free one) instead of stdio. */
  http?: string;
  maxArgumentBytes?: string;
  maxMessageBytes?: string;
}

function positiveInteger(text: string | undefined, fallback: number, flag: string, min = 1): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected an integer ≥ ${min}, got "${text}"`);
  return n;
}

/**
 * `dise mcp`: every routed tool as an MCP tool, over stdio (for clients that start it as a command)
 * or Streamable HTTP on loopback. It serves the running stack's database; it does not start one,
 * because an MCP client would start a database per session.
 */
export async function mcp(options: McpOptions, config: DiseConfig, out: Output): Promise<void> {
  const port = options.http === undefined ? null : positiveInteger(options.http, 0, '--http', 0);
  if (port !== null && port > 65_535)
    throw new UsageError(`--http: expected a port number (0..65535), got "${options.http}"`);
  const maxArgumentBytes = positiveInteger(
    options.maxArgumentBytes,
    DEFAULT_MAX_ARGUMENT_BYTES,
    '--max-argument-bytes',
  );
  const maxMessageBytes = positiveInteger(
    options.maxMessageBytes,
    Math.max(DEFAULT_MAX_MESSAGE_BYTES, 2 * maxArgumentBytes),
    '--max-message-bytes',
  );
  if (!(process.env.DATABASE_URL || config.database.url || readLiveDevState()?.database)) {
    throw new UsageError(
      'no running dise stack: start it with `dise dev` (in another terminal), or set DATABASE_URL and TEMPORAL_ADDRESS',
    );
  }
  if (port === null) {
    // stdout carries the protocol: anything a library prints goes to stderr instead.
    console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  }
  await withPool(
    out,
    async ({ url }) => {
      const { signaler, close: closeSignaler } = await optionalSignaler(out, config);
      const stack = await createMcpStack({ databaseUrl: url, config, signaler, maxArgumentBytes, log: out.info });
      const tools = stack.catalog.list().length;
      let stop: (why: string) => Promise<void>;
      const stopped = new Promise<void>((resolve) => {
        let stopping: Promise<void> | undefined;
        stop = (why) =>
          (stopping ??= (async () => {
            out.info(`dise mcp: stopping (${why}); answering the calls in flight`);
            await finish();
            await stack.close();
            await closeSignaler();
            out.info('dise mcp: stopped; every execution is recorded');
            resolve();
          })());
      });
      let finish: () => Promise<void>;
      if (port === null) {
        const transport = new LineStdioTransport(process.stdin, process.stdout, maxMessageBytes);
        transport.onerror = (err) => out.info(`dise mcp: ${err.message}`);
        transport.onInputEnd = () => void stop!('stdin closed');
        const server = stack.service.createServer();
        await server.connect(transport);
        finish = async () => {
          await stack.service.drain();
          await transport.whenAnswered();
          await server.close();
        };
        out.info(`dise mcp: serving ${tools} tool(s) and ${REPORT_TOOL} over stdio`);
      } else {
        const token = config.ui.token ?? generateToken();
        const http = await startMcpHttp({
          service: stack.service,
          token,
          port,
          maxBodyBytes: maxMessageBytes,
          log: out.info,
        });
        finish = () => http.close();
        if (!config.ui.token) out.info(`operator token (Authorization: Bearer …; shown once): ${token}`);
        out.info(`dise mcp: serving ${tools} tool(s) and ${REPORT_TOOL} over Streamable HTTP`);
        out.result(`mcp=${http.url}`);
      }
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      await stopped;
    },
    config,
  );
}
