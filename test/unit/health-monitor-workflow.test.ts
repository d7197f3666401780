import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckHealthInput } from '../../src/activities/check-health.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { startHealsActivity } from '../../src/activities/start-heals.js';
import { HEALTH_MONITOR_WORKFLOW_TYPE } from '../../src/shared/constants.js';
import type { HealthCheckResult, HealthFinding, MonitorSettings } from '../../src/shared/heal-types.js';
import {
  checkNowSignal,
  failureReportedSignal,
  monitorStatusQuery,
  pauseSignal,
  resumeSignal,
  type MonitorStatus,
} from '../../src/shared/messages.js';
import { DISE_HEAL_STATUS, DISE_TOOL, DISE_VERSION } from '../../src/shared/search-attributes.js';
import type { healthMonitorWorkflow, HealthMonitorOptions } from '../../src/workflows/health-monitor.js';
import {
  createWorkflowTestEnv,
  useWorkflowTestEnv,
  recorded,
  skipWhenIdle,
  uniqueName,
  type StubActivities,
  type WorkflowTestEnv,
} from '../support/workflow-env.js';
import { failureReport } from '../support/failures.js';
import { pollUntil } from '../support/wait.js';

// Every signal and the query of healthMonitorWorkflow, with stubbed activities on the time-skipping
// test server: no PostgreSQL. The monitor against real activities is test/integration/health-monitor.test.ts.

const t = useWorkflowTestEnv();

type Monitor = WorkflowHandleWithFirstExecutionRunId<typeof healthMonitorWorkflow>;

interface MonitorStubs {
  checks: CheckHealthInput[];
  /** Heals the stubbed child workflows recorded (their recordFailure calls). */
  heals: string[];
  activities: StubActivities;
}

/**
 * A checkHealth that finds, for every reported version, a finding the monitor should heal; the child
 * heals it starts end at once (self-healing disabled in their stubbed recordFailure).
 */
function monitorStubs({
  settings = { intervalSeconds: 300, continuous: true },
  healingEnabled = true,
  beforeCheck,
}: {
  settings?: MonitorSettings;
  healingEnabled?: boolean;
  beforeCheck?: (input: CheckHealthInput) => Promise<void>;
} = {}): MonitorStubs {
  const stubs: MonitorStubs = { checks: [], heals: [], activities: {} };
  stubs.activities = {
    monitorSettings: async () => settings,
    checkHealth: async (input): Promise<HealthCheckResult> => {
      stubs.checks.push(input);
      await beforeCheck?.(input);
      const findings: HealthFinding[] = input.reported.map((r) => ({
        versionId: r.versionId,
        reason: 'reported',
        severity: r.severity,
        description: r.description,
        heal: true,
        failure: {
          failureType: r.failureType,
          description: r.description,
          severity: r.severity,
          detectionMethod: 'runtime',
        },
      }));
      return {
        checkedAt: new Date(0).toISOString(),
        versionsChecked: findings.length,
        findings,
        handledReports: input.reported.map((r) => r.versionId),
        healingEnabled,
      };
    },
    recordFailure: async (input) => {
      stubs.heals.push(input.versionId);
      return recorded({}, { enabled: false });
    },
    finishHeal: async () => ({ routedTo: null }),
    // The real one: it starts each heal through the worker's client (it uses no dependency).
    startHeals: startHealsActivity({} as ActivityDeps),
    // The monitor's hourly upkeep of executions (nothing to keep here).
    maintainExecutions: async () => ({ rolledUpHours: 0, droppedPartitions: [], createdPartitions: [] }) as never,
  };
  return stubs;
}

/** Runs `fn` with a fresh worker and a monitor started on its task queue. */
async function withMonitor(
  stubs: MonitorStubs,
  options: HealthMonitorOptions,
  fn: (monitor: Monitor) => Promise<void>,
  on: WorkflowTestEnv = t,
): Promise<void> {
  const { worker, taskQueue } = await on.worker(stubs.activities);
  await worker.runUntil(async () => {
    const monitor = await on.env.client.workflow.start<typeof healthMonitorWorkflow>(HEALTH_MONITOR_WORKFLOW_TYPE, {
      workflowId: uniqueName('monitor'),
      taskQueue,
      args: [options],
    });
    try {
      await fn(monitor);
    } finally {
      // Leave nothing waiting on this task queue once its worker is gone.
      const started = (await statusOf(monitor).catch(() => null))?.healsStarted ?? [];
      await monitor.terminate('test over').catch(() => undefined);
      for (const id of started)
        await on.env.client.workflow
          .getHandle(`heal:${id}`)
          .terminate('test over')
          .catch(() => undefined);
    }
  });
}

