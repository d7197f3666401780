/**
 * npm run bench:retention — what keeping executions bounded costs on a big table: BENCH_DROP_ROWS
 * (default 10,000,000) executions spread over BENCH_DROP_DAYS (default 10) day partitions, then
 *   1. the first maintenance, which sums every hour of them into execution_rollups;
 *   2. the maintenance that drops the oldest day (target < 1 s), and the next day again;
 *   3. as the baseline, deleting one day's rows from the table with DELETE (what a table without
 *      partitions would have to do), on a copy of one day.
 */
import { LineageStore } from '../src/lineage/store.js';
import { createPrismaClient } from '../src/infra/database.js';
import { benchDatabase, fmtMs, printFigures, progress, time } from './support.js';

const ROWS = Number(process.env.BENCH_DROP_ROWS ?? 10_000_000);
const DAYS = Number(process.env.BENCH_DROP_DAYS ?? 10);
const VERSIONS = 100;
const DAY = 86_400_000;

async function main(): Promise<void> {
  const db = await benchDatabase('dise_bench_retention');
  const prisma = createPrismaClient(db.url, { poolSize: 2 });
  const store = new LineageStore(prisma);
  const rows: [string, string, string][] = [];
  const figures: Record<string, number> = {};
  try {
    const now = new Date();
    const today = Math.floor(now.getTime() / DAY) * DAY;
    const oldest = 30 + DAYS; // the days 31..30+DAYS ago: all past a 30-day retention
    const perDay = Math.floor(ROWS / DAYS);
    progress(
      `inserting ${(perDay * DAYS).toLocaleString()} executions over ${DAYS} days (${perDay.toLocaleString()} a day)…`,
    );
    const inserted = await time(async () => {
      for (let d = oldest; d > 30; d--) {
        const day = new Date(today - d * DAY);
        await db.pool.query(`SELECT dise_ensure_execution_partition($1::date)`, [day.toISOString().slice(0, 10)]);
        await db.pool.query(
          `INSERT INTO executions (tool_id, ok, error_type, duration_ms, input_hash, created_at)
           SELECT 'v' || (g % ${VERSIONS}) || '@1.0.0', g % 50 <> 0, CASE WHEN g % 50 = 0 THEN 'TypeError' END, (g % 1000) / 100.0, 'h',
                  $1::timestamptz + (g % 86400) * interval '1 second'
           FROM generate_series(1, $2::int) g`,
          [day.toISOString(), perDay],
        );
        progress(`  ${day.toISOString().slice(0, 10)} done`);
      }
      await db.pool.query('ANALYZE executions');
    });
    rows.push([`insert ${(perDay * DAYS).toLocaleString()} executions`, fmtMs(inserted.ms), 'setup']);

    progress('first maintenance: rolling every hour up…');
    const first = await time(() => store.retention.maintain({ retentionDays: oldest, now }));
    figures.rollupMs = first.ms;
    rows.push([
      `first maintenance: ${first.value.rolledUpRows.toLocaleString()} hourly rollups`,
      fmtMs(first.ms),
      `sums ${(perDay * DAYS).toLocaleString()} rows once`,
    ]);

    const drops: number[] = [];
    for (const retention of [oldest - 1, oldest - 2]) {
      const dropped = await time(() => store.retention.maintain({ retentionDays: retention, now }));
      drops.push(dropped.ms);
      rows.push([
        `maintenance dropping ${dropped.value.dropped.join(', ')}`,
        fmtMs(dropped.ms),
        `~${dropped.value.droppedRows.toLocaleString()} rows; target < 1 s`,
      ]);
    }
    figures.dropDayMs = Math.max(...drops);

    progress('baseline: DELETE of one day of rows…');
    const day = new Date(today - (oldest - 2) * DAY);
    const deleted = await time(() =>
      db.pool.query(`DELETE FROM executions WHERE created_at >= $1 AND created_at < $2`, [
        day.toISOString(),
        new Date(day.getTime() + DAY).toISOString(),
      ]),
    );
    figures.deleteDayMs = deleted.ms;
    rows.push([
      `DELETE of one day (${deleted.value.rowCount?.toLocaleString()} rows, the baseline)`,
      fmtMs(deleted.ms),
      `×${(deleted.ms / figures.dropDayMs).toFixed(0)} the partition drop, and leaves dead rows to VACUUM`,
    ]);
    const [left] = (await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM executions')).rows;
    rows.push(['executions left', Number(left!.n).toLocaleString(), `${DAYS - 3} days`]);
    printFigures('bench:retention', rows, { bench: 'retention', rows: perDay * DAYS, ...figures });
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
