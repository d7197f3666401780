import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { DEFAULT_NAMESPACE } from '../shared/constants.js';
import { DISE_SEARCH_ATTRIBUTES } from '../shared/search-attributes.js';
import { freePort, isPortOpen, isProcessAlive, waitFor } from './net.js';
import { ensureDir } from './paths.js';
import { findTemporalCli, TemporalCliNotFoundError } from './temporal-cli.js';

export interface RunningTemporal {
  address: string;
  uiUrl: string | null;
  namespace: string;
  pid: number | null;
  /** CLI that serves it, for messages. */
  source: string;
  stop(): Promise<void>;
}

export interface TemporalDevServerOptions {
  /** Folder for temporal.db and the server log. */
  dir: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
  /**
   * false for a throwaway server (the test suite's): SQLite does not wait for the disk. A killed
   * server still loses nothing; only a machine crash could. Default true.
   */
  durable?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Wait at most this long for the server to answer. */
  readyTimeoutMs?: number;
  /**
   * Use Temporal's usual ports (7233, UI 8233) when they are free, for stable addresses and UI
   * links (`dise dev`); otherwise, and by default, any free ports.
   */
  preferUsualPorts?: boolean;
}

async function preferredPort(port: number): Promise<number> {
  return (await isPortOpen(port)) ? freePort() : port;
}

/** `--search-attribute` flags for our keys (DESIGN.md §4). */
export function searchAttributeFlags(): string[] {
  return DISE_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}

/** True once the frontend answers a real RPC, not just a TCP connect. */
export async function temporalAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function stopChild(child: ChildProcess | number): Promise<void> {
  const pid = typeof child === 'number' ? child : child.pid;
  if (pid === undefined || !isProcessAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(async () => !isProcessAlive(pid), { timeoutMs: 15_000, what: `Temporal (pid ${pid}) to stop` });
  } catch {
    process.kill(pid, 'SIGKILL');
  }
}

/** Treats an already running server (e.g. left by a killed `dise dev`) as ours to use and stop. */
export function adoptTemporal(address: string, uiUrl: string | null, pid: number | null): RunningTemporal {
  return {
    address,
    uiUrl,
    namespace: DEFAULT_NAMESPACE,
    pid,
    source: 'adopted',
    stop: () => (pid ? stopChild(pid) : Promise.resolve()),
  };
}

/**
 * Starts `temporal server start-dev` with its database under `dir`, the Web UI and our search
 * attributes. Falls back to the SDK's own download of the dev server when no CLI can be found.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<RunningTemporal> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const dir = ensureDir(options.dir);
  const pick = async (usual: number) => (options.preferUsualPorts ? preferredPort(usual) : freePort());
  const port = options.port ?? (await pick(7233));
  const ui = options.ui ?? true;
  const uiPort = options.uiPort ?? (await pick(8233));
  const address = `127.0.0.1:${port}`;
  const uiUrl = ui ? `http://127.0.0.1:${uiPort}` : null;
  const dbFile = path.join(dir, 'temporal.db');

  const { found, attempts } = findTemporalCli({ env, log });
  if (!found) return startWithSdkDownload({ dbFile, port, uiPort, ui, attempts, log });

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--namespace',
    DEFAULT_NAMESPACE,
    '--log-level',
    'warn',
    ...(ui ? ['--ui-port', String(uiPort), '--ui-ip', '127.0.0.1'] : ['--headless']),
    // The write-ahead log: a commit is written once (the rollback journal writes it twice) and, when
    // durable, synced once (synchronous stays FULL) where the journal costs two or more fsyncs; every
    // step of a heal commits. A throwaway server does not wait for the disk at all.
    '--sqlite-pragma',
    'journal_mode=wal',
    ...(options.durable === false ? ['--sqlite-pragma', 'synchronous=OFF'] : []),
    ...searchAttributeFlags(),
  ];
  log(`starting Temporal dev server (${found.source}: ${found.path})`);
  const logFile = createWriteStream(path.join(dir, 'server.log'), { flags: 'a' });
  const child = spawn(found.path, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  child.stdout?.pipe(logFile, { end: false });
  child.stderr?.pipe(logFile, { end: false });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });

  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`Temporal dev server ${exited}; see ${path.join(dir, 'server.log')}`);
        return (await isPortOpen(port)) && (await temporalAnswers(address));
      },
      { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 200, what: `Temporal at ${address}` },
    );
    if (uiUrl) {
      await waitFor(async () => isPortOpen(uiPort), { timeoutMs: 20_000, what: `Temporal UI at ${uiUrl}` });
    }
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    address,
    uiUrl,
    namespace: DEFAULT_NAMESPACE,
    pid: child.pid ?? null,
    source: found.source,
    stop: async () => {
      await stopChild(child);
      logFile.end();
    },
  };
}

async function startWithSdkDownload(args: {
  dbFile: string;
  port: number;
  uiPort: number;
  ui: boolean;
  attempts: string[];
  log: (line: string) => void;
}): Promise<RunningTemporal> {
  args.log('no Temporal CLI found; trying the Temporal SDK download of the dev server');
  try {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: args.port,
        ui: args.ui,
        uiPort: args.uiPort,
        dbFilename: args.dbFile,
        extraArgs: searchAttributeFlags(),
        executable: { type: 'cached-download', downloadDir: path.dirname(args.dbFile) },
      },
    });
    return {
      address: `127.0.0.1:${args.port}`,
      uiUrl: args.ui ? `http://127.0.0.1:${args.uiPort}` : null,
      namespace: DEFAULT_NAMESPACE,
      pid: null,
      source: 'sdk-download',
      stop: () => env.teardown(),
    };
  } catch (err) {
    throw new TemporalCliNotFoundError([
      ...args.attempts,
      `the Temporal SDK's own download: failed (${(err as Error).message.split('\n')[0]})`,
    ]);
  }
}