/**
 * The monitor's status. A query sent while the monitor continues as new can go unanswered on the test
 * server, so each try has a deadline and a lost one is sent again.
 */
async function statusOf(monitor: Monitor): Promise<MonitorStatus> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await t.env.client.withDeadline(Date.now() + 1_000, () => monitor.query(monitorStatusQuery));
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

/** Polls the status (real time: signals need no timer) until `ok` holds. */
async function eventually(
  monitor: Monitor,
  ok: (s: MonitorStatus) => boolean,
  timeout = 60_000,
): Promise<MonitorStatus> {
  return pollUntil(() => statusOf(monitor), ok, { timeout, interval: 25, what: 'the monitor status' });
}

/** Skips time once the monitor waits on its timer (the test server does not skip while work is in flight). */
const skip = (on: WorkflowTestEnv, monitor: Monitor, duration: string) => skipWhenIdle(on.env, monitor, duration);

describe('healthMonitorWorkflow', { timeout: 60_000 }, () => {
  it('answers the status query before any check', async () => {
    const stubs = monitorStubs();
    await withMonitor(stubs, {}, async (monitor) => {
      expect(await statusOf(monitor)).toEqual({
        paused: false,
        lastCheckAt: null,
        checks: 0,
        findings: [],
        healsStarted: [],
        pendingReports: 0,
        reportsHandled: 0,
        runs: 1,
      });
    });
  });

  it('checks at once on failureReported and starts a heal carrying DiseTool and DiseVersion', async () => {
    const stubs = monitorStubs();
    const versionId = `${uniqueName('reported')}@2.0.0`;
    await withMonitor(stubs, {}, async (monitor) => {
      await monitor.signal(failureReportedSignal, failureReport(versionId));
      const status = await eventually(monitor, (s) => s.healsStarted.length > 0);
      expect(status).toMatchObject({
        checks: 1,
        reportsHandled: 1,
        pendingReports: 0,
        healsStarted: [versionId],
        findings: [{ versionId, reason: 'reported' }],
      });
      expect(stubs.checks[0]!.reported.map((r) => r.versionId)).toEqual([versionId]);
      const heal = t.env.client.workflow.getHandle(`heal:${versionId}`);
      expect((await heal.result()).status).toBe('disabled');
      const attributes = (await heal.describe()).typedSearchAttributes;
      expect(attributes.get(DISE_TOOL)).toBe(versionId.split('@')[0]);
      expect(attributes.get(DISE_VERSION)).toBe(versionId);
      expect(attributes.get(DISE_HEAL_STATUS)).toBe('disabled');
      expect(stubs.heals).toEqual([versionId]);
    });
  });

  it('starts no heal when the check says healing is off', async () => {
    const stubs = monitorStubs({ healingEnabled: false });
    await withMonitor(stubs, {}, async (monitor) => {
      await monitor.signal(failureReportedSignal, failureReport(`${uniqueName('off')}@1.0.0`));
      const status = await eventually(monitor, (s) => s.checks === 1);
      expect(status).toMatchObject({ checks: 1, reportsHandled: 1, healsStarted: [] });
    });
  });

  it('checks at once on checkNow', async () => {
    const stubs = monitorStubs();
    await withMonitor(stubs, {}, async (monitor) => {
      await monitor.signal(checkNowSignal);
      expect(await eventually(monitor, (s) => s.checks === 1)).toMatchObject({
        checks: 1,
        lastCheckAt: new Date(0).toISOString(),
      });
      expect(stubs.checks).toEqual([{ reported: [] }]);
    });
  });

  it('queues reports while paused, and handles them when resumed', async () => {
    const stubs = monitorStubs();
    const ids = [`${uniqueName('paused')}@1.0.0`, `${uniqueName('paused')}@1.0.0`];
    await withMonitor(stubs, {}, async (monitor) => {
      await monitor.signal(pauseSignal);
      for (const id of ids) await monitor.signal(failureReportedSignal, failureReport(id));
      await monitor.signal(checkNowSignal);
      const paused = await eventually(monitor, (s) => s.pendingReports === 2);
      expect(paused).toMatchObject({ paused: true, checks: 0, pendingReports: 2 });
      // Still nothing after a while: a paused monitor does not check.
      await new Promise((r) => setTimeout(r, 200));
      expect(stubs.checks).toHaveLength(0);
      await monitor.signal(resumeSignal);
      const resumed = await eventually(monitor, (s) => s.healsStarted.length === 2);
      expect(resumed).toMatchObject({ paused: false, checks: 1, pendingReports: 0, reportsHandled: 2 });
      expect(stubs.checks[0]!.reported.map((r) => r.versionId)).toEqual(ids);
    });
  });

  it('continues as new with its state, carrying the reports that arrived during a check', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inFirstCheck!: () => void;
    const firstCheck = new Promise<void>((resolve) => (inFirstCheck = resolve));
    const stubs = monitorStubs({
      beforeCheck: async () => {
        if (stubs.checks.length === 1) {
          inFirstCheck();
          await gate;
        }
      },
    });
    const first = `${uniqueName('first')}@1.0.0`;
    const later = Array.from({ length: 5 }, (_, i) => `later_${i}_${uniqueName('q')}@1.0.0`);
    await withMonitor(stubs, { maxHistoryEvents: 10 }, async (monitor) => {
      await monitor.signal(failureReportedSignal, failureReport(first));
      await firstCheck;
      // These arrive while the first check runs: queued, then carried over by continue-as-new.
      for (const id of later) await monitor.signal(failureReportedSignal, failureReport(id));
      await monitor.signal(pauseSignal);
      await monitor.signal(resumeSignal);
      release();
      const status = await eventually(monitor, (s) => s.runs >= 2 && s.healsStarted.length === 6);
      // The second run's check makes a long history too, so a third run may follow: the state goes on.
      expect(status.runs).toBeGreaterThanOrEqual(2);
      expect(status).toMatchObject({ checks: 2, reportsHandled: 6, pendingReports: 0, paused: false });
      expect(status.healsStarted).toEqual([first, ...later]);
      expect(stubs.checks.map((c) => c.reported.map((r) => r.versionId))).toEqual([[first], later]);
      expect((await monitor.describe()).runId).not.toBe(monitor.firstExecutionRunId);
    });
  });
});

