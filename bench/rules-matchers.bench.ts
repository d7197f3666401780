/**
 * npm run bench:rules-matchers — ast-grep against dise's own matcher, on the rules dise learns in its
 * stories and rule tests. Each case is a (good, bad) pair that a heal test or the demo uses; offline
 * analysis learns its rule (as a heal does), and both matchers then read:
 *   - positives: the bad code, and the same mistake with other names (identifiers renamed);
 *   - negatives: every good code of every case in the same language (healthy versions).
 * Precision and recall per language and matcher; a rule ast-grep has no translation for counts as no
 * match (ast-grep alone would miss it). Also the time of one check by each.
 */
import { performance } from 'node:perf_hooks';
import { checkRuleGates } from '../src/detection/static-analysis.js';
import { emailLineage } from '../src/demo/email-lineage.js';
import { pythonEmailLineage, PY_SLUG_V11, PY_SLUG_V12 } from '../src/demo/python-lineages.js';
import { SLUG_V11, SLUG_V12 } from '../src/demo/slug-lineage.js';
import { analyzeOffline } from '../src/healing/offline-analysis.js';
import { astGrepMatch, toAstGrep } from '../src/rules/ast-grep.js';
import { warmPythonFor } from '../src/sandbox/python.js';
import type { ToolLanguage } from '../src/shared/language.js';
import { fmtMs, printFigures } from './support.js';

interface Case {
  name: string;
  language: ToolLanguage;
  good: string;
  bad: string;
  /** Renames that keep the mistake: [from, to] over whole words. */
  renames: [string, string][];
}

const js = (v: string) => emailLineage('e').find((s) => s.version === v)!.code;
const py = (v: string) => pythonEmailLineage('e').find((s) => s.version === v)!.code;
const CASES: Case[] = [
  {
    name: 'email: optimization skips the regex',
    language: 'javascript',
    good: js('2.0.0'),
    bad: js('2.2.0'),
    renames: [
      ['input', 'value'],
      ['s', 'text'],
    ],
  },
  {
    name: 'email: internationalized regex',
    language: 'javascript',
    good: js('2.0.0'),
    bad: js('2.3.0'),
    renames: [
      ['input', 'address'],
      ['EMAIL', 'PATTERN'],
    ],
  },
  {
    name: 'slug: digits dropped',
    language: 'javascript',
    good: SLUG_V11,
    bad: SLUG_V12,
    renames: [
      ['title', 'heading'],
      ['slug', 'out'],
    ],
  },
  {
    name: 'email: "@" check (fixtures)',
    language: 'javascript',
    good: 'function run(input) {\n  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(String(input));\n}',
    bad: "function run(input) {\n  // Optimized: skip the regex\n  return String(input).includes('@');\n}",
    renames: [['input', 'addr']],
  },
  {
    name: 'trim dropped',
    language: 'javascript',
    good: 'function run(input) {\n  const s = String(input).trim();\n  return s.length > 0;\n}',
    bad: 'function run(input) {\n  const s = String(input);\n  return s.length > 0;\n}',
    renames: [
      ['input', 'x'],
      ['s', 'str'],
    ],
  },
  {
    name: 'slice bound changed',
    language: 'javascript',
    good: 'function run(input) {\n  return String(input).slice(0, 40);\n}',
    bad: 'function run(input) {\n  return String(input).slice(0, 4);\n}',
    renames: [['input', 'title']],
  },
  {
    name: 'python email: optimization',
    language: 'python',
    good: py('2.0.0'),
    bad: py('2.2.0'),
    renames: [
      ['input', 'value'],
      ['s', 'text'],
    ],
  },
  {
    name: 'python email: internationalized regex',
    language: 'python',
    good: py('2.0.0'),
    bad: py('2.3.0'),
    renames: [
      ['input', 'address'],
      ['EMAIL', 'PATTERN'],
    ],
  },
  {
    name: 'python slug: digits dropped',
    language: 'python',
    good: PY_SLUG_V11,
    bad: PY_SLUG_V12,
    renames: [
      ['title', 'heading'],
      ['slug', 'out'],
    ],
  },
  {
    name: 'python: split replaces the regex (rule test)',
    language: 'python',
    good: 'import re\n\ndef run(s):\n    return re.fullmatch(r"[^@]+@[^@]+", s) is not None\n',
    bad: 'def run(s):\n    return len(s.split("@")) >= 2\n',
    renames: [['s', 'address']],
  },
];

