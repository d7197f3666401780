/**
 * What one SQL statement costs the worker's main thread, by the path it takes: node-postgres alone
 * (the baseline), Prisma's raw query, Prisma's ORM read, and a Prisma transaction around one read.
 * Each runs the same read of one version's row, sequentially, against the embedded PostgreSQL; CPU
 * time (process.cpuUsage) and wall time per statement, and the ratio to node-postgres.
 *
 *   npm run bench:statement            (BENCH_STATEMENTS, default 2000 per path per round)
 */
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { benchDatabase, printFigures, progress } from './support.js';

const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 2000);
const ROUNDS = 3;
const ID = 'statement_cost@1.0.0';

const db = await benchDatabase('dise_bench_statement');
const prisma = createPrismaClient(db.url);
const store = new LineageStore(prisma);
await store.registerVersion({
  name: 'statement_cost',
  version: '1.0.0',
  parents: [],
  code: 'function run(x) { return x; }',
});

const paths: Record<string, () => Promise<unknown>> = {
  'node-postgres query': () => db.pool.query('SELECT * FROM tool_lineage WHERE tool_id = $1', [ID]),
  'Prisma $queryRaw': () => prisma.$queryRaw`SELECT * FROM tool_lineage WHERE tool_id = ${ID}`,
  'Prisma findUnique': () => prisma.toolLineage.findUnique({ where: { toolId: ID } }),
  'Prisma $transaction, one read': () =>
    prisma.$transaction((tx) => tx.toolLineage.findUnique({ where: { toolId: ID } })),
};

/** CPU and wall microseconds per statement over `n` sequential statements. */
async function measure(run: () => Promise<unknown>, n: number): Promise<{ cpuUs: number; wallUs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < n; i++) await run();
  const wallUs = ((performance.now() - started) * 1000) / n;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / n, wallUs };
}

// Interleaved rounds (the first a warm-up, not counted), so the machine's drift falls on every path alike.
const best: Record<string, { cpuUs: number; wallUs: number }> = {};
for (let round = 0; round <= ROUNDS; round++) {
  progress(round ? `round ${round}/${ROUNDS}…` : 'warming up…');
  for (const [name, run] of Object.entries(paths)) {
    const m = await measure(run, round ? STATEMENTS : 200);
    if (!round) continue;
    const kept = best[name];
    if (!kept || m.cpuUs < kept.cpuUs) best[name] = m;
  }
}
await prisma.$disconnect();
await db.close();

const baseline = best['node-postgres query']!.cpuUs;
printFigures(
  `bench:statement (one version's row read ${STATEMENTS}× per path and round, best of ${ROUNDS} rounds)`,
  Object.entries(best).map(([name, m]) => [
    name,
    `${m.cpuUs.toFixed(0)} µs CPU`,
    `${m.wallUs.toFixed(0)} µs wall; ${(m.cpuUs / baseline).toFixed(1)}× node-postgres's CPU`,
  ]),
  { bench: 'statement', statements: STATEMENTS, rounds: ROUNDS, paths: best },
);
