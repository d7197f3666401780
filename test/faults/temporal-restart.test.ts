import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { allViolations } from '../../src/doctor/invariants.js';
import { startHeal } from '../../src/client/start-heal.js';
import { freePort, isProcessAlive, waitFor } from '../../src/infra/net.js';
import { startTemporalDevServer, type RunningTemporal } from '../../src/infra/temporal-server.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { startCanary } from '../../src/client/start-canary.js';
import { canaryWorkflowId, DEFAULT_NAMESPACE } from '../../src/shared/constants.js';
import { monitorStatusQuery } from '../../src/shared/messages.js';
import type { HealProgress } from '../../src/shared/heal-types.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import type { healthMonitorWorkflow } from '../../src/workflows/health-monitor.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { registerThrowingTool, version } from '../support/fixtures.js';
import { activityHold } from '../support/hold.js';
import { uniqueTaskQueue } from '../support/temporal.js';
import { healInput } from '../support/failures.js';
import { workflowBundlePath } from '../support/bundle-path.js';
import { pollUntil } from '../support/wait.js';

// The Temporal dev server killed (SIGKILL) and started again on the same port with the same
// database file: once in the middle of a heal, and once while the health monitor waits on its timer.
// The worker and the client are never restarted; they reconnect by themselves. Each heal ends with
// exactly one new version, no execution is lost, and the doctor (lineage invariants plus heal runs
// compared with Temporal) is clean.
//
// This file runs its own Temporal server, not the shared one, since it kills it.

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-temporal-fault-'));
let port: number;
let server: RunningTemporal;
let connection: Connection;
let client: Client;
const h = useTestStore();
let worker: RunningWorker;
const taskQueue = uniqueTaskQueue('temporal-fault');

const hold = activityHold();

async function startServer(): Promise<RunningTemporal> {
  return startTemporalDevServer({ dir, port, ui: false, readyTimeoutMs: 90_000 });
}

/** SIGKILL: no chance to flush or say goodbye; the database file is all that survives. */
async function killServer(): Promise<void> {
  const pid = server.pid!;
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => !isProcessAlive(pid), { timeoutMs: 10_000, what: `Temporal (pid ${pid}) to die` });
}

async function executionCount(toolId: string): Promise<number> {
  return (await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE tool_id = $1`, [toolId]))[0]!
    .n;
}

async function regeneratedCount(toolName: string): Promise<number> {
  return (
    await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tool_lineage WHERE tool_name = $1 AND health_status = 'regenerated'`,
      [toolName],
    )
  )[0]!.n;
}

/**
 * The monitor's interval in the timer test: long enough for the server to be killed before the timer
 * is due on a loaded machine, short enough not to wait for nothing.
 */
const MONITOR_INTERVAL_S = 8;

/** Defaults, with a canary judge that looks every 2 s and decides after 50 mirrored calls. */
function canaryConfig() {
  const config = defaultConfig();
  config.deployment.canary = { ...config.deployment.canary, check_interval_seconds: 2, min_calls: 50 };
  return config;
}

