/**
 * A dise worker in its own process, for fault tests. With KILL_AFTER=<activity>, the first attempt of
 * that activity runs to completion (its writes committed) and then the process announces
 * `AFTER <activity>` on stdout and hangs, waiting to be killed with SIGKILL. CONFIG_JSON: the worker's
 * config.yaml as JSON (defaults otherwise; its observability.metrics.worker_address serves the
 * worker's metrics). Tests run it from the run's bundle of the child scripts (./child-bundle.ts), or
 * through tsx.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { configSchema } from '../../src/config/schema.js';
import { createPrismaClient } from '../../src/infra/database.js';
import { installTemporalRuntime } from '../../src/infra/temporal-runtime.js';
import { startWorker } from '../../src/worker.js';

const { DATABASE_URL, TEMPORAL_ADDRESS, TASK_QUEUE, KILL_AFTER, WORKFLOW_BUNDLE, CONFIG_JSON } = process.env;
const config = CONFIG_JSON ? configSchema.parse(JSON.parse(CONFIG_JSON)) : undefined;
// observability.metrics.worker_address serves this worker's Prometheus metrics, as `dise worker` does.
installTemporalRuntime('ERROR', 'ERROR', { metricsAddress: config?.observability.metrics.worker_address });
const prisma = createPrismaClient(DATABASE_URL!);

const hangAfter: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const result = await next(input);
      if (KILL_AFTER && ctx.info.activityType === KILL_AFTER && ctx.info.attempt === 1) {
        process.stdout.write(`AFTER ${KILL_AFTER}\n`);
        await new Promise(() => undefined);
      }
      return result;
    },
  },
});

const worker = await startWorker({
  temporal: { address: TEMPORAL_ADDRESS!, namespace: 'default', tls: false },
  prisma,
  ...(config ? { config } : {}),
  llm: null,
  taskQueue: TASK_QUEUE!,
  workflowBundlePath: WORKFLOW_BUNDLE,
  activityInterceptors: [hangAfter],
  // This worker is killed on purpose: its workflows' next tasks wait on its sticky queue this long
  // (not Temporal's default 10 s) before going to the worker that takes over.
  stickyQueueScheduleToStartTimeout: '1 second',
});
process.stdout.write('READY\n');
process.on('SIGTERM', () => void worker.shutdown());
await worker.done;
await prisma.$disconnect();
