/**
 * npm run bench:runtime — the cost of the runtime guard and of recording, side by side in one run:
 *   1. a raw isolated-vm call of a tool vs ToolRuntime.call of the same tool (per-call overhead);
 *   2. sustained execution recording into PostgreSQL (executions/s);
 *   3. the fleet health query over 10,000 versions × 100 executions today and 100 in the 29 days before;
 *   4. the cost of isolating calls (a fresh context per call) against one shared context (before #16);
 *   5. recording into the day-partitioned executions against the same into a plain table (before #16);
 *   6. Python tools: the interpreter's cold start, a raw Pyodide call (same thread, JSON in and out) vs
 *      Sandbox.runJson of the same tool (hand-off to the interpreter's thread, limits, typed checks)
 *      and ToolRuntime.call of it; the first call of tools new to a warm interpreter. Isolation of Python
 *      tools from each other: an interpreter per tool (per_tool, the default, started from a memory
 *      snapshot) beside one interpreter shared by every tool (shared, before it), in the same run:
 *      per call (one tool, and four tools in turn), per new tool, and memory per interpreter.
 *      BENCH_ONLY=python runs this part alone (no database, so no ToolRuntime line).
 *   7. the runtime's Prometheus metrics: ToolRuntime.call with RuntimeMetrics against the same without
 *      metrics, interleaved in one run (target < 5% overhead). BENCH_ONLY=metrics runs 1 and this alone.
 *   8. ready contexts (sandbox.ready_contexts): ToolRuntime.call of a JavaScript tool per_call with the
 *      pool (the default, 4) against per_call with no context made ahead (0) and shared, beside the raw
 *      call, in interleaved 200-call blocks: paced (a timer turn between calls, as a client spacing its
 *      calls), on every turn (setImmediate between calls: a busy server) and a tight loop (a burst: the
 *      pool drains after its size). BENCH_ONLY=pool runs this part alone (target < 50 µs over raw, paced).
 */
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';
import ivm from '../src/sandbox/isolated-vm.js';
import { defaultConfig, type DiseConfig } from '../src/config/schema.js';
import { detectRuntimeFailures } from '../src/detection/runtime-health.js';
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { ExecutionRecorder } from '../src/runtime/execution-recorder.js';
import { RuntimeMetrics } from '../src/runtime/metrics.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { closePythonHost, pythonStats, warmPython, warmPythonSpare } from '../src/sandbox/python.js';
import { Sandbox, type SandboxIsolation } from '../src/sandbox/sandbox.js';
import { benchDatabase, fmtMs, medianOf, printFigures, progress, time } from './support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const FLEET = Number(process.env.BENCH_FLEET ?? 10_000);
const CODE = "function run(input) { return typeof input === 'string' && input.indexOf('@') > 0; }";

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * The baseline: the tool in a bare isolate, called with applySync and a timeout, JSON in and out.
 * `paced`: a timer turn between calls (not timed), the raw figure for paced calls.
 */
async function rawSamples(n: number, paced: boolean): Promise<number[]> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = isolate.createContextSync();
  isolate
    .compileScriptSync(`${CODE}\nglobalThis.invoke = (json) => JSON.stringify(run(JSON.parse(json)));`)
    .runSync(context);
  const invoke = context.global.getSync('invoke', { reference: true }) as ivm.Reference<(s: string) => string>;
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `user${i % 100}@example.com`;
    const t = performance.now();
    JSON.parse(invoke.applySync(undefined, [JSON.stringify(input)], { timeout: 1000 }));
    samples.push(performance.now() - t);
    if (paced) await new Promise((r) => setTimeout(r, 0));
  }
  isolate.dispose();
  return samples;
}

async function runtimeSamples(runtime: ToolRuntime, n: number, tool = 'bench_tool'): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `user${i % 100}@example.com`;
    const t = performance.now();
    await runtime.call(tool, input);
    samples.push(performance.now() - t);
  }
  return samples;
}