beforeAll(async () => {
  port = await freePort();
  server = await startServer();
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
  worker = await startWorker({
    temporal: { address: server.address, namespace: DEFAULT_NAMESPACE, tls: false },
    prisma: h.db.prisma,
    config: canaryConfig(),
    llm: null,
    taskQueue,
    workflowBundlePath: workflowBundlePath(),
    activityInterceptors: [hold.interceptor],
  });
}, 180_000);
afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the Temporal dev server restarted', () => {
  it('during a heal: the heal finishes with exactly one new version and loses nothing', async () => {
    await registerEmailStory(h.store, 'tfault');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    for (let i = 0; i < 200; i++) await runtime.call('tfault', `user${i}@example.com`);
    for (const w of WRONG_RESULTS) await runtime.report('tfault@2.0.0', w);
    await runtime.close();
    const before = await executionCount('tfault@2.0.0');
    expect(before).toBe(200);

    const reached = hold.arm('regenerate');
    const { handle } = await startHeal(client, healInput('tfault@2.0.0'), { taskQueue });
    await reached;
    await killServer();
    hold.release(); // the activity finishes while nobody can hear its result
    await hold.ran();
    // Its worker's report of the result meets the dead server, and retries.
    await new Promise((r) => setTimeout(r, 1_000));
    server = await startServer();

    const result = (await handle.result()) as HealProgress;
    expect(result).toMatchObject({ status: 'healed', newVersionId: 'tfault@2.0.1' });
    expect(await regeneratedCount('tfault')).toBe(1);
    expect(await executionCount('tfault@2.0.0')).toBe(before);
    const [route] = await h.db.query<{ version_id: string }>(
      `SELECT version_id FROM routes WHERE tool_name = 'tfault'`,
    );
    expect(route!.version_id).toBe('tfault@2.0.1');
    expect(await allViolations(new LineageStore(h.db.prisma), client)).toEqual([]);
  }, 240_000);

  it("during the monitor's timer: the timer fires after the restart and the heal it starts completes", async () => {
    void hold.arm(null);
    await registerThrowingTool(h.store, h.db.url, 'tmonitor');
    const before = await executionCount('tmonitor@2.0.0');
    const monitor = await client.workflow.start<typeof healthMonitorWorkflow>('healthMonitorWorkflow', {
      workflowId: 'monitor-temporal-fault',
      taskQueue,
      args: [{ intervalSeconds: MONITOR_INTERVAL_S }],
    });
    // Wait until the monitor sleeps on its first timer, then kill the server under it.
    const timerStarted = (await pollUntil(
      async () => {
        const started = ((await monitor.fetchHistory()).events ?? []).find((e) => e.timerStartedEventAttributes);
        const at = started?.eventTime;
        return at ? Number(at.seconds) * 1000 + Math.floor((at.nanos ?? 0) / 1e6) : undefined;
      },
      (at) => at !== undefined,
      { timeout: 30_000, what: 'the monitor timer' },
    )) as number;
    expect((await monitor.query(monitorStatusQuery)).checks).toBe(0);
    await killServer();
    const deadline = timerStarted + MONITOR_INTERVAL_S * 1000;
    expect(Date.now(), 'the server died before the timer was due').toBeLessThan(deadline);
    // Down past the timer's deadline.
    await new Promise((r) => setTimeout(r, deadline - Date.now() + 3_000));
    server = await startServer();

    await waitFor(
      async () =>
        ((await monitor.query(monitorStatusQuery).catch(() => null))?.healsStarted ?? []).includes('tmonitor@2.0.0'),
      { timeoutMs: 90_000, intervalMs: 500, what: 'the monitor to start a heal after the restart' },
    );
    const status = await monitor.query(monitorStatusQuery);
    expect(status.checks).toBeGreaterThanOrEqual(1);
    expect(status.findings).toContainEqual({ versionId: 'tmonitor@2.0.0', reason: 'error_rate' });
    const heal = (await client.workflow.getHandle('heal:tmonitor@2.0.0').result()) as HealProgress;
    expect(heal).toMatchObject({ status: 'healed', newVersionId: 'tmonitor@2.0.1' });
    expect(await regeneratedCount('tmonitor')).toBe(1);
    expect(await executionCount('tmonitor@2.0.0')).toBe(before);
    expect(await allViolations(new LineageStore(h.db.prisma), client)).toEqual([]);
    await monitor.terminate('test over');
  }, 240_000);

  it("during a canary's timer: comparisons recorded while the server is down are judged after it, and the canary promotes once", async () => {
    void hold.arm(null);
    await h.store.registerVersion(version('tcanary', '1.0.0', [], { code: 'function run(x) { return x + 1; }' }));
    await h.store.setRoute('tcanary@1.0.0', 'test');
    await h.store.registerVersion(
      version('tcanary', '1.1.0', ['tcanary@1.0.0'], { code: 'function run(x) { return 1 + x; }' }),
    );
    const candidate = 'tcanary@1.1.0';
    await h.store.canaries.begin({
      candidateId: candidate,
      toolName: 'tcanary',
      stableId: 'tcanary@1.0.0',
      targetHealth: 'healthy',
      origin: 'registration',
      healId: null,
      workflowId: canaryWorkflowId(candidate),
      mirrorFraction: 1,
    });
    const handle = await startCanary(client, candidate, { taskQueue });
    await waitFor(async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.timerStartedEventAttributes), {
      timeoutMs: 30_000,
      what: 'the canary timer',
    });
    await killServer();
    // Callers go on while Temporal is down; the runtime records what it mirrors in PostgreSQL.
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    await runtime.preload(['tcanary']);
    for (let i = 0; i < 60; i++)
      expect(await runtime.callDetailed('tcanary', i)).toMatchObject({ output: i + 1, versionId: 'tcanary@1.0.0' });
    await runtime.close();
    await new Promise((r) => setTimeout(r, 3_000));
    server = await startServer();

    const end = await handle.result();
    expect(end.status, end.message).toBe('promoted');
    expect((await h.store.canaries.get(candidate))!.verdict).toMatchObject({ decision: 'pass', mirrored: 60 });
    const [route] = await h.db.query<{ version_id: string }>(
      `SELECT version_id FROM routes WHERE tool_name = 'tcanary'`,
    );
    expect(route!.version_id).toBe(candidate);
    const finishes = ((await handle.fetchHistory()).events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishCanary',
    );
    expect(finishes).toHaveLength(1);
    expect(await allViolations(new LineageStore(h.db.prisma), client)).toEqual([]);
  }, 240_000);
});
