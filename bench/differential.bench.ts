/**
 * npm run bench:differential — the differential check's costs and reach, in one run:
 *   1. the check of one version against its parent on a 1,000-input corpus (corpus generation,
 *      compilation of both versions once, every call in the sandbox, shrinking), for the email story's
 *      culprit (refused, with shrinking) and for a behaviour-keeping optimization (no difference);
 *   2. how many of the email story's bad inputs the generated corpus finds without being given
 *      them: the corpus starts only from the suites and a sample of good recorded inputs;
 *   3. reservoir sampling on the call path: ToolRuntime.call with sampling on vs off, in the same
 *      run on the same database, as a ratio; and the sampler's own cost per call against a call.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { defaultConfig } from '../src/config/schema.js';
import { DEMO_TRAFFIC, emailLineage } from '../src/demo/email-lineage.js';
import { createPrismaClient } from '../src/infra/database.js';
import { buildCorpus, seedFrom } from '../src/judge/corpus.js';
import { runDifferential } from '../src/judge/differential.js';
import { LineageStore } from '../src/lineage/store.js';
import { InputSampler } from '../src/runtime/input-sampler.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { Sandbox, type SandboxOptions } from '../src/sandbox/sandbox.js';
import { benchDatabase, fmtMs, printFigures, progress } from './support.js';

const CORPUS = Number(process.env.BENCH_CORPUS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);

const story = emailLineage('email_validator');
const code = (v: string) => story.find((s) => s.version === v)!.code;
const SUITE = story.flatMap((s) => (s.tests ?? []).map((t) => t.input));
const GOOD = DEMO_TRAFFIC.filter((t) => t.valid).map((t) => t.input);
const PRECOMPILED = `var EMAIL = new RegExp('^[a-z0-9._%+-]+@[a-z0-9.-]+\\\\.[a-z]{2,}$', 'i');
function run(input) {
  if (input === null || input === undefined) return false;
  return EMAIL.test(String(input).trim());
}`;

const fmtUs = (ms: number) => `${(ms * 1000).toFixed(2)} µs`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * One whole check as registration runs it: corpus, compilation (a fresh sandbox), calls, shrinking.
 * `screening: false` is the old path, a fresh context for every call, as the baseline;
 * `screeningCheckRate: 0` screens with the doubling schedule of checks alone (no drawn checks).
 */
async function timedCheck(childCode: string, seed: number, options: SandboxOptions = {}) {
  const sandbox = new Sandbox(defaultConfig().sandbox, options);
  try {
    const t0 = performance.now();
    const corpus = buildCorpus({
      suiteInputs: SUITE,
      recordedInputs: GOOD,
      size: CORPUS,
      generated: CORPUS - SUITE.length - GOOD.length,
      seed,
    });
    const t1 = performance.now();
    // The event loop's longest wait while the check runs (tool code is off the loop: what is left is
    // the judge's own work between batches).
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const { report } = await runDifferential(sandbox, {
      id: 'email_validator@2.2.0',
      code: childCode,
      language: 'javascript',
      parents: [{ id: 'email_validator@2.1.0', code: code('2.1.0'), language: 'javascript' }],
      mutationType: 'optimization',
      criticalTests: [],
      corpus,
      maxDifferences: 20,
    });
    const checkMs = performance.now() - t1;
    loop.disable();
    const loopMaxMs = loop.max / 1e6;
    return {
      corpusMs: t1 - t0,
      checkMs,
      loopMaxMs,
      totalMs: performance.now() - t0,
      report,
      corpus,
      stats: { ...sandbox.stats },
    };
  } finally {
    sandbox.close();
  }
}

/** What makes each bad input wrong, as a pattern any input with the same defect matches. */
const DEFECTS: { defect: string; matches: (s: string) => boolean }[] = [
  { defect: 'a second @', matches: (s) => (s.match(/@/g) ?? []).length > 1 },
  { defect: 'no local part', matches: (s) => /^\s*@/.test(s) },
  { defect: 'no domain', matches: (s) => /@\s*$/.test(s) },
  { defect: 'no dot in the domain', matches: (s) => /@[^.@]+$/.test(s.trim()) },
  { defect: 'whitespace inside', matches: (s) => /\S\s+\S/.test(s.trim()) },
];

