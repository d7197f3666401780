import { describe, expect, it } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { canaryWorkflowId } from '../../src/shared/constants.js';
import type { HealProgress } from '../../src/shared/heal-types.js';
import type { canaryWorkflow } from '../../src/workflows/canary.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { useHealStack, type HealStack } from '../support/heal-stack.js';
import { healInput } from '../support/failures.js';

// deployment.heal_mode: a healed version goes through the same canary under mode shadow, or is routed
// at once with heal_mode direct.

function config(healMode: 'shadow' | 'direct'): DiseConfig {
  const c = defaultConfig();
  c.deployment.mode = 'shadow';
  c.deployment.heal_mode = healMode;
  c.deployment.canary = { ...c.deployment.canary, mirror_fraction: 1, min_calls: 20, check_interval_seconds: 1 };
  return c;
}

const shadow = useHealStack('heal-shadow', { config: config('shadow') });
const direct = useHealStack('heal-direct', { config: config('direct') });

async function heal(h: HealStack, name: string): Promise<HealProgress> {
  await registerEmailStory(h.store, name);
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of WRONG_RESULTS) await runtime.report(`${name}@2.0.0`, w);
  await runtime.close();
  const { handle } = await startHeal(h.temporal.client, healInput(`${name}@2.0.0`, { detectionMethod: 'runtime' }), {
    taskQueue: h.taskQueue,
  });
  return handle.result();
}

describe('a healed version under deployment.mode: shadow', () => {
  it('heal_mode shadow: runs in CANARY beside the healthy ancestor, then its canary promotes it and tells the heal', async () => {
    const result = await heal(shadow, 'shadow_heal');
    expect(result.status).toBe('healed');
    expect(result.newVersionId).toBe('shadow_heal@2.0.1');
    expect(result.canary).toEqual({ stableId: 'shadow_heal@1.0.0', workflowId: canaryWorkflowId('shadow_heal@2.0.1') });
    expect(result.message).toMatch(/shadow_heal@2\.0\.1 runs in shadow beside shadow_heal@1\.0\.0/);
    expect((await shadow.store.graph.version('shadow_heal@2.0.1'))!.health).toBe('canary');
    expect(await shadow.store.routing.routeOf('shadow_heal')).toBe('shadow_heal@1.0.0');

    // Traffic: callers answered by 1.0.0, the healed version mirrored beside it.
    const runtime = await ToolRuntime.create({ databaseUrl: shadow.db.url });
    try {
      await runtime.preload(['shadow_heal']);
      for (let i = 0; i < 30; i++)
        expect((await runtime.callDetailed('shadow_heal', `user${i}@example.com`)).versionId).toBe('shadow_heal@1.0.0');
      await runtime.flush();
      expect(runtime.mirror.written).toBe(30);
    } finally {
      await runtime.close();
    }
    // A canary that does not end in 30 s fails with what it had recorded (the timer is cleared when it ends).
    let timer: NodeJS.Timeout | undefined;
    const end = await Promise.race([
      shadow.temporal.client.workflow.getHandle<typeof canaryWorkflow>(canaryWorkflowId('shadow_heal@2.0.1')).result(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(async () => {
          const canary = await shadow.store.canaries.get('shadow_heal@2.0.1');
          const n = await shadow.db.query('SELECT count(*) FROM canary_comparisons');
          reject(new Error(JSON.stringify({ canary, n })));
        }, 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(end.status, end.message).toBe('promoted');
    expect((await shadow.store.graph.version('shadow_heal@2.0.1'))!.health).toBe('regenerated');
    expect(await shadow.store.routing.routeOf('shadow_heal')).toBe('shadow_heal@2.0.1');
    const [run] = await shadow.db.query<{ result: { canary?: { outcome: string } } }>(
      `SELECT result FROM heal_runs WHERE tool_id = 'shadow_heal@2.0.0'`,
    );
    expect(run!.result.canary).toMatchObject({ candidateId: 'shadow_heal@2.0.1', outcome: 'promoted' });
  }, 120_000);

  it('heal_mode direct: routed at once, no canary', async () => {
    const result = await heal(direct, 'direct_heal');
    expect(result.status).toBe('healed');
    expect(result.canary ?? null).toBeNull();
    expect((await direct.store.graph.version('direct_heal@2.0.1'))!.health).toBe('regenerated');
    expect(await direct.store.routing.routeOf('direct_heal')).toBe('direct_heal@2.0.1');
    expect(await direct.store.canaries.get('direct_heal@2.0.1')).toBeNull();
  }, 120_000);
});
