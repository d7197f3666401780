import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCanary } from '../../src/client/start-canary.js';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { canaryWorkflowId } from '../../src/shared/constants.js';
import { useTestStore } from '../support/database.js';
import { version } from '../support/fixtures.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { killChildren, spawnWorkerChild } from '../support/child-processes.js';

// A worker running a canary is killed with SIGKILL right after the judge's first look; runtimes go on
// recording comparisons; a new worker takes the canary over. Comparisons live in PostgreSQL, written by
// the runtimes, so the judge after the restart counts every one of them: none is lost.

const h = useTestStore();
let temporal: TestTemporal;

const CONFIG = {
  deployment: {
    mode: 'shadow',
    canary: { min_calls: 300, check_interval_seconds: 1, max_duration_seconds: 3600, mirror_fraction: 1 },
  },
};

beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  killChildren();
  await temporal?.close();
});

const workerChild = (taskQueue: string, killAfter?: string) =>
  spawnWorkerChild({ databaseUrl: h.db.url, taskQueue, killAfter, config: CONFIG });

describe('a worker killed with SIGKILL during a canary', () => {
  it('loses no recorded comparison: the new worker judges every one and promotes', async () => {
    await h.store.registerVersion(version('killed_canary', '1.0.0', [], { code: 'function run(x) { return x + 1; }' }));
    await h.store.setRoute('killed_canary@1.0.0', 'test');
    await h.store.registerVersion(
      version('killed_canary', '1.1.0', ['killed_canary@1.0.0'], { code: 'function run(x) { return 1 + x; }' }),
    );
    const candidate = 'killed_canary@1.1.0';
    await h.store.canaries.begin({
      candidateId: candidate,
      toolName: 'killed_canary',
      stableId: 'killed_canary@1.0.0',
      targetHealth: 'healthy',
      origin: 'registration',
      healId: null,
      workflowId: canaryWorkflowId(candidate),
      mirrorFraction: 1,
    });

    const config = defaultConfig();
    config.runtime.flush_interval_ms = 50;
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    const callMany = async (from: number, n: number) => {
      await runtime.preload(['killed_canary']);
      for (let i = from; i < from + n; i++) expect(await runtime.call('killed_canary', i)).toBe(i + 1);
      await runtime.flush();
    };
    try {
      await callMany(0, 150);
      expect(runtime.mirror.mirrored).toBe(150);

      const taskQueue = uniqueTaskQueue('canary-kill');
      const first = await workerChild(taskQueue, 'judgeCanary');
      const handle = await startCanary(temporal.client, candidate, { taskQueue });
      await first.hung;
      // The first look was stored (thin data), and its worker dies before reporting it.
      expect((await h.store.canaries.get(candidate))!.verdict).toMatchObject({
        decision: 'not_enough_data',
        mirrored: 150,
      });
      first.child.kill('SIGKILL');

      // Runtimes go on while no worker runs.
      await callMany(150, 150);
      expect(runtime.mirror.mirrored).toBe(300);
      expect(runtime.mirror.written).toBe(300);

      await workerChild(taskQueue);
      const end = await handle.result();
      expect(end.status, end.message).toBe('promoted');
      const canary = (await h.store.canaries.get(candidate))!;
      expect(canary.verdict).toMatchObject({ decision: 'pass', mirrored: 300, agreed: 300, disagreed: 0 });
      const [row] = await h.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM canary_comparisons WHERE candidate_id = $1',
        [candidate],
      );
      expect(row?.n).toBe(300);
      expect(await h.store.routing.routeOf('killed_canary')).toBe(candidate);
      // Exactly one end: one promotion, the route set once for it.
      const history = await handle.fetchHistory();
      const finishes = history.events!.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishCanary',
      );
      expect(finishes).toHaveLength(1);
    } finally {
      await runtime.close();
    }
  }, 180_000);
});