async function samplingCost() {
  const db = await benchDatabase('dise_bench_differential');
  const prisma = createPrismaClient(db.url, { poolSize: 2 });
  const store = new LineageStore(prisma);
  await store.registerVersion({ name: 'bench_tool', version: '1.0.0', code: code('2.1.0') });
  await store.setRoute('bench_tool@1.0.0', 'bench');
  const on = defaultConfig();
  on.runtime.batch_size = 5000;
  const off = structuredClone(on);
  off.runtime.input_sampling.enabled = false;
  const withSampling = await ToolRuntime.create({ databaseUrl: db.url, config: on });
  const without = await ToolRuntime.create({ databaseUrl: db.url, config: off });
  const inputs = Array.from({ length: 1000 }, (_, i) => `user${i}@example${i % 7}.com`);
  const perCall = { on: [] as number[], off: [] as number[] };
  const ratios: number[] = [];
  const BLOCK = 200;
  try {
    for (const rt of [withSampling, without]) for (const input of inputs) await rt.call('bench_tool', input); // warm-up
    // Short interleaved blocks, alternating which goes first, so both see the same machine; the
    // ratio is taken per round and its median reported.
    for (let round = 0; round * BLOCK < CALLS; round++) {
      const block = inputs.slice((round * BLOCK) % inputs.length, ((round * BLOCK) % inputs.length) + BLOCK);
      const order =
        round % 2
          ? ([
              [without, 'off'],
              [withSampling, 'on'],
            ] as const)
          : ([
              [withSampling, 'on'],
              [without, 'off'],
            ] as const);
      const took: Record<string, number> = {};
      for (const [rt, which] of order) {
        const t = performance.now();
        for (const input of block) await rt.call('bench_tool', input);
        took[which] = (performance.now() - t) / block.length;
        perCall[which].push(took[which]);
      }
      ratios.push(took.on! / took.off! - 1);
    }
    await withSampling.flush();
  } finally {
    await withSampling.close();
    await without.close();
  }
  const kept = await store.samples.count('bench_tool');
  await prisma.$disconnect();
  await db.close();

  // The sampler alone, per offer, with the reservoir full (the steady state: one random number).
  const sampler = new InputSampler({ query: async () => ({ rows: [] }) } as never, {
    perTool: 200,
    excludeTools: [],
    flushIntervalMs: 60_000,
  });
  const n = 1_000_000;
  const json = inputs.map((i) => JSON.stringify(i));
  for (let i = 0; i < 10_000; i++) sampler.offer('bench_tool', json[i % json.length]!);
  const t = performance.now();
  for (let i = 0; i < n; i++) sampler.offer('bench_tool', json[i % json.length]!);
  const offerMs = (performance.now() - t) / n;
  await sampler.close();
  return { onMs: median(perCall.on), offMs: median(perCall.off), offerMs, kept, abRatio: median(ratios) };
}

