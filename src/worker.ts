import path from 'node:path';
import type { Context } from '@temporalio/activity';
import type { Duration, MetricMeter } from '@temporalio/common';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import {
  NativeConnection,
  Runtime,
  Worker,
  type ActivityInterceptorsFactory,
  type WorkerOptions,
} from '@temporalio/worker';
import { activitySignal } from './activities/cancellation.js';
import { autoHeartbeat, HEARTBEAT_THROTTLE_MS } from './activities/heartbeat.js';
import { createActivities } from './activities/index.js';
import { HealMetrics, healMetricsInterceptor } from './activities/metrics.js';
import { defaultConfig, type DiseConfig, type WorkerTuningConfig } from './config/schema.js';
import type { PrismaClient } from './infra/database.js';
import { PACKAGE_ROOT } from './infra/paths.js';
import { currentTracing, type Tracing } from './infra/tracing-state.js';
import { connectionOptions, taskQueueFromEnv, type TemporalSettings } from './infra/temporal-connection.js';
import { LineageStore } from './lineage/store.js';
import { LlmClient, llmSettingsFrom, type LlmSettings } from './llm/client.js';
import { warmPython } from './sandbox/python.js';
import { Sandbox } from './sandbox/sandbox.js';

export const WORKFLOWS_PATH = path.join(PACKAGE_ROOT, 'src', 'workflows', 'index.ts');
/** The workflow interceptors of a traced worker (OpenTelemetry's, and the heal joining its report's trace). */
export const TRACING_INTERCEPTORS_PATH = path.join(PACKAGE_ROOT, 'src', 'workflows', 'tracing.ts');

export interface DiseWorkerOptions {
  temporal: TemporalSettings;
  prisma: PrismaClient;
  config?: DiseConfig;
  /** The LLM to use; by default from OPENAI_API_KEY / OPENAI_BASE_URL and config.llm; null forces offline. */
  llm?: LlmSettings | null;
  taskQueue?: string;
  /** A prebuilt workflow bundle (bundleWorkflowCode), instead of bundling src/workflows at start. */
  workflowBundlePath?: string;
  /** Extra activity interceptors (after the built-in heartbeat). */
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** The sandbox heal steps run tools in (tests: a slow one); by default one with the worker's config. */
  sandbox?: Sandbox;
  /** Concurrency limits; defaults suit a 2-core machine. */
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  /**
   * How long a workflow task waits on this worker's sticky queue before Temporal hands it to any
   * worker of the task queue (Temporal's default: 10 s). After this worker dies, each of its
   * workflows pauses that long; fault tests that kill workers on purpose shorten it.
   */
  stickyQueueScheduleToStartTimeout?: Duration;
  /** Where the heals' metrics go (tests: an in-memory meter); by default the Temporal runtime's meter. */
  metricMeter?: MetricMeter;
  /**
   * Spans of workflows, activities and LLM requests (installTracing); by default this process's, if
   * installed. A traced worker bundles its workflows with the tracing interceptors (a prebuilt bundle is
   * not used).
   */
  tracing?: Tracing | null;
}

export interface RunningWorker {
  worker: Worker;
  connection: NativeConnection;
  /** Resolves when the worker has stopped (after shutdown()). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Creates and starts a worker on the dise-heal task queue. */
export async function startWorker(options: DiseWorkerOptions): Promise<RunningWorker> {
  const connection = await NativeConnection.connect(connectionOptions(options.temporal));
  const store = new LineageStore(options.prisma);
  const config = options.config ?? defaultConfig();
  // A cancelled step's remaining tool runs end at once (its activity's cancellation signal).
  const sandbox =
    options.sandbox ??
    new Sandbox(config.sandbox, {
      cancellation: activitySignal,
      asyncConcurrency: config.sandbox.judge_threads ?? undefined,
    });
  const llmSettings = options.llm === undefined ? llmSettingsFrom(config) : options.llm;
  const llm = llmSettings ? new LlmClient(llmSettings) : null;
  const tracing = options.tracing === undefined ? currentTracing() : options.tracing;
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: options.temporal.namespace,
      taskQueue: options.taskQueue ?? taskQueueFromEnv(),
      ...(options.workflowBundlePath && !tracing
        ? { workflowBundle: { codePath: options.workflowBundlePath } }
        : { workflowsPath: WORKFLOWS_PATH }),
      // Workflow spans leave the sandbox through this sink, to the process's exporter.
      ...(tracing ? { sinks: { exporter: makeWorkflowExporter(tracing.exporter, tracing.resource) } } : {}),
      activities: createActivities({ store, config, sandbox, llm }),
      ...slotTuning(config.worker, options),
      interceptors: {
        ...(tracing ? { workflowModules: [TRACING_INTERCEPTORS_PATH] } : {}),
        activity: [
          // First, so the step's span covers everything it does (an LLM request is its child).
          ...(tracing ? [(ctx: Context) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })] : []),
          autoHeartbeat,
          healMetricsInterceptor(new HealMetrics(options.metricMeter ?? Runtime.instance().metricMeter), store),
          ...(options.activityInterceptors ?? []),
        ],
      },
      // Heartbeats carry cancellation back: sent at most every 8 s by default (80% of a 10 s
      // heartbeatTimeout), a cancelled heal would run on for seconds after the operator cancelled it.
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
      defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
      ...(options.stickyQueueScheduleToStartTimeout !== undefined
        ? { stickyQueueScheduleToStartTimeout: options.stickyQueueScheduleToStartTimeout }
        : {}),
    });
  } catch (err) {
    sandbox.close();
    await connection.close();
    throw err;
  }
  // The Python interpreter loads once per worker, in the background, when there are Python tools
  // (otherwise the first Python step loads it, waiting a few seconds once).
  void store.graph
    .usesLanguage('python')
    .then((yes) => (yes ? warmPython() : undefined))
    .catch(() => undefined);
  const done = worker.run().finally(async () => {
    sandbox.close();
    await connection.close();
  });
  return {
    worker,
    connection,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/**
 * How many tasks the worker takes at once (config.worker): fixed maxima, or Temporal's resource-based
 * tuner with the same maxima, handing out slots only while memory and CPU stay under their targets.
 * A caller's explicit maxima (tests) win over the configured ones.
 */
export function slotTuning(
  tuning: WorkerTuningConfig,
  explicit: Pick<DiseWorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'> = {},
): Pick<WorkerOptions, 'tuner' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'> {
  const activities = explicit.maxConcurrentActivityTaskExecutions ?? tuning.max_activities;
  const workflowTasks = explicit.maxConcurrentWorkflowTaskExecutions ?? tuning.max_workflow_tasks;
  if (tuning.tuner === 'fixed') {
    return { maxConcurrentActivityTaskExecutions: activities, maxConcurrentWorkflowTaskExecutions: workflowTasks };
  }
  return {
    tuner: {
      tunerOptions: { targetMemoryUsage: tuning.target_memory, targetCpuUsage: tuning.target_cpu },
      activityTaskSlotOptions: { minimumSlots: 1, maximumSlots: activities },
      localActivityTaskSlotOptions: { minimumSlots: 1, maximumSlots: activities },
      workflowTaskSlotOptions: { minimumSlots: 2, maximumSlots: workflowTasks },
    },
  };
}
