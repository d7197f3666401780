import { judgeStoredVersion } from '../judge/plans.js';
import { LineageError } from '../lineage/errors.js';
import type { HealProgress, PromoteResult } from '../shared/heal-types.js';
import { checkpoint, throwIfCancelled } from './cancellation.js';
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
  const used = await deps.store.graph.patchesAbove(culprit.name, culprit.major, culprit.minor, culprit.patch);
  let patch = culprit.patch + 1;
  while (used.has(patch)) patch++;
  return { name: culprit.name, version: `${culprit.major}.${culprit.minor}.${patch}` };
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
  const culprit = await deps.store.graph.version(input.culpritId);
  const lastMutation = await deps.store.graph.latestMutation(input.culpritId);
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
          type: input.strategy === 'rollback' ? 'bug_fix' : (lastMutation?.type ?? 'bug_fix'),
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
        await deps.store.rules.grantByIds(v.id, input.ruleIds, tx);
        await deps.store.routing.setRoute(v.id, `healed ${input.culpritId} (heal ${input.healId})`, tx);
        await deps.store.healRuns.healed(input.healId, input.progress, v.id, tx);
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
    const byHeal = async () => (await deps.store.graph.versionByHeal(input.healId)) ?? undefined;
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
    const degraded = (await deps.store.graph.descendants(input.culpritId)).filter((d) => d.health === 'degraded' && d.id !== input.failedId);
    const codes = await deps.store.graph.codes(degraded.map((d) => d.id));
    const restored: string[] = [];
    for (const [id, code] of codes) {
      await checkpoint();
      if ((await judgeStoredVersion(deps, { id, code })).passed) restored.push(id);
    }
    throwIfCancelled(); // verdicts of a cancelled step restore nothing
    restored.sort();
    await deps.store.graph.restore(restored);
    return { newVersionId, restored };
  };
}
