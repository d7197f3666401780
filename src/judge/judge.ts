import { performance } from 'node:perf_hooks';
import type { DiseConfig } from '../config/schema.js';
import { jsonEqual } from '../detection/json-equal.js';
import {
  detectGateViolations,
  detectSecurityIssues,
  type GateRule,
  type GateViolation,
  type StaticFinding,
} from '../detection/static-analysis.js';
import {
  detectRegression,
  detectTestFailures,
  runSuite,
  type SuiteTest,
  type TestResult,
} from '../detection/test-runner.js';
import { LineageError } from '../lineage/errors.js';
import { checkToolCode, codeHash } from '../detection/tool-code.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { Rejection } from '../shared/heal-types.js';
import type { ToolSource } from '../shared/language.js';
import type { DetectedFailure, DifferentialReport, JsonValue } from '../shared/lineage-types.js';
import { describeDifference, runDifferential, type DifferentialSubject } from './differential.js';

/** Everything the judge can check, in the order it checks them. */
export const JUDGE_CHECKS = ['parse', 'static', 'gates', 'suite', 'regression', 'replay', 'differential'] as const;
export type JudgeCheck = (typeof JUDGE_CHECKS)[number];

/** Checks a caller leaves out, each with the reason it states. */
export type SkippedChecks = Partial<Record<JudgeCheck, string>>;

/** What the judge looks at: the code, and the evidence its checks need. */
export interface JudgeCase extends ToolSource {
  /** The version's id, or a label such as `candidate 2 of heal:…`. */
  id: string;
  /** Every test in scope (its own and its ancestors', minted ones included). */
  suite: SuiteTest[];
  /** Every avoidance rule in scope. */
  rules: GateRule[];
  /** The version it is compared with: regression on the suite, and the answers on replayed inputs. */
  baseline: ({ id: string } & ToolSource) | null;
  /** Recorded real inputs to replay against the baseline. */
  replayInputs: JsonValue[];
  /**
   * The differential check: the parent(s) to run beside, the corpus, and the declared mutation type
   * (critical tests come from the suite). Null when there is nothing to compare with.
   */
  differential?: Omit<DifferentialSubject, 'id' | 'code' | 'language' | 'criticalTests'> | null;
}

export interface Verdict {
  /** No critical finding. */
  passed: boolean;
  /** What was found, as stored failure records. */
  failures: DetectedFailure[];
  /** The same findings one by one, for the next regeneration attempt. */
  rejections: Rejection[];
  tests: TestResult[];
  staticFindings: StaticFinding[];
  gateViolations: GateViolation[];
  testsRun: number;
  replayed: number;
  /** What the differential check found (null when it did not run). */
  differential: DifferentialReport | null;
  /** Every input the differential check found differing, before shrinking (not stored). */
  differingInputs: JsonValue[];
  /** The checks not run, and why (the caller's reasons, or missing evidence). */
  skipped: { check: JudgeCheck; why: string }[];
  /** The first reason it did not pass, for one-line reports. */
  why: string | null;
}

/** At most this many replay mismatches are reported. */
const MAX_REPLAY_REJECTIONS = 5;

/** The checks a config switch turns off, with the switch named. */
export function configSkips(config: DiseConfig): SkippedChecks {
  const d = config.self_healing.detection;
  const skip: SkippedChecks = {};
  if (!d.static_analysis) skip.static = 'detection.static_analysis is off in config.yaml';
  if (!d.differential) skip.differential = 'detection.differential is off in config.yaml';
  if (!d.test_based) {
    skip.suite = 'detection.test_based is off in config.yaml';
    skip.regression = 'detection.test_based is off in config.yaml';
  }
  return skip;
}

async function outcome(
  sandbox: Sandbox,
  source: ToolSource,
  input: JsonValue,
): Promise<{ output?: JsonValue; errorType?: string }> {
  try {
    return { output: await sandbox.runAsync(codeHash(source.code), source.code, input, source.language) };
  } catch (err) {
    // Anything but a tool's failure is the step's cancellation (the sandbox types every failure).
    if (!(err instanceof ToolExecutionError)) throw err;
    return { errorType: err.errorType };
  }
}

