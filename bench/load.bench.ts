/**
 * npm run bench:load — the whole system under load on the embedded stack (PostgreSQL and a Temporal
 * dev server), 1,000 routed tools:
 *  - throughput: 20 tool-runtime processes call them as fast as they can (every call recorded);
 *  - heals under load: 20 runtime processes offer a steady load (BENCH_RATE calls/s each) while 50
 *    heals start at the same moment.
 * Prints calls/s, heals/min and p50/p99 heal latency, each beside its baselines measured in the same
 * run (one runtime process alone; heals one at a time, and 50 at once, with no load), then checks that nothing was
 * lost (every call the runtimes made is an execution row) and runs `dise doctor` against the result.
 * Exits 1 if any check fails.
 *
 * BENCH_TOOLS, BENCH_PROCS, BENCH_HEALS, BENCH_SOLO_HEALS and BENCH_RATE change the sizes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startHeal } from '../src/client/start-heal.js';
import { PACKAGE_ROOT } from '../src/infra/paths.js';
import { installTemporalRuntime } from '../src/infra/temporal-runtime.js';
import type { RegisterVersionInput } from '../src/lineage/store.js';
import { startBenchStack } from './stack.js';
import { percentile, printFigures, progress, type LoadCounts } from './support.js';

const TOOLS = Number(process.env.BENCH_TOOLS ?? 1000);
const PROCS = Number(process.env.BENCH_PROCS ?? 20);
const HEALS = Number(process.env.BENCH_HEALS ?? 50);
const SOLO_HEALS = Number(process.env.BENCH_SOLO_HEALS ?? 5);
/** Calls per second each runtime process offers while the heals run (20 × 500 = 10,000 calls/s). */
const RATE = Number(process.env.BENCH_RATE ?? 500);
/** How long the flat-out phases (one process, then all) and the load after the heals run. */
const BASELINE_MS = 5_000;
const THROUGHPUT_MS = 8_000;
const SETTLE_MS = 5_000;

const GOOD =
  "function run(input) { return typeof input === 'string' && /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input); }";
const REFACTORED = `${GOOD}\n// refactored`;
const BROKEN = "function run(input) { if (typeof input !== 'string') return false; return input.indexOf('@') !== -1; }";
const TESTS = [
  { name: 'plain', input: 'a@b.co', expect: true },
  { name: 'no at', input: 'ab.co', expect: false },
];

/** Tools load_0 … load_<TOOLS-1>: 1.0.0 and a child 1.1.0 that callers are routed to; every
 * (TOOLS/HEALS)-th tool's 1.1.0 is the broken "optimization". Plus solo_<k> for the baseline heals. */
function lineageOf(name: string, broken: boolean): RegisterVersionInput[] {
  return [
    { name, version: '1.0.0', code: GOOD, description: 'Validate an email address', tests: TESTS },
    {
      name,
      version: '1.1.0',
      parents: [`${name}@1.0.0`],
      code: broken ? BROKEN : REFACTORED,
      description: 'Validate an email address',
      mutation: broken
        ? { type: 'optimization', description: 'Optimize for speed' }
        : { type: 'refactor', description: 'Tidy up' },
    },
  ];
}

function startRuntimes(n: number, databaseUrl: string, rate = 0): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => {
      const child = fork(path.join(PACKAGE_ROOT, 'bench/load-runtime.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          DATABASE_URL: databaseUrl,
          LOAD_TOOLS: String(TOOLS),
          LOAD_SEED: String(i + 1),
          LOAD_RATE: String(rate),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      return new Promise<ChildProcess>((resolve, reject) => {
        child.once('message', () => resolve(child));
        child.once('exit', (code) => reject(new Error(`runtime process ${i} exited with ${code} before it was ready`)));
      });
    }),
  );
}

async function stopRuntimes(children: ChildProcess[]): Promise<LoadCounts> {
  const all = await Promise.all(
    children.map(
      (child) =>
        new Promise<LoadCounts>((resolve, reject) => {
          child.removeAllListeners('exit');
          child.once('message', (m) => resolve((m as { counts: LoadCounts }).counts));
          child.once('exit', (code) =>
            reject(new Error(`runtime process exited with ${code} before sending its counts`)),
          );
          child.send('stop');
        }),
    ),
  );
  const total: LoadCounts = { calls: 0, ok: 0, recorded: 0, errors: {}, healedAnswers: 0, ms: 0 };
  for (const c of all) {
    total.calls += c.calls;
    total.ok += c.ok;
    total.recorded += c.recorded;
    total.healedAnswers += c.healedAnswers;
    total.ms = Math.max(total.ms, c.ms);
    for (const [k, v] of Object.entries(c.errors)) total.errors[k] = (total.errors[k] ?? 0) + v;
  }
  return total;
}

