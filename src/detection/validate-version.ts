import type { DiseConfig } from '../config/schema.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { codeHash } from '../lineage/tool-code.js';
import { detectGateViolations, detectSecurityIssues, type GateRule, type GateViolation, type StaticFinding } from './static-analysis.js';
import { detectRegression, detectTestFailures, runSuite, type SuiteTest, type TestResult } from './test-runner.js';
import type { DetectedFailure } from './types.js';

export interface VersionUnderTest {
  id: string;
  code: string;
  /** Every test in its suite (its own and its ancestors'). */
  suite: SuiteTest[];
  /** Every avoidance rule in scope. */
  rules: GateRule[];
  /** The first parent, for regression detection. */
  parent?: { id: string; code: string } | null;
}

export interface ValidationReport {
  healthy: boolean;
  failures: DetectedFailure[];
  tests: TestResult[];
  staticFindings: StaticFinding[];
  gateViolations: GateViolation[];
}

/**
 * Everything a version must pass before callers may reach it: static analysis (security checks),
 * every machine-checkable avoidance rule as a gate, the test suite (critical tests decide) and
 * regression against its parent. Detectors switched off in config are skipped; the rule gates are
 * always enforced.
 */
export function validateVersion(sandbox: Sandbox, config: DiseConfig, v: VersionUnderTest): ValidationReport {
  const failures: DetectedFailure[] = [];
  const detection = config.self_healing.detection;
  let staticFindings: StaticFinding[] = [];
  if (detection.static_analysis) {
    const security = detectSecurityIssues(v.code);
    staticFindings = security.findings;
    if (security.failure) failures.push(security.failure);
  }
  const gates = detectGateViolations(v.code, v.rules);
  if (gates.failure) failures.push(gates.failure);

  let tests: TestResult[] = [];
  if (detection.test_based && v.suite.length) {
    tests = runSuite(sandbox, codeHash(v.code), v.code, v.suite);
    const testFailure = detectTestFailures(tests);
    if (testFailure) failures.push(testFailure);
    if (v.parent) {
      const parentResults = runSuite(sandbox, codeHash(v.parent.code), v.parent.code, v.suite);
      const regression = detectRegression(parentResults, tests, v.parent.id);
      if (regression) failures.push(regression);
    }
  }
  return {
    healthy: !failures.some((f) => f.severity === 'critical'),
    failures,
    tests,
    staticFindings,
    gateViolations: gates.violations,
  };
}
