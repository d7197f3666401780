import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import type { FinishHealInput } from '../../src/activities/finish-heal.js';
import type { RegenerateInput } from '../../src/activities/regenerate.js';
import { HEAL_WORKFLOW_TYPE, healStartOptions } from '../../src/shared/heal-start.js';
import { HEAL_STEPS } from '../../src/shared/heal-steps.js';
import type { HealProgress, HealSettings, SelfHealInput } from '../../src/shared/heal-types.js';
import { healProgressQuery } from '../../src/shared/messages.js';
import { DISE_HEAL_STATUS, DISE_HEAL_STEP, DISE_TOOL, DISE_VERSION } from '../../src/shared/search-attributes.js';
import type { selfHealWorkflow } from '../../src/workflows/self-heal.js';
import {
  analysis,
  ancestorFound,
  useWorkflowTestEnv,
  PASSED,
  recorded,
  uniqueName,
  type StubActivities,
} from '../support/workflow-env.js';
import { healInput } from '../support/failures.js';

// Every branch of selfHealWorkflow, with stubbed activities on the time-skipping test server: no
// PostgreSQL, no sandbox, no LLM. The full-stack heal tests live in test/integration/.

const t = useWorkflowTestEnv();

interface Heal {
  name: string;
  versionId: string;
  culpritId: string;
  ancestorId: string;
  /** Every activity call, in order: [type, input]. */
  calls: [string, unknown][];
  finished: FinishHealInput[];
  regenerations: RegenerateInput[];
}

const CODE = 'function run(input) { return input; }';

/**
 * Stubs for a heal that goes all the way (record → … → promote), with overrides per activity.
 * `settings` are what recordFailure reports from the worker's config.
 */
function healStubs(
  settings: Partial<HealSettings>,
  overrides: (h: Heal) => StubActivities = () => ({}),
  { culpritVersion = '2.1.0' }: { culpritVersion?: string } = {},
): { heal: Heal; activities: StubActivities } {
  const name = uniqueName('tool');
  // By default the failed version is the culprit (nothing after it to keep, so no revert is tried).
  const heal: Heal = {
    name,
    versionId: `${name}@2.1.0`,
    culpritId: `${name}@${culpritVersion}`,
    ancestorId: `${name}@1.0.0`,
    calls: [],
    finished: [],
    regenerations: [],
  };
  const defaults: StubActivities = {
    recordFailure: async () => recorded({ toolName: name }, settings),
    analyzeFailure: async (input) => analysis(heal.culpritId, { source: input.useLlm ? 'llm' : 'offline' }),
    pruneBranch: async () => ({
      prunedId: heal.culpritId,
      prunedCount: 1,
      taintedCount: 1,
      tainted: [heal.versionId],
      reroutedTo: heal.ancestorId,
    }),
    createAvoidanceRule: async () => ({ ruleId: 'rule-1', scope: 'descendants' }),
    propagateRule: async (input) => ({ ruleId: input.ruleId, scope: 'descendants', reached: 2, similarTools: [] }),
    findHealthyAncestor: async () => ancestorFound(heal.ancestorId),
    // The configured order, as the fixed mode answers (the bandit has tests of its own).
    chooseStrategies: async (input) => ({
      mode: input.mode,
      order: input.strategies,
      context: { failureType: 'wrong_output', mutationType: 'none', language: 'javascript', culpritIsFailed: true },
      contextKey: 'wrong_output|none|javascript|culprit',
      arms: [],
      explored: null,
      reason: 'the configured order',
    }),
    regenerate: async (input) => ({
      strategy: input.strategy,
      code: CODE,
      notes: `attempt ${input.attempt}`,
      builtOn: input.strategy === 'rollback' || input.culpritId === input.failedId ? input.ancestorId : input.failedId,
    }),
    validateCandidate: async () => PASSED,
    promote: async () => ({ newVersionId: `${name}@2.1.1`, restored: [] }),
    finishHeal: async () => ({ routedTo: heal.ancestorId }),
  };
  const chosen = { ...defaults, ...overrides(heal) };
  const activities = Object.fromEntries(
    Object.entries(chosen).map(([type, fn]) => [
      type,
      async (input: never) => {
        heal.calls.push([type, input]);
        if (type === 'finishHeal') heal.finished.push(structuredClone(input as FinishHealInput));
        if (type === 'regenerate') heal.regenerations.push(structuredClone(input as RegenerateInput));
        return (fn as (i: never) => Promise<unknown>)(input);
      },
    ]),
  ) as StubActivities;
  return { heal, activities };
}

