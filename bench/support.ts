import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { migrate } from '../src/infra/migrator.js';
import { stateDir } from '../src/infra/paths.js';
import { ensureDatabaseExists, startEmbeddedPostgres, type RunningPostgres } from '../src/infra/postgres.js';
import { startTemporalDevServer } from '../src/infra/temporal-server.js';

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  close(): Promise<void>;
  /** The embedded server stopped, down for `downMs`, and started again on the same port and data; absent with DATABASE_URL. */
  restart?(downMs: number): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * A fresh, migrated database for one benchmark: on DATABASE_URL's server when set, otherwise on the
 * embedded PostgreSQL under .dise/ (started for the run and stopped after).
 */
export async function benchDatabase(name: string): Promise<BenchDatabase> {
  let embedded: RunningPostgres | undefined;
  let adminUrl: string;
  if (process.env.DATABASE_URL) {
    adminUrl = withDatabase(process.env.DATABASE_URL, 'postgres');
  } else {
    embedded = await startEmbeddedPostgres();
    adminUrl = embedded.adminUrl;
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
  await ensureDatabaseExists(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Stopping the embedded server ends idle connections; that must not end the benchmark's process.
  pool.on('error', () => undefined);
  return {
    url,
    pool,
    async close() {
      await pool.end();
      await embedded?.stop();
    },
    ...(embedded && {
      async restart(downMs: number) {
        const port = embedded!.port;
        await embedded!.stop();
        await new Promise((r) => setTimeout(r, downMs));
        embedded = await startEmbeddedPostgres({ port });
      },
    }),
  };
}

/**
 * A Temporal server for one benchmark: TEMPORAL_ADDRESS when set, otherwise a headless dev server
 * on a fresh database under .dise/ (a kept one would answer an earlier run's heal ids with their
 * old results).
 */
export async function benchTemporal(name: string): Promise<{ address: string; stop(): Promise<void> }> {
  if (process.env.TEMPORAL_ADDRESS) return { address: process.env.TEMPORAL_ADDRESS, stop: async () => undefined };
  const dir = path.join(stateDir(), name);
  rmSync(dir, { recursive: true, force: true });
  const server = await startTemporalDevServer({ dir, ui: false });
  return { address: server.address, stop: () => server.stop() };
}

export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

export async function medianOf(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await time(fn)).ms);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function fmtMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`;
}

/** Deterministic pseudo-random numbers, so every run builds the same DAG. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Prints a benchmark's figures as an aligned table, then one JSON line for machines. */
export function printFigures(title: string, rows: [string, string, string][], figures: Record<string, unknown>): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${title}`);
  for (const [what, value, note] of rows) console.log(`  ${what.padEnd(width)}  ${value.padStart(12)}   ${note}`);
  console.log(JSON.stringify(figures));
}

/** What one runtime process of bench:load sends back when stopped. */
export interface LoadCounts {
  calls: number;
  ok: number;
  /** Calls that reached the sandbox and so were recorded as executions (answers and tool errors). */
  recorded: number;
  /** Errors by name: refused (a pruned route between prune and promote), tool errors… */
  errors: Record<string, number>;
  /** Calls answered by a regenerated version (name@x.y.1). */
  healedAnswers: number;
  ms: number;
}
