import type { DiseConfig } from '../config/schema.js';
import type { SuiteTest } from '../detection/test-runner.js';
import type { LineageStore } from '../lineage/store.js';
import type { Db } from '../lineage/sql.js';
import { warmPythonFor } from '../sandbox/python.js';
import type { ToolSource } from '../shared/language.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { parseVersionId } from '../shared/ids.js';
import type { JsonValue, TestCaseRecord } from '../shared/lineage-types.js';
import { buildCorpusAsync, seedFrom } from './corpus.js';
import { configSkips, judgeVersion, type JudgeCheck, type SkippedChecks, type Verdict } from './judge.js';

/**
 * Who asks the judge, and which checks each leaves out and why. Everything not listed runs (unless a
 * config switch turns it off, or the evidence it needs does not exist).
 */
export const JUDGE_PLANS = {
  /**
   * `dise tool add` and promotion: a new version against its suite, gates and first parent, and
   * beside every parent on the differential corpus.
   */
  registration: {
    replay: 'a new version has no recorded calls of its own, and its parent is not the reference for real inputs',
  },
  /**
   * The ancestor search, bisection and re-validation of tainted versions: is this stored version
   * good today, on its own? Its parent is judged next in the walk, so neither regression nor replay
   * against it applies.
   */
  ancestor: {
    regression: 'the walk judges each ancestor on its own; its parent is judged next',
    replay: 'an ancestor is the reference recorded inputs are replayed against',
    differential: 'an ancestor is judged on its own; differences from its parent were judged when it was registered',
  },
  /**
   * A heal's candidate: everything, against the healthy ancestor it was made from; the differential
   * check reads the culprit's declared mutation (the candidate keeps its goal and its promise).
   */
  candidate: {},
  /**
   * A heal's candidate built on the failed version (a revert, an LLM revision): the failed version's
   * whole suite, later features included, minus the tests that encode the bug; regression against
   * the failed version.
   */
  revert: {
    replay:
      "a revert keeps the changes made after the culprit, so the ancestor's answers to recorded inputs are not the reference; the failed version's suite and the minted failing inputs decide",
    differential:
      "a revert differs from the failed version where it undoes the culprit and from the ancestor where it keeps later features, so neither is its reference; the failed version's whole suite and the minted failing inputs decide",
  },
} as const satisfies Record<string, SkippedChecks>;

export type JudgePurpose = keyof typeof JUDGE_PLANS;

export function toSuiteTests(tests: TestCaseRecord[]): SuiteTest[] {
  return tests.map((t) => ({
    id: t.id,
    name: t.name,
    input: t.input,
    expected: t.expected,
    critical: t.critical,
    toolId: t.toolId,
    origin: t.origin,
  }));
}

/** What the judge needs from the database besides the code. */
export interface JudgeScope {
  /** The version whose suite and rules apply (the version itself, or a candidate's ancestor). */
  scopeOf: string;
  /** Rules to add to those in scope (a heal's new rules, before they are inherited). */
  extraRuleIds?: string[];
  /** The version compared with (first parent at registration, the ancestor for a candidate). */
  baselineId?: string | null;
  /** Versions whose recorded inputs are replayed. */
  replayFrom?: string[];
  /** The versions the differential check runs beside (default: the baseline). */
  parentIds?: string[];
  /** The version whose declared mutation type decides what a difference means (default: none declared). */
  mutationOf?: string | null;
  /** Skips beyond the plan's, with reasons (e.g. `regeneration.require_test_validation` off). */
  skip?: SkippedChecks;
  /** Tests of the suite left out (a revert's set-aside tests). */
  excludeTests?: number[];
  /** Evidence the caller has read already (the scope's suite, the baseline's code): not read again. */
  known?: { suite?: TestCaseRecord[]; baseline?: ToolSource };
}

export const MAX_REPLAY_INPUTS = 200;

export interface JudgeDeps {
  store: LineageStore;
  sandbox: Sandbox;
  config: DiseConfig;
}

/** Loads the evidence from the data layer (inside `db` when given) and asks the judge. */
export async function judgeWithScope(
  deps: JudgeDeps,
  purpose: JudgePurpose,
  subject: { id: string } & ToolSource,
  scope: JudgeScope,
  db?: Db,
): Promise<Verdict> {
  const judge = await loadJudgement(deps, purpose, subject, scope, db);
  return judge();
}

/**
 * Loads the evidence from the data layer (inside `db` when given) and returns the judgement, which
 * runs tool code and touches no database: a caller holding a transaction can close it first.
 */
