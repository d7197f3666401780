/// <reference lib="dom" />
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { DEFAULT_NAMESPACE, HEALTH_MONITOR_WORKFLOW_ID } from '../../src/shared/constants.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { CHROMIUM_DIR, launchBrowser, seriousViolations, type TestBrowser } from '../support/browser.js';
import { startDise, waitForExit } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { activityHold } from '../support/hold.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';

// The dashboard as users start it, `dise dev` (bin/dise.mjs, so the CLI's bundle serves the pages),
// in a headless Chromium from npm (@sparticuz/chromium), driven by Playwright. The dev stack is pointed
// at the test run's PostgreSQL and Temporal (DATABASE_URL, TEMPORAL_ADDRESS), so it starts no second
// stack but runs its own worker and health monitor on a task queue of its own.
const TOKEN = 'dashboard-test-token-0123456789';
const UI = inject('temporalUiUrl') || 'http://temporal-ui.test';
const devQueue = uniqueTaskQueue('dashboard-dev');
// Heals the live test holds mid-step run on a worker in this process, on another queue.
const heldQueue = uniqueTaskQueue('dashboard-held');
const hold = activityHold();
const home = mkdtempSync(path.join(os.tmpdir(), 'dise-dashboard-e2e-'));
let db: TestDatabase;
let store: LineageStore;
let temporal: TestTemporal;
let heldWorker: RunningWorker;
let dev: ChildProcess | undefined;
let dashboardUrl: string;
let browser: TestBrowser;

/** The environment of a `dise` started from this file: the run's services, this file's database. */
function cliEnv(): NodeJS.ProcessEnv {
  // DISE_NO_BUNDLE would run the sources and hide a bundle that cannot find its files.
  const { DISE_NO_BUNDLE: _sources, ...inherited } = process.env;
  const config = path.join(home, 'config.yaml');
  writeFileSync(config, `ui:\n  token: ${TOKEN}\n`);
  return {
    ...inherited,
    NO_COLOR: '1',
    DISE_HOME: home,
    DISE_CONFIG: config,
    DISE_FREE_PORTS: '1',
    DISE_TASK_QUEUE: devQueue,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_UI_URL: UI,
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = new LineageStore(db.prisma);
  temporal = await connectTestTemporal();
  const settings = { address: inject('temporalAddress'), namespace: DEFAULT_NAMESPACE, tls: false };
  // At once, each kept as soon as it runs, so afterAll stops whatever started even when another failed.
  const [started] = await Promise.all([
    startDise(['dev'], cliEnv(), /^ready /).then((s) => ((dev = s.child), s)),
    startWorker({
      temporal: settings,
      prisma: db.prisma,
      config: defaultConfig(),
      llm: null,
      taskQueue: heldQueue,
      activityInterceptors: [hold.interceptor],
    }).then((w) => (heldWorker = w)),
    launchBrowser().then((b) => (browser = b)),
  ]);
  const m = /^ready temporal=(\S+) ui=(\S+) database=\S+ dashboard=(\S+) metrics=\S+$/.exec(started.line);
  expect(m, started.line).not.toBeNull();
  expect(m![1]).toBe(inject('temporalAddress')); // no second stack
  expect(m![2]).toBe(UI);
  dashboardUrl = m![3]!;
  // The browser is npm's, unpacked by the helper: a fresh machine has no other (DISE_CHROMIUM, when set, names one on purpose).
  if (!process.env.DISE_CHROMIUM) expect(browser.executable).toBe(path.join(CHROMIUM_DIR, 'chromium'));
});

afterAll(async () => {
  await browser?.close();
  // The monitor `dise dev` started lives on the shared Temporal; without its worker it would answer
  // no query, so other files asking for it would wait.
  await temporal?.client.workflow
    .getHandle(HEALTH_MONITOR_WORKFLOW_ID)
    .terminate('dashboard test done')
    .catch(() => undefined);
  if (dev && dev.exitCode === null) {
    dev.kill('SIGINT');
    expect(await waitForExit(dev)).toBe(0);
  }
  await heldWorker?.shutdown();
  await temporal?.close();
  await db?.drop();
  rmSync(home, { recursive: true, force: true });
});

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({
    path: path.join(PACKAGE_ROOT, 'docs', `dashboard-${name}.png`),
    fullPage: name !== 'lineage',
  });
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await seriousViolations(page), page.url()).toEqual([]);
}

