import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { runCli } from '../../src/cli/main.js';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { startHeal } from '../../src/client/start-heal.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { HealFailureInput } from '../../src/shared/heal-types.js';
import { slotTuning, type RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { captureOutput } from '../support/output.js';
import { connectTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { healFailure } from '../support/failures.js';

// Each switch of config.yaml, shown changing what happens.

const h = useTestStore();
let temporal: TestTemporal;
const workers: RunningWorker[] = [];
const FAILURE: HealFailureInput = healFailure();

beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  for (const w of workers) await w.shutdown();
  await temporal.close();
});

function withSwitch(change: (c: DiseConfig) => void): DiseConfig {
  const c = defaultConfig();
  change(c);
  return c;
}

/** Heals a fresh copy of the email story on a worker running with `config`. */
async function healWith(config: DiseConfig, tool: string) {
  const taskQueue = uniqueTaskQueue(tool);
  workers.push(await startTestWorker(h.db, { taskQueue, config }));
  await registerEmailStory(h.store, tool);
  await h.store.registerVersion({
    name: tool,
    version: '2.1.0',
    parents: [`${tool}@2.0.0`],
    code: "function run(input) { return typeof input === 'string' && input.indexOf('@') > 0; }",
    mutation: { type: 'refactor', description: 'x' },
  });
  await h.store.setRoute(`${tool}@2.0.0`, 'test');
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of WRONG_RESULTS) await runtime.report(`${tool}@2.0.0`, w);
  await runtime.close();
  const { handle } = await startHeal(
    temporal.client,
    { versionId: `${tool}@2.0.0`, trigger: 'report', failure: FAILURE },
    { taskQueue },
  );
  return handle.result();
}

const healthOf = async (id: string) =>
  (await h.db.query<{ health_status: string }>(`SELECT health_status FROM tool_lineage WHERE tool_id = $1`, [id]))[0]!
    .health_status;

