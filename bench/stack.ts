import { Client, Connection } from '@temporalio/client';
import { defaultConfig } from '../src/config/schema.js';
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { startWorker, type RunningWorker } from '../src/worker.js';
import { benchDatabase, benchTemporal, type BenchDatabase } from './support.js';

/** The embedded stack a bench heals on: its own PostgreSQL database, a Temporal dev server, one worker, one runtime. */
export interface BenchStack {
  db: BenchDatabase;
  temporalAddress: string;
  prisma: ReturnType<typeof createPrismaClient>;
  store: LineageStore;
  worker: RunningWorker;
  connection: Connection;
  client: Client;
  runtime: ToolRuntime;
  taskQueue: string;
  /** Stops everything it started, the runtime first (it may already be closed). */
  close(): Promise<void>;
}

/** Starts a bench's stack; `name` names its database, its Temporal server's directory and its task queue. */
export async function startBenchStack(name: string, options: { poolSize?: number } = {}): Promise<BenchStack> {
  const db = await benchDatabase(`dise_bench_${name}`);
  const temporal = await benchTemporal(`bench-${name}-temporal`);
  const prisma = createPrismaClient(db.url, options);
  const taskQueue = `bench-${name}-${Date.now()}`;
  const worker = await startWorker({
    temporal: { address: temporal.address, namespace: 'default', tls: false },
    prisma,
    config: defaultConfig(),
    llm: null,
    taskQueue,
  });
  const connection = await Connection.connect({ address: temporal.address });
  const runtime = await ToolRuntime.create({ databaseUrl: db.url });
  return {
    db,
    temporalAddress: temporal.address,
    prisma,
    store: new LineageStore(prisma),
    worker,
    connection,
    client: new Client({ connection }),
    runtime,
    taskQueue,
    async close() {
      await runtime.close().catch(() => undefined);
      await worker.shutdown();
      await connection.close();
      await prisma.$disconnect();
      await temporal.stop();
      await db.close();
    },
  };
}