/** Every stylesheet, script and image the page links answers 200 (fetched again, not from the cache). */
async function expectAssetsServed(page: Page): Promise<void> {
  const assets = await page.evaluate(() => [
    ...Array.from(document.querySelectorAll<HTMLLinkElement>('link[href]'), (e) => e.href),
    ...Array.from(document.querySelectorAll<HTMLScriptElement>('script[src]'), (e) => e.src),
    ...Array.from(document.querySelectorAll<HTMLImageElement>('img[src]'), (e) => e.src),
  ]);
  expect(assets.length, page.url()).toBeGreaterThan(0);
  for (const asset of assets) expect({ asset, status: (await fetch(asset)).status }).toEqual({ asset, status: 200 });
}

/** A page whose every request answered below 400 (assets, the lineage's JSON, the event stream). */
async function openPage(): Promise<{ page: Page; failures: string[] }> {
  const page = await browser.context.newPage();
  const failures: string[] = [];
  page.on('response', (r) => void (r.status() >= 400 && failures.push(`${r.status()} ${r.url()}`)));
  page.on(
    'requestfailed',
    (r) => void (r.url().includes('/events') || failures.push(`${r.failure()?.errorText} ${r.url()}`)),
  );
  return { page, failures };
}

/** The lineage page finished drawing: the placeholder is gone and the SVG holds `count` nodes. */
async function expectLineageDrawn(page: Page, count: number): Promise<void> {
  await page.waitForSelector(`#lineage[data-rendered="${count}"]`);
  expect(await page.locator('#lineage').textContent()).not.toContain('Drawing the lineage');
  expect(await page.locator('#lineage svg a.node').count()).toBe(count);
}

