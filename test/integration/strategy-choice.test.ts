import { describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { useHealStack } from '../support/heal-stack.js';
import { captureOutput } from '../support/output.js';
import { healFailure, reportWrongResults } from '../support/failures.js';
import { registerSlugStory, SLUG_WRONG } from '../support/slug-story.js';

// The slug story offline: the bug is at 1.2.0 and callers report 1.3.0, so a revert and a rollback
// are both possible and the learned order has two strategies to order.
function learned(): DiseConfig {
  const config = defaultConfig();
  config.self_healing.regeneration.strategy_order = 'learned';
  return config;
}

const h = useHealStack('heal-strategies', { config: learned() });

describe('a heal with the learned strategy order', () => {
  it('records the order it tried its strategies in, and why, on its heal run; dise strategies shows the record', async () => {
    await registerSlugStory(h.store, 'slug_learned');
    await reportWrongResults(h.db.url, 'slug_learned@1.3.0', SLUG_WRONG);

    const { handle } = await startHeal(
      h.temporal.client,
      {
        versionId: 'slug_learned@1.3.0',
        trigger: 'report',
        failure: healFailure({ failureType: 'wrong_output', description: 'digits are dropped' }),
      },
      { taskQueue: h.taskQueue },
    );
    const result = await handle.result();
    expect(result.status).toBe('healed');
    const choice = result.strategyChoice!;
    expect(choice).toMatchObject({
      mode: 'learned',
      context: { failureType: 'wrong_output', language: 'javascript', culpritIsFailed: false },
    });
    expect(choice.contextKey).toMatch(/^wrong_output\|.+\|javascript\|descendant$/);
    // Offline: no LLM, so revert and rollback, in the drawn order; the first attempt used the first.
    expect([...choice.order].sort()).toEqual(['revert', 'rollback']);
    expect(result.attempts[0]!.strategy).toBe(choice.order[0]);
    expect(choice.reason).toMatch(/no record yet|exploring/);

    const [run] = await h.db.query<{ choice: unknown }>(
      `SELECT result->'strategyChoice' AS choice FROM heal_runs WHERE workflow_id = 'heal:slug_learned@1.3.0'`,
    );
    expect(run!.choice).toEqual(JSON.parse(JSON.stringify(choice)));

    const out = captureOutput();
    process.env.DATABASE_URL = h.db.url;
    process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
    try {
      expect(await runCli(['strategies', '--json'], out)).toBe(0);
    } finally {
      delete process.env.DATABASE_URL;
      delete process.env.TEMPORAL_ADDRESS;
    }
    const shown = JSON.parse(out.stdout.join('\n')) as {
      contexts: { context: string; heals: number; strategies: { strategy: string }[] }[];
    };
    const context = shown.contexts.find((c) => c.context === choice.contextKey)!;
    expect(context.heals).toBe(1);
    // The rejected candidates (if any) count against their strategy; the promotion waits for its calls.
    const failedFirst = result.attempts.filter((a) => !a.ok).map((a) => a.strategy);
    expect(context.strategies.map((s) => s.strategy).sort()).toEqual([...new Set(failedFirst)].sort());
  });
});