/**
 * Sandbox calls of CODE, `n` of them. `turns`: yield to the event loop between calls, as a server
 * answering requests does, so the next call's context can be prepared off the call path; without it
 * every call makes its context on the caller's thread (a tight loop: the worst case).
 */
async function sandboxSamples(isolation: SandboxIsolation, n: number, turns: boolean): Promise<number[]> {
  const sandbox = new Sandbox(defaultConfig().sandbox, { isolation });
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const input = `"user${i % 100}@example.com"`;
      const t = performance.now();
      sandbox.runJson('bench', CODE, input);
      samples.push(performance.now() - t);
      if (turns) await new Promise((r) => setTimeout(r, 0));
    }
  } finally {
    sandbox.close();
  }
  return samples;
}

const PY_CODE = "def run(input):\n    return isinstance(input, str) and input.find('@') > 0\n";

/** The baseline: Pyodide loaded in this thread, the tool's run() called directly, JSON in and out. */
async function rawPythonSamples(n: number): Promise<{ samples: number[]; loadMs: number }> {
  const { loadPyodide } = await import('pyodide');
  const t = performance.now();
  const py = await loadPyodide({ stdout: () => undefined, stderr: () => undefined });
  const loadMs = performance.now() - t;
  py.runPython(`import json\n${PY_CODE}\ndef invoke(s):\n    return json.dumps(run(json.loads(s)))\n`);
  const invoke = py.globals.get('invoke') as (s: string) => string;
  const samples: number[] = [];
  for (let round = 0; round < 2; round++) {
    samples.length = 0;
    for (let i = 0; i < n; i++) {
      const input = `user${i % 100}@example.com`;
      const s = performance.now();
      JSON.parse(invoke(JSON.stringify(input)));
      samples.push(performance.now() - s);
    }
  }
  return { samples, loadMs };
}

/** `tools` > 1: that many tools (each its own code) called in turn, as a server answering several does. */
function pythonSandboxSamples(sandbox: Sandbox, n: number, tools = 1): number[] {
  const samples: number[] = [];
  const codes = Array.from({ length: tools }, (_, k) => (k === 0 ? PY_CODE : `${PY_CODE}# tool ${k}\n`));
  for (let i = 0; i < n; i++) {
    const input = `"user${i % 100}@example.com"`;
    const k = i % tools;
    const t = performance.now();
    sandbox.runJson(k === 0 ? 'bench_py' : `bench_py_${k}`, codes[k]!, input, 'python');
    samples.push(performance.now() - t);
  }
  return samples;
}

/**
 * per_tool: the first call of each of `n` new tools, each taking the spare interpreter once it is
 * loaded (what a new tool costs on the call path), and the background start of the next spare from
 * the snapshot (what it costs the machine). Also the resident memory each interpreter adds.
 */
async function newToolPerToolMs(
  sandbox: Sandbox,
  n: number,
): Promise<{ callMs: number[]; startMs: number[]; rssMbPer: number }> {
  const callMs: number[] = [];
  const startMs: number[] = [];
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < n; i++) {
    await warmPythonSpare();
    const code = `def run(input):\n    return len(str(input)) + ${i}\n`;
    const t = performance.now();
    sandbox.runJson(`new_${i}`, code, '"x"', 'python');
    callMs.push(performance.now() - t);
    await warmPythonSpare();
    startMs.push(pythonStats().snapshotStartMs ?? NaN);
  }
  return { callMs, startMs, rssMbPer: (process.memoryUsage().rss - rssBefore) / n / (1024 * 1024) };
}

/** The first call of each of `n` Python tools new to a warm interpreter: compile and run, no load. */
function firstCallsMs(sandbox: Sandbox, n: number): number[] {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const code = `def run(input):\n    return len(str(input)) + ${i}\n`;
    const t = performance.now();
    sandbox.runJson(`first_${i}`, code, '"x"', 'python');
    samples.push(performance.now() - t);
  }
  return samples;
}