function input(heal: Heal): SelfHealInput {
  return healInput(
    heal.versionId,
    { failureType: 'wrong_output', description: 'accepted a@@b.co', severity: 'high' },
    'manual',
  );
}

/** Runs a heal to its end on a fresh worker; returns its result (or the error it failed with). */
async function runHeal(heal: Heal, activities: StubActivities): Promise<HealProgress> {
  const { worker, taskQueue } = await t.worker(activities);
  return worker.runUntil(
    t.env.client.workflow.execute<typeof selfHealWorkflow>(HEAL_WORKFLOW_TYPE, {
      ...healStartOptions(input(heal)),
      taskQueue,
    }),
  );
}

function activityTypes(heal: Heal): string[] {
  return heal.calls.map(([type]) => type);
}

const permanent = (message: string) =>
  ApplicationFailure.create({ type: 'PermanentLlmError', message, nonRetryable: true });

describe('selfHealWorkflow', { timeout: 30_000 }, () => {
  it('heals through the LLM: every step in order, the candidate promoted, nothing left to finish', async () => {
    const { heal, activities } = healStubs({ llm: true });
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({
      status: 'healed',
      step: 'done',
      newVersionId: `${heal.name}@2.1.1`,
      attempt: 1,
      maxAttempts: 4,
    });
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'llm', ok: true, rejections: [] }]);
    expect(result.analysis?.source).toBe('llm');
    expect(activityTypes(heal)).toEqual([
      'recordFailure',
      'analyzeFailure',
      'pruneBranch',
      'createAvoidanceRule',
      'propagateRule',
      'findHealthyAncestor',
      'chooseStrategies',
      'regenerate',
      'validateCandidate',
      'promote',
    ]);
    // Every activity the workflow ran is a step of the catalogue the CLI prints.
    const catalogued: (string | null)[] = Object.values(HEAL_STEPS).map((s) => s.activity);
    expect(activityTypes(heal).every((type) => catalogued.includes(type))).toBe(true);
    const promote = heal.calls.find(([type]) => type === 'promote')![1] as {
      strategy: string;
      ancestorId: string;
      ruleIds: string[];
    };
    expect(promote).toMatchObject({ strategy: 'llm', ancestorId: heal.ancestorId, ruleIds: ['rule-1'] });
  });

  it('heals by rollback when no LLM is configured, and keeps the search attributes up to date', async () => {
    const { heal, activities } = healStubs({ llm: false });
    const result = await runHeal(heal, activities);
    expect(result.status).toBe('healed');
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'rollback', ok: true, rejections: [] }]);
    expect(heal.regenerations[0]).toMatchObject({
      strategy: 'rollback',
      ancestorId: heal.ancestorId,
      culpritId: heal.culpritId,
      rejections: [],
    });
    const attributes = (await t.env.client.workflow.getHandle(`heal:${heal.versionId}`).describe())
      .typedSearchAttributes;
    expect(attributes.get(DISE_TOOL)).toBe(heal.name);
    expect(attributes.get(DISE_VERSION)).toBe(heal.versionId);
    expect(attributes.get(DISE_HEAL_STEP)).toBe('done');
    expect(attributes.get(DISE_HEAL_STATUS)).toBe('healed');
    // Set once per workflow task: before each step that runs as an activity of its own, and at the
    // end; the local steps between them are recorded with those tasks, so no one saw theirs.
    const { events } = await t.env.client.workflow.getHandle(`heal:${heal.versionId}`).fetchHistory();
    const upserts = (events ?? []).flatMap((e) => {
      const payload =
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[DISE_HEAL_STEP.name];
      return payload ? [defaultPayloadConverter.fromPayload<string>(payload)] : [];
    });
    expect(upserts).toEqual(['analyzeFailure', 'findHealthyAncestor', 'validateCandidate', 'done']);
  });

  it('falls back to the offline analysis when the LLM keeps failing', async () => {
    const { heal, activities } = healStubs({ llm: true }, (h) => ({
      analyzeFailure: async (i) => {
        if (i.useLlm) throw permanent('the model answered 500 four times');
        return analysis(h.culpritId, { source: 'offline' });
      },
    }));
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'healed', analysis: { source: 'offline' } });
    const analyses = heal.calls
      .filter(([type]) => type === 'analyzeFailure')
      .map(([, i]) => (i as { useLlm: boolean }).useLlm);
    expect(analyses).toEqual([true, false]);
  });

  it('feeds every rejection to the next attempt, and heals on the last one', async () => {
    const { heal, activities } = healStubs({ llm: true }, () => ({
      regenerate: async (i) => {
        if (i.attempt === 1) throw permanent('the model refused');
        if (i.attempt === 2)
          return { strategy: 'llm', code: null, notes: 'no code block in the answer', builtOn: null };
        return { strategy: 'llm', code: CODE, notes: 'third time', builtOn: i.ancestorId };
      },
    }));
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'healed', attempt: 3 });
    expect(result.attempts.map((a) => [a.attempt, a.ok, a.rejections.map((r) => r.kind)])).toEqual([
      [1, false, ['llm_error']],
      [2, false, ['malformed']],
      [3, true, []],
    ]);
    expect(heal.regenerations.map((r) => r.rejections.length)).toEqual([0, 1, 2]);
    expect(heal.regenerations[1]!.rejections[0]).toMatch(/^attempt 1: .*the model refused/);
    expect(heal.regenerations[2]!.rejections[1]).toBe('attempt 2: unusable answer: no code block in the answer');
  });

  it('ends unhealed when every attempt is rejected, callers staying on the ancestor', async () => {
    const { heal, activities } = healStubs({ llm: true, strategies: ['llm'], maxRegenerationAttempts: 2 }, () => ({
      validateCandidate: async (i) => ({
        ...PASSED,
        ok: false,
        rejections: [{ kind: 'test', message: `attempt ${i.attempt} fails "rejects a double at"` }],
      }),
    }));
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'unhealed', step: 'done', attempt: 2, maxAttempts: 2, newVersionId: null });
    expect(result.message).toBe(
      `no candidate passed validation in 2 attempt(s) (llm); callers stay on ${heal.ancestorId}`,
    );
    expect(heal.regenerations[1]!.rejections).toEqual(['attempt 1: test: attempt 1 fails "rejects a double at"']);
    expect(activityTypes(heal)).not.toContain('promote');
    expect(heal.finished).toHaveLength(1);
    expect(heal.finished[0]!.progress.status).toBe('unhealed');
  });

  it('reverts first when the culprit lies above the failed version, building on the failed version', async () => {
    const features = { kept: 1, total: 1, lost: [] };
    const setAside = [{ testId: 4, name: 'encodes the bug', introducedBy: 'x' }];
    const { heal, activities } = healStubs(
      { llm: true },
      () => ({ validateCandidate: async () => ({ ...PASSED, features, setAside }) }),
      { culpritVersion: '2.0.0' },
    );
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'healed', strategy: 'revert', features, setAside, maxAttempts: 5 });
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'revert', ok: true, rejections: [] }]);
    expect(result.message).toMatch(/^healed by revert: .*; features kept 1\/1$/);
    const promote = heal.calls.find(([type]) => type === 'promote')![1] as {
      strategy: string;
      builtOn: string;
      setAside: unknown;
    };
    expect(promote).toMatchObject({ strategy: 'revert', builtOn: heal.versionId, setAside });
  });

  it('falls back from a conflicting revert to the LLM, then to rollback, recording each', async () => {
    const { heal, activities } = healStubs(
      { llm: true, maxRegenerationAttempts: 2 },
      () => ({
        regenerate: async (i) => {
          if (i.strategy === 'revert')
            return { strategy: 'revert', code: null, notes: '1 conflicting change(s)', builtOn: null };
          if (i.strategy === 'llm') throw permanent('the model refused');
          return { strategy: 'rollback', code: CODE, notes: 'rollback', builtOn: i.ancestorId };
        },
      }),
      { culpritVersion: '2.0.0' },
    );
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'healed', strategy: 'rollback', attempt: 4, maxAttempts: 4 });
    expect(result.attempts.map((a) => [a.strategy, a.ok, a.rejections.map((r) => r.kind)])).toEqual([
      ['revert', false, ['conflict']],
      ['llm', false, ['llm_error']],
      ['llm', false, ['llm_error']],
      ['rollback', true, []],
    ]);
    expect(heal.regenerations.map((r) => r.strategy)).toEqual(['revert', 'llm', 'llm', 'rollback']);
    expect(heal.regenerations[3]!.rejections[0]).toBe('attempt 1: no revert: 1 conflicting change(s)');
  });

  it('records the failure and stops when self-healing is disabled', async () => {
    const { heal, activities } = healStubs({ enabled: false });
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'disabled', step: 'done', failureId: 7 });
    expect(activityTypes(heal)).toEqual(['recordFailure', 'finishHeal']);
  });

  it('reports the heal that replaced an already pruned version, without healing again', async () => {
    const { heal, activities } = healStubs({}, (h) => ({
      recordFailure: async () => recorded({ healedBy: `${h.name}@2.1.1` }),
    }));
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'healed', newVersionId: `${heal.name}@2.1.1` });
    expect(result.message).toMatch(/^already pruned and replaced by /);
    expect(activityTypes(heal)).toEqual(['recordFailure', 'finishHeal']);
  });

  for (const verdict of ['transient', 'not_this_mutation'] as const) {
    it(`prunes nothing when the verdict is ${verdict}`, async () => {
      const { heal, activities } = healStubs({}, () => ({
        analyzeFailure: async () => analysis(null, { verdict, reason: `looks ${verdict}` }),
      }));
      const result = await runHeal(heal, activities);
      expect(result).toMatchObject({ status: 'not_pruned', message: `looks ${verdict}` });
      expect(activityTypes(heal)).toEqual(['recordFailure', 'analyzeFailure', 'finishHeal']);
    });
  }

  it('ends unhealed when the verdict is unrecoverable', async () => {
    const { heal, activities } = healStubs({}, () => ({
      analyzeFailure: async () =>
        analysis(null, { verdict: 'unrecoverable', recoverable: false, reason: 'no ancestor passes its suite' }),
    }));
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({ status: 'unhealed', message: 'no ancestor passes its suite' });
    expect(activityTypes(heal)).toEqual(['recordFailure', 'analyzeFailure', 'finishHeal']);
  });

  it('prunes nothing when a mutation verdict names no culprit', async () => {
    const { heal, activities } = healStubs({}, () => ({
      analyzeFailure: async () => analysis(null, { reason: 'no culprit found' }),
    }));
    expect(await runHeal(heal, activities)).toMatchObject({ status: 'not_pruned', message: 'no culprit found' });
  });

  it('ends unhealed when the culprit is known but the failure is not recoverable', async () => {
    const { heal, activities } = healStubs({}, (h) => ({
      analyzeFailure: async () => analysis(h.culpritId, { recoverable: false, reason: 'the root itself fails' }),
    }));
    expect(await runHeal(heal, activities)).toMatchObject({
      status: 'unhealed',
      message: 'not recoverable: the root itself fails',
    });
    expect(activityTypes(heal)).not.toContain('pruneBranch');
  });

  it('names the culprit and prunes nothing when auto-pruning is off', async () => {
    const { heal, activities } = healStubs({ autoPruneCritical: false });
    const result = await runHeal(heal, activities);
    expect(result.status).toBe('not_pruned');
    expect(result.message).toContain(`${heal.culpritId} introduced the failure`);
    expect(activityTypes(heal)).toEqual(['recordFailure', 'analyzeFailure', 'finishHeal']);
  });

  it('ends unhealed when no ancestor passes today’s suite', async () => {
    const { heal, activities } = healStubs({}, () => ({ findHealthyAncestor: async () => ancestorFound(null) }));
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({
      status: 'unhealed',
      prune: { prunedId: heal.culpritId },
      rule: { ruleId: 'rule-1' },
      ancestor: { ancestorId: null },
    });
    expect(activityTypes(heal)).not.toContain('regenerate');
  });

  it('routes callers to the ancestor when regeneration is off', async () => {
    const { heal, activities } = healStubs({ autoRegenerate: false });
    const result = await runHeal(heal, activities);
    expect(result).toMatchObject({
      status: 'routed_to_ancestor',
      message: `regeneration is off: callers are routed to ${heal.ancestorId}`,
    });
    expect(activityTypes(heal).slice(-2)).toEqual(['findHealthyAncestor', 'finishHeal']);
  });

  it('fails as HealFailed when a step fails for good, and records why', async () => {
    const { heal, activities } = healStubs({}, () => ({
      pruneBranch: async () => {
        throw ApplicationFailure.create({
          type: 'LineageError',
          message: 'adding this edge closes a cycle',
          nonRetryable: true,
        });
      },
    }));
    const error = await runHeal(heal, activities).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('HealFailed');
    expect(cause.message).toBe(`heal of ${heal.versionId} failed during pruneBranch: adding this edge closes a cycle`);
    expect(heal.finished).toHaveLength(1);
    expect(heal.finished[0]).toMatchObject({
      error: 'adding this edge closes a cycle',
      progress: { status: 'failed', step: 'pruneBranch' },
    });
  });

  it('on cancel, still records the heal as cancelled (non-cancellable cleanup), and shows progress while it runs', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let stepCancelled = false;
    const { heal, activities } = healStubs({}, () => ({
      findHealthyAncestor: async () => {
        started();
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(20);
          }
        } catch (err) {
          stepCancelled = err instanceof CancelledFailure;
          throw err;
        }
      },
    }));
    const { worker, taskQueue } = await t.worker(activities);
    await worker.runUntil(async () => {
      const handle = await t.env.client.workflow.start<typeof selfHealWorkflow>(HEAL_WORKFLOW_TYPE, {
        ...healStartOptions(input(heal)),
        taskQueue,
      });
      await running;
      const progress = await handle.query(healProgressQuery);
      expect(progress).toMatchObject({
        status: 'running',
        step: 'findHealthyAncestor',
        message: HEAL_STEPS.findHealthyAncestor.message(),
        prune: { prunedId: heal.culpritId },
      });
      // The Temporal UI shows the step the heal waits on.
      expect((await handle.describe()).typedSearchAttributes.get(DISE_HEAL_STEP)).toBe('findHealthyAncestor');
      await handle.cancel();
      const error = await handle.result().catch((err: unknown) => err);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    });
    expect(stepCancelled).toBe(true);
    // The finishing step ran after the cancel: it routes callers to a usable version and records the end.
    expect(activityTypes(heal).slice(-1)).toEqual(['finishHeal']);
    expect(heal.finished[0]).toMatchObject({
      error: null,
      progress: { status: 'cancelled', step: 'findHealthyAncestor', message: 'cancelled during findHealthyAncestor' },
    });
  });

  it('joins a second start of the same version instead of running two heals', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { heal, activities } = healStubs({}, () => ({
      analyzeFailure: async () => {
        await gate;
        return analysis(null, { verdict: 'transient', reason: 'did not reproduce' });
      },
    }));
    const { worker, taskQueue } = await t.worker(activities);
    await worker.runUntil(async () => {
      const first = await t.env.client.workflow.start<typeof selfHealWorkflow>(HEAL_WORKFLOW_TYPE, {
        ...healStartOptions(input(heal)),
        taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      const second = await t.env.client.workflow.start<typeof selfHealWorkflow>(HEAL_WORKFLOW_TYPE, {
        ...healStartOptions(input(heal)),
        taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      expect(second.firstExecutionRunId).toBe(first.firstExecutionRunId);
      release();
      expect((await first.result()).status).toBe('not_pruned');
    });
    expect(activityTypes(heal).filter((type) => type === 'recordFailure')).toHaveLength(1);
  });
});
