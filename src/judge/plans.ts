import type { DiseConfig } from '../config/schema.js';
import type { SuiteTest } from '../detection/test-runner.js';
import type { LineageStore } from '../lineage/store.js';
import type { Db } from '../lineage/sql.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { JsonValue, TestCaseRecord } from '../shared/lineage-types.js';
import { configSkips, judgeVersion, type JudgeCheck, type SkippedChecks, type Verdict } from './judge.js';

/**
 * Who asks the judge, and which checks each leaves out and why. Everything not listed runs (unless a
 * config switch turns it off, or the evidence it needs does not exist).
 */
export const JUDGE_PLANS = {
  /** `dise tool add` and promotion: a new version against its suite, gates and first parent. */
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
  },
  /** A heal's candidate made from the healthy ancestor (a rollback, an LLM regeneration): everything, against it. */
  candidate: {},
  /**
   * A heal's candidate built on the failed version (a revert, an LLM revision): the failed version's
   * whole suite, later features included, minus the tests that encode the bug; regression against
   * the failed version.
   */
  revert: {
    replay: "a revert keeps the changes made after the culprit, so the ancestor's answers to recorded inputs are not the reference; the failed version's suite and the minted failing inputs decide",
  },
} as const satisfies Record<string, SkippedChecks>;

export type JudgePurpose = keyof typeof JUDGE_PLANS;

export function toSuiteTests(tests: TestCaseRecord[]): SuiteTest[] {
  return tests.map((t) => ({ id: t.id, name: t.name, input: t.input, expected: t.expected, critical: t.critical, toolId: t.toolId, origin: t.origin }));
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
  /** Skips beyond the plan's, with reasons (e.g. `regeneration.require_test_validation` off). */
  skip?: SkippedChecks;
  /** Tests of the suite left out (a revert's set-aside tests). */
  excludeTests?: number[];
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
  subject: { id: string; code: string },
  scope: JudgeScope,
  db?: Db,
): Promise<Verdict> {
  const skip: SkippedChecks = { ...configSkips(deps.config), ...JUDGE_PLANS[purpose], ...scope.skip };
  const needs = (check: JudgeCheck) => !(check in skip);
  const excluded = new Set(scope.excludeTests ?? []);
  const suite = needs('suite') || needs('regression') ? toSuiteTests(await deps.store.tests.suiteFor(scope.scopeOf, db)).filter((t) => t.id === null || !excluded.has(t.id)) : [];
  const rules = needs('gates') ? await deps.store.rules.inScopeWith(scope.scopeOf, scope.extraRuleIds ?? [], db) : [];
  const baselineId = scope.baselineId ?? null;
  const baselineCode = baselineId && (needs('regression') || needs('replay')) ? (await deps.store.graph.codes([baselineId], db)).get(baselineId) : undefined;
  const replayInputs: JsonValue[] =
    needs('replay') && scope.replayFrom?.length ? await deps.store.executions.recordedInputs(scope.replayFrom, MAX_REPLAY_INPUTS, db) : [];
  return judgeVersion(
    deps.sandbox,
    { id: subject.id, code: subject.code, suite, rules, baseline: baselineId && baselineCode !== undefined ? { id: baselineId, code: baselineCode } : null, replayInputs },
    skip,
  );
}

/** Is this stored version good today, on its own (the ancestor search's question)? */
export function judgeStoredVersion(deps: JudgeDeps, v: { id: string; code: string }): Promise<Verdict> {
  return judgeWithScope(deps, 'ancestor', v, { scopeOf: v.id });
}