async function pythonBench(
  rows: [string, string, string][],
  figures: Record<string, number>,
  makeRuntime?: () => Promise<ToolRuntime>,
): Promise<void> {
  progress(
    `python: cold start, then ${CALLS.toLocaleString()} raw Pyodide calls and ${CALLS.toLocaleString()} Sandbox.runJson calls…`,
  );
  const t = performance.now();
  await warmPython();
  const warmMs = performance.now() - t;
  // After the load: registering a Python tool parses it in the interpreter.
  const runtime = await makeRuntime?.();
  const sandbox = new Sandbox({ ...defaultConfig().sandbox, python_isolation: 'per_tool' });
  const shared = new Sandbox({ ...defaultConfig().sandbox, python_isolation: 'shared' });
  try {
    pythonSandboxSamples(sandbox, 2000);
    pythonSandboxSamples(shared, 2000);
    const raw = await rawPythonSamples(CALLS);
    const guarded = pythonSandboxSamples(sandbox, CALLS);
    const guardedShared = pythonSandboxSamples(shared, CALLS);
    const rawUs = median(raw.samples) * 1000;
    const sandboxUs = median(guarded) * 1000;
    const sharedUs = median(guardedShared) * 1000;
    const cold = pythonStats().coldStartMs ?? warmMs;
    figures.pythonColdStartMs = cold;
    figures.pythonRawCallUs = rawUs;
    figures.pythonSandboxCallUs = sandboxUs;
    figures.pythonSharedCallUs = sharedUs;
    figures.pythonOverheadUs = sandboxUs - rawUs;
    rows.push([
      'python: interpreter cold start (once per process)',
      fmtMs(cold),
      `warmPython() ${fmtMs(warmMs)}; same-thread loadPyodide ${fmtMs(raw.loadMs)}`,
    ]);
    rows.push([
      'python: raw Pyodide call, same thread (median)',
      `${rawUs.toFixed(1)} µs`,
      'baseline: run() via pyodide.globals, json in/out',
    ]);
    rows.push([
      'python: Sandbox.runJson, same tool, per_tool (median)',
      `${sandboxUs.toFixed(1)} µs`,
      'worker hand-off + limits + fresh globals + strict JSON; target < 1 ms',
    ]);
    rows.push([
      'python: Sandbox.runJson, same tool, shared (median)',
      `${sharedUs.toFixed(1)} µs`,
      'the same in the one interpreter every tool shares (before)',
    ]);
    rows.push([
      'python: overhead per call (per_tool)',
      `${(sandboxUs - rawUs).toFixed(1)} µs`,
      'over the raw call; target < 20 µs on an idle machine',
    ]);
    pythonSandboxSamples(sandbox, 2000, 4);
    pythonSandboxSamples(shared, 2000, 4);
    const turnUs = median(pythonSandboxSamples(sandbox, CALLS, 4)) * 1000;
    const turnSharedUs = median(pythonSandboxSamples(shared, CALLS, 4)) * 1000;
    figures.pythonFourToolsCallUs = turnUs;
    figures.pythonFourToolsSharedCallUs = turnSharedUs;
    rows.push([
      'python: four tools in turn, per_tool (median)',
      `${turnUs.toFixed(1)} µs`,
      `shared: ${turnSharedUs.toFixed(1)} µs`,
    ]);
    const firstMs = median(firstCallsMs(shared, 20));
    figures.pythonFirstCallOfNewToolMs = firstMs;
    rows.push([
      'python: first call of a new tool, shared (median of 20)',
      `${(firstMs * 1000).toFixed(0)} µs`,
      'compile + call in the interpreter every tool shares',
    ]);
    const fresh = await newToolPerToolMs(sandbox, 6);
    const newCallMs = median(fresh.callMs);
    const startMs = median(fresh.startMs);
    figures.pythonFirstCallOfNewToolPerToolMs = newCallMs;
    figures.pythonSnapshotStartMs = startMs;
    figures.pythonInterpreterRssMb = fresh.rssMbPer;
    rows.push([
      'python: first call of a new tool, per_tool (median of 6)',
      `${(newCallMs * 1000).toFixed(0)} µs`,
      'takes the spare interpreter (loaded in the background) + compile + call',
    ]);
    rows.push([
      'python: an interpreter from the snapshot (median of 6)',
      fmtMs(startMs),
      `background, per new tool; cold start without the snapshot ${fmtMs(cold)}`,
    ]);
    rows.push([
      'python: memory per tool interpreter',
      `${fresh.rssMbPer.toFixed(0)} MB`,
      `resident; at most sandbox.python_interpreters (8) alive`,
    ]);
    if (runtime) {
      await runtimeSamples(runtime, 2000, 'bench_py');
      const viaRuntime = median(await runtimeSamples(runtime, CALLS, 'bench_py')) * 1000;
      figures.pythonRuntimeCallUs = viaRuntime;
      figures.pythonRuntimeOverheadUs = viaRuntime - rawUs;
      rows.push([
        'python: ToolRuntime.call, same tool (median)',
        `${viaRuntime.toFixed(1)} µs`,
        `resolve + guard + run + record; ${(viaRuntime - rawUs).toFixed(1)} µs over the raw call`,
      ]);
    }
  } finally {
    sandbox.close();
    shared.close();
    await runtime?.close();
    await closePythonHost();
  }
}

