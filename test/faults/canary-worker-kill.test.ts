import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startCanary } from '../../src/client/start-canary.js';
import { defaultConfig } from '../../src/config/schema.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { canaryWorkflowId } from '../../src/shared/constants.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { version } from '../support/fixtures.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';

// A worker running a canary is killed with SIGKILL right after the judge's first look; runtimes go on
// recording comparisons; a new worker takes the canary over. Comparisons live in PostgreSQL, written by
// the runtimes, so the judge after the restart counts every one of them: none is lost.

let db: TestDatabase;
let store: LineageStore;
let temporal: TestTemporal;
let bundlePath: string;
const children: ChildProcess[] = [];

const CONFIG = { deployment: { mode: 'shadow', canary: { min_calls: 300, check_interval_seconds: 1, max_duration_seconds: 3600, mirror_fraction: 1 } } };

beforeAll(async () => {
  db = await createTestDatabase();
  store = new LineageStore(db.prisma);
  temporal = await connectTestTemporal();
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never });
  bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'dise-bundle-')), 'workflows.js');
  writeFileSync(bundlePath, bundle.code);
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await temporal?.close();
  await db?.drop();
});

function workerChild(taskQueue: string, killAfter?: string): Promise<{ child: ChildProcess; hung: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'test/support/worker-child.ts')], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, DATABASE_URL: db.url, TEMPORAL_ADDRESS: inject('temporalAddress'), TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE: bundlePath, KILL_AFTER: killAfter ?? '', CONFIG_JSON: JSON.stringify(CONFIG) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  let announce: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (announce = resolve));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve({ child, hung });
      if (killAfter && out.includes(`AFTER ${killAfter}`)) announce();
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`worker child exited early (${code})`));
    });
  });
}

describe('a worker killed with SIGKILL during a canary', () => {
  it('loses no recorded comparison: the new worker judges every one and promotes', async () => {
    await store.registerVersion(version('killed_canary', '1.0.0', [], { code: 'function run(x) { return x + 1; }' }));
    await store.setRoute('killed_canary@1.0.0', 'test');
    await store.registerVersion(version('killed_canary', '1.1.0', ['killed_canary@1.0.0'], { code: 'function run(x) { return 1 + x; }' }));
    const candidate = 'killed_canary@1.1.0';
    await store.canaries.begin({ candidateId: candidate, toolName: 'killed_canary', stableId: 'killed_canary@1.0.0', targetHealth: 'healthy', origin: 'registration', healId: null, workflowId: canaryWorkflowId(candidate), mirrorFraction: 1 });

    const config = defaultConfig();
    config.runtime.flush_interval_ms = 50;
    const runtime = await ToolRuntime.create({ databaseUrl: db.url, config });
    const callMany = async (from: number, n: number) => {
      await runtime.preload(['killed_canary']);
      for (let i = from; i < from + n; i++) expect(await runtime.call('killed_canary', i)).toBe(i + 1);
      await runtime.flush();
    };
    try {
      await callMany(0, 150);
      expect(runtime.mirror.mirrored).toBe(150);

      const taskQueue = uniqueTaskQueue('canary-kill');
      const first = await workerChild(taskQueue, 'judgeCanary');
      const handle = await startCanary(temporal.client, candidate, { taskQueue });
      await first.hung;
      // The first look was stored (thin data), and its worker dies before reporting it.
      expect((await store.canaries.get(candidate))!.verdict).toMatchObject({ decision: 'not_enough_data', mirrored: 150 });
      first.child.kill('SIGKILL');

      // Runtimes go on while no worker runs.
      await callMany(150, 150);
      expect(runtime.mirror.mirrored).toBe(300);
      expect(runtime.mirror.written).toBe(300);

      await workerChild(taskQueue);
      const end = await handle.result();
      expect(end.status, end.message).toBe('promoted');
      const canary = (await store.canaries.get(candidate))!;
      expect(canary.verdict).toMatchObject({ decision: 'pass', mirrored: 300, agreed: 300, disagreed: 0 });
      const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM canary_comparisons WHERE candidate_id = $1', [candidate]);
      expect(row?.n).toBe(300);
      expect(await store.routing.routeOf('killed_canary')).toBe(candidate);
      // Exactly one end: one promotion, the route set once for it.
      const history = await handle.fetchHistory();
      const finishes = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishCanary');
      expect(finishes).toHaveLength(1);
    } finally {
      await runtime.close();
    }
  }, 180_000);
});
