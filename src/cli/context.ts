import { asDatabaseFailure } from '../infra/database-errors.js';
import pg from 'pg';
import type { DiseConfig } from '../config/schema.js';
import type { PrismaClient } from '../infra/database.js';
import { readLiveDevState } from '../infra/dev-state.js';
import { readMigrations } from '../infra/migrator.js';
import type { RunningPostgres } from '../infra/postgres.js';
import { temporalSettingsFromEnv, type TemporalSettings } from '../infra/temporal-connection.js';
import type { LineageStore } from '../lineage/store.js';
import { DEFAULT_NAMESPACE } from '../shared/constants.js';
import { UsageError } from './errors.js';

// Prisma, the embedded PostgreSQL and the migrator are imported when a command opens them: the quick
// commands (call, report, lineage, tool list) use a node-postgres pool and never load Prisma's
// client, whose loading alone would cost more than the 300 ms a scripted command may take.

export { consoleOutput, type Output } from './output.js';
import type { Output } from './output.js';

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
export async function openDatabase(
  out: Output,
  config?: DiseConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<DatabaseHandle> {
  const { url, embedded } = await databaseUrl(out, config, env);
  const [{ createPrismaClient }, { LineageStore }] = await Promise.all([
    import('../infra/database.js'),
    import('../lineage/store.js'),
  ]);
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

/** The database a command works on when one is named or running (else the embedded one would be started). */
export function configuredDatabaseUrl(config?: DiseConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.DATABASE_URL || config?.database.url || readLiveDevState()?.database;
}

/** The URL of the database a command works on; starts (and migrates) the embedded one when there is none. */
async function databaseUrl(
  out: Output,
  config: DiseConfig | undefined,
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; embedded?: RunningPostgres }> {
  const url = configuredDatabaseUrl(config, env);
  if (url) return { url };
  out.info('starting the embedded PostgreSQL under .dise/ (run `dise dev` to keep it running)');
  const [{ startEmbeddedPostgres }, { migrate }] = await Promise.all([
    import('../infra/postgres.js'),
    import('../infra/migrator.js'),
  ]);
  const embedded = await startEmbeddedPostgres();
  await migrate(embedded.url, { log: out.info });
  return { url: embedded.url, embedded };
}

export interface PoolHandle {
  url: string;
  pool: pg.Pool;
}

/**
 * The database as a node-postgres pool, for the quick commands: the same database openDatabase
 * picks, the same migration check, no Prisma.
 */
export async function withPool<T>(
  out: Output,
  fn: (db: PoolHandle) => Promise<T>,
  config?: DiseConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const { url, embedded } = await databaseUrl(out, config, env);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await assertMigratedSql((sql) => pool.query<{ migration_name: string }>(sql).then((r) => r.rows));
    return await fn({ url, pool });
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

/** Refuses to work on a database that lacks our migrations, with the command that fixes it. */
export async function assertMigrated(prisma: PrismaClient): Promise<void> {
  await assertMigratedSql((sql) => prisma.$queryRawUnsafe<{ migration_name: string }[]>(sql));
}

async function assertMigratedSql(query: (sql: string) => Promise<{ migration_name: string }[]>): Promise<void> {
  const expected = readMigrations().map((m) => m.name);
  let applied: string[] = [];
  try {
    const rows = await query(
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    applied = rows.map((r) => r.migration_name);
  } catch (err) {
    // A blank database has no migrations table; a database that is not there is another matter.
    const failure = asDatabaseFailure(err);
    if (failure && failure.reason !== 'other') throw failure;
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
export async function withDatabase<T>(
  out: Output,
  fn: (db: DatabaseHandle) => Promise<T>,
  config?: DiseConfig,
): Promise<T> {
  const db = await openDatabase(out, config);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
