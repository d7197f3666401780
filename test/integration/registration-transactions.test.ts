import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { defaultConfig } from '../../src/config/schema.js';
import { emailLineage } from '../../src/demo/email-lineage.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { LineageError } from '../../src/lineage/errors.js';
import type { RegistrationValidator } from '../../src/lineage/registration.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';
import { tableCounts } from '../support/fixtures.js';
import { captureOutput } from '../support/output.js';

// Registration judges tool code with no database transaction open, and writes in one short
// transaction: what a batch stores is all or nothing, and the database's failures reach the user
// as a line that says what happened.

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);
afterAll(() => sandbox.close());

/** Sessions of this test's database inside a transaction, other than the one asking. */
const openTransactions = async () =>
  (
    await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`,
    )
  )[0]!.n;

/** The registration validator, noting how many transactions are open each time tool code is about to run. */
function watchedValidator(seen: number[]): RegistrationValidator {
  const inner = registrationValidator({ store: h.store, sandbox, config });
  return async (tx, version) => {
    const judge = await inner(tx, version);
    return async () => {
      seen.push(await openTransactions());
      return judge();
    };
  };
}

describe('registration and the database', () => {
  it('runs every version’s tool code with no transaction open, and stores the verdicts', async () => {
    const seen: number[] = [];
    const registered = await h.store.registerMany(emailLineage('open_tx'), { validate: watchedValidator(seen) });
    expect(seen).toHaveLength(registered.length);
    expect(
      seen.every((n) => n === 0),
      `transactions open while judging: ${seen.join(', ')}`,
    ).toBe(true);
    const stored = await h.db.query<{ version: string; health_status: string }>(
      `SELECT version, health_status FROM tool_lineage WHERE tool_name = 'open_tx' ORDER BY version`,
    );
    expect(Object.fromEntries(stored.map((r) => [r.version, r.health_status]))).toEqual(
      Object.fromEntries(registered.map((r) => [r.version, r.health])),
    );
    expect(stored.find((r) => r.version === '2.2.0')?.health_status).toBe('failed');
  });

  it('refuses a whole batch when a version builds on one judged FAILED in the same batch, and stores none of it', async () => {
    const before = await tableCounts(h.db);
    const lineage = emailLineage('all_or_none');
    const failing = lineage.find((v) => v.version === '2.2.0')!;
    const child = { ...failing, version: '2.2.1', parents: ['all_or_none@2.2.0'], mutation: null };
    const err = await h.store
      .registerMany([...lineage, child], { validate: registrationValidator({ store: h.store, sandbox, config }) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LineageError);
    expect((err as LineageError).message).toMatch(/all_or_none@2\.2\.0 is FAILED and cannot be a parent/);
    expect(await tableCounts(h.db)).toEqual(before);
  });

  it('names an unreachable database in one line, without the driver’s dump', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'postgresql://dise:dise@127.0.0.1:9/dise';
    try {
      const out = captureOutput();
      expect(await runCli(['tool', 'list'], out)).toBe(1);
      const said = out.stderr.join('\n');
      expect(said).toMatch(/^error: cannot reach the database at 127\.0\.0\.1:9: is PostgreSQL running\?/);
      expect(said).not.toMatch(/Invalid `|prisma\.|invocation/);
    } finally {
      process.env.DATABASE_URL = saved;
    }
  });
});
