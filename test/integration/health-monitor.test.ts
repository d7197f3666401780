import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityInterceptorsFactory, Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { autoHeartbeat } from '../../src/activities/heartbeat.js';
import { createActivities } from '../../src/activities/index.js';
import type { CheckHealthInput } from '../../src/activities/check-health.js';
import { defaultConfig } from '../../src/config/schema.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import {
  checkNowSignal,
  failureReportedSignal,
  monitorStatusQuery,
  pauseSignal,
  resumeSignal,
  type MonitorStatus,
} from '../../src/shared/messages.js';
import type { healthMonitorWorkflow } from '../../src/workflows/health-monitor.js';
import { useTestStore } from '../support/database.js';
import { registerThrowingTool } from '../support/fixtures.js';
import { uniqueTaskQueue } from '../support/temporal.js';
import {
  answeredWithin,
  createWorkflowTestEnv,
  skipWhenIdle,
  type DescribedWorkflow,
  type WorkflowTestEnv,
} from '../support/workflow-env.js';
import { failureReport } from '../support/failures.js';
import { pollUntil } from '../support/wait.js';

// The monitor on Temporal's time-skipping test server: five-minute timers fire without real waiting.
// Activities are the real ones, on a real PostgreSQL.

let t: WorkflowTestEnv;
let env: TestWorkflowEnvironment;
const h = useTestStore();
let worker: Worker;
let running: Promise<void>;
const sandbox = new Sandbox(defaultConfig().sandbox);
const taskQueue = uniqueTaskQueue('monitor');
const checkInputs: CheckHealthInput[] = [];
let maintenanceRuns = 0;

const recordChecks: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      if (ctx.info.activityType === 'checkHealth') checkInputs.push(input.args[0] as CheckHealthInput);
      if (ctx.info.activityType === 'maintainExecutions') maintenanceRuns++;
      return next(input);
    },
  },
});

/** Skips time once the monitor is idle on its timer (an activity in flight would make the skip wait in real time). */
const skip = (monitor: DescribedWorkflow, duration: string) => skipWhenIdle(env, monitor, duration);

async function startMonitor(id: string, options: Parameters<typeof healthMonitorWorkflow>[0] = {}) {
  return env.client.workflow.start<typeof healthMonitorWorkflow>('healthMonitorWorkflow', {
    workflowId: id,
    taskQueue,
    args: [options],
  });
}

async function healthOf(versionId: string): Promise<string | undefined> {
  return (
    await h.db.query<{ health_status: string }>(`SELECT health_status FROM tool_lineage WHERE tool_id = $1`, [
      versionId,
    ])
  )[0]?.health_status;
}

async function healExists(versionId: string): Promise<boolean> {
  return env.client.workflow
    .getHandle(`heal:${versionId}`)
    .describe()
    .then(() => true)
    .catch(() => false);
}

afterAll(async () => {
  sandbox.close();
});

// A fresh time-skipping server per test: its time lock is per server, and a test must not inherit
// another's skipped or held time.
beforeEach(async () => {
  t = await createWorkflowTestEnv();
  env = t.env;
  ({ worker } = await t.worker(createActivities({ store: h.store, config: defaultConfig(), sandbox, llm: null }), {
    taskQueue,
    interceptors: { activity: [autoHeartbeat, recordChecks] },
  }));
  running = worker.run();
}, 120_000);
afterEach(async () => {
  worker.shutdown();
  await running;
  await t.teardown();
});

