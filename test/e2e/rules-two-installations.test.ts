import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type ApplicationFailure } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { connectTemporalClient, type TemporalHandle } from '../../src/client/connection.js';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { RuleDocument } from '../../src/rules/document.js';
import type { RulePack } from '../../src/rules/pack.js';
import { DEFAULT_NAMESPACE } from '../../src/shared/constants.js';
import { subscriptionScheduleId } from '../../src/shared/rule-subscription.js';
import { generateToken, startDashboard, type RunningDashboard } from '../../src/ui/server.js';
import { addressManifest } from '../support/address-manifest.js';
import { runDise, startDise, waitForExit } from '../support/cli.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { healInput } from '../support/failures.js';
import { useHealStack } from '../support/heal-stack.js';
import { captureOutput } from '../support/output.js';
import { pollUntil } from '../support/wait.js';

// Two installations on one machine. A is this run's stack (its database, worker and task queue, and
// a dashboard started here). B is a second installation as a user starts one: `dise dev` in a child
// process with its own state folder, so its own embedded PostgreSQL, Temporal dev server, worker,
// dashboard and signing key, on free ports; B is driven with the `dise` command, and its
// subscription is a schedule on its own Temporal. A heals a bug and learns a rule; B subscribes to
// A's dashboard.
const a = useHealStack('rules-a');
let dashboardA: RunningDashboard;
let tampered: Server;
let tamperedUrl: string;

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-rules-e2e-'));
const keysA = path.join(dir, 'keys-a');
const configA = path.join(dir, 'config-a.yaml');
writeFileSync(configA, 'rules_sharing:\n  promote_after: 2\n');
// B's state folder is readable by the user its embedded PostgreSQL runs as (initdb refuses 0700 parents).
const homeB = mkdtempSync(path.join(os.tmpdir(), 'dise-rules-e2e-b-'));
chmodSync(homeB, 0o755);
const configB = path.join(homeB, 'config.yaml');
writeFileSync(configB, 'rules_sharing:\n  promote_after: 2\n');
/** B's task queue: its worker (in `dise dev`) and its commands read it from DISE_TASK_QUEUE. */
const B_QUEUE = 'dise-rules-b';
const TOOL = 'mail_a';

/** B: its `dise dev`, a Temporal client on its Temporal, and a connection to its database. */
let devB: { child: ChildProcess; stderr: () => string } | undefined;
let temporalB: TemporalHandle;
let dbB: pg.Pool;
/** B's stack starting: it starts while A heals (the first test), and B's first test waits for it. */
let startingB: Promise<void>;

async function startB(): Promise<void> {
  const started = await startDise(['dev'], envB(), /^ready /, 240_000);
  devB = started;
  const m = /^ready temporal=(\S+) ui=\S+ database=(\S+) dashboard=\S+/.exec(started.line);
  if (!m) throw new Error(`B's ready line does not read as expected: ${started.line}`);
  temporalB = await connectTemporalClient(
    { address: m[1]!, namespace: DEFAULT_NAMESPACE, tls: false },
    { connectTimeoutMs: 30_000 },
  );
  dbB = new pg.Pool({ connectionString: m[2]!, max: 2 });
}

/** B's environment: its own state folder; none of this run's services (A's commands set them in this process). */
function envB(): NodeJS.ProcessEnv {
  const {
    DATABASE_URL: _db,
    TEMPORAL_ADDRESS: _temporal,
    DISE_RULES_KEY_DIR: _keys,
    DISE_TASK_QUEUE: _queue,
    OPENAI_API_KEY: _key,
    OPENAI_BASE_URL: _url,
    ...inherited
  } = process.env;
  return {
    ...inherited,
    DISE_HOME: homeB,
    DISE_CONFIG: configB,
    DISE_FREE_PORTS: '1',
    DISE_TASK_QUEUE: B_QUEUE,
    NO_COLOR: '1',
  };
}

