import type { DiseConfig } from '../../config/schema.js';
import { installTracing } from '../../infra/tracing.js';
import { installTemporalRuntime } from '../../infra/temporal-runtime.js';
import { readLiveDevState, readyLine } from '../../infra/dev-state.js';
import { startDevStack, type DevStack } from '../dev-stack.js';
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
  // The worker's Temporal runtime (and its metrics). Without a worker none is installed: an installed
  // runtime that no worker ever shuts down keeps the process alive after Ctrl-C.
  if (options.worker)
    installTemporalRuntime(undefined, undefined, { metricsAddress: config.observability.metrics.worker_address });
  installTracing({
    otlpEndpoint: config.observability.tracing.otlp_endpoint,
    serviceName: config.observability.tracing.service_name,
  });
  const started = Date.now();
  const stack = await startDevStack({ dir, log: (l) => out.info(l), worker: options.worker, config });
  // Listening for Ctrl-C before saying ready: a signal sent as soon as the ready line is read must
  // find the handler (without one, the process dies of it and leaves the services running).
  const stopped = untilStopped(stack, out);
  out.info(`started in ${((Date.now() - started) / 1000).toFixed(1)} s; Ctrl-C stops everything`);
  out.result(readyLine(stack.state));
  await stopped;
  out.info('stopped');
}

/** Resolves once a signal (or the worker's failure) has stopped everything the stack started. */
function untilStopped(stack: DevStack, out: Output): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      out.info(`${signal}: stopping ${stack.worker ? 'the worker, ' : ''}Temporal and PostgreSQL…`);
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
}