function describeTest(r: TestResult): string {
  return `fails "${r.name}": ${r.error ? r.error.message : `expected ${JSON.stringify(r.expected)}, got ${JSON.stringify(r.actual)}`}`;
}

/**
 * The one judge of "is this code good here?": parse, static security analysis, every rule gate in
 * scope, the suite (critical tests decide), regression against the baseline (tests it passes that
 * this code fails), replay of recorded inputs (this code must answer as the baseline does) and the
 * differential check (beside its parent(s) on a corpus of suite, sampled and generated inputs; the
 * declared mutation type decides what a difference means).
 * Registration, the ancestor search, candidate validation and re-validation of tainted versions
 * all call it; each states which checks it skips and why. A verdict passes when nothing critical
 * was found.
 */
/**
 * The differential check's time budget counts from the start of the judging, so a slow tool's suite
 * and regression runs come out of it too and the registration stays near the budget; the check keeps
 * at least half of it whatever the earlier stages took.
 */
export function differentialBudget(budgetMs: number | undefined, elapsedMs: number): number | undefined {
  return budgetMs === undefined ? undefined : Math.max(budgetMs / 2, budgetMs - elapsedMs);
}

export async function judgeVersion(sandbox: Sandbox, c: JudgeCase, skip: SkippedChecks = {}): Promise<Verdict> {
  const started = performance.now();
  const failures: DetectedFailure[] = [];
  const rejections: Rejection[] = [];
  const skipped: Verdict['skipped'] = [];
  const verdict = (): Verdict => {
    const critical = failures.filter((f) => f.severity === 'critical');
    return {
      passed: !critical.length,
      failures,
      rejections,
      tests,
      staticFindings,
      gateViolations,
      testsRun,
      replayed,
      differential,
      differingInputs,
      skipped,
      why: critical[0]?.description ?? null,
    };
  };
  const runs = (check: JudgeCheck, missing?: string): boolean => {
    const why = skip[check] ?? missing;
    if (why) skipped.push({ check, why });
    return !why;
  };
  let tests: TestResult[] = [];
  let staticFindings: StaticFinding[] = [];
  let gateViolations: GateViolation[] = [];
  let testsRun = 0;
  let replayed = 0;
  let differential: DifferentialReport | null = null;
  let differingInputs: JsonValue[] = [];

  if (runs('parse')) {
    try {
      checkToolCode(c.code, c.language);
    } catch (err) {
      if (!(err instanceof LineageError)) throw err;
      failures.push({
        failureType: 'invalid_code',
        description: err.message,
        stackTrace: null,
        testCaseFailed: null,
        detectionMethod: 'static_analysis',
        severity: 'critical',
        evidence: { field: err.field ?? 'code' },
      });
      rejections.push({ kind: 'static', message: err.message });
      // Nothing else can run on code that does not parse.
      for (const check of JUDGE_CHECKS.slice(1)) skipped.push({ check, why: 'the code does not parse' });
      return verdict();
    }
  }
  if (runs('static')) {
    const security = detectSecurityIssues(c.code, c.language);
    staticFindings = security.findings;
    if (security.failure) {
      failures.push(security.failure);
      rejections.push({ kind: 'static', message: security.failure.description });
    }
  }
  if (runs('gates')) {
    const gates = detectGateViolations(c.code, c.rules, c.language);
    gateViolations = gates.violations;
    if (gates.failure) failures.push(gates.failure);
    for (const v of gates.violations)
      rejections.push({
        kind: 'gate',
        message: `violates ${v.ruleId} "${v.description}" at line ${v.line}: ${v.excerpt}`,
      });
  }
  // Code that static analysis refuses is not run at all: its verdict is decided, and running it
  // would hand a sandbox's first layer to code built to get past it (Python tools share an interpreter).
  const refusedStatically = failures.find(
    (f) => f.failureType === 'security_vulnerability' && f.severity === 'critical',
  );
  if (refusedStatically) {
    for (const check of ['suite', 'regression', 'replay', 'differential'] as const) {
      if (!(check in skip)) skipped.push({ check, why: 'static analysis refused the code: it is not run' });
    }
    return verdict();
  }
  const runSuiteCheck = runs('suite', c.suite.length ? undefined : 'no tests in scope');
  const runRegression = runs(
    'regression',
    !c.suite.length ? 'no tests in scope' : !c.baseline ? 'nothing to compare with' : undefined,
  );
  if (runSuiteCheck || runRegression) {
    tests = await runSuite(sandbox, codeHash(c.code), c, c.suite);
    testsRun = tests.length;
  }
  if (runSuiteCheck) {
    const failed = detectTestFailures(tests);
    if (failed) failures.push(failed);
    for (const r of tests) if (!r.passed && r.critical) rejections.push({ kind: 'test', message: describeTest(r) });
  }
  if (runRegression && c.baseline) {
    const baseline = await runSuite(sandbox, codeHash(c.baseline.code), c.baseline, c.suite);
    const regression = detectRegression(baseline, tests, c.baseline.id);
    if (regression) {
      failures.push(regression);
      const passedByBaseline = new Set(baseline.filter((r) => r.passed).map((r) => r.name));
      for (const r of tests) {
        // Critical failures were reported by the suite check already.
        if (!r.passed && passedByBaseline.has(r.name) && !(runSuiteCheck && r.critical))
          rejections.push({ kind: 'test', message: describeTest(r) });
      }
    }
  }
  if (
    runs(
      'replay',
      !c.baseline ? 'nothing to compare with' : !c.replayInputs.length ? 'no recorded inputs' : undefined,
    ) &&
    c.baseline
  ) {
    const mismatches: { input: JsonValue; expected: JsonValue | undefined; got: JsonValue | string | undefined }[] = [];
    for (const input of c.replayInputs) {
      const expected = await outcome(sandbox, c.baseline, input);
      if (expected.errorType !== undefined) continue; // the baseline cannot answer it: nothing to compare
      replayed++;
      const got = await outcome(sandbox, c, input);
      if (got.errorType !== undefined || !jsonEqual(got.output, expected.output)) {
        mismatches.push({ input, expected: expected.output, got: got.errorType ?? got.output });
        rejections.push({
          kind: 'replay',
          message: `recorded input ${JSON.stringify(input)}: ${c.baseline.id} answers ${JSON.stringify(expected.output)}, ${c.id} ${got.errorType ?? JSON.stringify(got.output)}`,
        });
        if (mismatches.length >= MAX_REPLAY_REJECTIONS) break;
      }
    }
    if (mismatches.length) {
      failures.push({
        failureType: 'replay_mismatch',
        description: `answers ${mismatches.length} recorded input(s) differently from ${c.baseline.id}, e.g. ${JSON.stringify(mismatches[0]!.input)}`,
        stackTrace: null,
        testCaseFailed: null,
        detectionMethod: 'replay',
        severity: 'critical',
        evidence: {
          baseline: c.baseline.id,
          mismatches: mismatches.map((m) => ({ input: m.input, expected: m.expected ?? null, got: m.got ?? null })),
        },
      });
    }
  }
  const diff = c.differential;
  if (
    runs(
      'differential',
      !diff?.parents.length
        ? 'nothing to compare with'
        : !diff.corpus.inputs.length
          ? 'no inputs to compare on'
          : undefined,
    ) &&
    diff
  ) {
    const result = await runDifferential(sandbox, {
      ...diff,
      timeBudgetMs: differentialBudget(diff.timeBudgetMs, performance.now() - started),
      id: c.id,
      code: c.code,
      language: c.language,
      criticalTests: c.suite
        .filter((t) => t.critical)
        .map((t) => ({ name: t.name, input: t.input, expected: t.expected })),
    });
    differential = result.report;
    differingInputs = result.differingInputs;
    failures.push(...result.failures);
    if (result.failures.length) {
      for (const b of result.report.brokenSources ?? [])
        rejections.push({ kind: 'differential', message: `differential corpus source "${b.source}" threw ${b.error}` });
      for (const d of result.report.differences.slice(0, MAX_REPLAY_REJECTIONS)) {
        rejections.push({
          kind: 'differential',
          message: `differential (${result.report.judgedAs}): ${describeDifference(d, c.id)}`,
        });
      }
    }
  }
  return verdict();
}