describe('healthMonitorWorkflow', { timeout: 240_000 }, () => {
  it('checks every 5 minutes without real waiting', async () => {
    const started = Date.now();
    const monitor = await startMonitor('monitor-timer');
    await skip(monitor, '1 minute');
    expect((await statusOf(monitor)).checks).toBe(0);
    await skip(monitor, '5 minutes');
    expect((await statusOf(monitor)).checks).toBe(1);
    await skip(monitor, '10 minutes');
    expect((await statusOf(monitor)).checks).toBe(3);
    expect(Date.now() - started).toBeLessThan(120_000);
  });

  it('maintains the executions (partitions, rollups, retention) once an hour', async () => {
    const before = maintenanceRuns;
    const monitor = await startMonitor('monitor-maintenance');
    await skip(monitor, '5 minutes');
    await skip(monitor, '1 second');
    expect(maintenanceRuns - before).toBe(1);
    const [state] = await h.db.query<{ last_run_at: Date | null }>(`SELECT last_run_at FROM execution_maintenance`);
    expect(state!.last_run_at).not.toBeNull();
    await skip(monitor, '50 minutes');
    expect(maintenanceRuns - before).toBe(1);
    await skip(monitor, '15 minutes');
    await skip(monitor, '1 second');
    expect(maintenanceRuns - before).toBe(2);
  });

  it('heals a tool whose error rate crosses 5% on the next check', async () => {
    const monitor = await startMonitor('monitor-heal');
    await registerThrowingTool(h.store, h.db.url, 'crossing'); // 10% of calls throw
    expect(await healExists('crossing@2.0.0')).toBe(false);
    await skip(monitor, '5 minutes');
    // The check has run; the child heal starts right after it.
    const status = await eventually(monitor, (s) => s.healsStarted.length > 0);
    expect(status.findings).toContainEqual({ versionId: 'crossing@2.0.0', reason: 'error_rate' });
    expect(status.healsStarted).toContain('crossing@2.0.0');
    const heal = await env.client.workflow.getHandle('heal:crossing@2.0.0').result();
    expect(heal).toMatchObject({ status: 'healed', newVersionId: 'crossing@2.0.1' });
    const [route] = await h.db.query<{ version_id: string }>(
      `SELECT version_id FROM routes WHERE tool_name = 'crossing'`,
    );
    expect(route!.version_id).toBe('crossing@2.0.1');
    // The next check sees nothing left to heal and starts nothing again.
    await skip(monitor, '5 minutes');
    expect((await statusOf(monitor)).healsStarted.filter((v) => v === 'crossing@2.0.0')).toHaveLength(1);
  });

  it('starts each heal of a check once, outside its history, and a second check joins them', async () => {
    const monitor = await startMonitor('monitor-several');
    const tools = ['several_a', 'several_b', 'several_c'];
    for (const tool of tools) await registerThrowingTool(h.store, h.db.url, tool);
    // Two checks back to back: the second sees the same findings while their heals run (or have healed).
    await monitor.signal(checkNowSignal);
    await eventually(monitor, (s) => s.checks >= 1);
    await monitor.signal(checkNowSignal);
    const status = await eventually(monitor, (s) => s.checks >= 2);
    for (const tool of tools) {
      expect(status.healsStarted.filter((v) => v === `${tool}@2.0.0`)).toHaveLength(1);
      const heal = await answeredWithin(env, () => env.client.workflow.getHandle(`heal:${tool}@2.0.0`).describe());
      // Started by an activity, not as a child of the monitor.
      expect(heal.parentExecution).toBeUndefined();
    }
    // The monitor's history holds no child starts.
    const history = await answeredWithin(env, () => monitor.fetchHistory());
    expect(history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
    for (const tool of tools) {
      await pollUntil(
        () => healthOf(`${tool}@2.0.0`),
        (health) => health === 'pruned',
        { what: `the heal to prune ${tool}@2.0.0` },
      );
    }
  });

  it('starts nothing while paused, and checks at once when resumed and asked', async () => {
    const monitor = await startMonitor('monitor-pause');
    await monitor.signal(pauseSignal);
    await registerThrowingTool(h.store, h.db.url, 'paused_tool');
    // Between two of the monitor's 5-minute timers: signals sent the instant a timer fires left the
    // time-skipping server's next workflow task unanswered on a loaded machine.
    await skip(monitor, '14 minutes');
    let status = await statusOf(monitor);
    expect(status).toMatchObject({ paused: true, checks: 0, healsStarted: [] });
    expect(await healExists('paused_tool@2.0.0')).toBe(false);
    await monitor.signal(resumeSignal);
    await monitor.signal(checkNowSignal);
    // Real waiting here: the check runs at once, no timer involved.
    status = await eventually(monitor, (s) => s.checks >= 1 && s.healsStarted.length > 0);
    expect(status.checks).toBe(1);
    expect(status.healsStarted).toContain('paused_tool@2.0.0');
    // Wait for the heal in real time (the time-skipping client's result() would skew its time lock).
    await pollUntil(
      () => healthOf('paused_tool@2.0.0'),
      (health) => health === 'pruned',
      { what: 'the heal to prune paused_tool@2.0.0' },
    );
  });

  it('keeps its state and queued reports across continue-as-new', async () => {
    const monitor = await startMonitor('monitor-can', { maxHistoryEvents: 30 });
    await skip(monitor, '12 minutes'); // two checks
    await monitor.signal(pauseSignal);
    const reports = Array.from({ length: 25 }, (_, i) => failureReport(`queued_${i}@1.0.0`));
    for (const r of reports) await monitor.signal(failureReportedSignal, r);
    await skip(monitor, '6 minutes'); // the timer fires while paused: no check, but the history is long
    const status = await statusOf(monitor);
    expect(status.runs).toBeGreaterThanOrEqual(2);
    expect(status).toMatchObject({ paused: true, checks: 2, pendingReports: 25 });
    const description = await answeredWithin(env, () => monitor.describe());
    expect(description.runId).not.toBe(monitor.firstExecutionRunId);
    await monitor.signal(resumeSignal);
    const after = await eventually(monitor, (s) => s.checks >= 3);
    expect(after).toMatchObject({ paused: false, checks: 3, pendingReports: 0, reportsHandled: 25 });
  });

  it('handles 1,000 reports sent in a burst across continue-as-new, each once', async () => {
    checkInputs.length = 0;
    const monitor = await startMonitor('monitor-burst', { maxHistoryEvents: 400 });
    const ids = Array.from({ length: 1000 }, (_, i) => `burst_${i}@1.0.0`);
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((id) => monitor.signal(failureReportedSignal, failureReport(id))));
    }
    // Reports wake the monitor at once: no timer, so real-time polling.
    const status = await eventually(monitor, (s) => s.reportsHandled >= 1000 && s.pendingReports === 0, 60_000);
    expect(status.reportsHandled).toBe(1000);
    expect(status.runs).toBeGreaterThanOrEqual(2);
    const handled = checkInputs
      .flatMap((c) => c.reported.map((r) => r.versionId))
      .filter((v) => v.startsWith('burst_'));
    expect(handled).toHaveLength(1000);
    expect(new Set(handled).size).toBe(1000);
  });
});

/** The monitor's status now (a query that hangs is asked again). */
const statusOf = (monitor: Parameters<typeof eventually>[0]) => eventually(monitor, () => true);

/**
 * Polls the monitor's status in real time until `ok` holds (or the timeout passes). Generous: these
 * wait on real activities against PostgreSQL, which a loaded machine slows down.
 */
async function eventually(
  monitor: { query: (q: typeof monitorStatusQuery) => Promise<MonitorStatus> },
  ok: (s: MonitorStatus) => boolean,
  timeout = 60_000,
): Promise<MonitorStatus> {
  return pollUntil(() => answeredWithin(env, () => monitor.query(monitorStatusQuery)), ok, {
    timeout,
    what: 'the monitor status',
  });
}