async function main(): Promise<void> {
  progress(`1. the check on ${CORPUS} inputs, ${RUNS} runs each (fresh sandbox per run: compilation counted once)…`);
  const seed = seedFrom('email_validator@2.2.0');
  // Screened and per-call runs alternate, so both see the same machine.
  type Check = Awaited<ReturnType<typeof timedCheck>>;
  const culprit: Check[] = [];
  const keeper: Check[] = [];
  const culpritExact: Check[] = [];
  const keeperExact: Check[] = [];
  const keeperUndrawn: Check[] = [];
  for (let i = 0; i < RUNS; i++) {
    culprit.push(await timedCheck(code('2.2.0'), seed));
    culpritExact.push(await timedCheck(code('2.2.0'), seed, { screening: false }));
    keeper.push(await timedCheck(PRECOMPILED, seed));
    keeperExact.push(await timedCheck(PRECOMPILED, seed, { screening: false }));
    keeperUndrawn.push(await timedCheck(PRECOMPILED, seed, { screeningCheckRate: 0 }));
  }
  const c = culprit[0]!;
  if (c.report.verdict !== 'refused' || keeper[0]!.report.verdict !== 'same') throw new Error('unexpected verdicts');
  // Same seed, same corpus and verdict; and the screened check reports exactly what the per-call one does.
  if (JSON.stringify(culprit[1]!.report.differences) !== JSON.stringify(c.report.differences))
    throw new Error('not deterministic');
  const essentials = (r: (typeof c)['report']) =>
    JSON.stringify({ ...r, durationMs: 0, message: r.message, differences: r.differences });
  for (const [a, b] of [
    [c, culpritExact[0]!],
    [keeper[0]!, keeperExact[0]!],
  ] as const) {
    if (essentials(a.report) !== essentials(b.report)) throw new Error('screened and per-call reports differ');
  }
  if (keeper[0]!.stats.screenedCalls === 0) throw new Error('the same-behaviour check was not screened');

  progress('2. which bad inputs of the email story the corpus finds (from suites + good recorded inputs only)…');
  const bad = DEMO_TRAFFIC.filter((t) => !t.valid).map((t) => t.input);
  const sandbox = new Sandbox(defaultConfig().sandbox);
  const wrongByCulprit = bad.filter(
    (input) => sandbox.run('c', code('2.2.0'), input) !== sandbox.run('p', code('2.1.0'), input),
  );
  sandbox.close();
  // The corpus is given the suites and the recorded good inputs; a bad input may only come from what it
  // makes itself (generated inputs, and the code-reading sources' findings).
  if (c.corpus.inputs.some((i) => bad.includes(i.input as string) && (i.source === 'suite' || i.source === 'recorded')))
    throw new Error('a bad input was given to the corpus');
  const differing = new Set<string>();
  {
    const sb = new Sandbox(defaultConfig().sandbox);
    for (const i of c.corpus.inputs)
      if (sb.runJson('c', code('2.2.0'), i.json) !== sb.runJson('p', code('2.1.0'), i.json))
        differing.add(i.input as string);
    sb.close();
  }
  const exact = wrongByCulprit.filter((b) => differing.has(b));
  const byDefect = wrongByCulprit.filter((b) => {
    const defects = DEFECTS.filter((d) => d.matches(b));
    return (
      defects.length > 0 && [...differing].some((x) => typeof x === 'string' && defects.every((d) => d.matches(x)))
    );
  });

  progress(`3. sampling on the call path: ${CALLS} calls with and without, interleaved…`);
  const s = await samplingCost();
  const abRatio = s.abRatio;
  const offerRatio = s.offerMs / s.offMs;

  const med = (xs: { totalMs: number }[]) => median(xs.map((x) => x.totalMs));
  // Seconds per 1,000 corpus inputs, both versions run: the calls alone (no corpus generation).
  const per1000 = (xs: { checkMs: number; report: { inputs: number; unjudged: number } }[]) =>
    median(xs.map((x) => x.checkMs / (x.report.inputs + x.report.unjudged)));
  const sameRatio = med(keeperExact) / med(keeper);
  const culpritRatio = med(culpritExact) / med(culprit);
  printFigures(
    `bench:differential — ${CORPUS}-input corpus, median of ${RUNS}`,
    [
      [
        'check per version, culprit (refused)',
        fmtMs(med(culprit)),
        `corpus ${fmtMs(median(culprit.map((x) => x.corpusMs)))} + calls and shrinking ${fmtMs(median(culprit.map((x) => x.checkMs)))}; ${c.report.differing}/${c.report.inputs} differ, smallest ${JSON.stringify(c.report.differences[0]?.input)} (target < 1 s)`,
      ],
      [
        'check per version, same behaviour',
        fmtMs(med(keeper)),
        `precompiled-regex optimization: ${keeper[0]!.report.inputs} inputs, 0 differences (target < 1 s)`,
      ],
      [
        'same behaviour, s per 1,000 inputs',
        `${per1000(keeper).toFixed(3)} s`,
        `screened (one checked context per version); per-call contexts: ${per1000(keeperExact).toFixed(3)} s; ${sameRatio.toFixed(1)}× faster (target ≤ 1 s)`,
      ],
      [
        'culprit, per-call contexts (old path)',
        fmtMs(med(culpritExact)),
        `screened ${fmtMs(med(culprit))}: ${culpritRatio.toFixed(1)}× faster; each difference confirmed on fresh contexts`,
      ],
      [
        'same behaviour, per-call contexts (old path)',
        fmtMs(med(keeperExact)),
        `screened ${fmtMs(med(keeper))}: ${sameRatio.toFixed(1)}× faster, same report`,
      ],
      [
        'same behaviour, drawn checks',
        fmtMs(med(keeper) - med(keeperUndrawn)),
        `checks after about 1 call in 32 drawn by the host, against the 1st, 2nd, 4th… alone (${fmtMs(med(keeperUndrawn))}): ${((100 * (med(keeper) - med(keeperUndrawn))) / med(keeperUndrawn)).toFixed(0)}% more`,
      ],
      [
        'event loop held at most, per check',
        fmtMs(median([...culprit, ...keeper].map((x) => x.loopMaxMs))),
        `median over the screened checks of the longest wait of the event loop while the check ran (per-call path: ${fmtMs(median([...culpritExact, ...keeperExact].map((x) => x.loopMaxMs)))}); tool code runs on isolated-vm's threads`,
      ],
      [
        'corpus sources',
        `${c.corpus.sources.suite}+${c.corpus.sources.recorded}+${c.corpus.sources.generated}`,
        `suite + good recorded + generated (seed ${seed})`,
      ],
      [
        'bad inputs found, same defect',
        `${byDefect.length}/${wrongByCulprit.length}`,
        `a differing generated input with the same defect (${DEFECTS.map((d) => d.defect).join(', ')})`,
      ],
      [
        'bad inputs found, exact',
        `${exact.length}/${wrongByCulprit.length}`,
        exact.map((e) => JSON.stringify(e)).join(', ') || 'none',
      ],
      ['call, sampling off', fmtUs(s.offMs), 'ToolRuntime.call, median of 200-call blocks'],
      ['call, sampling on', fmtUs(s.onMs), `${s.kept} inputs kept (reservoir of 200)`],
      [
        'sampling cost (A/B)',
        `${(abRatio * 100).toFixed(1)}%`,
        'median per-round ratio, on vs off, interleaved in the same run (target < 10%)',
      ],
      [
        'sampling cost (offer alone)',
        `${(offerRatio * 100).toFixed(2)}%`,
        `${(s.offerMs * 1e6).toFixed(0)} ns per call against the call without sampling`,
      ],
    ],
    {
      corpus: CORPUS,
      checkCulpritMs: med(culprit),
      checkSameMs: med(keeper),
      checkCulpritPerCallMs: med(culpritExact),
      checkSamePerCallMs: med(keeperExact),
      checkSameUndrawnMs: med(keeperUndrawn),
      sPer1000Screened: per1000(keeper),
      sPer1000PerCall: per1000(keeperExact),
      screenedSpeedupSame: sameRatio,
      screenedSpeedupCulprit: culpritRatio,
      corpusMs: median(culprit.map((x) => x.corpusMs)),
      differing: c.report.differing,
      smallest: c.report.differences[0]?.input ?? null,
      badFoundByDefect: byDefect.length,
      badFoundExact: exact.length,
      badTotal: wrongByCulprit.length,
      callOffMs: s.offMs,
      callOnMs: s.onMs,
      samplingRatioAB: abRatio,
      samplingRatioOffer: offerRatio,
    },
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
