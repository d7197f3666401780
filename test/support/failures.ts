import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { FailureReport } from '../../src/shared/messages.js';
import type { HealFailureInput, HealTrigger, SelfHealInput } from '../../src/shared/heal-types.js';

/**
 * The failure a heal starts from: by default what callers report about the email story's broken
 * version (a critical logic error). Tests override only the fields their assertion is about.
 */
export function healFailure(overrides: Partial<HealFailureInput> = {}): HealFailureInput {
  return {
    failureType: 'logic_error',
    description: 'accepts invalid emails',
    severity: 'critical',
    detectionMethod: 'report',
    ...overrides,
  };
}

/** A selfHealWorkflow input for `versionId`: reported by callers unless `trigger` says otherwise. */
export function healInput(
  versionId: string,
  failure: Partial<HealFailureInput> = {},
  trigger: HealTrigger = 'report',
): SelfHealInput {
  return { versionId, trigger, failure: healFailure(failure) };
}

/**
 * A runtime's failureReported signal: a version whose failures reached the strike threshold. The
 * description says how they failed (tests that look for it pass their own).
 */
export function failureReport(versionId: string, overrides: Partial<FailureReport> = {}): FailureReport {
  return {
    versionId,
    toolName: versionId.split('@')[0]!,
    kind: 'threshold',
    failureCount: 3,
    severity: 'high',
    failureType: 'runtime_errors',
    description: '3 failed calls',
    reportedAt: new Date(0).toISOString(),
    source: 'test',
    ...overrides,
  };
}

/** Reports each wrong result against `versionId` through a tool runtime of its own, as callers' runtimes do. */
export async function reportWrongResults(
  databaseUrl: string,
  versionId: string,
  wrong: readonly Parameters<ToolRuntime['report']>[1][],
): Promise<void> {
  const runtime = await ToolRuntime.create({ databaseUrl });
  try {
    for (const w of wrong) await runtime.report(versionId, w);
  } finally {
    await runtime.close();
  }
}
