import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { executionViolations } from '../../src/doctor/invariants.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { useTestStore } from '../support/database.js';
import { version } from '../support/fixtures.js';

// Executions partitioned by day; finished hours summed into rollups (kept); days
// past runtime.execution_retention_days dropped whole; the doctor checks the counters against the
// rollups and what is still stored.

const h = useTestStore();
const DAY = 86_400_000;
const now = new Date();
const dayStart = (daysAgo: number) => new Date(Math.floor(now.getTime() / DAY) * DAY - daysAgo * DAY);
const partitionOf = (daysAgo: number) =>
  `executions_p${dayStart(daysAgo).toISOString().slice(0, 10).replaceAll('-', '')}`;

async function partitions(): Promise<string[]> {
  return (
    await h.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'executions'::regclass ORDER BY 1`,
    )
  ).map((r) => r.name);
}

/** `n` calls of `tool` at 10:00–10:59 UTC `daysAgo` days ago, every 4th failed, taking 1..n ms. */
async function callsAt(tool: string, daysAgo: number, n: number): Promise<void> {
  await h.db.query(`SELECT dise_ensure_execution_partition($1::date)`, [dayStart(daysAgo).toISOString().slice(0, 10)]);
  await h.db.query(
    `INSERT INTO executions (tool_id, ok, error_type, duration_ms, input_hash, created_at)
     SELECT $1, g % 4 <> 0, CASE WHEN g % 4 = 0 THEN 'TypeError' END, g, md5(g::text), $2::timestamptz + interval '10 hours' + (g % 60) * interval '1 minute'
     FROM generate_series(1, $3::int) g`,
    [tool, dayStart(daysAgo).toISOString(), n],
  );
  await h.db.query(`UPDATE tool_lineage SET execution_count = execution_count + $2 WHERE tool_id = $1`, [tool, n]);
}

beforeAll(async () => {
  await h.store.registerVersion(version('kept', '1.0.0', [], { code: 'function run(x) { return x; }' }));
  await h.store.setRoute('kept@1.0.0', 'test');
});

describe('execution retention', () => {
  it('rolls finished hours up, drops the days past the retention, and keeps counters accounted for', async () => {
    await callsAt('kept@1.0.0', 40, 100);
    await callsAt('kept@1.0.0', 10, 200);
    await callsAt('kept@1.0.0', 1, 400);
    expect(await partitions()).toContain(partitionOf(40));

    const report = await h.store.retention.maintain({ retentionDays: 30, now });
    expect(report.dropped).toEqual([partitionOf(40)]);
    expect(await partitions()).not.toContain(partitionOf(40));
    expect(await partitions()).toContain(partitionOf(10));
    expect(await partitions()).toContain(
      `executions_p${new Date(now.getTime() + 7 * DAY).toISOString().slice(0, 10).replaceAll('-', '')}`,
    );

    const [gone] = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE created_at < $1`, [
      dayStart(30),
    ]);
    expect(gone!.n).toBe(0);
    const rollups = await h.db.query<{
      hour: Date;
      calls: number;
      errors: number;
      p50_ms: number;
      p99_ms: number;
      max_ms: number;
    }>(
      `SELECT hour, calls, errors, p50_ms, p99_ms, max_ms FROM execution_rollups WHERE tool_id = 'kept@1.0.0' ORDER BY hour`,
    );
    // The dropped day's calls survive in its rollup: history outlives the retention.
    expect(rollups).toEqual([
      {
        hour: new Date(dayStart(40).getTime() + 10 * 3_600_000),
        calls: 100,
        errors: 25,
        p50_ms: 50.5,
        p99_ms: expect.closeTo(99.01, 2),
        max_ms: 100,
      },
      {
        hour: new Date(dayStart(10).getTime() + 10 * 3_600_000),
        calls: 200,
        errors: 50,
        p50_ms: 100.5,
        p99_ms: expect.closeTo(198.01, 2),
        max_ms: 200,
      },
      {
        hour: new Date(dayStart(1).getTime() + 10 * 3_600_000),
        calls: 400,
        errors: 100,
        p50_ms: 200.5,
        p99_ms: expect.closeTo(396.01, 2),
        max_ms: 400,
      },
    ]);
    expect(await executionViolations(h.store)).toEqual([]);

    // Idempotent: a second run changes nothing.
    const again = await h.store.retention.maintain({ retentionDays: 30, now });
    expect(again.dropped).toEqual([]);
    expect(await h.db.query(`SELECT sum(calls)::int AS n FROM execution_rollups`)).toEqual([{ n: 700 }]);
  });

  it('keeps recording through the runtime into the day partition, and the doctor sees a counter that is off', async () => {
    const config = defaultConfig();
    config.runtime.flush_interval_ms = 20;
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    try {
      for (let i = 0; i < 25; i++) await runtime.call('kept', i);
      await runtime.flush();
    } finally {
      await runtime.close();
    }
    const [today] = await h.db.query<{ part: string; n: number }>(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM executions WHERE created_at >= $1 GROUP BY 1`,
      [dayStart(0)],
    );
    expect(today).toEqual({ part: partitionOf(0), n: 25 });
    expect(await executionViolations(h.store)).toEqual([]);

    await h.db.query(`UPDATE tool_lineage SET execution_count = execution_count + 3 WHERE tool_id = 'kept@1.0.0'`);
    const violations = await executionViolations(h.store);
    expect(violations).toHaveLength(1);
    expect(violations[0]!.message).toMatch(
      /kept@1\.0\.0 counts 728 call\(s\), but its rollups and stored executions hold 725/,
    );
  });

  it('moves calls that landed in the default partition into their day when it is made', async () => {
    await h.db.query(
      `INSERT INTO executions (tool_id, ok, duration_ms, input_hash, created_at) VALUES ('kept@1.0.0', true, 1, 'x', $1)`,
      [new Date(dayStart(-20).getTime() + 3_600_000)],
    );
    const [before] = await h.db.query<{ part: string }>(
      `SELECT tableoid::regclass::text AS part FROM executions WHERE input_hash = 'x'`,
    );
    expect(before!.part).toBe('executions_default');
    await h.db.query(`SELECT dise_ensure_execution_partition($1::date)`, [dayStart(-20).toISOString().slice(0, 10)]);
    const [after] = await h.db.query<{ part: string }>(
      `SELECT tableoid::regclass::text AS part FROM executions WHERE input_hash = 'x'`,
    );
    expect(after!.part).toBe(partitionOf(-20));
  });
});
