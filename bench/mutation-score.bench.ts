/**
 * npm run bench:mutation-score — how much `dise immunity` strengthens a tool's suite, on the
 * immunity benchmark's JavaScript functions (bench/immunity/js-functions.ts): each function's first
 * two tests are its suite (the rest are never used here), its single-point mutants run against that
 * suite (the score before), the inputs that kill the survivors are pinned with the function's own
 * answers, and the mutants run again (the score after). The pinned tests are then checked against
 * the held-out tests: a pinned answer is the function's own, so it must agree with every held-out
 * test on the same input.
 *
 * Env: BENCH_MUTANTS (most mutants per function, default 60).
 */
import { performance } from 'node:perf_hooks';
import { defaultConfig } from '../src/config/schema.js';
import { jsonEqual } from '../src/detection/json-equal.js';
import { buildCorpus, seedFrom } from '../src/judge/corpus.js';
import { amplify } from '../src/judge/immunity.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { JS_PROBLEMS } from './immunity/js-functions.js';
import { printFigures, progress } from './support.js';

const MAX_MUTANTS = Number(process.env.BENCH_MUTANTS ?? 60);

async function main() {
  const config = defaultConfig();
  const sandbox = new Sandbox(config.sandbox);
  const settings = config.self_healing.differential;
  let mutants = 0;
  let before = 0;
  let after = 0;
  let pinned = 0;
  let disagreeing = 0;
  const perFunction: { name: string; before: number; after: number }[] = [];
  const started = performance.now();
  try {
    for (const p of JS_PROBLEMS) {
      const suite = p.tests.slice(0, 2).map((t, i) => ({
        id: null,
        name: `visible ${i + 1}`,
        input: t.input,
        expected: t.expected,
        critical: true,
      }));
      const corpus = buildCorpus({
        suiteInputs: suite.map((t) => t.input),
        recordedInputs: [],
        size: settings.corpus_size,
        generated: settings.generated_inputs,
        seed: seedFrom(`${p.name}/immunity`),
        codes: [p.code],
      });
      const r = await amplify(sandbox, {
        id: p.name,
        source: { code: p.code, language: 'javascript' },
        suite,
        corpus,
        maxMutants: MAX_MUTANTS,
        timeBudgetMs: settings.time_budget_ms,
      });
      mutants += r.mutants;
      before += r.killedBefore;
      after += r.killedAfter;
      pinned += r.pinned.length;
      const heldOut = p.tests.slice(2);
      disagreeing += r.pinned.filter((t) =>
        heldOut.some((h) => jsonEqual(h.input, t.input) && !jsonEqual(h.expected, t.expected)),
      ).length;
      perFunction.push({ name: p.name, before: r.scoreBefore ?? 0, after: r.scoreAfter ?? 0 });
      progress(`${p.name}: ${r.killedBefore}/${r.mutants} → ${r.killedAfter}/${r.mutants} (${r.pinned.length} pinned)`);
    }
  } finally {
    sandbox.close();
  }
  const pct = (n: number) => `${((100 * n) / mutants).toFixed(1)}%`;
  const gain = (100 * (after - before)) / mutants;
  printFigures(
    `bench:mutation-score — ${JS_PROBLEMS.length} JavaScript functions, two visible tests each, at most ${MAX_MUTANTS} mutants each`,
    [
      ['mutants', String(mutants), 'single-point: operators swapped, constants ±1, booleans flipped'],
      ['score before', pct(before), `${before} refused by the two visible tests`],
      ['score after', pct(after), `${after} refused once ${pinned} pinned test(s) were added`],
      ['gain', `${gain.toFixed(1)} points`, 'target: at least 10'],
      [
        'pinned tests at odds with a held-out test',
        String(disagreeing),
        'must be 0: a pinned answer is the function’s own',
      ],
      ['seconds', ((performance.now() - started) / 1000).toFixed(1), 'whole run'],
    ],
    { mutants, before, after, pinned, gainPoints: Number(gain.toFixed(1)), disagreeing, perFunction },
  );
  if (disagreeing) process.exitCode = 1;
}

void main();
