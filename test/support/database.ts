import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/infra/database.js';

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
  await admin((c) => c.query(migrated ? `CREATE DATABASE "${name}" TEMPLATE "${template}"` : `CREATE DATABASE "${name}"`));
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
        for (let i = 0; i < 50; i++) {
          const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (!rows[0]?.n) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}
