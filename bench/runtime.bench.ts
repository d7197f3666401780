/**
 * npm run bench:runtime — the cost of the runtime guard and of recording, side by side in one run:
 *   1. a raw isolated-vm call of a tool vs ToolRuntime.call of the same tool (per-call overhead);
 *   2. sustained execution recording into PostgreSQL (executions/s);
 *   3. the fleet health query over 10,000 versions × 100 executions.
 */
import { performance } from 'node:perf_hooks';
import ivm from '../src/sandbox/isolated-vm.js';
import { defaultConfig } from '../src/config/schema.js';
import { detectRuntimeFailures } from '../src/detection/runtime-health.js';
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { ExecutionRecorder } from '../src/runtime/execution-recorder.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { benchDatabase, fmtMs, medianOf, printFigures, progress, time } from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const FLEET = Number(process.env.BENCH_FLEET ?? 10_000);
const CODE = "function run(input) { return typeof input === 'string' && input.indexOf('@') > 0; }";

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The baseline: the tool in a bare isolate, called with applySync and a timeout, JSON in and out. */
function rawIsolateSamples(n: number): number[] {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = isolate.createContextSync();
  isolate.compileScriptSync(`${CODE}\nglobalThis.invoke = (json) => JSON.stringify(run(JSON.parse(json)));`).runSync(context);
  const invoke = context.global.getSync('invoke', { reference: true }) as ivm.Reference<(s: string) => string>;
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `user${i % 100}@example.com`;
    const t = performance.now();
    JSON.parse(invoke.applySync(undefined, [JSON.stringify(input)], { timeout: 1000 }));
    samples.push(performance.now() - t);
  }
  isolate.dispose();
  return samples;
}

async function runtimeSamples(runtime: ToolRuntime, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `user${i % 100}@example.com`;
    const t = performance.now();
    await runtime.call('bench_tool', input);
    samples.push(performance.now() - t);
  }
  return samples;
}

async function main(): Promise<void> {
  const db = await benchDatabase('dise_bench_runtime');
  const prisma = createPrismaClient(db.url, { poolSize: 4 });
  const store = new LineageStore(prisma);
  const config = defaultConfig();
  config.runtime.batch_size = 5000;
  const rows: [string, string, string][] = [];
  const figures: Record<string, number> = {};
  try {
    await store.registerVersion({ name: 'bench_tool', version: '1.0.0', code: CODE });
    await store.setRoute('bench_tool@1.0.0', 'bench');

    // 1. Per-call overhead, interleaved rounds so machine noise hits both sides alike.
    progress(`calls: ${CALLS.toLocaleString()} raw isolated-vm calls and ${CALLS.toLocaleString()} ToolRuntime.call, interleaved…`);
    const runtime = await ToolRuntime.create({ databaseUrl: db.url, config });
    await runtime.call('bench_tool', 'warm@up.io');
    rawIsolateSamples(2000);
    await runtimeSamples(runtime, 2000);
    const raw: number[] = [];
    const guarded: number[] = [];
    for (let round = 0; round < 10; round++) {
      raw.push(...rawIsolateSamples(CALLS / 10));
      guarded.push(...(await runtimeSamples(runtime, CALLS / 10)));
    }
    await runtime.close();
    const rawUs = median(raw) * 1000;
    const guardedUs = median(guarded) * 1000;
    figures.rawCallUs = rawUs;
    figures.runtimeCallUs = guardedUs;
    figures.overheadUs = guardedUs - rawUs;
    rows.push(['raw isolated-vm call (median)', `${rawUs.toFixed(1)} µs`, 'baseline']);
    rows.push(['ToolRuntime.call, same tool (median)', `${guardedUs.toFixed(1)} µs`, 'resolve + guard + run + record']);
    rows.push(['overhead per call', `${(guardedUs - rawUs).toFixed(1)} µs`, 'target < 20 µs']);

    // 2. Recording throughput: RECORDS executions through the batched recorder into PostgreSQL.
    progress(`recording: ${RECORDS.toLocaleString()} executions in batches of ${config.runtime.batch_size}…`);
    const recorder = new ExecutionRecorder(db.pool, {
      batchSize: config.runtime.batch_size,
      flushIntervalMs: 50,
      failureCountTrigger: 3,
      onCrossing: () => undefined,
    });
    const recorded = await time(async () => {
      for (let i = 0; i < RECORDS; i++) {
        const ok = i % 20 !== 0;
        const full = recorder.record({ versionId: 'bench_tool@1.0.0', ok, errorType: ok ? null : 'TypeError', errorMessage: ok ? null : 'boom', durationMs: 0.02, inputJson: `"user${i}@example.com"` });
        if (full) await full; // backpressure, as in the runtime
        if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
      }
      await recorder.close();
    });
    const perSecond = RECORDS / (recorded.ms / 1000);
    figures.recordsPerSecond = perSecond;
    rows.push([`recording ${RECORDS.toLocaleString()} executions`, `${Math.round(perSecond).toLocaleString()}/s`, `${fmtMs(recorded.ms)} in all, target >= 20,000/s`]);

    // 3. The fleet health query.
    progress(`fleet: ${FLEET.toLocaleString()} versions × 100 executions…`);
    await db.pool.query(
      `INSERT INTO tool_lineage (tool_id, tool_name, version, full_name, major, minor, patch, code, code_hash)
       SELECT 'fleet_' || g || '@1.0.0', 'fleet_' || g, '1.0.0', 'fleet_' || g || '_v1.0.0', 1, 0, 0, $1, md5($1)
       FROM generate_series(1, $2::int) g`,
      [CODE, FLEET],
    );
    await db.pool.query(`INSERT INTO routes (tool_name, version_id) SELECT 'fleet_' || g, 'fleet_' || g || '@1.0.0' FROM generate_series(1, $1::int) g`, [FLEET]);
    // Every 10th version fails 10% of its calls, so the query has findings to return.
    await db.pool.query(
      `INSERT INTO executions (tool_id, ok, error_type, duration_ms, input_hash)
       SELECT 'fleet_' || v || '@1.0.0', NOT (v % 10 = 0 AND c % 10 = 0), CASE WHEN v % 10 = 0 AND c % 10 = 0 THEN 'TypeError' END, 0.05, md5(c::text)
       FROM generate_series(1, $1::int) v, generate_series(1, 100) c`,
      [FLEET],
    );
    await db.pool.query('VACUUM ANALYZE executions');
    await db.pool.query('ANALYZE tool_lineage');
    const thresholds = config.self_healing.thresholds;
    const findings = await detectRuntimeFailures(prisma, thresholds);
    const fleetMs = await medianOf(5, () => detectRuntimeFailures(prisma, thresholds));
    figures.fleetQueryMs = fleetMs;
    figures.fleetFindings = findings.length;
    rows.push([`fleet health query (${FLEET.toLocaleString()} versions × 100 executions)`, fmtMs(fleetMs), `median of 5, ${findings.length} findings, target < 300 ms`]);

    printFigures('bench:runtime', rows, { bench: 'runtime', ...figures });
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
