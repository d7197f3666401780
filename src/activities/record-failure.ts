import type { Prisma } from '../generated/prisma/client.js';
import type { HealFailureInput, HealTrigger, RecordFailureResult } from '../shared/heal-types.js';
import { nonRetryable, requireVersion, type ActivityDeps } from './deps.js';

export interface RecordFailureInput {
  healId: string;
  workflowId: string;
  versionId: string;
  failure: HealFailureInput;
  trigger: HealTrigger;
}

/**
 * Step 1: records the failure on the version (once, however often retried) and opens the heal run.
 * Returns the worker's healing settings, so the workflow's decisions are recorded in its history.
 */
export function recordFailureActivity(deps: ActivityDeps) {
  return async function recordFailure(input: RecordFailureInput): Promise<RecordFailureResult> {
    const version = await requireVersion(deps, input.versionId);
    let failureId = input.failure.failureId ?? null;
    await deps.prisma.$transaction(async (tx) => {
      if (failureId !== null) {
        const existing = await tx.failure.findUnique({ where: { id: failureId }, select: { toolId: true } });
        if (!existing || existing.toolId !== input.versionId) {
          throw nonRetryable('InvalidHealInput', `failure #${failureId} is not a failure of ${input.versionId}`);
        }
      } else {
        const dedupeKey = `${input.healId}:trigger`;
        const found = await tx.failure.findUnique({ where: { dedupeKey }, select: { id: true } });
        if (found) {
          failureId = found.id;
        } else {
          const created = await tx.failure.create({
            data: {
              toolId: input.versionId,
              failureType: input.failure.failureType,
              description: input.failure.description,
              detectionMethod: input.failure.detectionMethod,
              severity: input.failure.severity,
              dedupeKey,
              evidence: (input.failure.evidence ?? undefined) as Prisma.InputJsonValue | undefined,
            },
          });
          failureId = created.id;
          await tx.toolLineage.update({ where: { toolId: input.versionId }, data: { failureCount: { increment: 1 } } });
        }
      }
      await tx.healRun.upsert({
        where: { id: input.healId },
        create: { id: input.healId, workflowId: input.workflowId, toolId: input.versionId, status: 'running', trigger: input.trigger },
        update: {},
      });
    });
    const c = deps.config.self_healing;
    let healedBy: string | null = null;
    if (version.healthStatus === 'pruned') {
      const replacement = await deps.store.healedReplacement(input.versionId);
      const usable = replacement && (await deps.prisma.toolLineage.findFirst({ where: { toolId: replacement, healthStatus: { in: ['healthy', 'regenerated'] } }, select: { toolId: true } }));
      healedBy = usable ? replacement : null;
    }
    return {
      healedBy,
      failureId: failureId!,
      toolName: version.toolName,
      settings: {
        enabled: c.enabled,
        autoPruneCritical: c.pruning.auto_prune_critical,
        taintDescendants: c.pruning.taint_descendants,
        autoRegenerate: c.regeneration.auto_regenerate,
        maxRegenerationAttempts: c.regeneration.max_regeneration_attempts,
        requireTestValidation: c.regeneration.require_test_validation,
        llm: deps.llm !== null,
      },
    };
  };
}
