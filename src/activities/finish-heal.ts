import type { Prisma } from '../generated/prisma/client.js';
import type { HealProgress } from '../shared/heal-types.js';
import type { ActivityDeps } from './deps.js';

export interface FinishHealInput {
  healId: string;
  workflowId: string;
  versionId: string;
  progress: HealProgress;
  error?: string | null;
}

/**
 * Ends a heal that did not promote a version (unhealed, not pruned, disabled, cancelled, failed):
 * records how it ended and makes sure callers of the tool are routed to a version they may use —
 * the heal's healthy ancestor when it found one, else the newest routable version of the tool.
 */
export function finishHealActivity(deps: ActivityDeps) {
  return async function finishHeal(input: FinishHealInput): Promise<{ routedTo: string | null }> {
    const version = await deps.prisma.toolLineage.findUnique({ where: { toolId: input.versionId }, select: { toolName: true } });
    return deps.prisma.$transaction(async (tx) => {
      await tx.healRun.upsert({
        where: { id: input.healId },
        create: {
          id: input.healId,
          workflowId: input.workflowId,
          toolId: input.versionId,
          status: input.progress.status,
          result: input.progress as unknown as Prisma.InputJsonValue,
          error: input.error ?? null,
          finishedAt: new Date(),
        },
        update: { status: input.progress.status, result: input.progress as unknown as Prisma.InputJsonValue, error: input.error ?? null, finishedAt: new Date() },
      });
      if (!version) return { routedTo: null };
      const route = await tx.route.findUnique({ where: { toolName: version.toolName }, include: { version: { select: { healthStatus: true } } } });
      if (route && ['healthy', 'regenerated'].includes(route.version.healthStatus)) return { routedTo: route.versionId };
      const preferred = input.progress.ancestor?.ancestorId ?? input.progress.analysis?.lastGoodId ?? null;
      const target =
        (preferred && (await tx.toolLineage.findFirst({ where: { toolId: preferred, toolName: version.toolName, healthStatus: { in: ['healthy', 'regenerated'] } }, select: { toolId: true } }))) ||
        (await tx.toolLineage.findFirst({
          where: { toolName: version.toolName, healthStatus: { in: ['healthy', 'regenerated'] } },
          orderBy: [{ major: 'desc' }, { minor: 'desc' }, { patch: 'desc' }],
          select: { toolId: true },
        }));
      if (!target || !route) return { routedTo: route?.versionId ?? null };
      await deps.store.setRoute(target.toolId, `heal ${input.healId} ended ${input.progress.status}`, tx);
      return { routedTo: target.toolId };
    });
  };
}