// A fresh server per timer test: the test server's time lock is per server, and skipping time must
// not depend on what earlier tests left behind.
describe('healthMonitorWorkflow timer', { timeout: 60_000 }, () => {
  let fresh: WorkflowTestEnv;
  beforeEach(async () => {
    fresh = await createWorkflowTestEnv();
  });
  afterEach(async () => {
    await fresh?.teardown();
  });

  it('checks on its timer, skipping five minutes without waiting them', async () => {
    const stubs = monitorStubs({ settings: { intervalSeconds: 300, continuous: true } });
    await withMonitor(
      stubs,
      {},
      async (monitor) => {
        await skip(fresh, monitor, '1 minute');
        expect((await monitor.query(monitorStatusQuery)).checks).toBe(0);
        await skip(fresh, monitor, '5 minutes');
        expect((await eventually(monitor, (s) => s.checks === 1)).checks).toBe(1);
      },
      fresh,
    );
  });

  it('does not check on its timer unless monitoring is continuous', async () => {
    const stubs = monitorStubs({ settings: { intervalSeconds: 300, continuous: false } });
    await withMonitor(
      stubs,
      {},
      async (monitor) => {
        await skip(fresh, monitor, '6 minutes');
        await skip(fresh, monitor, '1 second');
        expect((await monitor.query(monitorStatusQuery)).checks).toBe(0);
        expect(stubs.checks).toHaveLength(0);
      },
      fresh,
    );
  });
});
