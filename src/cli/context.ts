import type { DiseConfig } from '../config/schema.js';
import { createPrismaClient, type PrismaClient } from '../infra/database.js';
import { readLiveDevState } from '../infra/dev-state.js';
import { readMigrations } from '../infra/migrator.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../infra/postgres.js';
import { temporalSettingsFromEnv, type TemporalSettings } from '../infra/temporal-connection.js';
import { migrate } from '../infra/migrator.js';
import { LineageStore } from '../lineage/store.js';
import { DEFAULT_NAMESPACE } from '../shared/constants.js';
import { UsageError } from './errors.js';

export interface Output {
  /** Messages and progress: stderr, so stdout stays parseable. */
  info(line: string): void;
  /** Results: stdout. */
  result(text: string): void;
}

export const consoleOutput: Output = {
  info: (line) => process.stderr.write(line + '\n'),
  result: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
};

export interface DatabaseHandle {
  url: string;
  prisma: PrismaClient;
  store: LineageStore;
  close(): Promise<void>;
}

/**
 * The database a command works on: DATABASE_URL when set, else config.yaml's database.url, else the
 * running `dise dev`'s, else the embedded PostgreSQL under .dise/ started (and migrated) for the
 * duration of the command.
 */
export async function openDatabase(out: Output, config?: DiseConfig, env: NodeJS.ProcessEnv = process.env): Promise<DatabaseHandle> {
  let url = env.DATABASE_URL || config?.database.url || undefined;
  let embedded: RunningPostgres | undefined;
  if (!url) url = readLiveDevState()?.database;
  if (!url) {
    out.info('starting the embedded PostgreSQL under .dise/ (run `dise dev` to keep it running)');
    embedded = await startEmbeddedPostgres();
    url = embedded.url;
    await migrate(url, { log: out.info });
  }
  const prisma = createPrismaClient(url);
  try {
    await assertMigrated(prisma);
  } catch (err) {
    await prisma.$disconnect();
    await embedded?.stop();
    throw err;
  }
  return {
    url,
    prisma,
    store: new LineageStore(prisma),
    async close() {
      await prisma.$disconnect();
      await embedded?.stop();
    },
  };
}

/** Refuses to work on a database that lacks our migrations, with the command that fixes it. */
export async function assertMigrated(prisma: PrismaClient): Promise<void> {
  const expected = readMigrations().map((m) => m.name);
  let applied: string[] = [];
  try {
    const rows = await prisma.$queryRaw<{ migration_name: string }[]>`
      SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`;
    applied = rows.map((r) => r.migration_name);
  } catch {
    applied = [];
  }
  const missing = expected.filter((m) => !applied.includes(m));
  if (missing.length) {
    throw new UsageError(`the database is missing migration(s) ${missing.join(', ')}: run \`dise migrate\` first`);
  }
}

/** Temporal to talk to: TEMPORAL_ADDRESS (and friends), else config.yaml's temporal section, else the running `dise dev`'s. */
export function resolveTemporal(env: NodeJS.ProcessEnv = process.env, config?: DiseConfig): TemporalSettings {
  const fromEnv = temporalSettingsFromEnv(env, config?.temporal);
  if (fromEnv) return fromEnv;
  const dev = readLiveDevState();
  if (dev) return { address: dev.temporal, namespace: dev.namespace ?? DEFAULT_NAMESPACE, tls: false };
  throw new UsageError('no Temporal server: set TEMPORAL_ADDRESS, or start the embedded stack with `dise dev`');
}

/** Runs `fn` with a database and always closes it. */
export async function withDatabase<T>(out: Output, fn: (db: DatabaseHandle) => Promise<T>, config?: DiseConfig): Promise<T> {
  const db = await openDatabase(out, config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
