/**
 * npm run bench:canary — what shadowing a canary costs callers, against the same calls without a
 * canary in the same run (interleaved rounds, so machine noise hits every side alike):
 *   - calls of a tool with no canary (the baseline);
 *   - calls of a tool whose canary mirrors 10% of calls: the 90% not mirrored (target < 5% slower);
 *   - calls of a tool whose canary mirrors every call: the caller's time (target < 10% slower), the
 *     candidate running after the caller is answered, between calls, as a server's event loop would.
 * All three tools run the same code; the candidates too.
 */
import { performance } from 'node:perf_hooks';
import { defaultConfig } from '../src/config/schema.js';
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { benchDatabase, printFigures, progress } from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const ROUNDS = 10;
const CODE = "function run(input) { return typeof input === 'string' && input.indexOf('@') > 0; }";
const CANDIDATE = "function run(input) { return typeof input === 'string' && input.indexOf('@') >= 1; }";

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

async function main(): Promise<void> {
  const db = await benchDatabase('dise_bench_canary');
  const prisma = createPrismaClient(db.url, { poolSize: 4 });
  const store = new LineageStore(prisma);
  try {
    for (const [name, fraction] of [
      ['plain', null],
      ['shadow10', 0.1],
      ['shadow100', 1],
    ] as const) {
      await store.registerVersion({ name, version: '1.0.0', code: CODE });
      await store.setRoute(`${name}@1.0.0`, 'bench');
      if (fraction === null) continue;
      await store.registerVersion({ name, version: '1.1.0', parents: [`${name}@1.0.0`], code: CANDIDATE });
      await store.canaries.begin({
        candidateId: `${name}@1.1.0`,
        toolName: name,
        stableId: `${name}@1.0.0`,
        targetHealth: 'healthy',
        origin: 'registration',
        healId: null,
        workflowId: `canary:${name}@1.1.0`,
        mirrorFraction: fraction,
      });
    }
    const config = defaultConfig();
    config.runtime.batch_size = 5000;
    config.deployment.canary.queue_size = 100_000;
    let mirrored = false;
    const runtime = await ToolRuntime.create({
      databaseUrl: db.url,
      config,
      mirrorSample: (f) => (mirrored = Math.random() < f),
    });
    await runtime.preload();

    /** n calls of `tool`, each timed for the caller; between calls the loop turns (and runs candidates). */
    const calls = async (tool: string, n: number, into: { all: number[]; mirrored: number[]; plain: number[] }) => {
      for (let i = 0; i < n; i++) {
        const input = `user${i % 100}@example.com`;
        mirrored = false;
        const t = performance.now();
        await runtime.call(tool, input);
        const ms = performance.now() - t;
        into.all.push(ms);
        (mirrored ? into.mirrored : into.plain).push(ms);
        await yieldToLoop();
      }
    };
    const sample = () => ({ all: [] as number[], mirrored: [] as number[], plain: [] as number[] });
    progress(`warming up…`);
    for (const tool of ['plain', 'shadow10', 'shadow100']) await calls(tool, 2000, sample());

    progress(`calls: ${CALLS.toLocaleString()} per tool, ${ROUNDS} interleaved rounds…`);
    const base = sample();
    const ten = sample();
    const every = sample();
    const wall = { base: 0, ten: 0, every: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      await calls('plain', CALLS / ROUNDS, base);
      wall.base += performance.now() - t;
      t = performance.now();
      await calls('shadow10', CALLS / ROUNDS, ten);
      wall.ten += performance.now() - t;
      t = performance.now();
      await calls('shadow100', CALLS / ROUNDS, every);
      await runtime.mirror.flushAll();
      wall.every += performance.now() - t;
    }
    await runtime.flush();
    const comparisons = runtime.mirror.written;
    const dropped = runtime.mirror.dropped;
    await runtime.close();

    const baseUs = median(base.all) * 1000;
    const notMirroredUs = median(ten.plain) * 1000;
    const mirroredUs = median(every.mirrored) * 1000;
    const figures = {
      bench: 'canary',
      calls: CALLS,
      baselineCallUs: baseUs,
      notMirroredCallUs: notMirroredUs,
      notMirroredRatio: notMirroredUs / baseUs,
      mirroredCallUs: mirroredUs,
      mirroredRatio: mirroredUs / baseUs,
      mirroredInTenPercentRun: ten.mirrored.length,
      comparisonsWritten: comparisons,
      comparisonsDropped: dropped,
      wallRatioEveryCallMirrored: wall.every / wall.base,
    };
    const pct = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;
    printFigures(
      'bench:canary',
      [
        ['call, tool without a canary (median)', `${baseUs.toFixed(1)} µs`, 'baseline'],
        [
          'call not mirrored, canary at 10% (median)',
          `${notMirroredUs.toFixed(1)} µs`,
          `${(notMirroredUs / baseUs).toFixed(3)}× (${pct(notMirroredUs / baseUs)}), target < 5%`,
        ],
        [
          'call mirrored, for the caller (median)',
          `${mirroredUs.toFixed(1)} µs`,
          `${(mirroredUs / baseUs).toFixed(3)}× (${pct(mirroredUs / baseUs)}), target < 10%`,
        ],
        ['comparisons recorded', comparisons.toLocaleString(), `${dropped} dropped (bounded queue)`],
        [
          'process time, every call mirrored',
          `${(wall.every / wall.base).toFixed(2)}×`,
          'the candidate runs too: CPU, not caller latency',
        ],
      ],
      figures,
    );
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
