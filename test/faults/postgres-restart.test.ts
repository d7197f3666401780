import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { allViolations } from '../../src/doctor/invariants.js';
import { startHeal } from '../../src/client/start-heal.js';
import { createPrismaClient, type PrismaClient } from '../../src/infra/database.js';
import { migrate } from '../../src/infra/migrator.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/infra/postgres.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { version } from '../support/fixtures.js';
import { activityHold } from '../support/hold.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { healInput } from '../support/failures.js';
import { workflowBundlePath } from '../support/bundle-path.js';

// PostgreSQL stopped for 10 s in the middle of a heal, then started again on the same port: the
// step that hit the dead database is retried by Temporal until it is back, the heal ends with
// exactly one new version, and every execution recorded before the outage is still there.

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-pg-fault-'));
chmodSync(dir, 0o755);
let postgres: RunningPostgres;
let prisma: PrismaClient;
let temporal: TestTemporal;
let worker: RunningWorker;
const taskQueue = uniqueTaskQueue('pg-fault');

const hold = activityHold();

beforeAll(async () => {
  postgres = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres') });
  await migrate(postgres.url);
  prisma = createPrismaClient(postgres.url);
  temporal = await connectTestTemporal();
  worker = await startWorker({
    temporal: { address: inject('temporalAddress'), namespace: 'default', tls: false },
    prisma,
    config: defaultConfig(),
    llm: null,
    taskQueue,
    workflowBundlePath: workflowBundlePath(),
    activityInterceptors: [hold.interceptor],
  });
}, 120_000);
afterAll(async () => {
  await worker?.shutdown();
  await temporal?.close();
  await prisma?.$disconnect();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('PostgreSQL restarted during a heal', () => {
  it('finishes the heal with exactly one new version and loses no execution', async () => {
    const store = new LineageStore(prisma);
    await registerEmailStory(store, 'pg_fault');
    const runtime = await ToolRuntime.create({ databaseUrl: postgres.url });
    for (let i = 0; i < 250; i++) await runtime.call('pg_fault', `user${i}@example.com`);
    for (const w of WRONG_RESULTS) await runtime.report('pg_fault@2.0.0', w);
    await runtime.close();
    const before = await prisma.execution.count({ where: { toolId: 'pg_fault@2.0.0' } });
    expect(before).toBe(250);

    const reached = hold.arm('findHealthyAncestor');
    const { handle } = await startHeal(temporal.client, healInput('pg_fault@2.0.0'), { taskQueue });
    await reached;
    const port = postgres.port;
    await postgres.stop();
    hold.release(); // the step now meets a dead database, and fails until it is back
    await hold.ran(); // its first attempt has failed
    await new Promise((r) => setTimeout(r, 2_000)); // and a retry or two meet the dead database too
    postgres = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port });

    const result = await handle.result();
    expect(result.status).toBe('healed');
    expect(result.newVersionId).toBe('pg_fault@2.0.1');
    expect(await prisma.toolLineage.count({ where: { toolName: 'pg_fault', healthStatus: 'regenerated' } })).toBe(1);
    expect(await prisma.execution.count({ where: { toolId: 'pg_fault@2.0.0' } })).toBe(before);
    expect(await allViolations(new LineageStore(prisma), temporal.client)).toEqual([]);
    const history = await handle.fetchHistory();
    const retried = (history.events ?? []).some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried).toBe(true);
  }, 120_000);

  it('keeps a calling runtime answering through the outage, and stores every call once it is back', async () => {
    const store = new LineageStore(prisma);
    await store.registerVersion(version('outage', '1.0.0', [], { code: 'function run(x) { return x + 1; }' }));
    await store.setRoute('outage@1.0.0', 'test');
    const config = defaultConfig();
    config.runtime.flush_interval_ms = 50;
    const logs: string[] = [];
    const runtime = await ToolRuntime.create({ databaseUrl: postgres.url, config, log: (l) => logs.push(l) });
    try {
      for (let i = 0; i < 100; i++) expect(await runtime.call('outage', i)).toBe(i + 1);
      await runtime.flush();
      const port = postgres.port;
      await postgres.stop();
      // The database is gone: calls are answered from the routing cache and their records wait.
      for (let i = 0; i < 500; i++) expect(await runtime.call('outage', i)).toBe(i + 1);
      // The recorder's timer tries to write them, fails (a shutting-down server can take a while to
      // refuse), and keeps them.
      await expect.poll(() => logs.some((l) => l.includes('could not record')), { timeout: 60_000 }).toBe(true);
      expect(runtime.pendingExecutions).toBe(500);
      postgres = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres'), port });
      // The recorder's timer writes them without being asked.
      await expect.poll(() => runtime.pendingExecutions, { timeout: 60_000 }).toBe(0);
    } finally {
      await runtime.close();
    }
    expect(await prisma.execution.count({ where: { toolId: 'outage@1.0.0' } })).toBe(600);
    expect(await allViolations(new LineageStore(prisma), temporal.client)).toEqual([]);
  }, 120_000);
});