/**
 * The cost of the runtime's Prometheus metrics on ToolRuntime.call: a runtime without metrics and one
 * with RuntimeMetrics, same tool, in interleaved rounds of the same process (a scrape of the second's
 * registry each round, as Prometheus would).
 */
async function metricsBench(
  databaseUrl: string,
  config: DiseConfig,
  rows: [string, string, string][],
  figures: Record<string, number>,
  isolation: SandboxIsolation,
): Promise<void> {
  progress(`metrics (${isolation}): ${CALLS.toLocaleString()} ToolRuntime.call without metrics and with, interleaved…`);
  const metrics = new RuntimeMetrics();
  const plain = await ToolRuntime.create({ databaseUrl, config });
  const measured = await ToolRuntime.create({ databaseUrl, config, metrics });
  await runtimeSamples(plain, 2000);
  await runtimeSamples(measured, 2000);
  const off: number[] = [];
  const on: number[] = [];
  for (let round = 0; round < 20; round++) {
    // Alternate which goes first, so neither side always runs on a warmer cache.
    if (round % 2) {
      off.push(...(await runtimeSamples(plain, CALLS / 20)));
      on.push(...(await runtimeSamples(measured, CALLS / 20)));
    } else {
      on.push(...(await runtimeSamples(measured, CALLS / 20)));
      off.push(...(await runtimeSamples(plain, CALLS / 20)));
    }
    await metrics.text();
  }
  await plain.close();
  await measured.close();
  const offUs = median(off) * 1000;
  const onUs = median(on) * 1000;
  const overhead = onUs / offUs - 1;
  const key = isolation === 'shared' ? 'Shared' : 'PerCall';
  figures[`callWithoutMetrics${key}Us`] = offUs;
  figures[`callWithMetrics${key}Us`] = onUs;
  figures[`metricsOverheadRatio${key}`] = onUs / offUs;
  rows.push([`ToolRuntime.call, ${isolation}, no metrics (median)`, `${offUs.toFixed(1)} µs`, 'baseline, same run']);
  rows.push([
    `ToolRuntime.call, ${isolation}, with RuntimeMetrics (median)`,
    `${onUs.toFixed(1)} µs`,
    `×${(onUs / offUs).toFixed(3)} (${(overhead * 100).toFixed(1)}% overhead), target < 5%`,
  ]);
}

type Pacing = 'paced' | 'turns' | 'burst';