/** Per activity of a heal: queued (scheduled → started) and run (started → closed) times, attempts. */
async function timeline(
  handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> },
  begunAt: number,
): Promise<string> {
  type Ev = {
    eventId?: { toString(): string };
    eventTime?: { seconds?: { toString(): string }; nanos?: number };
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
    activityTaskStartedEventAttributes?: { scheduledEventId?: { toString(): string }; attempt?: number };
    activityTaskCompletedEventAttributes?: { scheduledEventId?: { toString(): string } };
  };
  const at = (e: Ev) => Number(e.eventTime?.seconds?.toString() ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const events = ((await handle.fetchHistory()).events ?? []) as Ev[];
  const scheduled = new Map<string, { name: string; at: number; started?: number; attempt?: number }>();
  const parts: string[] = [`workflow started ${(at(events[0]!) - begunAt).toFixed(0)} ms after the report began`];
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(e.eventId!.toString(), {
        name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        at: at(e),
      });
    const st = e.activityTaskStartedEventAttributes;
    if (st)
      Object.assign(scheduled.get(st.scheduledEventId!.toString()) ?? {}, { started: at(e), attempt: st.attempt });
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(done.scheduledEventId!.toString())!;
      parts.push(
        `${s.name} queued ${((s.started ?? s.at) - s.at).toFixed(0)} ms, ran ${(at(e) - (s.started ?? s.at)).toFixed(0)} ms${(s.attempt ?? 1) > 1 ? ` (attempt ${s.attempt})` : ''}`,
      );
    }
  }
  parts.push(`workflow closed at +${(at(events.at(-1)!) - begunAt).toFixed(0)} ms`);
  return parts.join('; ');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  installTemporalRuntime('ERROR');
  const failures: string[] = [];
  const stack = await startBenchStack('load', { poolSize: 10 });
  const { db, store, client, taskQueue, runtime: reporter } = stack;
  const children: ChildProcess[] = [];
  try {
    // 1. The tools.
    const every = Math.max(1, Math.floor(TOOLS / HEALS));
    const brokenTools = Array.from({ length: TOOLS }, (_, i) => i)
      .filter((i) => i % every === 0)
      .slice(0, HEALS)
      .map((i) => `load_${i}`);
    const broken = new Set(brokenTools);
    const started = performance.now();
    for (let i = 0; i < TOOLS; i += 100) {
      const names = Array.from({ length: Math.min(100, TOOLS - i) }, (_, k) => `load_${i + k}`);
      await store.registerMany(names.flatMap((n) => lineageOf(n, broken.has(n))));
      await db.pool.query(
        `INSERT INTO routes (tool_name, version_id, reason) SELECT n, n || '@1.1.0', 'bench' FROM unnest($1::text[]) n
         ON CONFLICT (tool_name) DO UPDATE SET version_id = EXCLUDED.version_id`,
        [names],
      );
      progress(`registered ${Math.min(i + 100, TOOLS)}/${TOOLS} tools (2 versions each)`);
    }
    // Broken tools nobody calls, for the baselines: solo_<k> healed one at a time, idle_<k> all at once.
    const idleTools = Array.from({ length: HEALS }, (_, k) => `idle_${k}`);
    const extra = [...Array.from({ length: SOLO_HEALS + 1 }, (_, k) => `solo_${k}`), ...idleTools];
    await store.registerMany(extra.flatMap((n) => lineageOf(n, true)));
    await db.pool.query(
      `INSERT INTO routes (tool_name, version_id, reason) SELECT n, n || '@1.1.0', 'bench' FROM unnest($1::text[]) n`,
      [extra],
    );
    const registerMs = performance.now() - started;

    const handles = new Map<string, Awaited<ReturnType<typeof startHeal>>['handle']>();
    const begun = new Map<string, number>();
    const heal = async (name: string): Promise<number> => {
      const t0 = performance.now();
      begun.set(name, Date.now());
      const reported = await reporter.report(`${name}@1.1.0`, {
        input: 'user@@domain.com',
        observed: true,
        expected: false,
        severity: 'critical',
      });
      const { handle } = await startHeal(
        client,
        {
          versionId: `${name}@1.1.0`,
          trigger: 'report',
          failure: {
            failureType: 'wrong_output',
            description: 'accepts user@@domain.com',
            severity: 'critical',
            detectionMethod: 'report',
            failureId: reported.failureId,
          },
        },
        { taskQueue },
      );
      handles.set(name, handle);
      const result = await handle.result();
      if (result.status !== 'healed' || result.newVersionId !== `${name}@1.1.1`)
        failures.push(`heal of ${name} ended ${result.status} with ${result.newVersionId}: ${result.message}`);
      return performance.now() - t0;
    };

    // 2. Baselines: heals one at a time with nothing else running (the first warms up), then one
    // runtime process alone.
    progress(`baseline: ${SOLO_HEALS} heals one at a time, no load…`);
    const solo: number[] = [];
    for (let k = 0; k <= SOLO_HEALS; k++) {
      const ms = await heal(`solo_${k}`);
      if (k > 0) solo.push(ms);
    }
    progress(`baseline: ${HEALS} heals at once, no load…`);
    const idleStart = performance.now();
    const idleLatencies = await Promise.all(idleTools.map((name) => heal(name)));
    const idleMs = performance.now() - idleStart;
    progress(`baseline: one runtime process alone for ${BASELINE_MS / 1000} s…`);
    const [single] = await startRuntimes(1, db.url);
    children.push(single!);
    single!.send('go');
    await sleep(BASELINE_MS);
    const singleCounts = await stopRuntimes([single!]);
    children.length = 0;

    // 3. Throughput: PROCS runtimes flat out.
    progress(`throughput: ${PROCS} runtime processes calling as fast as they can for ${THROUGHPUT_MS / 1000} s…`);
    children.push(...(await startRuntimes(PROCS, db.url)));
    for (const c of children) c.send('go');
    await sleep(THROUGHPUT_MS);
    const flatOut = await stopRuntimes(children);
    children.length = 0;

    // 4. Heals under load: PROCS runtimes at RATE calls/s each, then HEALS heals at once.
    progress(`heals under load: ${PROCS} runtime processes offering ${RATE} calls/s each…`);
    children.push(...(await startRuntimes(PROCS, db.url, RATE)));
    const loadStart = performance.now();
    for (const c of children) c.send('go');
    await sleep(2_000);
    progress(`${HEALS} heals at once under load…`);
    const healsStart = performance.now();
    const latencies = await Promise.all(brokenTools.map((name) => heal(name)));
    const healsMs = performance.now() - healsStart;
    progress(`heals done in ${(healsMs / 1000).toFixed(1)} s; ${SETTLE_MS / 1000} s more load…`);
    const slowest = brokenTools[latencies.indexOf(Math.max(...latencies))]!;
    progress(
      `slowest heal (${slowest}), where its time went: ${await timeline(handles.get(slowest)!, begun.get(slowest)!)}`,
    );
    await sleep(SETTLE_MS);
    const load = await stopRuntimes(children);
    const loadMs = performance.now() - loadStart;
    children.length = 0;
    await reporter.close();

    // 5. Nothing lost, routes healed, doctor clean.
    const [{ n: executions }] = (
      await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE tool_id LIKE 'load\\_%'`)
    ).rows as [{ n: number }];
    const expectedExecutions = singleCounts.recorded + flatOut.recorded + load.recorded;
    if (executions !== expectedExecutions)
      failures.push(`the runtimes recorded ${expectedExecutions} executions but ${executions} are stored`);
    const routes = (
      await db.pool.query<{ tool_name: string; version_id: string }>(
        `SELECT tool_name, version_id FROM routes WHERE tool_name = ANY($1)`,
        [brokenTools],
      )
    ).rows;
    const unhealed = routes.filter((r) => r.version_id !== `${r.tool_name}@1.1.1`);
    if (routes.length !== brokenTools.length || unhealed.length)
      failures.push(`${unhealed.length} broken tools are not routed to their regenerated version`);
    progress('running dise doctor…');
    const doctor = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin/dise.mjs'), 'doctor'], {
      env: { ...process.env, DATABASE_URL: db.url, TEMPORAL_ADDRESS: stack.temporalAddress },
      encoding: 'utf8',
    });
    const doctorSays = (doctor.stdout + doctor.stderr).trim();
    if (doctor.status !== 0) failures.push(`dise doctor exited ${doctor.status}: ${doctorSays}`);

    const callsPerS = flatOut.calls / (flatOut.ms / 1000);
    const loadCallsPerS = load.calls / (load.ms / 1000);
    const singlePerS = singleCounts.calls / (singleCounts.ms / 1000);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const soloP50 = percentile(solo, 50);
    const refused = load.errors.ToolUnavailableError ?? 0;
    printFigures(
      `bench:load — ${TOOLS.toLocaleString('en-US')} tools, ${PROCS} runtime processes, ${HEALS} heals at once (embedded stack)`,
      [
        [
          'calls/s, all runtime processes flat out',
          callsPerS.toFixed(0),
          `${flatOut.calls.toLocaleString('en-US')} calls, all recorded`,
        ],
        ['calls/s, one process alone', singlePerS.toFixed(0), 'baseline'],
        [
          'ratio all / one',
          `${(callsPerS / singlePerS).toFixed(2)}x`,
          `${PROCS} processes on ${os.cpus().length} cores`,
        ],
        [
          'calls/s during the heals',
          loadCallsPerS.toFixed(0),
          `offered ${(RATE * PROCS).toLocaleString('en-US')}/s for ${(loadMs / 1000).toFixed(0)} s`,
        ],
        [
          'heals/min, at once under load',
          ((HEALS / healsMs) * 60_000).toFixed(0),
          `${HEALS} heals in ${(healsMs / 1000).toFixed(1)} s`,
        ],
        ['heals/min, one at a time, no load', (60_000 / soloP50).toFixed(0), 'baseline'],
        ['heals/min, at once, no load', ((HEALS / idleMs) * 60_000).toFixed(0), 'baseline'],
        ['ratio heals/min under load / no load', `${(idleMs / healsMs).toFixed(2)}x`, ''],
        ['heal latency p50 under load', `${p50.toFixed(0)} ms`, 'report → healed route'],
        ['heal latency p99 under load', `${p99.toFixed(0)} ms`, ''],
        ['heal latency p50, at once, no load', `${percentile(idleLatencies, 50).toFixed(0)} ms`, 'baseline'],
        ['heal latency p50, one at a time', `${soloP50.toFixed(0)} ms`, 'baseline'],
        ['calls answered by a healed version', load.healedAnswers.toLocaleString('en-US'), ''],
        ['calls refused mid-heal (pruned route)', refused.toLocaleString('en-US'), 'between prune and promote'],
        [
          'executions stored / made',
          `${executions}/${expectedExecutions}`,
          executions === expectedExecutions ? 'nothing lost' : 'LOST',
        ],
        ['dise doctor', doctor.status === 0 ? 'clean' : 'VIOLATIONS', doctorSays.split('\n')[0] ?? ''],
        [
          'registering the tools',
          `${(registerMs / 1000).toFixed(1)} s`,
          `${(TOOLS * 2).toLocaleString('en-US')} versions`,
        ],
      ],
      {
        bench: 'load',
        tools: TOOLS,
        processes: PROCS,
        heals: HEALS,
        callsPerS,
        singleProcessCallsPerS: singlePerS,
        loadCallsPerS,
        offeredCallsPerS: RATE * PROCS,
        healsPerMin: (HEALS / healsMs) * 60_000,
        soloHealsPerMin: 60_000 / soloP50,
        idleHealsPerMin: (HEALS / idleMs) * 60_000,
        idleP50Ms: percentile(idleLatencies, 50),
        p50Ms: p50,
        p99Ms: p99,
        soloP50Ms: soloP50,
        refused,
        healedAnswers: load.healedAnswers,
        executions,
        expectedExecutions,
        doctorClean: doctor.status === 0,
        errors: load.errors,
      },
    );
    if (failures.length) {
      console.error(`\nbench:load FAILED:\n  ${failures.join('\n  ')}`);
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
