import { ToolExecutionError } from '../sandbox/errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { ToolSource } from '../shared/language.js';
import type { JsonValue, TestOrigin } from '../shared/lineage-types.js';
import type { DetectedFailure } from './types.js';
import { jsonEqual } from './json-equal.js';

export interface SuiteTest {
  id: number | null;
  name: string;
  input: JsonValue;
  expected: JsonValue;
  critical: boolean;
  /** Where the test comes from: the version that introduced it. */
  toolId?: string;
  origin?: TestOrigin;
}

export interface TestResult {
  name: string;
  testId: number | null;
  critical: boolean;
  passed: boolean;
  input: JsonValue;
  expected: JsonValue;
  actual?: JsonValue;
  error?: { kind: string; message: string; stack: string | null };
}

/**
 * Runs every test of a suite against one code body in the sandbox, one after another. JavaScript runs
 * on isolated-vm's own thread (Sandbox.runAsync), so a slow or spinning tool holds no event loop; a
 * cancelled step's signal ends the run at the next test.
 */
export async function runSuite(
  sandbox: Sandbox,
  key: string,
  source: ToolSource,
  tests: SuiteTest[],
): Promise<TestResult[]> {
  const results: TestResult[] = [];
  for (const t of tests) {
    const base = { name: t.name, testId: t.id, critical: t.critical, input: t.input, expected: t.expected };
    try {
      const actual = await sandbox.runAsync(key, source.code, t.input, source.language);
      results.push({ ...base, passed: jsonEqual(actual, t.expected), actual });
    } catch (err) {
      // Anything but a tool's failure is the step's cancellation (the sandbox types every failure).
      if (!(err instanceof ToolExecutionError)) throw err;
      const e = err;
      results.push({ ...base, passed: false, error: { kind: e.errorType, message: e.message, stack: e.toolStack } });
    }
  }
  return results;
}

function describeResult(r: TestResult): string {
  if (r.error) return `${r.name}: ${r.error.message}`;
  return `${r.name}: expected ${JSON.stringify(r.expected)}, got ${JSON.stringify(r.actual)}`;
}

/** Test-based detection: critical tests decide. */
export function detectTestFailures(results: TestResult[]): DetectedFailure | null {
  const critical = results.filter((r) => !r.passed && r.critical);
  if (!critical.length) return null;
  const first = critical[0]!;
  const others = results.filter((r) => !r.passed && !r.critical).length;
  return {
    failureType: 'test_failure',
    description: `${critical.length} critical test(s) failed${others ? ` (and ${others} non-critical)` : ''}: ${describeResult(first)}`,
    stackTrace: first.error?.stack ?? null,
    testCaseFailed: first.name,
    detectionMethod: 'test',
    severity: 'critical',
    evidence: {
      failed: critical.map((r) => ({
        name: r.name,
        input: r.input,
        expected: r.expected,
        actual: r.actual ?? null,
        error: r.error?.message ?? null,
      })),
    },
  };
}

/** Regression detection: tests the parent passes and the child fails. */
export function detectRegression(
  parentResults: TestResult[],
  childResults: TestResult[],
  parentId: string,
): DetectedFailure | null {
  const passedByParent = new Set(parentResults.filter((r) => r.passed).map((r) => r.name));
  const regressions = childResults.filter((r) => !r.passed && passedByParent.has(r.name));
  if (!regressions.length) return null;
  const first = regressions[0]!;
  return {
    failureType: 'regression',
    description: `broke ${regressions.length} test(s) that ${parentId} passes: ${describeResult(first)}`,
    stackTrace: first.error?.stack ?? null,
    testCaseFailed: first.name,
    detectionMethod: 'regression_test',
    severity: 'critical',
    evidence: {
      parent: parentId,
      regressions: regressions.map((r) => ({
        name: r.name,
        input: r.input,
        expected: r.expected,
        actual: r.actual ?? null,
      })),
    },
  };
}
