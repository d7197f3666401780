import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type ApplicationFailure } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { RuleDocument } from '../../src/rules/document.js';
import type { RulePack } from '../../src/rules/pack.js';
import { DEFAULT_NAMESPACE } from '../../src/shared/constants.js';
import { subscriptionScheduleId } from '../../src/shared/rule-subscription.js';
import { generateToken, startDashboard, type RunningDashboard } from '../../src/ui/server.js';
import type { RunningWorker } from '../../src/worker.js';
import { addressManifest } from '../support/address-manifest.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { healInput } from '../support/failures.js';
import { useHealStack } from '../support/heal-stack.js';
import { captureOutput } from '../support/output.js';
import { startTestWorker, uniqueTaskQueue } from '../support/temporal.js';
import { pollUntil } from '../support/wait.js';

// Two installations on one machine, each with its own database, worker and task queue, dashboard
// and signing key (they share this run's PostgreSQL server and Temporal dev server, as two
// namespaces of one cluster would). A heals a bug and learns a rule; B subscribes to A's dashboard.
const a = useHealStack('rules-a');
let bDb: TestDatabase;
let bWorker: RunningWorker;
const bQueue = uniqueTaskQueue('rules-b');
let dashboardA: RunningDashboard;
let tampered: Server;
let tamperedUrl: string;

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-rules-e2e-'));
const keysA = path.join(dir, 'keys-a');
const keysB = path.join(dir, 'keys-b');
const configB = path.join(dir, 'config-b.yaml');
writeFileSync(configB, 'rules_sharing:\n  promote_after: 2\n');
const TOOL = 'mail_a';

async function cli(db: TestDatabase, keys: string, queue: string, argv: string[]) {
  process.env.DATABASE_URL = db.url;
  process.env.DISE_RULES_KEY_DIR = keys;
  process.env.DISE_TASK_QUEUE = queue;
  const out = captureOutput();
  const code = await runCli(['--config', configB, ...argv], out);
  return { code, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') };
}
const onA = (...argv: string[]) => cli(a.db, keysA, a.taskQueue, argv);
const onB = (...argv: string[]) => cli(bDb, keysB, bQueue, argv);

const manifest = (name: string, v: string, code: string, parents: string[] = []) =>
  addressManifest(dir, name, v, code, parents);

// The mistake A's heal learned (an indexOf("@") where the regex was), with other names.
const REPEATS_THE_MISTAKE = `function run(address) {
  const text = String(address);
  return text.indexOf("@") > 0;
}`;
const CLEAN = (n: number) => `function run(address) {
  return /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/i.test(String(address)) && String(address).length > ${n};
}`;

const importedOnB = async () =>
  bDb.query<{ rule_id: string; mode: string; withdrawn: boolean; promoted_by: string | null }>(
    'SELECT rule_id, mode, withdrawn, promoted_by FROM imported_rules ORDER BY rule_id',
  );

beforeAll(async () => {
  bDb = await createTestDatabase();
  const config = { ...defaultConfig(), rules_sharing: { promote_after: 2 } };
  bWorker = await startTestWorker(bDb, { taskQueue: bQueue, config });
  dashboardA = await startDashboard({
    store: a.store,
    databaseUrl: a.db.url,
    temporal: { address: inject('temporalAddress'), namespace: DEFAULT_NAMESPACE, tls: false },
    temporalUiUrl: null,
    taskQueue: a.taskQueue,
    config: defaultConfig(),
    token: generateToken(),
    host: '127.0.0.1',
    port: 0,
    rulesKeyDir: keysA,
  });
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  // A peer that serves A's pack with one rule changed after signing.
  tampered = createServer((_req, res) => {
    void (async () => {
      const pack = (await (await fetch(`${dashboardA.url}/rules/pack`)).json()) as RulePack;
      (pack.rules[0] as RuleDocument).advice = 'nothing to see here';
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(pack));
    })();
  });
  await new Promise<void>((resolve) => tampered.listen(0, '127.0.0.1', resolve));
  tamperedUrl = `http://127.0.0.1:${(tampered.address() as AddressInfo).port}/rules/pack`;
});
afterAll(async () => {
  for (const id of [subscriptionScheduleId(`${dashboardA.url}/rules/pack`)])
    await a.temporal.client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  await new Promise((resolve) => tampered?.close(resolve));
  await dashboardA?.close();
  await bWorker?.shutdown();
  await bDb?.drop();
  for (const k of ['DATABASE_URL', 'DISE_RULES_KEY_DIR', 'DISE_TASK_QUEUE', 'TEMPORAL_ADDRESS']) delete process.env[k];
});