/** ToolRuntime.call timings, one per call; the wait between calls (`pacing`) is not timed. */
async function pacedSamples(runtime: ToolRuntime, n: number, pacing: Pacing): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `user${i % 100}@example.com`;
    const t = performance.now();
    await runtime.call('bench_tool', input);
    samples.push(performance.now() - t);
    if (pacing === 'paced') await new Promise((r) => setTimeout(r, 0));
    else if (pacing === 'turns') await new Promise((r) => setImmediate(r));
  }
  return samples;
}

/** Section 8: the call with ready contexts against without, per pacing, in interleaved 200-call blocks. */
async function poolBench(databaseUrl: string, rows: [string, string, string][], figures: Record<string, number>) {
  const BLOCK = 200;
  const blocks = Math.max(4, Math.floor(Number(process.env.BENCH_POOL_BLOCKS ?? 10)));
  const variants: { name: string; ready: number; isolation: SandboxIsolation }[] = [
    { name: 'per_call, ready_contexts 4 (default)', ready: 4, isolation: 'per_call' },
    { name: 'per_call, ready_contexts 1 (one spare, before)', ready: 1, isolation: 'per_call' },
    { name: 'per_call, ready_contexts 0 (none ahead)', ready: 0, isolation: 'per_call' },
    { name: 'shared (state leaks between calls)', ready: 0, isolation: 'shared' },
  ];
  progress(`ready contexts: ${blocks} blocks of ${BLOCK} calls per variant and pacing, interleaved…`);
  const runtimes: ToolRuntime[] = [];
  for (const v of variants) {
    const config = defaultConfig();
    config.runtime.batch_size = 5000;
    config.sandbox.isolation = v.isolation;
    config.sandbox.ready_contexts = v.ready;
    const runtime = await ToolRuntime.create({ databaseUrl, config });
    await pacedSamples(runtime, 400, 'paced');
    runtimes.push(runtime);
  }
  await rawSamples(2000, false);
  const pacings: Pacing[] = ['paced', 'turns', 'burst'];
  const samples = pacings.map(() => variants.map(() => [] as number[]));
  /** Mean per call of each burst block: what a 200-call loop costs (bench:differential's figure). */
  const burstMeans = variants.map(() => [] as number[]);
  const raw: number[] = [];
  const rawPaced: number[] = [];
  try {
    for (let b = 0; b < blocks; b++) {
      raw.push(...(await rawSamples(BLOCK, false)));
      rawPaced.push(...(await rawSamples(BLOCK, true)));
      for (let p = 0; p < pacings.length; p++) {
        // Rotate the order, so no variant always runs first; let every pool refill before a block.
        for (let k = 0; k < variants.length; k++) {
          const i = (k + b) % variants.length;
          await new Promise((r) => setTimeout(r, 20));
          const block = await pacedSamples(runtimes[i]!, BLOCK, pacings[p]!);
          samples[p]![i]!.push(...block);
          if (pacings[p] === 'burst') burstMeans[i]!.push(block.reduce((a, x) => a + x, 0) / block.length);
        }
      }
    }
  } finally {
    for (const runtime of runtimes) await runtime.close();
  }
  const rawUs = median(raw) * 1000;
  figures.poolRawCallUs = rawUs;
  const rawPacedUs = median(rawPaced) * 1000;
  figures.poolRawPacedCallUs = rawPacedUs;
  rows.push(['raw isolated-vm call (median), same run', `${rawUs.toFixed(1)} µs`, 'baseline']);
  rows.push(['  same, paced (timer turn between calls)', `${rawPacedUs.toFixed(1)} µs`, 'baseline of the paced rows']);
  const label = { paced: 'paced (timer turn between calls)', turns: 'setImmediate between calls', burst: 'tight loop' };
  const key = ['Pool4', 'Pool1', 'Pool0', 'Shared'];
  for (let p = 0; p < pacings.length; p++) {
    const baseUs = median(samples[p]![2]!) * 1000;
    const overUs = pacings[p] === 'paced' ? rawPacedUs : rawUs;
    for (let i = 0; i < variants.length; i++) {
      const us = median(samples[p]![i]!) * 1000;
      const pacing = pacings[p]!;
      figures[`call${key[i]}${pacing[0]!.toUpperCase()}${pacing.slice(1)}Us`] = us;
      rows.push([
        `ToolRuntime.call, ${variants[i]!.name}, ${label[pacing]} (median)`,
        `${us.toFixed(1)} µs`,
        `${(us - overUs).toFixed(1)} µs over raw; ×${(us / baseUs).toFixed(3)} against ready_contexts 0`,
      ]);
    }
  }
  contextFloorRows(rows, figures);
  for (let i = 0; i < variants.length; i++) {
    const ms = median(burstMeans[i]!);
    figures[`burstBlockMean${key[i]}Us`] = ms * 1000;
    rows.push([
      `  ${variants[i]!.name}: a 200-call burst, mean per call`,
      `${(ms * 1000).toFixed(1)} µs`,
      'median over blocks; the pool serves the first calls, the rest make their context',
    ]);
  }
}

