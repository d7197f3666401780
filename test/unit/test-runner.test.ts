import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { jsonEqual } from '../../src/detection/json-equal.js';
import { detectRegression, detectTestFailures, runSuite, type SuiteTest } from '../../src/detection/test-runner.js';
import { configSkips, judgeVersion } from '../../src/judge/judge.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

const sandbox = new Sandbox(defaultConfig().sandbox);
const js = (code: string) => ({ code, language: 'javascript' as const });
afterAll(() => sandbox.close());

const REGEX =
  "function run(x) { return typeof x === 'string' && /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(x); }";
const AT_CHECK = "function run(x) { return String(x).indexOf('@') !== -1; }";
const suite: SuiteTest[] = [
  { id: 1, name: 'accepts a plain address', input: 'a@b.co', expected: true, critical: true },
  { id: 2, name: 'rejects a double at', input: 'a@@b.co', expected: false, critical: true },
  { id: 3, name: 'rejects a trailing at', input: 'user@', expected: false, critical: false },
];

describe('test runner and detectors', () => {
  it('compares JSON structurally', async () => {
    expect(jsonEqual({ a: [1, { b: null }], c: 'x' }, { c: 'x', a: [1, { b: null }] })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined as never })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual(0, false)).toBe(false);
  });

  it('reports only critical test failures as a health failure', async () => {
    const results = await runSuite(sandbox, 'at', js(AT_CHECK), suite);
    expect(results.map((r) => r.passed)).toEqual([true, false, false]);
    const failure = detectTestFailures(results);
    expect(failure).toMatchObject({
      failureType: 'test_failure',
      severity: 'critical',
      testCaseFailed: 'rejects a double at',
      detectionMethod: 'test',
    });
    expect(failure!.description).toMatch(/1 critical test\(s\) failed \(and 1 non-critical\)/);
    expect(detectTestFailures(await runSuite(sandbox, 'at', js(AT_CHECK), [suite[0]!, suite[2]!]))).toBeNull();
  });

  it('records a thrown error as a failed test with its message', async () => {
    const [r] = await runSuite(sandbox, 'boom', js("function run(x) { throw new RangeError('nope'); }"), [suite[0]!]);
    expect(r).toMatchObject({ passed: false, error: { kind: 'RangeError', message: 'RangeError: nope' } });
  });

  it('finds regressions: tests the parent passes and the child fails', async () => {
    const parent = await runSuite(sandbox, 'regex', js(REGEX), suite);
    const child = await runSuite(sandbox, 'at', js(AT_CHECK), suite);
    const regression = detectRegression(parent, child, 'v@1.0.0');
    expect(regression).toMatchObject({
      failureType: 'regression',
      severity: 'critical',
      detectionMethod: 'regression_test',
    });
    expect(regression!.description).toMatch(/broke 2 test\(s\) that v@1\.0\.0 passes/);
    expect(detectRegression(child, parent, 'v@2.0.0')).toBeNull();
  });

  it('validates a version with every detector, and honours the static-analysis switch', async () => {
    const config = defaultConfig();
    const evil = "function run(x) { return eval('1') === 1 && typeof x === 'string'; }";
    const judge = async (code: string, tests: typeof suite) =>
      await judgeVersion(
        sandbox,
        { id: 'v@2.0.0', code, language: 'javascript', suite: tests, rules: [], baseline: null, replayInputs: [] },
        configSkips(config),
      );
    const report = await judge(evil, []);
    expect(report.passed).toBe(false);
    expect(report.failures.map((f) => f.failureType)).toEqual(['security_vulnerability']);
    config.self_healing.detection.static_analysis = false;
    expect((await judge(evil, [])).passed).toBe(true);
    expect((await judge(evil, [])).skipped).toContainEqual({
      check: 'static',
      why: 'detection.static_analysis is off in config.yaml',
    });
    config.self_healing.detection.test_based = false;
    expect((await judge(AT_CHECK, suite)).passed).toBe(true);
  });
});