describe('two installations share what they learned', () => {
  let ruleId: string;

  it('A heals a bug and learns a rule; its dashboard serves it in a signed pack, no token needed', async () => {
    await registerEmailStory(a.store, TOOL);
    const runtime = await ToolRuntime.create({ databaseUrl: a.db.url });
    for (const w of WRONG_RESULTS) {
      await runtime.call(TOOL, w.input);
      await runtime.report(`${TOOL}@2.0.0`, w);
    }
    await runtime.close();
    const { handle } = await startHeal(
      a.temporal.client,
      healInput(`${TOOL}@2.0.0`, { description: 'accepts invalid emails', detectionMethod: 'runtime' }),
      { taskQueue: a.taskQueue },
    );
    expect((await handle.result()).status).toBe('healed');
    const [rule] = await a.db.query<{ rule_id: string; pattern_to_avoid: string; heal_id: string }>(
      'SELECT rule_id, pattern_to_avoid, heal_id FROM avoidance_rules',
    );
    expect(rule!.pattern_to_avoid).toBe('CallExpression[callee.property.name="indexOf"]');
    ruleId = rule!.rule_id;

    const response = await fetch(`${dashboardA.url}/rules/pack`);
    expect(response.status).toBe(200);
    const pack = (await response.json()) as RulePack;
    const doc = pack.rules[0] as RuleDocument;
    expect(doc).toMatchObject({
      id: ruleId,
      pattern: { engine: 'esquery', source: 'CallExpression[callee.property.name="indexOf"]' },
      provenance: { tool: TOOL, version: `${TOOL}@2.0.0`, heal: rule!.heal_id },
    });
    expect(doc.astGrep).toContain('regex: ^indexOf$');
    expect(doc.evidence.valid).not.toBeNull(); // the healed version's code
    expect(doc.evidence.failingInputs).toEqual(
      expect.arrayContaining(WRONG_RESULTS.map((w) => ({ input: w.input, expected: false }))),
    );
  });

  it('B subscribes to A on a Temporal schedule, and holds the rule report-only', async () => {
    const key = (await onA('rules', 'key')).stdout.split('\n')[1]!;
    expect((await onB('rules', 'trust', key)).code).toBe(0);
    const r = await onB('rules', 'subscribe', dashboardA.url, '--every', '1h');
    expect(r.code, r.stderr).toBe(0);
    const packUrl = `${dashboardA.url}/rules/pack`;
    expect(r.stdout).toContain(
      `subscribed to ${packUrl}: Temporal schedule ${subscriptionScheduleId(packUrl)}, every 1h`,
    );
    // The schedule is Temporal's (visible in its UI), and its first run imported the rule.
    const schedule = await a.temporal.client.schedule.getHandle(subscriptionScheduleId(packUrl)).describe();
    expect(schedule.action).toMatchObject({ workflowType: 'ruleSubscriptionWorkflow', taskQueue: bQueue });
    expect(schedule.spec.intervals?.[0]?.every).toBe(3_600_000);
    await pollUntil(importedOnB, (rows) => rows.length === 1, { what: 'the first pull' });
    expect(await importedOnB()).toEqual([
      { rule_id: ruleId, mode: 'report_only', withdrawn: false, promoted_by: null },
    ]);
    const listed = JSON.parse((await onB('rules', '--json')).stdout) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({
        ruleId,
        origin: 'imported',
        provenance: expect.objectContaining({ source: packUrl, tool: TOOL }),
      }),
    ]);

    // Out of its scope (the rule's scope is `descendants` of ${TOOL}): another tool is neither gated nor reported.
    const other = await onB('tool', 'add', manifest('contact_check', '1.0.0', REPEATS_THE_MISTAKE));
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).not.toContain(ruleId);
    // Report-only, in scope: the mistake under other names in ${TOOL} is registered, and the match reported.
    const added = await onB('tool', 'add', manifest(TOOL, '1.0.0', REPEATS_THE_MISTAKE));
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`${TOOL}@1.0.0 healthy`);
    expect(added.stderr).toContain(`${TOOL}@1.0.0: imported rule ${ruleId} (report-only) matches at line 3`);
    expect(await bDb.query('SELECT rule_id, tool_id FROM imported_rule_reports')).toEqual([
      { rule_id: ruleId, tool_id: `${TOOL}@1.0.0` },
    ]);
  });

  it('B enforces the rule after clean registrations in its scope, and refuses a new version that repeats the mistake', async () => {
    expect((await onB('tool', 'add', manifest(TOOL, '1.1.0', CLEAN(3)))).code).toBe(0);
    expect((await onB('tool', 'add', manifest(TOOL, '1.2.0', CLEAN(4)))).code).toBe(0);
    expect(await importedOnB()).toEqual([
      { rule_id: ruleId, mode: 'enforcing', withdrawn: false, promoted_by: 'quarantine' },
    ]);
    const r = await onB('tool', 'add', manifest(TOOL, '1.3.0', REPEATS_THE_MISTAKE));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${TOOL}@1.3.0 failed`);
    expect(r.stderr).toContain(ruleId);
    // Still out of scope for another tool.
    const other = await onB(
      'tool',
      'add',
      manifest('contact_check', '1.1.0', REPEATS_THE_MISTAKE, ['contact_check@1.0.0']),
    );
    expect(other.code, other.stderr).toBe(0);
  });

  it('A withdraws the rule; the next pull carries it and B stops gating', async () => {
    expect((await onA('rules', 'withdraw', ruleId)).code).toBe(0);
    const packUrl = `${dashboardA.url}/rules/pack`;
    await a.temporal.client.schedule.getHandle(subscriptionScheduleId(packUrl)).trigger();
    await pollUntil(importedOnB, (rows) => rows[0]?.withdrawn === true, { what: 'the withdrawal to arrive' });
    const r = await onB('tool', 'add', manifest(TOOL, '1.4.0', REPEATS_THE_MISTAKE));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${TOOL}@1.4.0 healthy`);
  });

  it('B refuses a tampered pack from a subscription, and imports nothing from it', async () => {
    const before = await importedOnB();
    const run = a.temporal.client.workflow.execute('ruleSubscriptionWorkflow', {
      args: [{ url: tamperedUrl }],
      taskQueue: bQueue,
      workflowId: `rules-tampered-${bQueue}`,
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // The workflow failed on its activity, which failed for good (not retried) with the reason.
    const reason = (err as WorkflowFailedError).cause?.cause as ApplicationFailure | undefined;
    expect(reason?.message).toContain(`rule ${ruleId} does not match its SHA-256 in the signed manifest`);
    expect(reason?.nonRetryable).toBe(true);
    expect(await importedOnB()).toEqual(before);
  });
});