/**
 * What one fresh context costs V8, whoever asks: isolated-vm's and Node's own `vm.createContext`, side
 * by side. A per_call tool called faster than one context per this time outruns any pool.
 */
function contextFloorRows(rows: [string, string, string][], figures: Record<string, number>) {
  const N = 300;
  const perContextUs = (make: () => void) => {
    const started = performance.now();
    for (let i = 0; i < N; i++) make();
    return ((performance.now() - started) / N) * 1000;
  };
  const isolate = new ivm.Isolate({ memoryLimit: 256 });
  try {
    const ivmUs = perContextUs(() => isolate.createContextSync().release());
    const nodeUs = perContextUs(() => vm.createContext({}));
    figures.contextIsolatedVmUs = ivmUs;
    figures.contextNodeVmUs = nodeUs;
    rows.push([
      'a fresh context: isolated-vm · node:vm (mean of 300)',
      `${ivmUs.toFixed(0)} · ${nodeUs.toFixed(0)} µs`,
      "V8's floor per context: a per_call burst faster than this outruns the pool",
    ]);
  } finally {
    isolate.dispose();
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'python') {
    const rows: [string, string, string][] = [];
    const figures: Record<string, number> = {};
    await pythonBench(rows, figures);
    printFigures('bench:runtime (python)', rows, { bench: 'runtime-python', ...figures });
    return;
  }
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
    if (process.env.BENCH_ONLY === 'pool') {
      await poolBench(db.url, rows, figures);
      printFigures('bench:runtime (ready contexts)', rows, { bench: 'runtime-pool', ...figures });
      return;
    }

    // 1. Per-call overhead, interleaved rounds so machine noise hits both sides alike.
    progress(
      `calls: ${CALLS.toLocaleString()} raw isolated-vm calls and ${CALLS.toLocaleString()} ToolRuntime.call, interleaved…`,
    );
    const runtime = await ToolRuntime.create({ databaseUrl: db.url, config });
    await runtime.call('bench_tool', 'warm@up.io');
    await rawSamples(2000, false);
    await runtimeSamples(runtime, 2000);
    const raw: number[] = [];
    const guarded: number[] = [];
    for (let round = 0; round < 10; round++) {
      raw.push(...(await rawSamples(CALLS / 10, false)));
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

    await metricsBench(db.url, config, rows, figures, 'per_call');
    const sharedConfig = defaultConfig();
    sharedConfig.runtime.batch_size = config.runtime.batch_size;
    sharedConfig.sandbox.isolation = 'shared';
    await metricsBench(db.url, sharedConfig, rows, figures, 'shared');
    if (process.env.BENCH_ONLY === 'metrics') {
      printFigures('bench:runtime (metrics)', rows, { bench: 'runtime-metrics', ...figures });
      return;
    }

    // 1b. Isolation between calls: one shared context (before #16) vs a fresh context per call.
    const ISOLATION_CALLS = Math.max(200, Math.floor(CALLS / 10));
    progress(`isolation: ${ISOLATION_CALLS.toLocaleString()} sandbox calls per mode…`);
    const shared: number[] = [];
    const fresh: number[] = [];
    const freshTight: number[] = [];
    for (let round = 0; round < 5; round++) {
      shared.push(...(await sandboxSamples('shared', ISOLATION_CALLS / 5, true)));
      fresh.push(...(await sandboxSamples('per_call', ISOLATION_CALLS / 5, true)));
      freshTight.push(...(await sandboxSamples('per_call', ISOLATION_CALLS / 5, false)));
    }
    const sharedUs = median(shared) * 1000;
    const freshUs = median(fresh) * 1000;
    const tightUs = median(freshTight) * 1000;
    figures.sharedContextCallUs = sharedUs;
    figures.freshContextCallUs = freshUs;
    figures.freshContextTightLoopCallUs = tightUs;
    figures.isolationCostRatio = freshUs / sharedUs;
    rows.push([
      'sandbox call, one shared context (before #16)',
      `${sharedUs.toFixed(1)} µs`,
      'baseline: state leaks between calls',
    ]);
    rows.push([
      'sandbox call, fresh context per call (default)',
      `${freshUs.toFixed(1)} µs`,
      `×${(freshUs / sharedUs).toFixed(1)}; context made ahead on the isolate thread`,
    ]);
    rows.push([
      '  same, tight loop (no spare ready)',
      `${tightUs.toFixed(1)} µs`,
      `×${(tightUs / sharedUs).toFixed(1)}; context made on the call path`,
    ]);

    // 2. Recording throughput, into the day-partitioned executions and, as the baseline, into a
    // plain table of the same columns and indexes swapped in under the same name (what it was before
    // executions were partitioned), interleaved in rounds so machine noise hits both alike.
    const record = async (n: number): Promise<number> => {
      const recorder = new ExecutionRecorder(db.pool, {
        batchSize: config.runtime.batch_size,
        flushIntervalMs: 50,
        failureCountTrigger: 3,
        onCrossing: () => undefined,
      });
      const recorded = await time(async () => {
        for (let i = 0; i < n; i++) {
          const ok = i % 20 !== 0;
          const full = recorder.record({
            versionId: 'bench_tool@1.0.0',
            ok,
            errorType: ok ? null : 'TypeError',
            errorMessage: ok ? null : 'boom',
            durationMs: 0.02,
            inputJson: `"user${i}@example.com"`,
          });
          if (full) await full; // backpressure, as in the runtime
          if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
        }
        await recorder.close();
      });
      return recorded.ms;
    };
    const usePlain = async (plain: boolean) => {
      if (plain) {
        await db.pool.query('ALTER TABLE executions RENAME TO executions_partitioned_bench');
        await db.pool.query('ALTER TABLE executions_plain_bench RENAME TO executions');
      } else {
        await db.pool.query('ALTER TABLE executions RENAME TO executions_plain_bench');
        await db.pool.query('ALTER TABLE executions_partitioned_bench RENAME TO executions');
      }
    };
    await db.pool.query(`CREATE TABLE executions_plain_bench (LIKE executions INCLUDING DEFAULTS INCLUDING INDEXES)`);
    const ROUNDS = 4;
    progress(
      `recording: ${RECORDS.toLocaleString()} executions in batches of ${config.runtime.batch_size}, partitioned vs plain, ${ROUNDS} rounds…`,
    );
    let partitionedMs = 0;
    let plainMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      partitionedMs += await record(RECORDS / ROUNDS);
      await usePlain(true);
      plainMs += await record(RECORDS / ROUNDS);
      await usePlain(false);
    }
    await db.pool.query('DROP TABLE executions_plain_bench');
    const perSecond = RECORDS / (partitionedMs / 1000);
    const plainPerSecond = RECORDS / (plainMs / 1000);
    figures.recordsPerSecond = perSecond;
    figures.plainRecordsPerSecond = plainPerSecond;
    figures.recordingRatio = perSecond / plainPerSecond;
    rows.push([
      `recording ${RECORDS.toLocaleString()} executions (day partitions)`,
      `${Math.round(perSecond).toLocaleString()}/s`,
      `${fmtMs(partitionedMs)} in all, target >= 20,000/s`,
    ]);
    rows.push([
      `  same into a plain table (before #16)`,
      `${Math.round(plainPerSecond).toLocaleString()}/s`,
      `ratio partitioned/plain ${(perSecond / plainPerSecond).toFixed(2)}, target >= ~1`,
    ]);

    // 3. The fleet health query.
    progress(`fleet: ${FLEET.toLocaleString()} versions × 100 executions…`);
    await db.pool.query(
      `INSERT INTO tool_lineage (tool_id, tool_name, version, full_name, major, minor, patch, code, code_hash)
       SELECT 'fleet_' || g || '@1.0.0', 'fleet_' || g, '1.0.0', 'fleet_' || g || '_v1.0.0', 1, 0, 0, $1, md5($1)
       FROM generate_series(1, $2::int) g`,
      [CODE, FLEET],
    );
    await db.pool.query(
      `INSERT INTO routes (tool_name, version_id) SELECT 'fleet_' || g, 'fleet_' || g || '@1.0.0' FROM generate_series(1, $1::int) g`,
      [FLEET],
    );
    // Every 10th version fails 10% of its calls, so the query has findings to return.
    await db.pool.query(
      `INSERT INTO executions (tool_id, ok, error_type, duration_ms, input_hash)
       SELECT 'fleet_' || v || '@1.0.0', NOT (v % 10 = 0 AND c % 10 = 0), CASE WHEN v % 10 = 0 AND c % 10 = 0 THEN 'TypeError' END, 0.05, md5(c::text)
       FROM generate_series(1, $1::int) v, generate_series(1, 100) c`,
      [FLEET],
    );
    // And a month of history before today, 100 calls per version across 29 day partitions (a 30-day
    // retention), which the check must not have to probe.
    const HISTORY = Number(process.env.BENCH_FLEET_HISTORY ?? 100);
    await db.pool.query(
      `SELECT dise_ensure_execution_partition((now() AT TIME ZONE 'UTC')::date - d) FROM generate_series(1, 29) d`,
    );
    await db.pool.query(
      `INSERT INTO executions (tool_id, ok, duration_ms, input_hash, created_at)
       SELECT 'fleet_' || v || '@1.0.0', true, 0.05, md5(c::text), date_trunc('day', now()) - (1 + c % 29) * interval '1 day'
       FROM generate_series(1, $1::int) v, generate_series(1, $2::int) c`,
      [FLEET, HISTORY],
    );
    await db.pool.query('VACUUM ANALYZE executions');
    await db.pool.query('ANALYZE tool_lineage');
    const thresholds = config.self_healing.thresholds;
    const executions = new LineageStore(prisma).executions;
    const findings = await detectRuntimeFailures(executions, thresholds);
    const fleetMs = await medianOf(5, () => detectRuntimeFailures(executions, thresholds));
    figures.fleetQueryMs = fleetMs;
    figures.fleetFindings = findings.length;
    rows.push([
      `fleet health query (${FLEET.toLocaleString()} versions × 100 executions + ${HISTORY} over 29 older days)`,
      fmtMs(fleetMs),
      `median of 5, ${findings.length} findings, target < 300 ms`,
    ]);

    await pythonBench(rows, figures, async () => {
      await store.registerVersion({ name: 'bench_py', version: '1.0.0', language: 'python', code: PY_CODE });
      await store.setRoute('bench_py@1.0.0', 'bench');
      return ToolRuntime.create({ databaseUrl: db.url, config });
    });

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
