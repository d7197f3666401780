import { runSuite, type SuiteTest } from '../detection/test-runner.js';
import { LineageError } from '../lineage/errors.js';
import { warmPythonFor } from '../sandbox/python.js';
import type { ImmunityReport, MutantRef } from '../shared/immunity-types.js';
import type { ToolSource } from '../shared/language.js';
import type { JsonValue } from '../shared/lineage-types.js';
import { codeHash } from '../detection/tool-code.js';
import { runDifferential } from './differential.js';
import { mutantsOf, spreadEvenly, type Mutant } from './mutants.js';
import type { Corpus } from './corpus.js';
import { corpusFor, toSuiteTests, type JudgeDeps } from './plans.js';
import type { Sandbox } from '../sandbox/sandbox.js';

export interface ImmunityOptions {
  /** Most mutants tried, spread over the code (default 60). */
  maxMutants?: number;
  /** Store the pinned tests and the run (default true); false only reports. */
  pin?: boolean;
}

type PinnedTest = ImmunityReport['pinned'][number];

const refOf = (m: Mutant): MutantRef => ({
  id: `${m.operator} at line ${m.line}: ${m.from} → ${m.to}`,
  operator: m.operator,
  line: m.line,
});

/**
 * The adversarial self-test of one stored version (see amplify), with its suite and corpus read from
 * the data layer; the pinned tests and the run are stored unless `pin` is false.
 */
export async function measureImmunity(
  deps: JudgeDeps,
  versionId: string,
  options: ImmunityOptions = {},
): Promise<ImmunityReport> {
  const started = performance.now();
  const source = (await deps.store.graph.codes([versionId])).get(versionId);
  if (!source) throw new LineageError('UNKNOWN_VERSION', `unknown version ${versionId}`, 'version', [versionId]);
  await warmPythonFor(source.language);
  const suite = toSuiteTests(await deps.store.tests.suiteFor(versionId));
  const corpus = await corpusFor(deps, {
    scopeOf: versionId,
    seedKey: `${versionId}/immunity`,
    suite,
    codes: [source.code],
  });
  const found = await amplify(deps.sandbox, {
    id: versionId,
    source,
    suite,
    corpus,
    maxMutants: options.maxMutants ?? 60,
    timeBudgetMs: deps.config.self_healing.differential.time_budget_ms,
  });
  const report: ImmunityReport = {
    versionId,
    language: source.language,
    ...found,
    stored: options.pin ?? true,
    durationMs: performance.now() - started,
  };
  if (report.stored) {
    await deps.store.tests.pin(versionId, report.pinned);
    await deps.store.immunity.record(report);
  }
  return report;
}

export interface AmplifySubject {
  id: string;
  source: ToolSource;
  suite: SuiteTest[];
  /** The inputs the survivors are tried on (the differential corpus). */
  corpus: Corpus;
  maxMutants: number;
  timeBudgetMs: number;
}

/**
 * The version's single-point mutants against its suite; for each survivor, the differential check
 * beside the version looks for an input that tells them apart, and the smallest one found is pinned
 * as a test with the version's own answer. The mutation score is the share of mutants the suite
 * refuses, before and after.
 */
export async function amplify(
  sandbox: Sandbox,
  s: AmplifySubject,
): Promise<
  Pick<
    ImmunityReport,
    'mutants' | 'killedBefore' | 'killedAfter' | 'scoreBefore' | 'scoreAfter' | 'pinned' | 'undetected'
  >
> {
  const mutants = spreadEvenly(mutantsOf(s.source), s.maxMutants);
  const notRefusedBy = async (tests: SuiteTest[], among: Mutant[]) => {
    const left: Mutant[] = [];
    for (const m of among) if (!(await suiteRefuses(sandbox, m, s.source, tests))) left.push(m);
    return left;
  };
  const survivors = await notRefusedBy(s.suite, mutants);
  const pinned = await pinSurvivors(sandbox, s, survivors);
  const amplified = [...s.suite, ...pinned.map(asSuiteTest)];
  const undetected = (await notRefusedBy(amplified, survivors)).map(refOf);
  const killedBefore = mutants.length - survivors.length;
  const killedAfter = mutants.length - undetected.length;
  return {
    mutants: mutants.length,
    killedBefore,
    killedAfter,
    scoreBefore: mutants.length ? killedBefore / mutants.length : null,
    scoreAfter: mutants.length ? killedAfter / mutants.length : null,
    pinned,
    undetected,
  };
}

/** Does any test of the suite fail (or error) on the mutant? */
async function suiteRefuses(sandbox: Sandbox, m: Mutant, source: ToolSource, tests: SuiteTest[]): Promise<boolean> {
  const mutant = { code: m.code, language: source.language };
  return (await runSuite(sandbox, codeHash(m.code), mutant, tests)).some((r) => !r.passed);
}

/**
 * For each survivor not already refused by an input pinned for an earlier one, the differential
 * check's smallest input on which it answers otherwise than the version (where the version itself
 * answers without an error), pinned with the version's answer.
 */
async function pinSurvivors(sandbox: Sandbox, s: AmplifySubject, survivors: Mutant[]): Promise<PinnedTest[]> {
  const pinned: PinnedTest[] = [];
  for (const m of survivors) {
    const ref = refOf(m);
    let caught: PinnedTest | undefined;
    for (const p of pinned) {
      if (await suiteRefuses(sandbox, m, s.source, [asSuiteTest(p)])) {
        caught = p;
        break;
      }
    }
    if (caught) {
      caught.kills.push(ref.id);
      continue;
    }
    const { report } = await runDifferential(sandbox, {
      id: `${s.id} mutant`,
      code: m.code,
      language: s.source.language,
      parents: [{ id: s.id, ...s.source }],
      mutationType: 'optimization',
      criticalTests: [],
      corpus: s.corpus,
      maxDifferences: 3,
      timeBudgetMs: s.timeBudgetMs,
    });
    const found = report.differences.find((d) => d.parents[0]?.output.error === null);
    if (!found) continue;
    pinned.push({
      name: `pinned: kills ${ref.id}`.slice(0, 255),
      input: found.input,
      expected: found.parents[0]!.output.output as JsonValue,
      kills: [ref.id],
    });
  }
  return pinned;
}

const asSuiteTest = (p: PinnedTest): SuiteTest => ({
  id: null,
  name: p.name,
  input: p.input,
  expected: p.expected,
  critical: true,
  origin: 'pinned',
});
