import { detectRuntimeFailures } from '../detection/runtime-health.js';
import { runSuite } from '../detection/test-runner.js';
import { codeHash } from '../detection/tool-code.js';
import type { HealthCheckResult, HealthFinding, MonitorSettings } from '../shared/heal-types.js';
import type { Severity } from '../shared/lineage-types.js';
import type { FailureReport } from '../shared/messages.js';
import type { RoutedMintedTest } from '../lineage/tests.js';
import type { ActivityDeps } from './deps.js';

export interface CheckHealthInput {
  /** Reports received by signal since the last check. */
  reported: FailureReport[];
}

/**
 * One health check over every routed version, set-based: the runtime detector (error rate over the
 * execution window, fitness drop) in one statement, failure_count at or over the trigger in one,
 * minted regression tests that apply to a routed version (found in one recursive statement) run in
 * the sandbox, and the versions reported by signal since the last check.
 */
export function checkHealthActivity(deps: ActivityDeps) {
  return async function checkHealth(input: CheckHealthInput): Promise<HealthCheckResult> {
    const c = deps.config.self_healing;
    const findings = new Map<string, HealthFinding>();
    // One finding per version: one that calls for a heal wins, and a caller's report (which carries
    // the failing input) wins over a bare count.
    const rank = (f: HealthFinding) => (f.heal ? 2 : 0) + (f.reason === 'reported' ? 1 : 0);
    const add = (f: HealthFinding) => {
      const existing = findings.get(f.versionId);
      if (!existing || rank(f) > rank(existing)) findings.set(f.versionId, f);
    };
    const { store } = deps;
    const versionsChecked = await store.routing.routeCount();

    if (c.detection.runtime_monitoring) {
      for (const r of await detectRuntimeFailures(store.executions, c.thresholds, { onlyRouted: true })) {
        const isRate = r.failure.failureType === 'runtime_errors';
        add({
          versionId: r.versionId,
          reason: isRate ? 'error_rate' : 'fitness',
          severity: r.failure.severity,
          description: r.failure.description,
          heal: isRate,
          failure: {
            failureType: r.failure.failureType,
            description: r.failure.description,
            severity: r.failure.severity,
            detectionMethod: 'runtime',
            evidence: r.failure.evidence,
          },
        });
      }
    }

    const counted = await store.routing.routedAtFailureCount(c.thresholds.failure_count_trigger);
    for (const row of counted) {
      const description = `${row.failureCount} failures recorded (failure_count_trigger ${c.thresholds.failure_count_trigger})`;
      add({
        versionId: row.versionId,
        reason: 'failure_count',
        severity: 'high',
        description,
        heal: true,
        failure: { failureType: 'failure_count', description, severity: 'high', detectionMethod: 'runtime' },
      });
    }

    if (c.detection.test_based) {
      const minted = await store.tests.mintedForRouted();
      const byVersion = new Map<string, RoutedMintedTest[]>();
      for (const m of minted) byVersion.set(m.versionId, [...(byVersion.get(m.versionId) ?? []), m]);
      for (const [versionId, tests] of byVersion) {
        const { code, language } = tests[0]!;
        const failed = (
          await runSuite(
            deps.sandbox,
            codeHash(code),
            { code, language },
            tests.map((t) => ({ id: t.testId, name: t.name, input: t.input, expected: t.expected, critical: true })),
          )
        ).filter((r) => !r.passed);
        if (failed.length) {
          const description = `fails ${failed.length} minted regression test(s), e.g. "${failed[0]!.name}"`;
          add({
            versionId,
            reason: 'minted_tests',
            severity: 'critical',
            description,
            heal: true,
            failure: {
              failureType: 'test_failure',
              description,
              severity: 'critical',
              detectionMethod: 'test',
              evidence: {
                failed: failed.map((f) => ({
                  name: f.name,
                  input: f.input,
                  expected: f.expected,
                  actual: f.actual ?? null,
                })),
              },
            },
          });
        }
      }
    }

    const handledReports = [...new Set(input.reported.map((r) => r.versionId))];
    if (handledReports.length) {
      const routable = await store.routing.routableAmong(handledReports);
      for (const report of input.reported) {
        if (!routable.has(report.versionId)) continue;
        const severity: Severity = report.severity;
        add({
          versionId: report.versionId,
          reason: 'reported',
          severity,
          description: report.description,
          heal: report.kind === 'critical' || report.kind === 'threshold',
          failure: {
            failureType: report.failureType,
            description: report.description,
            severity,
            detectionMethod: 'runtime',
            failureId: report.failureId ?? null,
          },
        });
      }
    }

    return {
      checkedAt: new Date().toISOString(),
      versionsChecked,
      findings: [...findings.values()].sort((a, b) => a.versionId.localeCompare(b.versionId)),
      handledReports,
      healingEnabled: c.enabled,
    };
  };
}

/** The monitor's timing from the worker's config.yaml. */
export function monitorSettingsActivity(deps: ActivityDeps) {
  return async function monitorSettings(): Promise<MonitorSettings> {
    const m = deps.config.self_healing.monitoring;
    return { intervalSeconds: m.health_check_interval_seconds, continuous: m.continuous_monitoring };
  };
}
