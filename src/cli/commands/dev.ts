import type { DiseConfig } from '../../config/schema.js';
import { installTracing } from '../../infra/tracing.js';
import { installTemporalRuntime } from '../../infra/temporal-runtime.js';
import { readLiveDevState, readyLine } from '../../infra/dev-state.js';
import { startDevStack } from '../dev-stack.js';
import { stateDir } from '../../infra/paths.js';
import type { Output } from '../context.js';

/**
 * `dise dev`: start the embedded stack, print one `ready …` line, and run until Ctrl-C, then stop
 * everything it started. A second `dise dev` while one runs reuses it.
 */
export async function dev(options: { worker: boolean }, config: DiseConfig, out: Output): Promise<void> {
  const dir = stateDir();
  const live = readLiveDevState(dir);
  if (live) {
    out.info(`dise dev is already running (pid ${live.pid}); reusing it`);
    out.result(readyLine(live));
    return;
  }
  installTemporalRuntime(undefined, undefined, { metricsAddress: config.observability.metrics.worker_address });
  installTracing({
    otlpEndpoint: config.observability.tracing.otlp_endpoint,
    serviceName: config.observability.tracing.service_name,
  });
  const started = Date.now();
  const stack = await startDevStack({ dir, log: (l) => out.info(l), worker: options.worker, config });
  out.info(`started in ${((Date.now() - started) / 1000).toFixed(1)} s; Ctrl-C stops everything`);
  out.result(readyLine(stack.state));

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      out.info(`${signal}: stopping the worker, Temporal and PostgreSQL…`);
      stack.stop().then(resolve, (err: Error) => {
        out.info(`error while stopping: ${err.message}`);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    stack.worker?.done.catch((err: Error) => {
      out.info(`worker stopped: ${err.message}`);
      stop('worker failure');
    });
  });
  out.info('stopped');
}
