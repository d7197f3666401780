import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { detectRuntimeFailures } from '../../src/detection/runtime-health.js';
import type { LineageStore } from '../../src/lineage/store.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';
import { AT_CHECK_VALIDATOR, REGEX_VALIDATOR, version } from '../support/fixtures.js';

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);

afterAll(async () => {
  sandbox.close();
});

const register = (...inputs: Parameters<LineageStore['registerVersion']>[0][]) =>
  h.store.registerMany(inputs, { validate: registrationValidator({ store: h.store, sandbox, config }) });

describe('validation at registration', () => {
  it('stores a version failing a critical test as FAILED with its failure records', async () => {
    const [root, child] = await register(
      version('email', '1.0.0', [], {
        code: REGEX_VALIDATOR,
        tests: [{ name: 'rejects a double at', input: 'a@@b.co', expect: false, critical: true }],
      }),
      version('email', '1.1.0', ['email@1.0.0'], { code: AT_CHECK_VALIDATOR }),
    );
    expect(root!.health).toBe('healthy');
    expect(child!.health).toBe('failed');
    const failures = await h.db.query<{
      failure_type: string;
      severity: string;
      test_case_failed: string | null;
      detection_method: string;
    }>(
      `SELECT failure_type, severity, test_case_failed, detection_method FROM failures WHERE tool_id = 'email@1.1.0' ORDER BY id`,
    );
    expect(failures.slice(0, 2)).toEqual([
      {
        failure_type: 'test_failure',
        severity: 'critical',
        test_case_failed: 'rejects a double at',
        detection_method: 'test',
      },
      {
        failure_type: 'regression',
        severity: 'critical',
        test_case_failed: 'rejects a double at',
        detection_method: 'regression_test',
      },
    ]);
    // It declares no mutation type, so the differential check judges it as a refactor: its smallest
    // differing inputs (at most five, the critical test's own input among them) are failures too.
    const differential = failures.slice(2);
    expect(differential.length).toBeGreaterThanOrEqual(2);
    expect(differential.length).toBeLessThanOrEqual(5);
    for (const f of differential)
      expect(f).toMatchObject({ failure_type: 'regression', severity: 'critical', detection_method: 'differential' });
    expect(differential.map((f) => f.test_case_failed)).toContain('rejects a double at');
    const [row] = await h.db.query<{ health_status: string; failure_count: number }>(
      `SELECT health_status, failure_count FROM tool_lineage WHERE tool_id = 'email@1.1.0'`,
    );
    expect(row).toEqual({ health_status: 'failed', failure_count: failures.length });
  });

  it("runs a version's suite only: a sibling branch's tests never fail it", async () => {
    const [, , later] = await register(
      version('branchy', '1.0.0', [], { code: 'function run(x) { return x; }' }),
      version('branchy', '1.1.0', ['branchy@1.0.0'], {
        code: 'function run(x) { return x; }',
        tests: [{ name: 'doubles', input: 2, expect: 4 }],
      }),
      version('branchy', '1.0.1', ['branchy@1.0.0'], { code: 'function run(x) { return x; }' }),
    );
    expect(later!.health).toBe('healthy');
  });

  it('enforces an inherited avoidance rule as a gate', async () => {
    await register(version('gated', '1.0.0', [], { code: REGEX_VALIDATOR }));
    await h.db.query(
      `INSERT INTO avoidance_rules (rule_id, description, pattern_to_avoid, pattern_kind, reason, source_failure, propagation_scope)
       VALUES ('avoid_at_check', 'Never replace regex validation with a bare @ check', 'includes\\(''@''\\)', 'regex', 'accepted invalid emails', 'gated@1.0.0', 'descendants')`,
    );
    await h.db.query(
      `INSERT INTO rule_inheritance (tool_id, rule_id, via) VALUES ('gated@1.0.0', 'avoid_at_check', 'source')`,
    );
    const [child] = await register(version('gated', '1.1.0', ['gated@1.0.0'], { code: AT_CHECK_VALIDATOR }));
    expect(child!.health).toBe('failed');
    expect(child!.inheritedRules).toEqual(['avoid_at_check']);
    expect(child!.failures!.map((f) => f.failureType)).toEqual(['avoidance_rule_violation']);
    expect(child!.failures![0]!.description).toMatch(
      /avoid_at_check "Never replace regex validation with a bare @ check" \(line 3/,
    );
  });

  it('fails code with a security issue, and a global rule reaches every new version', async () => {
    const [evil] = await register(version('evil', '1.0.0', [], { code: 'function run(x) { return eval(x); }' }));
    expect(evil!.health).toBe('failed');
    expect(evil!.failures![0]).toMatchObject({ failureType: 'security_vulnerability', severity: 'critical' });
    await h.db.query(
      `INSERT INTO avoidance_rules (rule_id, description, pattern_to_avoid, pattern_kind, reason, source_failure, propagation_scope)
       VALUES ('avoid_json_parse', 'Never parse JSON from input', 'CallExpression[callee.object.name="JSON"][callee.property.name="parse"]', 'ast', 'crashes', 'evil@1.0.0', 'global')`,
    );
    const [other] = await register(
      version('other_tool', '1.0.0', [], { code: 'function run(x) { return JSON.parse(x); }' }),
    );
    expect(other!.health).toBe('failed');
    expect(other!.inheritedRules).toContain('avoid_json_parse');
  });
});

describe('runtime detection over the fleet', () => {
  async function executions(toolId: string, ok: number, failed: number): Promise<void> {
    await h.db.query(
      `INSERT INTO executions (tool_id, ok, error_type, error_message, duration_ms, input_hash)
       SELECT $1, g > $3::int, CASE WHEN g > $3::int THEN NULL ELSE 'TypeError' END, CASE WHEN g > $3::int THEN NULL ELSE 'x is null' END, 1, md5(g::text)
       FROM generate_series(1, $2::int + $3::int) g`,
      [toolId, ok, failed],
    );
  }

  it('finds versions whose error rate over the window exceeds the threshold, with the documented severities', async () => {
    await register(
      version('steady', '1.0.0', [], { code: 'function run(x) { return x; }' }),
      version('wobbly', '1.0.0', [], { code: 'function run(x) { return x; }' }),
      version('broken', '1.0.0', [], { code: 'function run(x) { return x; }' }),
      version('quiet', '1.0.0', [], { code: 'function run(x) { return x; }' }),
      version('recovered', '1.0.0', [], { code: 'function run(x) { return x; }' }),
    );
    await executions('steady@1.0.0', 97, 3); // 3%: under 5%
    await executions('wobbly@1.0.0', 90, 10); // 10%: medium
    await executions('broken@1.0.0', 50, 50); // 50%: high
    await executions('quiet@1.0.0', 0, 9); // too few calls to judge
    await executions('recovered@1.0.0', 0, 50); // old failures…
    await executions('recovered@1.0.0', 100, 0); // …outside the last 100 calls
    const findings = await detectRuntimeFailures(h.store.executions, config.self_healing.thresholds);
    const byId = Object.fromEntries(findings.map((f) => [f.versionId, f.failure]));
    expect(Object.keys(byId).sort()).toEqual(['broken@1.0.0', 'wobbly@1.0.0']);
    expect(byId['wobbly@1.0.0']).toMatchObject({
      failureType: 'runtime_errors',
      severity: 'medium',
      detectionMethod: 'runtime',
      stackTrace: 'x is null',
    });
    expect(byId['broken@1.0.0']!.severity).toBe('high');
    expect(byId['broken@1.0.0']!.description).toMatch(
      /error rate 50\.0% over the last 100 calls exceeds 5\.0% \(mostly TypeError\)/,
    );
  });

  it('finds a fitness drop against the version history, and can look at routed versions only', async () => {
    await register(version('slowing', '1.0.0', [], { code: 'function run(x) { return x; }' }));
    await h.db.query(
      `INSERT INTO fitness_history (tool_id, fitness_score) SELECT 'slowing@1.0.0', s FROM unnest(ARRAY[0.9,0.9,0.92,0.88,0.9,0.5,0.5,0.55,0.5,0.5]::float8[]) s`,
    );
    const findings = await detectRuntimeFailures(h.store.executions, config.self_healing.thresholds);
    expect(findings.find((f) => f.versionId === 'slowing@1.0.0')?.failure).toMatchObject({
      failureType: 'performance_degradation',
      severity: 'medium',
    });
    await h.store.setRoute('broken@1.0.0', 'test');
    const routed = await detectRuntimeFailures(h.store.executions, config.self_healing.thresholds, {
      onlyRouted: true,
    });
    expect(routed.map((f) => f.versionId)).toEqual(['broken@1.0.0']);
  });
});
