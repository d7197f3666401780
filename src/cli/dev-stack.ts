import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { DiseConfig } from '../config/schema.js';
import { connectTemporalClient } from '../client/connection.js';
import { ensureHealthMonitor } from '../client/monitor-client.js';
import { DEFAULT_NAMESPACE } from '../shared/constants.js';
import { startWorker, type RunningWorker } from '../worker.js';
import { LineageStore } from '../lineage/store.js';
import { taskQueueFromEnv } from '../infra/temporal-connection.js';
import { defaultConfig } from '../config/schema.js';
import { generateToken, startDashboard, type RunningDashboard } from '../ui/server.js';
import { startHandOff } from './handoff-server.js';
import { createPrismaClient, redactUrl, type PrismaClient } from '../infra/database.js';
import { readDevState, removeDevState, writeDevState, type DevState } from '../infra/dev-state.js';
import { migrate } from '../infra/migrator.js';
import { isProcessAlive } from '../infra/net.js';
import { ensureDir } from '../infra/paths.js';
import { workerMetricsUrl } from '../infra/temporal-runtime.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../infra/postgres.js';
import { temporalSettingsFromEnv, type TemporalSettings } from '../infra/temporal-connection.js';
import {
  adoptTemporal,
  startTemporalDevServer,
  temporalAnswers,
  type RunningTemporal,
} from '../infra/temporal-server.js';

export interface DevStackOptions {
  /** State folder (`.dise/`). */
  dir: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Run a worker in this process (default true). */
  worker?: boolean;
  config?: DiseConfig;
}

export interface DevStack {
  state: DevState;
  temporal: TemporalSettings;
  prisma: PrismaClient;
  worker?: RunningWorker;
  stop(): Promise<void>;
}

/**
 * The embedded stack behind `dise dev`: PostgreSQL (DATABASE_URL or embedded), migrations, a Temporal
 * dev server with its UI (or TEMPORAL_ADDRESS), and a worker. Services left running by a killed
 * earlier run are adopted, not fought over.
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const dir = ensureDir(options.dir);
  const stopping: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stopping.splice(0).reverse())
      await stop().catch((err: Error) => log(`while stopping: ${err.message}`));
  };

  try {
    let databaseUrl = env.DATABASE_URL || options.config?.database.url || undefined;
    let postgres: RunningPostgres | undefined;
    if (!databaseUrl) {
      const pgDir = ensureDir(path.join(dir, 'postgres'));
      const pgLog = path.join(pgDir, 'server.log');
      log(`starting PostgreSQL (embedded, data in ${pgDir}, log in ${pgLog})`);
      postgres = await startEmbeddedPostgres({ dir: pgDir, log: (l) => appendFileSync(pgLog, l + '\n') });
      stopping.push(() => postgres!.stop());
      databaseUrl = postgres.url;
    }
    const report = await migrate(databaseUrl, { log });
    if (report.applied.length) log(`applied ${report.applied.length} migration(s)`);

    let temporal: TemporalSettings | undefined = temporalSettingsFromEnv(env, options.config?.temporal);
    let server: RunningTemporal | undefined;
    if (!temporal) {
      const stale = readDevState(dir);
      if (stale?.temporalPid && isProcessAlive(stale.temporalPid) && (await temporalAnswers(stale.temporal))) {
        log(`adopting the Temporal dev server left running at ${stale.temporal} (pid ${stale.temporalPid})`);
        server = adoptTemporal(stale.temporal, stale.ui, stale.temporalPid);
      } else {
        const temporalDir = path.join(dir, 'temporal');
        server = await startTemporalDevServer({
          dir: temporalDir,
          env,
          log,
          preferUsualPorts: env.DISE_FREE_PORTS !== '1',
        }).catch((err: Error) => {
          // The usual ports were taken between the check and the start: any free ones will do.
          log(`retrying on free ports (${err.message.split('\n')[0]})`);
          return startTemporalDevServer({ dir: temporalDir, env, log });
        });
      }
      stopping.push(() => server!.stop());
      temporal = { address: server.address, namespace: server.namespace, tls: false };
    }

    const prisma = createPrismaClient(databaseUrl);
    stopping.push(() => prisma.$disconnect());
    let worker: RunningWorker | undefined;
    if (options.worker ?? true) {
      worker = await startWorker({ temporal, prisma, config: options.config });
      stopping.push(() => worker!.shutdown());
      // The health monitor is a workflow: it runs wherever a worker polls, and survives restarts.
      const connection = await connectTemporalClient(temporal, { connectTimeoutMs: 10_000 });
      try {
        await ensureHealthMonitor(connection.client);
        log('health monitor running (workflow dise-health-monitor)');
      } finally {
        await connection.close();
      }
    }

    // The dashboard: config.yaml's port, or any free one when that is taken (or DISE_FREE_PORTS=1).
    const config = options.config ?? defaultConfig();
    const token = config.ui.token ?? generateToken();
    // The Web UI of our own dev server, else the one TEMPORAL_UI_URL names for an outside Temporal.
    const temporalUiUrl = server?.uiUrl ?? (env.TEMPORAL_UI_URL || null);
    const store = new LineageStore(prisma);
    const dashboardOptions = {
      store,
      databaseUrl,
      temporal,
      temporalUiUrl,
      taskQueue: taskQueueFromEnv(env),
      config,
      token,
      host: config.ui.host,
    };
    const dashboard: RunningDashboard = await startDashboard({
      ...dashboardOptions,
      port: env.DISE_FREE_PORTS === '1' ? 0 : config.ui.port,
    }).catch(() => startDashboard({ ...dashboardOptions, port: 0 }));
    stopping.push(() => dashboard.close());
    log(`dashboard ${dashboard.url}${config.ui.token ? '' : ` (operator token for actions, shown once: ${token})`}`);

    const state: DevState = {
      pid: process.pid,
      temporal: temporal.address,
      ui: temporalUiUrl,
      dashboard: dashboard.url,
      // Served by this process's Temporal runtime, when installed with an address (the worker's metrics).
      metrics: workerMetricsUrl(),
      namespace: temporal.namespace ?? DEFAULT_NAMESPACE,
      database: databaseUrl,
      temporalPid: server?.pid ?? null,
      postgresPort: postgres?.port ?? null,
      startedAt: new Date().toISOString(),
    };
    writeDevState(state, dir);
    // Python calls of the quick commands run in this process's interpreters, loaded once (handoff-server.ts).
    const handOff = await startHandOff({ databaseUrl, store, config, temporal, dir, log });
    stopping.push(() => handOff.close());
    log(`database ${redactUrl(databaseUrl)}`);
    return {
      state,
      temporal,
      prisma,
      worker,
      async stop() {
        await stopAll();
        removeDevState(dir);
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