describe('the dashboard in a real browser', () => {
  it('tells the email story: tool list → lineage → the pruned version’s evidence → the heal’s Temporal link', async () => {
    await registerEmailStory(store);
    const runtime = await ToolRuntime.create({ databaseUrl: db.url });
    for (const w of WRONG_RESULTS) {
      await runtime.call('email_validator', w.input);
      await runtime.report('email_validator@2.0.0', w);
    }
    await runtime.close();
    const { handle } = await startHeal(
      temporal.client,
      {
        versionId: 'email_validator@2.0.0',
        trigger: 'report',
        failure: {
          failureType: 'logic_error',
          description: 'Email validation too permissive, accepts invalid emails',
          severity: 'critical',
          detectionMethod: 'runtime',
        },
      },
      { taskQueue: devQueue },
    );
    expect((await handle.result()).status).toBe('healed');

    const { page, failures } = await openPage();
    await page.goto(dashboardUrl);
    await expectAssetsServed(page);
    await page.waitForFunction(() => document.documentElement.dataset.live === 'connected');
    const row = page.locator('tr[data-tool="email_validator"]');
    await expect.poll(() => row.locator('td').nth(2).textContent()).toBe('email_validator@2.0.1');
    expect(await row.locator('.badge').textContent()).toBe('regenerated');
    await expectAccessible(page);
    await screenshot(page, 'tools');

    await row.getByRole('link', { name: 'email_validator', exact: true }).click();
    await expectLineageDrawn(page, 3);
    await expectAssetsServed(page);
    expect(await page.locator('a.node[data-id="email_validator@2.0.0"]').getAttribute('data-health')).toBe('pruned');
    expect(await page.locator('a.node[data-id="email_validator@2.0.1"]').getAttribute('data-health')).toBe(
      'regenerated',
    );
    // The heal edge (pruned → regenerated) is dotted; lineage edges are solid.
    expect(await page.locator('path.edge[data-type="regenerated"]').getAttribute('stroke-dasharray')).toBe('5 4');
    expect(await page.locator('path.edge[data-type="direct"]').first().getAttribute('stroke-dasharray')).toBe('none');
    await expectAccessible(page);
    await screenshot(page, 'lineage');

    await page.locator('a.node[data-id="email_validator@2.0.0"]').click();
    await page.waitForURL(/\/versions\/email_validator%402\.0\.0$/);
    const decision = page.locator('#prune-decision');
    expect(await decision.textContent()).toMatch(
      /Pruned at .*verdict mutation; culprit email_validator@2\.0\.0; last good email_validator@1\.0\.0/,
    );
    expect(await page.locator('#failures').textContent()).toContain('Email validation too permissive');
    expect(await page.locator('table.diff').textContent()).toContain("input.indexOf('@') === -1");
    expect(await page.locator('#h-rules + h3 + ul').textContent()).toContain(
      'CallExpression[callee.property.name="indexOf"]',
    );
    const link = page.locator('a.temporal-link').first();
    expect(await link.getAttribute('href')).toBe(
      `${UI}/namespaces/default/workflows/${encodeURIComponent('heal:email_validator@2.0.0')}`,
    );
    await expectAccessible(page);
    await screenshot(page, 'version');

    await page.goto(`${dashboardUrl}/versions/email_validator@1.0.0`);
    expect(await page.locator('#tests').textContent()).toMatch(/minted/);

    await page.goto(`${dashboardUrl}/heals`);
    expect(await page.locator('a.tool-heals-link').first().getAttribute('href')).toBe(
      `${UI}/namespaces/default/workflows?query=${encodeURIComponent('DiseTool="email_validator"')}`,
    );
    await expectAccessible(page);
    await screenshot(page, 'heals');

    await page.goto(`${dashboardUrl}/health`);
    expect(await page.locator('#by-health').textContent()).toMatch(/pruned\s*1\s*33\.3%/);
    await expectAccessible(page);
    await screenshot(page, 'health');

    await page.goto(`${dashboardUrl}/rules`);
    expect(await page.locator('#rules').textContent()).toContain('email_validator@2.0.1');
    await expectAccessible(page);
    await screenshot(page, 'rules');
    expect(failures).toEqual([]);
    await page.close();
  });

  it('shows a heal live while it runs: it appears, moves and ends on an open page without a reload', async () => {
    await registerEmailStory(store, 'email_live');
    const page = await browser.context.newPage();
    await page.goto(`${dashboardUrl}/heals`);
    await page.waitForFunction(() => document.documentElement.dataset.live === 'connected');
    await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));

    const held = hold.arm('pruneBranch');
    const { handle } = await startHeal(
      temporal.client,
      {
        versionId: 'email_live@2.0.0',
        trigger: 'manual',
        failure: { failureType: 'manual', description: 'live test', severity: 'high', detectionMethod: 'manual' },
      },
      { taskQueue: heldQueue },
    );
    await held;
    const row = page.locator('tr[data-heal="email_live@2.0.0"]');
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('running');
    // The progress query's step reaches the open page too.
    await page.waitForFunction(() =>
      /prune/i.test(document.querySelector('tr[data-heal="email_live@2.0.0"] .step')?.textContent ?? ''),
    );
    hold.release();
    await handle.result();
    await page.locator('tr[data-heal="email_live@2.0.0"][data-status="healed"]').waitFor();
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    await page.close();
  });

  it('refuses an action without the operator token, and one from another origin', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${dashboardUrl}/versions/email_validator@2.0.1`);
    await page.getByRole('button', { name: 'Start heal' }).click();
    await page.waitForFunction(() => document.getElementById('action-result')?.dataset.status !== undefined);
    expect(await page.locator('#action-result').getAttribute('data-status')).toBe('401');
    expect(await page.locator('#action-result').textContent()).toMatch(/refused \(401\).*operator token/);
    await page.close();

    const post = (headers: Record<string, string>) =>
      fetch(`${dashboardUrl}/api/heals`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ versionId: 'email_validator@2.0.1' }),
      });
    expect((await post({ 'Content-Type': 'application/json' })).status).toBe(401);
    expect(
      (await post({ 'Content-Type': 'application/json', Authorization: 'Bearer wrong-token-000000000000' })).status,
    ).toBe(401);
    expect(
      (
        await post({
          'Content-Type': 'application/json',
          Authorization: `Bearer ${TOKEN}`,
          Origin: 'http://evil.example',
        })
      ).status,
    ).toBe(403);
    expect((await post({ 'Content-Type': 'text/plain', Authorization: `Bearer ${TOKEN}` })).status).toBe(415);
    expect(await db.query(`SELECT 1 FROM heal_runs WHERE tool_id = 'email_validator@2.0.1'`)).toEqual([]);
    // The canary actions are guarded the same way; with the token, a version without a running canary is refused (409).
    const canary = (action: string, headers: Record<string, string>) =>
      fetch(`${dashboardUrl}/api/canaries/email_validator@2.0.1/${action}`, { method: 'POST', headers, body: '{}' });
    expect((await canary('promote', { 'Content-Type': 'application/json' })).status).toBe(401);
    expect((await canary('abort', { 'Content-Type': 'application/json' })).status).toBe(401);
    expect(
      (await canary('abort', { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` })).status,
    ).toBe(409);

    // With the token, the heals page's button goes through: asking for the heal of a version already
    // healed (by the live test) joins that heal, as `dise heal` does.
    const authorised = await browser.context.newPage();
    await authorised.goto(`${dashboardUrl}/heals`);
    await authorised.fill('#token', TOKEN);
    await authorised.locator('#token').dispatchEvent('change');
    await authorised.fill('#heal-version', 'email_live@2.0.0');
    await authorised.getByRole('button', { name: 'Start heal' }).click();
    await authorised.waitForFunction(() => document.getElementById('action-result')?.dataset.status !== undefined);
    expect(await authorised.locator('#action-result').getAttribute('data-status')).toBe('202');
    expect(await authorised.locator('#action-result').textContent()).toMatch(
      /done: .*"workflowId":"heal:email_live@2\.0\.0","joined":true/,
    );
    await authorised.close();
  });

  it('is served whole by `dise ui` too: every page’s assets answer 200, the lineage draws, live connects', async () => {
    const ui = await startDise(['ui', '--port', '0'], cliEnv(), /^dashboard=/);
    try {
      const url = ui.line.slice('dashboard='.length);
      for (const route of [
        '/',
        '/tools/email_validator',
        '/versions/email_validator@2.0.0',
        '/heals',
        '/health',
        '/rules',
      ]) {
        const { page, failures } = await openPage();
        await page.goto(url + route);
        await expectAssetsServed(page);
        await page.waitForFunction(() => document.documentElement.dataset.live === 'connected');
        if (route.startsWith('/tools/')) await expectLineageDrawn(page, 3);
        expect(failures, route).toEqual([]);
        await page.close();
      }
    } finally {
      ui.child.kill('SIGINT');
      expect(await waitForExit(ui.child)).toBe(0);
    }
  });

  it('renders a tool description holding <script> as text', async () => {
    const hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">';
    await store.registerMany([
      {
        name: 'hostile',
        version: '1.0.0',
        description: hostile,
        category: 'x',
        code: 'function run(input) { return "</script><script>window.pwned=3</script>"; }',
      },
    ]);
    await store.setRoute('hostile@1.0.0', 'test');
    const page = await browser.context.newPage();
    await page.goto(dashboardUrl);
    expect(await page.locator('tr[data-tool="hostile"] td.description').textContent()).toBe(hostile);
    await page.goto(`${dashboardUrl}/versions/hostile@1.0.0`);
    expect(await page.locator('p.description').textContent()).toBe(hostile);
    expect(await page.locator('pre.code').textContent()).toContain('</script><script>window.pwned=3</script>');
    await page.goto(`${dashboardUrl}/tools/hostile`);
    await page.waitForSelector('#lineage[data-rendered="1"]');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    await page.close();
  });
});
