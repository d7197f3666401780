import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { askMonitorStatus } from '../../src/client/monitor-client.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { captureOutput } from '../support/output.js';
import {
  connectTestTemporal,
  findWorkflowIds,
  startTestWorker,
  uniqueTaskQueue,
  type TestTemporal,
} from '../support/temporal.js';

// The operator's commands against a real worker on the default task queue.

const h = useTestStore();
let temporal: TestTemporal;
let worker: RunningWorker;

beforeAll(async () => {
  temporal = await connectTestTemporal();
  // Its own task queue (DISE_TASK_QUEUE), so no other test file's worker takes its tasks.
  process.env.DISE_TASK_QUEUE = uniqueTaskQueue('cli');
  worker = await startTestWorker(h.db, { taskQueue: process.env.DISE_TASK_QUEUE });
  process.env.DATABASE_URL = h.db.url;
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
  delete process.env.TEMPORAL_ADDRESS;
  delete process.env.DISE_TASK_QUEUE;
  await worker.shutdown();
  await temporal.close();
});

async function brokenTool(name: string) {
  await registerEmailStory(h.store, name);
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of WRONG_RESULTS) await runtime.report(`${name}@2.0.0`, w);
  await runtime.close();
}

describe('dise heal and friends', () => {
  it('heal --wait prints each step as it happens and the result, and the heal is findable by search attributes', async () => {
    await brokenTool('cli_heal');
    const out = captureOutput();
    const code = await runCli(['heal', 'cli_heal', '--wait', '--reason', 'accepts user@@domain.com'], out);
    expect(code, out.stderr.join('\n')).toBe(0);
    const steps = out.stderr.filter((l) => l.startsWith('[')).map((l) => /^\[(\w+)\]/.exec(l)![1]);
    expect(steps).toEqual([
      'recordFailure',
      'analyzeFailure',
      'pruneBranch',
      'createAvoidanceRule',
      'propagateRule',
      'findHealthyAncestor',
      'chooseStrategies',
      'regenerate',
      'validateCandidate',
      'promote',
    ]);
    expect(out.stderr[0]).toMatch(/^started heal heal:cli_heal@2\.0\.0/);
    const text = out.stdout.join('\n');
    expect(text).toMatch(/^Heal of cli_heal@2\.0\.0: HEALED/);
    expect(text).toMatch(/New version: cli_heal@2\.0\.1 \(routed\)/);

    expect(await findWorkflowIds(temporal.client, `DiseTool = "cli_heal" AND DiseHealStatus = "healed"`)).toEqual([
      'heal:cli_heal@2.0.0',
    ]);
  });

  it('heal-status shows how the heal ended; a second heal joins the finished one; heal-retry runs a new one', async () => {
    const status = captureOutput();
    expect(await runCli(['heal-status', 'cli_heal@2.0.0'], status)).toBe(0);
    expect(status.stdout[0]).toBe('heal:cli_heal@2.0.0: COMPLETED');
    expect(status.stdout.join('\n')).toMatch(/HEALED/);

    const again = captureOutput();
    expect(await runCli(['heal', 'cli_heal@2.0.0', '--json'], again)).toBe(0);
    expect(JSON.parse(again.stdout[0]!)).toMatchObject({ workflowId: 'heal:cli_heal@2.0.0', joined: true });

    const retry = captureOutput();
    const code = await runCli(['heal-retry', 'cli_heal@2.0.0', '--wait', '--json'], retry);
    // The version is already pruned and replaced: the new run records the failure and makes nothing new.
    const result = JSON.parse(retry.stdout.join(''));
    expect(result).toMatchObject({ versionId: 'cli_heal@2.0.0', status: 'healed', newVersionId: 'cli_heal@2.0.1' });
    expect(result.message).toMatch(/already pruned and replaced by cli_heal@2\.0\.1/);
    expect(code).toBe(0);
    expect(
      await h.db.query(`SELECT 1 FROM tool_lineage WHERE tool_name = 'cli_heal' AND health_status = 'regenerated'`),
    ).toHaveLength(1);
    expect(await h.db.query(`SELECT 1 FROM heal_runs WHERE tool_id = 'cli_heal@2.0.0'`)).toHaveLength(2);
  });

  it('heal-cancel cancels a running heal; heal-status of an unknown heal says how to start one', async () => {
    const none = captureOutput();
    expect(await runCli(['heal-status', 'cli_heal@1.0.0'], none)).toBe(2);
    expect(none.stderr.join('\n')).toMatch(
      /no heal of cli_heal@1\.0\.0 has run \(start one with `dise heal cli_heal@1\.0\.0`\)/,
    );
    const notRunning = captureOutput();
    expect(await runCli(['heal-cancel', 'cli_heal@2.0.0'], notRunning)).toBe(2);
    expect(notRunning.stderr.join('\n')).toMatch(/no running heal of cli_heal@2\.0\.0 to cancel/);
  });
});

describe('dise health', () => {
  it('prints the System Health Report from the database', async () => {
    const out = captureOutput();
    expect(await runCli(['health'], out)).toBe(0);
    const text = out.stdout.join('\n');
    expect(text).toMatch(/^System Health Report/);
    expect(text).toMatch(/Versions: 3 across 1 tool\(s\)/);
    expect(text).toMatch(/❌ Pruned\s+1 {2}\(33\.3%\)/);
    expect(text).toMatch(
      /Recent Failures:\n {2}\[.*\] cli_heal@2\.0\.0 {2}Wrong Output \(high\): .* — heal: healed → cli_heal@2\.0\.1/,
    );
    expect(text).toMatch(/Heal events: 2 {3}Successes: \d/);
    const json = captureOutput();
    expect(await runCli(['health', '--json'], json)).toBe(0);
    const report = JSON.parse(json.stdout.join(''));
    expect(report.byHealth.regenerated).toEqual({ count: 1, percent: (100 * 1) / 3 });
    expect(report.healing.events).toBe(2);
  });

  it('says within its deadline, and why, when no worker answers the monitor', async () => {
    const taskQueue = uniqueTaskQueue('nobody-polls');
    const workflowId = `monitor-without-worker-${taskQueue}`;
    await temporal.client.workflow.start('healthMonitorWorkflow', { workflowId, taskQueue, args: [{}] });
    try {
      const started = Date.now();
      const answer = await askMonitorStatus(temporal.client, { timeoutMs: 1_000, workflowId });
      expect(answer).toEqual({
        reachable: false,
        reason: 'the health monitor did not answer within 1 s: is a dise worker running (dise worker, or dise dev)?',
      });
      // The deadline ended the wait (a worker-less query is otherwise held for much longer).
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await temporal.client.workflow.getHandle(workflowId).terminate('test over');
    }
  });
});
