/**
 * One dise worker in its own process for bench:storm, so each worker's memory, event loop and CPU are
 * its own. Prints READY once polling and measures from STORM on its stdin; on SIGTERM it shuts down
 * and prints one STATS line: peak RSS, the event loop's delay (max, p99, and how the late gaps split
 * between running and waiting for a core; LOOP_LAG_TRACE=1 prints each gap over 50 ms) and the time
 * spent in each activity type (count, total ms, SQL statements sent while it ran).
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { createWriteStream } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { createPrismaClient } from '../src/infra/database.js';
import { installTemporalRuntime } from '../src/infra/temporal-runtime.js';
import { startWorker } from '../src/worker.js';
import { startLoopLag } from './storm/loop-lag.js';

const {
  DATABASE_URL,
  TEMPORAL_ADDRESS,
  TASK_QUEUE,
  WORKFLOW_BUNDLE,
  MAX_ACTIVITIES,
  MAX_WORKFLOW_TASKS,
  STORM_SQL_LOG,
} = process.env;
installTemporalRuntime('ERROR');
const prisma = createPrismaClient(DATABASE_URL!);

const activities: Record<string, { count: number; ms: number; statements: number }> = {};

// SQL statements this process sends, each counted against the activity type running when it was sent
// (a pooled client handed over by another activity's release runs the callback in the asker's context).
const runningActivity = new AsyncLocalStorage<string>();
const statementsOutside = { count: 0 };
const sendQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const type = runningActivity.getStore();
  if (type) (activities[type] ??= { count: 0, ms: 0, statements: 0 }).statements++;
  else statementsOutside.count++;
  if (sqlLog) logStatement(type ?? '-', args[0]);
  return (sendQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof sendQuery;
// STORM_SQL_LOG=FILE writes each statement's text, one line per statement, after the step that sent it.
const sqlLog = STORM_SQL_LOG ? createWriteStream(STORM_SQL_LOG) : null;
function logStatement(type: string, query: unknown): void {
  const text = typeof query === 'string' ? query : ((query as { text?: string } | null)?.text ?? String(query));
  sqlLog!.write(`${type}\t${text.replace(/\s+/g, ' ')}\n`);
}
const connect = pg.Pool.prototype.connect as (this: pg.Pool, callback?: unknown) => unknown;
pg.Pool.prototype.connect = function (this: pg.Pool, callback?: (...a: unknown[]) => void) {
  return connect.call(this, callback && AsyncResource.bind(callback));
} as typeof pg.Pool.prototype.connect;
const timed: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const started = performance.now();
      try {
        return await runningActivity.run(ctx.info.activityType, () => next(input));
      } finally {
        const a = (activities[ctx.info.activityType] ??= { count: 0, ms: 0, statements: 0 });
        a.count++;
        a.ms += performance.now() - started;
      }
    },
  },
});

const worker = await startWorker({
  temporal: { address: TEMPORAL_ADDRESS!, namespace: 'default', tls: false },
  prisma,
  llm: null,
  taskQueue: TASK_QUEUE!,
  workflowBundlePath: WORKFLOW_BUNDLE,
  activityInterceptors: [timed],
  ...(MAX_ACTIVITIES ? { maxConcurrentActivityTaskExecutions: Number(MAX_ACTIVITIES) } : {}),
  ...(MAX_WORKFLOW_TASKS ? { maxConcurrentWorkflowTaskExecutions: Number(MAX_WORKFLOW_TASKS) } : {}),
});

// Measured from the storm's first report (STORM on stdin; READY until then): the worker's start
// (bundling, loading, its first polls) is not the storm.
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let lag = startLoopLag();
process.stdin.setEncoding('utf8').on('data', (line: string) => {
  if (!line.includes('STORM')) return;
  delay.reset();
  lag.stop();
  lag = startLoopLag();
});
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);
process.stdout.write('READY\n');
process.on('SIGTERM', () => {
  process.stdin.destroy();
  void worker.shutdown();
});
await worker.done;
clearInterval(sampler);
delay.disable();
const loopLag = lag.stop();
process.stdout.write(
  `STATS ${JSON.stringify({
    peakRss,
    loopMaxMs: delay.max / 1e6,
    loopP99Ms: delay.percentile(99) / 1e6,
    loopLag,
    activities,
    statementsOutside: statementsOutside.count,
  })}\n`,
);
await prisma.$disconnect();
