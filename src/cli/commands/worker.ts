import { ensureHealthMonitor } from '../../client/monitor-client.js';
import { registerSearchAttributes } from '../../infra/search-attributes-admin.js';
import { connectTemporal } from '../temporal-client.js';
import { llmSettingsFrom } from '../../llm/client.js';
import type { DiseConfig } from '../../config/schema.js';
import { installTracing } from '../../infra/tracing.js';
import { installTemporalRuntime, workerMetricsUrl } from '../../infra/temporal-runtime.js';
import { createPrismaClient } from '../../infra/database.js';
import { startWorker } from '../../worker.js';
import { assertMigrated, resolveTemporal, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { readLiveDevState } from '../../infra/dev-state.js';

/** `dise worker`: a worker against TEMPORAL_ADDRESS and DATABASE_URL (or the running dev stack). */
export async function workerCommand(
  options: { taskQueue?: string; monitor?: boolean },
  config: DiseConfig,
  out: Output,
): Promise<void> {
  installTemporalRuntime(undefined, undefined, { metricsAddress: config.observability.metrics.worker_address });
  installTracing({
    otlpEndpoint: config.observability.tracing.otlp_endpoint,
    serviceName: config.observability.tracing.service_name,
  });
  const temporal = resolveTemporal(process.env, config);
  const url = process.env.DATABASE_URL || config.database.url || readLiveDevState()?.database;
  if (!url) throw new UsageError('no database: set DATABASE_URL, or start the embedded stack with `dise dev`');
  const prisma = createPrismaClient(url);
  await assertMigrated(prisma);
  const worker = await startWorker({ temporal, prisma, config, taskQueue: options.taskQueue });
  if (options.monitor) {
    const temporalClient = await connectTemporal(config);
    try {
      await registerSearchAttributes(temporalClient.connection, temporal.namespace).catch((err: Error) =>
        out.info(
          `note: could not register search attributes (${err.message}); create DiseTool, DiseVersion, DiseHealStep, DiseHealStatus (Keyword) yourself`,
        ),
      );
      await ensureHealthMonitor(temporalClient.client, { taskQueue: options.taskQueue });
      out.info('health monitor running (workflow dise-health-monitor)');
    } finally {
      await temporalClient.close();
    }
  }
  const llm = llmSettingsFrom(config);
  out.info(
    llm
      ? `LLM: ${llm.model}${llm.baseURL ? ` at ${llm.baseURL}` : ''}`
      : 'LLM: none, offline strategy (set OPENAI_API_KEY or OPENAI_BASE_URL to use one)',
  );
  const metrics = workerMetricsUrl();
  if (metrics) out.info(`metrics ${metrics}`);
  out.info(
    `worker polling task queue ${worker.worker.options.taskQueue} on ${temporal.address} (namespace ${temporal.namespace}); Ctrl-C stops it`,
  );
  const stop = () => void worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.done;
  } finally {
    await prisma.$disconnect();
  }
  out.info('worker stopped');
}
