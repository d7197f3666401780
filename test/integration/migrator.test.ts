import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MigrationError, migrationChecksum, readMigrations } from '../../src/infra/migrator.js';
import { MIGRATIONS_DIR, PACKAGE_ROOT } from '../../src/infra/paths.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const databases: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.drop()));
});

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrated: false });
  databases.push(db);
  return db;
}

function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-migrations-'));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

describe('migrator', () => {
  it('applies every migration in order and records it the way Prisma Migrate does', async () => {
    const db = await emptyDatabase();
    const report = await migrate(db.url);
    const files = readMigrations();
    expect(report.applied).toEqual(files.map((f) => f.name));
    const rows = await db.query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
      id: string;
    }>('SELECT * FROM "_prisma_migrations" ORDER BY started_at');
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    for (const [i, row] of rows.entries()) {
      // Prisma's checksum: SHA-256 of the file's bytes, hex.
      expect(row.checksum).toBe(migrationChecksum(readFileSync(files[i]!.file, 'utf8')));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Tables, not the day partitions of executions.
    const tables = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    );
    // One per model of the Prisma schema, and Prisma Migrate's own _prisma_migrations.
    const models = readFileSync(path.join(PACKAGE_ROOT, 'prisma', 'schema.prisma'), 'utf8').match(/^model /gm)!.length;
    expect(tables[0]!.n).toBe(models + 1);
  });

  it('applies nothing the second time', async () => {
    const db = await emptyDatabase();
    await migrate(db.url);
    const again = await migrate(db.url);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied.length).toBeGreaterThan(0);
  });

  it('refuses an applied migration whose file changed, naming the file, and changes nothing', async () => {
    const db = await emptyDatabase();
    const dir = copyOfMigrations();
    await migrate(db.url, { dir });
    const [first] = readMigrations(dir);
    writeFileSync(first!.file, first!.sql + '\n-- edited after it was applied\n');
    mkdirSync(path.join(dir, '29990101000000_later'));
    writeFileSync(path.join(dir, '29990101000000_later', 'migration.sql'), 'CREATE TABLE later_table (id int);');

    const err = await migrate(db.url, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toContain(first!.file);
    expect((err as Error).message).toContain('has changed');
    const later = await db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'later_table'`);
    expect(later).toHaveLength(0);
  });

  it('rolls a failing migration back whole and records nothing for it', async () => {
    const db = await emptyDatabase();
    const dir = copyOfMigrations();
    mkdirSync(path.join(dir, '29990101000000_broken'));
    writeFileSync(
      path.join(dir, '29990101000000_broken', 'migration.sql'),
      'CREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;',
    );
    const err = await migrate(db.url, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(/29990101000000_broken.*failed and was rolled back.*no_such_table/s);
    expect(await db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'half_done'`)).toHaveLength(0);
    const names = (await db.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"')).map(
      (r) => r.migration_name,
    );
    expect(names).not.toContain('29990101000000_broken');
    expect(names).toEqual(readMigrations().map((m) => m.name));
  });

  it('lets concurrent migrators race safely (advisory lock): each migration applied once', async () => {
    const db = await emptyDatabase();
    await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url)]);
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM "_prisma_migrations"');
    expect(rows[0]!.n).toBe(readMigrations().length);
  });
});