const rename = (code: string, renames: [string, string][]) =>
  renames.reduce((c, [from, to]) => c.replace(new RegExp(`\\b${from}\\b`, 'g'), to), code);

interface Tally {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}
const tally = (): Tally => ({ tp: 0, fp: 0, fn: 0, tn: 0 });
const score = (t: Tally, positive: boolean, matched: boolean) => {
  if (positive) t[matched ? 'tp' : 'fn']++;
  else t[matched ? 'fp' : 'tn']++;
};
const precision = (t: Tally) => (t.tp + t.fp ? t.tp / (t.tp + t.fp) : NaN);
const recall = (t: Tally) => (t.tp + t.fn ? t.tp / (t.tp + t.fn) : NaN);
const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(0)}%`);

async function main(): Promise<void> {
  await warmPythonFor('python');
  const results: Record<string, { dise: Tally; astGrep: Tally; rules: number; translated: number; semantic: number }> =
    {};
  const timing = { dise: [] as number[], astGrep: [] as number[] };
  const perCase: string[] = [];
  for (const c of CASES) {
    const r = (results[c.language] ??= { dise: tally(), astGrep: tally(), rules: 0, translated: 0, semantic: 0 });
    const a = analyzeOffline({
      goodCode: c.good,
      badCode: c.bad,
      language: c.language,
      goodId: 'good',
      badId: 'bad',
      mutation: null,
      failure: 'a wrong answer',
      reproduced: true,
    });
    if (a.patternKind === 'semantic') {
      r.semantic++;
      perCase.push(`${c.name}: no machine-checkable rule learned`);
      continue;
    }
    r.rules++;
    const rule = { ruleId: 'r', description: '', patternToAvoid: a.problematicPattern, patternKind: a.patternKind };
    const grep = toAstGrep(a.patternKind, a.problematicPattern, c.language);
    if (grep) r.translated++;
    perCase.push(`${c.name}: ${a.patternKind} ${a.problematicPattern}${grep ? '' : '  (no ast-grep translation)'}`);
    const samples: [string, boolean][] = [
      [c.bad, true],
      [rename(c.bad, c.renames), true],
      ...CASES.filter((o) => o.language === c.language).map((o): [string, boolean] => [o.good, false]),
    ];
    for (const [code, positive] of samples) {
      let t = performance.now();
      score(r.dise, positive, checkRuleGates(code, [rule], c.language).length > 0);
      timing.dise.push(performance.now() - t);
      t = performance.now();
      score(r.astGrep, positive, grep ? astGrepMatch(code, c.language, grep) !== null : false);
      if (grep) timing.astGrep.push(performance.now() - t);
    }
  }
  const rows: [string, string, string][] = [];
  for (const [language, r] of Object.entries(results)) {
    rows.push([
      `${language}: rules learned`,
      String(r.rules),
      `${r.translated} with an ast-grep translation, ${r.semantic} semantic (no gate)`,
    ]);
    for (const m of ['dise', 'astGrep'] as const)
      rows.push([
        `${language}: ${m === 'dise' ? "dise's matcher" : 'ast-grep'}`,
        `P ${pct(precision(r[m]))} R ${pct(recall(r[m]))}`,
        `tp ${r[m].tp} fp ${r[m].fp} fn ${r[m].fn} tn ${r[m].tn}`,
      ]);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  rows.push(['one check, dise (mean)', fmtMs(mean(timing.dise)), `${timing.dise.length} checks`]);
  rows.push([
    'one check, ast-grep (mean)',
    fmtMs(mean(timing.astGrep)),
    `${timing.astGrep.length} checks (translated rules)`,
  ]);
  for (const line of perCase) console.log(`  ${line}`);
  printFigures('Rule matchers on the learned rules (precision P, recall R)', rows, {
    results,
    meanMs: { dise: mean(timing.dise), astGrep: mean(timing.astGrep) },
  });
}

await main();
process.exit(0);
