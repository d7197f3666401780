import type { Prisma } from '../generated/prisma/client.js';
import { passesToday } from '../healing/ancestry.js';
import { LineageError } from '../lineage/errors.js';
import type { MutationType } from '../shared/lineage-types.js';
import type { HealProgress, PromoteResult } from '../shared/heal-types.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface PromoteInput {
  healId: string;
  failedId: string;
  culpritId: string;
  ancestorId: string;
  code: string;
  strategy: 'llm' | 'rollback';
  notes: string;
  ruleIds: string[];
  progress: HealProgress;
}

/** The failed version's next free patch number: 2.2.0 → 2.2.1 (or the first free one above). */
async function nextPatchVersion(deps: ActivityDeps, culpritId: string): Promise<{ name: string; version: string }> {
  const culprit = await requireVersion(deps, culpritId);
  const taken = await deps.prisma.toolLineage.findMany({
    where: { toolName: culprit.toolName, major: culprit.major, minor: culprit.minor, patch: { gt: culprit.patch } },
    select: { patch: true },
  });
  const used = new Set(taken.map((t) => t.patch));
  let patch = culprit.patch + 1;
  while (used.has(patch)) patch++;
  return { name: culprit.toolName, version: `${culprit.major}.${culprit.minor}.${patch}` };
}

/** How often promote picks another patch number after losing a race for one. */
const MAX_PATCH_TRIES = 10;

/** The insert lost a race for the version number (checked first, or refused by the unique key). */
function isPatchTaken(err: unknown): boolean {
  if (err instanceof LineageError) return err.code === 'DUPLICATE_VERSION';
  return (err as { code?: unknown }).code === 'P2002';
}

/** Registers the candidate as the culprit's next free patch, routes to it, and records the heal run. */
async function registerNextPatch(deps: ActivityDeps, input: PromoteInput): Promise<string> {
  const culprit = await deps.prisma.toolLineage.findUnique({ where: { toolId: input.culpritId }, include: { mutations: { orderBy: { id: 'desc' }, take: 1 } } });
  const lastMutation = culprit?.mutations[0];
  const { name, version } = await nextPatchVersion(deps, input.culpritId);
  const ancestor = await requireVersion(deps, input.ancestorId);
  const [registered] = await deps.store.registerMany(
    [
      {
        name,
        version,
        parents: [input.ancestorId],
        code: input.code,
        description: culprit?.description || ancestor.description,
        category: culprit?.category || ancestor.category,
        health: 'regenerated',
        regeneratedFrom: input.ancestorId,
        replaces: input.culpritId,
        healId: input.healId,
        mutation: {
          type: input.strategy === 'rollback' ? 'bug_fix' : ((lastMutation?.mutationType as MutationType | undefined) ?? 'bug_fix'),
          description:
            input.strategy === 'rollback'
              ? `Rollback of ${input.culpritId} to ${input.ancestorId} (self-healing, offline regeneration)`
              : `Regenerated from ${input.ancestorId} (self-healing): ${lastMutation?.description ?? 'recover'}`,
          prompt: input.notes,
          fitnessBefore: lastMutation?.fitnessBefore ?? null,
          fitnessAfter: null,
        },
      },
    ],
    {
      afterInsert: async (tx, v) => {
        await tx.$executeRaw`
          INSERT INTO rule_inheritance (tool_id, rule_id, via)
          SELECT ${v.id}, rule_id, 'source' FROM avoidance_rules WHERE rule_id = ANY(${input.ruleIds}::varchar[])
          ON CONFLICT (tool_id, rule_id) DO NOTHING`;
        await deps.store.setRoute(v.id, `healed ${input.culpritId} (heal ${input.healId})`, tx);
        await tx.healRun.update({
          where: { id: input.healId },
          data: { status: 'healed', result: { ...input.progress, newVersionId: v.id, status: 'healed', step: 'done' } as unknown as Prisma.InputJsonValue, finishedAt: new Date() },
        });
      },
    },
  );
  return registered!.id;
}

/**
 * Step 9: registers the validated candidate as the failed version's next patch — parent edge to the
 * ancestor, a `regenerated` edge to the pruned version, health REGENERATED, the inherited rules plus
 * the new ones — routes callers to it and records the heal run, in one transaction keyed by the heal
 * (a retry after a crash finds the version instead of making another). Then re-validates the
 * descendants the prune tainted and restores those that pass.
 */
export function promoteActivity(deps: ActivityDeps) {
  return async function promote(input: PromoteInput): Promise<PromoteResult> {
    const byHeal = async () => (await deps.prisma.toolLineage.findUnique({ where: { healId: input.healId }, select: { toolId: true } }))?.toolId;
    let newVersionId = await byHeal();
    // Two heals of sibling versions can pick the same free patch at once; the loser takes the next.
    for (let tries = 1; !newVersionId; tries++) {
      try {
        newVersionId = await registerNextPatch(deps, input);
      } catch (err) {
        if (tries >= MAX_PATCH_TRIES || !isPatchTaken(err)) throw err;
        newVersionId = await byHeal(); // an earlier attempt of this heal may have won
      }
    }

    // Re-validate what the prune tainted: those that pass today's suite and every gate are restored.
    const degraded = (await deps.store.descendants(input.culpritId)).filter((d) => d.health === 'degraded');
    const rows = await deps.prisma.toolLineage.findMany({ where: { toolId: { in: degraded.map((d) => d.id) } }, select: { toolId: true, code: true } });
    const restored: string[] = [];
    for (const r of rows) {
      if (r.toolId === input.failedId) continue;
      if ((await passesToday(deps.sandbox, deps.config, deps.store, { id: r.toolId, code: r.code })).passed) restored.push(r.toolId);
    }
    if (restored.length) {
      await deps.prisma.toolLineage.updateMany({ where: { toolId: { in: restored }, healthStatus: 'degraded' }, data: { healthStatus: 'healthy', updatedAt: new Date() } });
    }
    return { newVersionId, restored };
  };
}
