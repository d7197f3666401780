import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { freePort } from '../../src/infra/net.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { RuntimeMetrics, ToolRuntime } from '../../src/runtime/index.js';
import { startDashboard, type RunningDashboard } from '../../src/ui/server.js';
import { killChildren, spawnWorkerChild } from '../support/child-processes.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { healInput } from '../support/failures.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { pollUntil } from '../support/wait.js';

/**
 * A real Prometheus server (Debian's `prometheus` package: `apt-get install prometheus`, 2.42 here;
 * .ci/run installs it) scraping a running stack — a worker process, the dashboard, and a program
 * serving its runtime's metrics — and answering queries for dise metrics over its HTTP API.
 */
function findPrometheus(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'prometheus');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const binary = findPrometheus();
const SKIP_REASON = 'no prometheus binary on PATH or at /usr/bin/prometheus (apt-get install prometheus)';
if (!binary) console.warn(`prometheus.test.ts skipped: ${SKIP_REASON}`);

const h = useTestStore();
const taskQueue = uniqueTaskQueue('prometheus');
const home = mkdtempSync(path.join(os.tmpdir(), 'dise-prometheus-'));
let temporal: TestTemporal;
let dashboard: RunningDashboard;
let runtime: ToolRuntime;
let runtimeServer: http.Server;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';
let prometheusLog = '';

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  killChildren();
  await runtime?.close().catch(() => undefined);
  await new Promise((resolve) => (runtimeServer ? runtimeServer.close(resolve) : resolve(undefined)));
  await dashboard?.close().catch(() => undefined);
  await temporal?.close();
  rmSync(home, { recursive: true, force: true });
});

/** The vector a PromQL query answers with, via /api/v1/query. */
async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: [] } };
  expect(body.status, `${promql}: ${body.error}`).toBe('success');
  return body.data.result;
}

describe.skipIf(!binary)(`a real Prometheus server (skipped when absent: ${SKIP_REASON})`, () => {
  beforeAll(async () => {
    temporal = await connectTestTemporal();
    const workerPort = await freePort();
    await spawnWorkerChild({
      databaseUrl: h.db.url,
      taskQueue,
      config: { observability: { metrics: { worker_address: `127.0.0.1:${workerPort}` } } },
    });
    dashboard = await startDashboard({
      store: h.store,
      databaseUrl: h.db.url,
      temporal: null,
      temporalUiUrl: null,
      taskQueue,
      config: defaultConfig(),
      token: 'a-token-of-sixteen-chars',
      host: '127.0.0.1',
      port: 0,
    });
    // A program embedding the runtime serves its metrics where it likes; here, a bare HTTP server.
    const metrics = new RuntimeMetrics();
    runtime = await ToolRuntime.create({ databaseUrl: h.db.url, metrics });
    runtimeServer = http.createServer((_req, res) => {
      void metrics.text().then((text) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(text));
    });
    await new Promise<void>((resolve) => runtimeServer.listen(0, '127.0.0.1', resolve));
    const runtimePort = (runtimeServer.address() as AddressInfo).port;

    const config = path.join(home, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: dise-worker',
        `    static_configs: [{ targets: ['127.0.0.1:${workerPort}'] }]`,
        '  - job_name: dise-dashboard',
        `    static_configs: [{ targets: ['${new URL(dashboard.url).host}'] }]`,
        '  - job_name: dise-runtime',
        `    static_configs: [{ targets: ['127.0.0.1:${runtimePort}'] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      binary!,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(home, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (d: Buffer) => (prometheusLog = (prometheusLog + d.toString()).slice(-4000)));
    await pollUntil(
      () =>
        fetch(`${prometheusUrl}/-/ready`).then(
          (r) => r.status,
          () => 0,
        ),
      (status) => status === 200,
      { what: 'Prometheus to be ready', timeout: 30_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${prometheusLog}`);
    });
  });

  it('scrapes the worker, the dashboard and a runtime, and answers queries for dise metrics', async () => {
    await registerEmailStory(h.store, 'prom_mail');
    for (const w of WRONG_RESULTS) {
      await runtime.call('prom_mail', w.input);
      await runtime.report('prom_mail@2.0.0', w);
    }
    const { handle } = await startHeal(
      temporal.client,
      healInput('prom_mail@2.0.0', { description: 'accepts invalid emails', detectionMethod: 'report' }),
      { taskQueue },
    );
    expect((await handle.result()).status).toBe('healed');

    const healed = await pollUntil(
      () => query('sum(dise_heals_ended_total{outcome="healed"})'),
      (r) => r.length === 1 && Number(r[0]!.value[1]) >= 1,
      { what: 'the heal in Prometheus', timeout: 30_000 },
    );
    expect(Number(healed[0]!.value[1])).toBe(1);
    // A scrape may time out on a loaded machine (its timeout is the 1 s interval): up is polled.
    const up = await pollUntil(
      () => query('up'),
      (r) => r.length === 3 && r.every((t) => t.value[1] === '1'),
      { what: 'every target up', timeout: 30_000 },
    );
    expect(up.map((r) => [r.metric.job, r.value[1]]).sort()).toEqual([
      ['dise-dashboard', '1'],
      ['dise-runtime', '1'],
      ['dise-worker', '1'],
    ]);
    const slots = await pollUntil(
      () => query('temporal_worker_task_slots_available{job="dise-worker"}'),
      (r) => r.length > 0,
      { what: "the worker's task slots in Prometheus", timeout: 30_000 },
    );
    expect(slots.length).toBeGreaterThan(0);
    const pruned = await pollUntil(
      () => query('dise_versions{health="pruned"}'),
      (r) => r.length === 1 && Number(r[0]!.value[1]) >= 1,
      { what: 'the pruned version in Prometheus', timeout: 30_000 },
    );
    expect(pruned[0]!.metric.job).toBe('dise-dashboard');
    const calls = await pollUntil(
      () => query('dise_runtime_calls_total{tool="prom_mail",result="ok"}'),
      (r) => r.length === 1,
      { what: "the runtime's calls in Prometheus", timeout: 30_000 },
    );
    expect(Number(calls[0]!.value[1])).toBe(WRONG_RESULTS.length);
  });

  it("accepts every query of the provisioned Grafana board, and answers the board's heal panel", async () => {
    const board = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'deploy/grafana/dashboards/dise.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    for (const panel of board.panels)
      for (const { expr } of panel.targets) await query(expr.replaceAll('$__rate_interval', '1m')); // status: success
    const heals = board.panels.find((p) => p.title === 'Heals over time')!.targets[0]!.expr;
    // increase() needs two scrapes of the series around the heal: on a loaded machine a scrape can be late.
    const answered = await pollUntil(
      () => query(heals.replaceAll('$__rate_interval', '5m')),
      (r) => r.some((s) => s.metric.outcome === 'healed'),
      { what: "the board's heal panel to show the heal", timeout: 30_000 },
    );
    expect(answered.map((r) => r.metric.outcome)).toContain('healed');
  });
});