async function onA(...argv: string[]) {
  process.env.DATABASE_URL = a.db.url;
  process.env.DISE_RULES_KEY_DIR = keysA;
  process.env.DISE_TASK_QUEUE = a.taskQueue;
  const out = captureOutput();
  const code = await runCli(['--config', configA, ...argv], out);
  return { code, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') };
}
const onB = (...argv: string[]) => runDise(argv, envB(), 150_000);

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
  (
    await dbB.query<{ rule_id: string; mode: string; withdrawn: boolean; promoted_by: string | null }>(
      'SELECT rule_id, mode, withdrawn, promoted_by FROM imported_rules ORDER BY rule_id',
    )
  ).rows;

beforeAll(async () => {
  startingB = startB();
  startingB.catch(() => undefined); // awaited (and its error reported) by B's first test
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
  await startingB?.catch(() => undefined);
  if (tampered) await new Promise((resolve) => tampered.close(resolve));
  await dashboardA?.close();
  await dbB?.end();
  await temporalB?.close();
  if (devB) {
    // Ctrl-C: B's worker, dashboard, Temporal and PostgreSQL stop with it.
    devB.child.kill('SIGINT');
    await waitForExit(devB.child, 120_000);
  }
  for (const k of ['DATABASE_URL', 'DISE_RULES_KEY_DIR', 'DISE_TASK_QUEUE']) delete process.env[k];
  rmSync(dir, { recursive: true, force: true });
  rmSync(homeB, { recursive: true, force: true });
}, 180_000);

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

  it('B subscribes to A on a Temporal schedule, and holds the rule report-only', { timeout: 400_000 }, async () => {
    await startingB;
    const key = (await onA('rules', 'key')).stdout.split('\n')[1]!;
    expect((await onB('rules', 'trust', key)).code).toBe(0);
    const r = await onB('rules', 'subscribe', dashboardA.url, '--every', '1h');
    expect(r.code, r.stderr).toBe(0);
    const packUrl = `${dashboardA.url}/rules/pack`;
    expect(r.stdout).toContain(
      `subscribed to ${packUrl}: Temporal schedule ${subscriptionScheduleId(packUrl)}, every 1h`,
    );
    // The schedule is Temporal's (visible in its UI), and its first run imported the rule.
    const schedule = await temporalB.client.schedule.getHandle(subscriptionScheduleId(packUrl)).describe();
    expect(schedule.action).toMatchObject({ workflowType: 'ruleSubscriptionWorkflow', taskQueue: B_QUEUE });
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
    expect((await dbB.query('SELECT rule_id, tool_id FROM imported_rule_reports')).rows).toEqual([
      { rule_id: ruleId, tool_id: `${TOOL}@1.0.0` },
    ]);
  });

  it(
    'B enforces the rule after clean registrations in its scope, and refuses a new version that repeats the mistake',
    { timeout: 300_000 },
    async () => {
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
    },
  );

  it('A withdraws the rule; the next pull carries it and B stops gating', { timeout: 300_000 }, async () => {
    expect((await onA('rules', 'withdraw', ruleId)).code).toBe(0);
    const packUrl = `${dashboardA.url}/rules/pack`;
    await temporalB.client.schedule.getHandle(subscriptionScheduleId(packUrl)).trigger();
    await pollUntil(importedOnB, (rows) => rows[0]?.withdrawn === true, { what: 'the withdrawal to arrive' });
    const r = await onB('tool', 'add', manifest(TOOL, '1.4.0', REPEATS_THE_MISTAKE));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${TOOL}@1.4.0 healthy`);
  });

  it('B refuses a tampered pack from a subscription, and imports nothing from it', { timeout: 300_000 }, async () => {
    const before = await importedOnB();
    const run = temporalB.client.workflow.execute('ruleSubscriptionWorkflow', {
      args: [{ url: tamperedUrl }],
      taskQueue: B_QUEUE,
      workflowId: `rules-tampered-${B_QUEUE}`,
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
