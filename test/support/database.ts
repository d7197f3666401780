import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/infra/database.js';
import { LineageStore } from '../../src/lineage/store.js';
import { pollUntil } from './wait.js';

export interface TestDatabase {
  url: string;
  name: string;
  prisma: PrismaClient;
  /** Plain SQL for assertions that must not go through the code under test. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('postgresAdminUrl') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase({ migrated = true }: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `dise_t_${randomBytes(6).toString('hex')}`;
  const template = inject('templateDatabase');
  await admin((c) =>
    c.query(migrated ? `CREATE DATABASE "${name}" TEMPLATE "${template}"` : `CREATE DATABASE "${name}"`),
  );
  const url = withDatabase(inject('postgresAdminUrl'), name);
  const prisma = createPrismaClient(url, { poolSize: 5 });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  return {
    url,
    name,
    prisma,
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await pool.query<T>(sql, params)).rows;
    },
    async drop() {
      await prisma.$disconnect();
      await pool.end();
      // Connections may still be closing: a forced drop would kill them mid-close, and the error
      // would surface in whichever test file runs next. Wait for them (5 s at most), then force.
      await admin(async (c) => {
        const connections = async () =>
          (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]))
            .rows[0]?.n ?? 0;
        await pollUntil(connections, (n) => n === 0, { timeout: 5_000 }).catch(() => undefined);
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}

export interface TestStore {
  db: TestDatabase;
  store: LineageStore;
}

/**
 * A test file's own database and a LineageStore on it, made in beforeAll and dropped in afterAll.
 * The fields are filled in once beforeAll has run: read them inside tests and hooks.
 */
export function useTestStore(options: { migrated?: boolean } = {}): TestStore {
  const t = {} as TestStore;
  beforeAll(async () => {
    t.db = await createTestDatabase(options);
    t.store = new LineageStore(t.db.prisma);
  });
  afterAll(async () => {
    await t.db?.drop();
  });
  return t;
}
