import type { DiseConfig } from '../../config/schema.js';
import { readLiveDevState } from '../../infra/dev-state.js';
import { taskQueueFromEnv } from '../../infra/temporal-connection.js';
import { generateToken, startDashboard } from '../../ui/server.js';
import { openDatabase, resolveTemporal, type Output } from '../context.js';
import { UsageError } from '../errors.js';

/** `dise ui`: serve the dashboard until Ctrl-C. */
export async function ui(options: { host?: string; port?: string }, config: DiseConfig, out: Output): Promise<void> {
  const port = options.port === undefined ? config.ui.port : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port: expected a port number (0..65535), got "${options.port}"`);
  const host = options.host ?? config.ui.host;
  const db = await openDatabase(out, config);
  let temporal = null;
  try {
    temporal = resolveTemporal(process.env, config);
  } catch {
    out.info('no Temporal server known: heal actions and the monitor status are unavailable');
  }
  const token = config.ui.token ?? generateToken();
  const dashboard = await startDashboard({
    store: db.store,
    databaseUrl: db.url,
    temporal,
    temporalUiUrl: process.env.TEMPORAL_UI_URL || (readLiveDevState()?.ui ?? null),
    taskQueue: taskQueueFromEnv(),
    config,
    token,
    host,
    port,
  });
  if (!config.ui.token) out.info(`operator token (for actions; shown once): ${token}`);
  out.result(`dashboard=${dashboard.url}`);
  await new Promise<void>((resolve) => {
    const stop = () =>
      void dashboard
        .close()
        .then(() => db.close())
        .finally(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
