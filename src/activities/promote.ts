import { judgeStoredVersion } from '../judge/plans.js';
import { LineageError } from '../lineage/errors.js';
import type { HealProgress, PromoteResult, RegenerationStrategy, SetAsideTest } from '../shared/heal-types.js';
import { canaryWorkflowId } from '../shared/constants.js';
import { checkpoint, throwIfCancelled } from './cancellation.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface PromoteInput {
  healId: string;
  failedId: string;
  culpritId: string;
  ancestorId: string;
  code: string;
  strategy: RegenerationStrategy;
  /** What the candidate is built on: the failed version (a revert) or the healthy ancestor. */
  builtOn: string;
  notes: string;
  /** The culprit's tests that encode the bug, set aside for the new version and its descendants. */
  setAside: SetAsideTest[];
  ruleIds: string[];
  progress: HealProgress;
}

/** A version's next free patch number: 2.2.0 → 2.2.1 (or the first free one above). */
async function nextPatchVersion(deps: ActivityDeps, versionId: string): Promise<{ name: string; version: string }> {
  const culprit = await requireVersion(deps, versionId);
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

/** What the new version's mutation says it is. */
async function mutationFor(deps: ActivityDeps, input: PromoteInput) {
  const culpritMutation = await deps.store.graph.latestMutation(input.culpritId);
  const common = { prompt: input.notes, fitnessBefore: culpritMutation?.fitnessBefore ?? null, fitnessAfter: null };
  if (input.builtOn === input.failedId) {
    const how = input.strategy === 'revert' ? 'three-way revert' : 'LLM revision';
    return {
      type: 'bug_fix' as const,
      description: `Revert of ${input.culpritId}'s change on top of ${input.failedId} (self-healing, ${how}); the later changes are kept`,
      ...common,
    };
  }
  if (input.strategy === 'rollback') {
    return {
      type: 'bug_fix' as const,
      description: `Rollback of ${input.culpritId} to ${input.ancestorId} (self-healing); every change after ${input.ancestorId} is lost`,
      ...common,
    };
  }
  return {
    type: culpritMutation?.type ?? 'bug_fix',
    description: `Regenerated from ${input.ancestorId} (self-healing): ${culpritMutation?.description ?? 'recover'}`,
    ...common,
  };
}

/**
 * Registers the candidate, routes to it and records the heal run, in one transaction. A candidate
 * built on the failed version (a revert) is that version's next patch: a direct edge from it (the
 * changes it keeps), a `regenerated` edge from it (what it replaces) and a `reverts` edge from the
 * culprit (whose change it undoes), with the culprit's bug-encoding tests set aside. A candidate built
 * on the healthy ancestor is the culprit's next patch: a direct edge from the ancestor and a
 * `regenerated` edge from the culprit.
 */
async function registerNextPatch(deps: ActivityDeps, input: PromoteInput): Promise<Promoted> {
  let canary: Promoted['canary'] = null;
  const revert = input.builtOn === input.failedId && input.failedId !== input.culpritId;
  // Independent reads, at once: a heal is measured end to end, one database round trip at a time.
  const [culprit, base, { name, version }, mutation] = await Promise.all([
    deps.store.graph.version(input.culpritId),
    requireVersion(deps, input.builtOn),
    nextPatchVersion(deps, revert ? input.failedId : input.culpritId),
    mutationFor(deps, input),
  ]);
  const [registered] = await deps.store.registerMany(
    [
      {
        name,
        version,
        parents: [input.builtOn],
        code: input.code,
        description: (revert ? base.description : culprit?.description) || base.description,
        category: (revert ? base.category : culprit?.category) || base.category,
        health: 'regenerated',
        regeneratedFrom: input.builtOn,
        replaces: revert ? input.failedId : input.culpritId,
        reverts: revert ? input.culpritId : null,
        healId: input.healId,
        mutation,
      },
    ],
    {
      afterInsert: async (tx, v) => {
        await deps.store.rules.grantByIds(v.id, input.ruleIds, tx);
        if (revert) {
          await deps.store.tests.suspend(
            v.id,
            input.setAside.map((t) => t.testId),
            input.healId,
            `introduced by ${input.culpritId} and failed by the healthy ${input.ancestorId}: it encodes the bug`,
            tx,
          );
        }
        // Under deployment.mode: shadow (and heal_mode: shadow) a tool still answering from a usable
        // version keeps doing so while the healed version runs in CANARY beside it.
        const deployment = deps.config.deployment;
        const current =
          deployment.mode === 'shadow' && deployment.heal_mode === 'shadow'
            ? await deps.store.routing.routeOf(name, tx)
            : null;
        if (current && current !== v.id && (await deps.store.routing.isRoutable(current, tx))) {
          canary = { stableId: current, workflowId: canaryWorkflowId(v.id) };
          await deps.store.canaries.begin(
            {
              candidateId: v.id,
              toolName: name,
              stableId: current,
              targetHealth: 'regenerated',
              origin: 'heal',
              healId: input.healId,
              workflowId: canaryWorkflowId(v.id),
              mirrorFraction: deployment.canary.mirror_fraction,
            },
            tx,
          );
        } else {
          await deps.store.routing.setRoute(v.id, `healed ${input.culpritId} (heal ${input.healId})`, tx);
        }
        await deps.store.healRuns.healed(input.healId, input.progress, v.id, tx);
      },
    },
  );
  return { id: registered!.id, canary };
}

/** The version a heal promoted, and the canary it began beside the routed version (shadow mode). */
interface Promoted {
  id: string;
  canary: { stableId: string; workflowId: string } | null;
}

/** What an earlier attempt of this heal promoted, if one did. */
async function promotedEarlier(deps: ActivityDeps, healId: string): Promise<Promoted | null> {
  const id = await deps.store.graph.versionByHeal(healId);
  if (!id) return null;
  const canary = await deps.store.canaries.get(id);
  return { id, canary: canary ? { stableId: canary.stableId, workflowId: canary.workflowId } : null };
}

/**
 * Step 9: registers the validated candidate (see registerNextPatch for its edges and number), health
 * REGENERATED, the inherited rules plus the new ones; routes callers to it (or, in shadow mode, puts
 * it in CANARY beside the routed version; the heal then starts its canary) and records the heal run,
 * in one transaction keyed by the heal (a retry after a crash finds the version instead of making
 * another). Then re-validates the descendants the prune tainted and restores those that pass.
 */
export function promoteActivity(deps: ActivityDeps) {
  return async function promote(input: PromoteInput): Promise<PromoteResult> {
    // Registering is keyed by the heal: a retry after a crash loses the race on heal_id (or on the
    // version number) and finds what the earlier attempt promoted. Two heals of sibling versions can
    // pick the same free patch at once; the loser takes the next.
    let promoted: Promoted | null = null;
    for (let tries = 1; !promoted; tries++) {
      try {
        promoted = await registerNextPatch(deps, input);
      } catch (err) {
        // Whatever refused this attempt (a lost race, or a check that no longer holds, such as an
        // ancestor pruned since), an earlier attempt may have promoted already: that stands.
        promoted = await promotedEarlier(deps, input.healId);
        if (!promoted && (tries >= MAX_PATCH_TRIES || !isPatchTaken(err))) throw err;
      }
    }
    const { id: newVersionId, canary } = promoted;

    // Re-validate what is degraded below the culprit (what this prune tainted, and what a retried or
    // an earlier one did): those that pass today's suite and every gate are restored.
    const descendants = await deps.store.graph.descendants(input.culpritId);
    const degraded = descendants.filter((d) => d.health === 'degraded' && d.id !== input.failedId);
    const codes = await deps.store.graph.codes(degraded.map((d) => d.id));
    const restored: string[] = [];
    for (const [id, source] of codes) {
      await checkpoint();
      if ((await judgeStoredVersion(deps, { id, ...source })).passed) restored.push(id);
    }
    throwIfCancelled(); // verdicts of a cancelled step restore nothing
    restored.sort();
    await deps.store.graph.restore(restored);
    return {
      newVersionId,
      restored,
      canary,
    };
  };
}
