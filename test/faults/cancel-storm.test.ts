import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { startHeal } from '../../src/client/start-heal.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import { workflowBundlePath } from '../support/bundle-path.js';
import { healInput } from '../support/failures.js';
import { lineageViolations } from '../support/invariants.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';

// A heal storm on one worker: HEALS heals at once, each of a version whose code spins (a busy loop
// until the sandbox's time limit) on every input its heal replays. Cancelling one of them must still
// end it (the workflow's cancelled ending, cleanup included) within the 2 s operators are promised,
// whatever the other heals' tool runs are doing to the worker.

const HEALS = 50;
/** The promise to operators (docs/healing.md: a cancelled heal ends within 2 s). */
const TARGET_MS = 2000;
/** Reported inputs per tool: each one a time-limited spin when the heal reproduces it. */
const REPORTS = 3;

const GOOD = `function run(input) { return typeof input === 'string' && input.includes('@') && !input.includes('@@'); }`;
const SPINNING = `function run(input) { for (;;) {} }`;

const h = useTestStore();
let temporal: TestTemporal;
let worker: RunningWorker;
const taskQueue = uniqueTaskQueue('cancel-storm');
const config = defaultConfig();

/** Activities of the storm running right now, by type, and the heals replaying spinning code right now. */
const running = new Map<string, number>();
const replaying = new Set<string>();
const countRunning: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const type = ctx.info.activityType;
      const heal = ctx.info.workflowExecution?.workflowId ?? '';
      running.set(type, (running.get(type) ?? 0) + 1);
      if (type === 'analyzeFailure') replaying.add(heal);
      try {
        return await next(input);
      } finally {
        running.set(type, running.get(type)! - 1);
        if (type === 'analyzeFailure') replaying.delete(heal);
      }
    },
  },
});

beforeAll(async () => {
  temporal = await connectTestTemporal();
  worker = await startWorker({
    temporal: { address: inject('temporalAddress'), namespace: 'default', tls: false },
    prisma: h.db.prisma,
    config,
    llm: null,
    taskQueue,
    workflowBundlePath: workflowBundlePath(),
    activityInterceptors: [countRunning],
  });
});
afterAll(async () => {
  await worker?.shutdown();
  await temporal?.close();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a heal storm of spinning tools', () => {
  it(
    `cancelling one of ${HEALS} concurrent heals ends it within ${TARGET_MS} ms`,
    async () => {
      const tools = Array.from({ length: HEALS }, (_, i) => `spin_${i}`);
      for (const tool of tools) {
        await h.store.registerMany([
          {
            name: tool,
            version: '1.0.0',
            code: GOOD,
            tests: [{ name: 'plain', input: 'a@b.co', expect: true, critical: true }],
          },
          {
            name: tool,
            version: '1.1.0',
            parents: [`${tool}@1.0.0`],
            code: SPINNING,
            mutation: { type: 'optimization', description: 'Faster check' },
          },
        ]);
        await h.store.setRoute(`${tool}@1.1.0`, 'storm');
      }
      const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
      for (const tool of tools)
        for (let r = 0; r < REPORTS; r++)
          await runtime.report(`${tool}@1.1.0`, { input: `user${r}@@domain.com`, observed: true, expected: false });
      await runtime.close();

      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const handles: WorkflowHandle[] = [];
      for (const tool of tools) {
        const { handle } = await startHeal(temporal.client, healInput(`${tool}@1.1.0`, {}, 'manual'), { taskQueue });
        handles.push(handle);
      }
      // The storm is on: the worker's activity slots are taken by heals replaying spinning code.
      await until('the heals to fill the worker', () => (running.get('analyzeFailure') ?? 0) >= 10, 120_000);
      await new Promise((r) => setTimeout(r, 1000));
      const busy = Object.fromEntries(running);

      // A heal in the middle of its spinning step, while the others spin and queue.
      const victimAt = handles.findIndex((handle) => replaying.has(handle.workflowId));
      expect(victimAt).toBeGreaterThanOrEqual(0);
      const victim = handles[victimAt]!;
      const started = performance.now();
      await victim.cancel();
      const err = await victim.result().catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      loop.disable();
      console.log(
        `cancel during a storm of ${HEALS} spinning heals: ${Math.round(elapsed)} ms (target ${TARGET_MS} ms); ` +
          `event-loop delay max ${(loop.max / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms; ` +
          `activities running when cancelled: ${JSON.stringify(busy)}`,
      );

      // Stop the storm before asserting, so a failure leaves no heals spinning on the shared server.
      const others = handles.filter((handle) => handle !== victim);
      await Promise.all(others.map((handle) => handle.cancel().catch(() => undefined)));
      const ends = await Promise.all(others.map((handle) => handle.result().catch((e: unknown) => e)));

      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      const [run] = await h.db.query<{ status: string }>(`SELECT status FROM heal_runs WHERE tool_id = $1`, [
        `${tools[victimAt]}@1.1.0`,
      ]);
      expect(run).toMatchObject({ status: 'cancelled' });
      // The product's promise, asserted as a behaviour (not a speed figure): an operator who cancels a
      // heal gets it stopped, cleaned up and recorded within 2 s, however busy the worker is with
      // other heals; a worker that lets tool code starve the cancellation breaks that promise.
      expect(elapsed, `cancel took ${Math.round(elapsed)} ms`).toBeLessThan(TARGET_MS);
      expect(
        ends.every((e) => !(e instanceof Error) || (e as WorkflowFailedError).cause instanceof CancelledFailure),
      ).toBe(true);
      for (const tool of tools) expect(await lineageViolations(h.db, tool)).toEqual([]);
    },
    15 * 60_000,
  );
});