export async function loadJudgement(
  deps: JudgeDeps,
  purpose: JudgePurpose,
  subject: { id: string } & ToolSource,
  scope: JudgeScope,
  db?: Db,
): Promise<() => Promise<Verdict>> {
  await warmPythonFor(subject.language); // off the event loop, once
  const skip: SkippedChecks = { ...configSkips(deps.config), ...JUDGE_PLANS[purpose], ...scope.skip };
  const needs = (check: JudgeCheck) => !(check in skip);
  const excluded = new Set(scope.excludeTests ?? []);
  const wantSuite = needs('suite') || needs('regression');
  const readSuite = wantSuite && !scope.known?.suite;
  // One round trip for the suite, the rules in scope and the imported rules' head.
  const read =
    readSuite || needs('gates')
      ? await deps.store.judgeEvidence.of(
          scope.scopeOf,
          { suite: readSuite, rules: needs('gates'), extraRuleIds: scope.extraRuleIds ?? [] },
          db,
        )
      : null;
  const suite = wantSuite
    ? toSuiteTests(scope.known?.suite ?? read?.suite ?? []).filter((t) => t.id === null || !excluded.has(t.id))
    : [];
  // Imported rules that enforce gate the versions in their document's scope (the tool of `scopeOf`).
  const rules = needs('gates')
    ? [
        ...(read?.rules ?? []),
        ...(await deps.store.shared.enforcing(
          { id: scope.scopeOf, code: subject.code, language: subject.language },
          db,
          deps.config.self_healing.propagation.similarity_threshold,
          read?.gateHead,
        )),
      ]
    : [];
  const baselineId = scope.baselineId ?? null;
  const baselineSource =
    baselineId && (needs('regression') || needs('replay'))
      ? (scope.known?.baseline ?? (await deps.store.graph.codes([baselineId], db)).get(baselineId))
      : undefined;
  const replayInputs: JsonValue[] =
    needs('replay') && scope.replayFrom?.length
      ? await deps.store.executions.recordedInputs(scope.replayFrom, MAX_REPLAY_INPUTS, db)
      : [];
  const differential = needs('differential') ? await differentialEvidence(deps, subject, scope, suite, db) : null;
  if (differential?.sameCodeAs)
    skip.differential = `${subject.id} is the code of ${differential.sameCodeAs.join(', ')} itself: it answers every input as they do`;
  const evidence = {
    id: subject.id,
    code: subject.code,
    language: subject.language,
    suite,
    rules,
    baseline: baselineId && baselineSource !== undefined ? { id: baselineId, ...baselineSource } : null,
    replayInputs,
    differential: differential?.sameCodeAs === undefined ? differential : null,
  };
  return async () => judgeVersion(deps.sandbox, evidence, skip);
}

/**
 * The differential check's evidence from the data layer: the parents' code, the declared mutation,
 * and the corpus — every suite input in scope (minted included), the tool's sample of recorded
 * inputs, and inputs generated from both with the configured (or version-derived) seed. Code that is
 * every parent's own code comes back as `sameCodeAs` instead: it answers every input as they do.
 */
async function differentialEvidence(
  deps: JudgeDeps,
  subject: { id: string } & ToolSource,
  scope: JudgeScope,
  suiteLoaded: SuiteTest[],
  db?: Db,
) {
  const parentIds = scope.parentIds ?? (scope.baselineId ? [scope.baselineId] : []);
  if (!parentIds.length) return null;
  const settings = deps.config.self_healing.differential;
  const codes = await deps.store.graph.codes(parentIds, db);
  const parents = parentIds.flatMap((id) => (codes.has(id) ? [{ id, ...codes.get(id)! }] : []));
  // Code identical to every parent's (a rollback to the ancestor) has nothing to compare: no corpus is built or run.
  if (parents.length && parents.every((p) => p.code === subject.code && p.language === subject.language))
    return { sameCodeAs: parents.map((p) => p.id) };
  const mutation = scope.mutationOf ? await deps.store.differential.declaredMutation(scope.mutationOf, db) : null;
  const suite = suiteLoaded.length ? suiteLoaded : toSuiteTests(await deps.store.tests.suiteFor(scope.scopeOf, db));
  const corpus = await corpusFor(
    deps,
    {
      scopeOf: scope.scopeOf,
      seedKey: subject.id === scope.scopeOf ? subject.id : `${scope.scopeOf}/${subject.id}`,
      suite,
      codes: [subject.code, ...parents.map((p) => p.code)],
    },
    db,
  );
  return {
    parents,
    mutationType: mutation?.type ?? null,
    mutationDescription: mutation?.description ?? null,
    corpus,
    maxDifferences: settings.max_differences,
    timeBudgetMs: settings.time_budget_ms,
  };
}

/**
 * The differential corpus as registration builds it: every suite input in scope, the tool's sample of
 * recorded inputs, and inputs generated from both and from the code, with the configured (or
 * key-derived) seed.
 */
export async function corpusFor(
  deps: JudgeDeps,
  what: { scopeOf: string; seedKey: string; suite: SuiteTest[]; codes: string[] },
  db?: Db,
) {
  const settings = deps.config.self_healing.differential;
  const sampling = deps.config.runtime.input_sampling;
  const recorded = await deps.store.samples.forTool(
    parseVersionId(what.scopeOf).name,
    Math.min(sampling.per_tool || settings.corpus_size, settings.corpus_size),
    db,
  );
  return buildCorpusAsync({
    suiteInputs: what.suite.map((t) => t.input),
    recordedInputs: recorded,
    size: settings.corpus_size,
    generated: settings.generated_inputs,
    seed: settings.seed ?? seedFrom(what.seedKey),
    codes: what.codes,
  });
}

/** Is this stored version good today, on its own (the ancestor search's question)? */
export function judgeStoredVersion(deps: JudgeDeps, v: { id: string } & ToolSource): Promise<Verdict> {
  return judgeWithScope(deps, 'ancestor', v, { scopeOf: v.id });
}
