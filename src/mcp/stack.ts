import type { DiseConfig } from '../config/schema.js';
import type { MonitorSignaler } from '../runtime/monitor-signaler.js';
import { ToolRuntime } from '../runtime/tool-runtime.js';
import { ToolCatalog } from './catalog.js';
import { DiseMcpService } from './server.js';

export interface McpStackOptions {
  databaseUrl: string;
  config: DiseConfig;
  /** Where failures go to start heals (the health monitor); none: they are only recorded. */
  signaler?: MonitorSignaler;
  maxArgumentBytes?: number;
  /** How long routing notifications are gathered before the tools are read again. */
  debounceMs?: number;
  /** Who the runtime is in its reports (default mcp:<pid>). */
  source?: string;
  log?: (line: string) => void;
}

/** What serves MCP in one process: the runtime guard, the tool catalog, and the service over them. */
export interface McpStack {
  runtime: ToolRuntime;
  catalog: ToolCatalog;
  service: DiseMcpService;
  /** Refuses new calls, waits for those in flight, then writes every execution and closes. */
  close(): Promise<void>;
}

/** Builds the MCP service on a database: a ToolRuntime (routing, recording, canaries, strikes) and the catalog. */
export async function createMcpStack(options: McpStackOptions): Promise<McpStack> {
  const runtime = await ToolRuntime.create({
    databaseUrl: options.databaseUrl,
    config: options.config,
    source: options.source ?? `mcp:${process.pid}`,
    ...(options.signaler ? { signaler: options.signaler } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const catalog = new ToolCatalog({
    databaseUrl: options.databaseUrl,
    knownWrongPolicy: options.config.runtime.known_wrong_policy,
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  try {
    await catalog.start();
    await runtime.preload();
  } catch (err) {
    await catalog.close().catch(() => undefined);
    await runtime.close();
    throw err;
  }
  const service = new DiseMcpService({
    runtime,
    catalog,
    ...(options.maxArgumentBytes !== undefined ? { maxArgumentBytes: options.maxArgumentBytes } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  let closing: Promise<void> | undefined;
  return {
    runtime,
    catalog,
    service,
    close: () =>
      (closing ??= (async () => {
        await service.drain();
        await service.closeServers();
        await catalog.close();
        await runtime.close();
      })()),
  };
}