describe('config switches', () => {
  it('self_healing.enabled: false records the failure and heals nothing', async () => {
    const result = await healWith(
      withSwitch((c) => (c.self_healing.enabled = false)),
      'sw_disabled',
    );
    expect(result.status).toBe('disabled');
    expect(await healthOf('sw_disabled@2.0.0')).toBe('healthy');
    expect(
      await h.db.query(`SELECT 1 FROM failures WHERE tool_id = 'sw_disabled@2.0.0' AND dedupe_key IS NOT NULL`),
    ).toHaveLength(1);
    // …and the monitor's checks tell it not to start heals.
    const acts = createActivities({
      store: h.store,
      config: withSwitch((c) => (c.self_healing.enabled = false)),
      sandbox: new Sandbox(defaultConfig().sandbox),
      llm: null,
    });
    expect((await acts.checkHealth({ reported: [] })).healingEnabled).toBe(false);
  });

  it('worker.tuner: resource heals on a worker whose slots Temporal hands out by memory and CPU, up to the maxima', async () => {
    const resource = withSwitch((c) => {
      c.worker.tuner = 'resource';
      c.worker.max_activities = 4;
    });
    expect(slotTuning(resource.worker)).toEqual({
      tuner: {
        tunerOptions: { targetMemoryUsage: 0.8, targetCpuUsage: 0.9 },
        activityTaskSlotOptions: { minimumSlots: 1, maximumSlots: 4 },
        localActivityTaskSlotOptions: { minimumSlots: 1, maximumSlots: 4 },
        workflowTaskSlotOptions: { minimumSlots: 2, maximumSlots: 20 },
      },
    });
    // fixed (the default): the same maxima as plain limits; a caller's explicit ones win.
    expect(slotTuning(defaultConfig().worker, { maxConcurrentActivityTaskExecutions: 2 })).toEqual({
      maxConcurrentActivityTaskExecutions: 2,
      maxConcurrentWorkflowTaskExecutions: 20,
    });
    const result = await healWith(resource, 'sw_tuner');
    expect(result).toMatchObject({ status: 'healed', newVersionId: 'sw_tuner@2.0.1' });
  });

  it('pruning.taint_descendants: false prunes without tainting', async () => {
    const tainted = await healWith(defaultConfig(), 'sw_taint_on');
    expect(tainted.prune!.taintedCount).toBe(1);
    const result = await healWith(
      withSwitch((c) => (c.self_healing.pruning.taint_descendants = false)),
      'sw_taint_off',
    );
    expect(result.status).toBe('healed');
    expect(result.prune!.taintedCount).toBe(0);
    expect(await healthOf('sw_taint_off@2.1.0')).toBe('healthy');
  });

  it('regeneration.auto_regenerate: false prunes and routes callers to the ancestor, regenerating nothing', async () => {
    const result = await healWith(
      withSwitch((c) => (c.self_healing.regeneration.auto_regenerate = false)),
      'sw_noregen',
    );
    expect(result.status).toBe('routed_to_ancestor');
    expect(result.attempts).toEqual([]);
    expect(await healthOf('sw_noregen@2.0.0')).toBe('pruned');
    const [route] = await h.db.query<{ version_id: string }>(
      `SELECT version_id FROM routes WHERE tool_name = 'sw_noregen'`,
    );
    expect(route!.version_id).toBe('sw_noregen@1.0.0');
    expect(
      await h.db.query(`SELECT 1 FROM tool_lineage WHERE tool_name = 'sw_noregen' AND health_status = 'regenerated'`),
    ).toHaveLength(0);
  });

  it('propagation.critical_failures_global decides whether a security failure’s rule is global', async () => {
    const acts = (global: boolean) =>
      createActivities({
        store: h.store,
        config: withSwitch((c) => (c.self_healing.propagation.critical_failures_global = global)),
        sandbox: new Sandbox(defaultConfig().sandbox),
        llm: null,
      });
    await h.store.registerMany([
      {
        name: 'sw_sec',
        version: '1.0.0',
        code: 'function run(x) { return String(x).length; }',
        tests: [{ name: 'len', input: 'abc', expect: 3 }],
      },
      {
        name: 'sw_sec',
        version: '1.1.0',
        parents: ['sw_sec@1.0.0'],
        code: "function run(x) { if (x === 'boom') return process.env; return String(x).length; }",
        mutation: { type: 'refactor', description: 'x' },
      },
    ]);
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    await runtime.call('sw_sec@1.1.0', 'boom').catch(() => undefined);
    await runtime.close();
    const [failure] = await h.db.query<{ id: number }>(
      `SELECT id FROM failures WHERE tool_id = 'sw_sec@1.1.0' AND failure_type = 'security_vulnerability'`,
    );
    const analyse = (global: boolean) =>
      acts(global).analyzeFailure({
        healId: `sw-sec-${global}`,
        versionId: 'sw_sec@1.1.0',
        failureId: failure!.id,
        useLlm: false,
      });
    expect((await analyse(true)).scope).toBe('global');
    expect((await analyse(false)).scope).toBe('descendants');
  });

  it('detection.static_analysis: false registers code the security checks would fail', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-switch-'));
    const manifest = path.join(dir, 'evil.yaml');
    writeFileSync(manifest, 'name: sw_static\nversion: 1.0.0\ncode: "function run(x) { return eval(String(x)); }"\n');
    const on = path.join(dir, 'on.yaml');
    writeFileSync(on, 'self_healing:\n  detection:\n    static_analysis: true\n');
    const off = path.join(dir, 'off.yaml');
    writeFileSync(off, 'self_healing:\n  detection:\n    static_analysis: false\n');
    process.env.DATABASE_URL = h.db.url;
    try {
      const first = captureOutput();
      expect(await runCli(['--config', on, 'tool', 'add', '--no-route', manifest], first)).toBe(1);
      expect(first.stdout).toEqual(['sw_static@1.0.0 failed']);
      writeFileSync(manifest, 'name: sw_static\nversion: 1.0.1\ncode: "function run(x) { return eval(String(x)); }"\n');
      const second = captureOutput();
      expect(await runCli(['--config', off, 'tool', 'add', '--no-route', manifest], second)).toBe(0);
      expect(second.stdout).toEqual(['sw_static@1.0.1 healthy']);
    } finally {
      delete process.env.DATABASE_URL;
    }
  });
});
