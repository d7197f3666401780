import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, isProcessAlive } from '../../src/infra/net.js';
import { runDise, startDise, waitForExit } from '../support/cli.js';

// `dise dev` as a new user runs it: the real command in a child process with its own .dise/ folder,
// its own embedded PostgreSQL and Temporal dev server.
const home = mkdtempSync(path.join(os.tmpdir(), 'dise-dev-e2e-'));
chmodSync(home, 0o755);
// Not the test run's services: this stack starts its own, as on a fresh machine.
const { DATABASE_URL: _db, TEMPORAL_ADDRESS: _temporal, ...inherited } = process.env;
// The worker's Prometheus endpoint on a port of its own (the ready line names it).
const metricsPort = await freePort();
writeFileSync(
  path.join(home, 'config.yaml'),
  `observability:\n  metrics:\n    worker_address: 127.0.0.1:${metricsPort}\n`,
);
const env: NodeJS.ProcessEnv = {
  ...inherited,
  DISE_HOME: home,
  NO_COLOR: '1',
  DISE_FREE_PORTS: '1',
  DISE_CONFIG: path.join(home, 'config.yaml'),
};

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});

const ROOT = `name: greeter
version: 1.0.0
description: Say hello
code: |
  function run(input) { return 'hello ' + input.name; }
tests:
  - name: greets
    input: { name: ada }
    expect: hello ada
`;
const CHILD = `name: greeter
version: 1.1.0
parents: [greeter@1.0.0]
description: Say hello politely
code: |
  function run(input) { return input.polite ? 'hello, dear ' + input.name : 'hello ' + input.name; }
mutation:
  type: feature_add
  description: Add a polite form
`;

describe('dise dev', () => {
  it(
    'starts the stack, serves the UI, registers and shows lineage, is reused, and stops cleanly on Ctrl-C',
    { timeout: 180_000 },
    async () => {
      const first = await startDise(['dev'], env, /^ready /);
      const m = /^ready temporal=(\S+) ui=(\S+) database=(\S+) dashboard=(\S+) metrics=(\S+)$/.exec(first.line);
      expect(m, first.line).not.toBeNull();
      const [, temporal, ui, database, dashboard, metrics] = m!;
      const devJson = JSON.parse(readFileSync(path.join(home, 'dev.json'), 'utf8'));
      expect(devJson).toMatchObject({ temporal, ui, database, dashboard, metrics, pid: first.child.pid });
      expect(metrics).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
      // The hand-off listener of the quick commands: on loopback, its key readable by this user only.
      const handOff = JSON.parse(readFileSync(path.join(home, 'handoff.json'), 'utf8'));
      expect(handOff).toMatchObject({
        pid: first.child.pid,
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      });
      expect(statSync(path.join(home, 'handoff.json')).mode & 0o077).toBe(0);

      const page = await fetch(ui!);
      expect(page.status).toBe(200);
      expect(new URL(dashboard!).hostname).toBe('127.0.0.1');
      const tools = await fetch(dashboard!);
      expect(tools.status).toBe(200);
      expect(await tools.text()).toContain('<h1>Tools</h1>');

      const files = [path.join(home, 'root.yaml'), path.join(home, 'child.yaml')];
      writeFileSync(files[0]!, ROOT);
      writeFileSync(files[1]!, CHILD);
      const add = await runDise(['tool', 'add', ...files], env);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stdout).toContain('greeter@1.0.0 healthy');
      expect(add.stdout).toContain('greeter@1.1.0 healthy (routed)');

      const shown = await runDise(['lineage', 'greeter_v1.1.0', '--json'], env);
      expect(shown.code, shown.stderr).toBe(0);
      const lineage = JSON.parse(shown.stdout);
      expect(lineage).toMatchObject({
        id: 'greeter@1.1.0',
        parents: ['greeter@1.0.0'],
        generation: 1,
        health: 'healthy',
      });
      expect(lineage.mutations[0]).toMatchObject({ mutationType: 'feature_add', description: 'Add a polite form' });

      const health = await runDise(['health', '--json'], env);
      expect(health.code, health.stderr).toBe(0);
      const report = JSON.parse(health.stdout);
      expect(report).toMatchObject({ tools: 1, versions: 2, monitor: { reachable: true, paused: false } });
      expect(report.byHealth.healthy).toEqual({ count: 2, percent: 100 });

      // Temporal's own worker metrics (the health monitor has run tasks by now), named by Prometheus
      // conventions: durations in seconds, counters with _total.
      const exposition = await (await fetch(metrics!)).text();
      expect(exposition).toMatch(/^temporal_worker_task_slots_available\{/m);
      expect(exposition).toMatch(/^# TYPE temporal_workflow_task_schedule_to_start_latency_seconds histogram$/m);
      expect(exposition).toMatch(/^# TYPE temporal_request_total counter$/m);

      const again = await runDise(['dev'], env);
      expect(again.code).toBe(0);
      expect(again.stdout.trim()).toBe(first.line);
      expect(again.stderr).toMatch(/already running/);

      const pgPid = Number(readFileSync(path.join(home, 'postgres', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(isProcessAlive(pgPid)).toBe(true);
      first.child.kill('SIGINT');
      expect(await waitForExit(first.child)).toBe(0);
      expect(isProcessAlive(devJson.temporalPid)).toBe(false);
      expect(isProcessAlive(pgPid)).toBe(false);
      expect(existsSync(path.join(home, 'dev.json'))).toBe(false);
      expect(existsSync(path.join(home, 'handoff.json'))).toBe(false);
    },
  );

  it('recovers a stale .dise/ left by a killed run, keeping its data', { timeout: 180_000 }, async () => {
    const killed = await startDise(['dev'], env, /^ready /);
    const state = JSON.parse(readFileSync(path.join(home, 'dev.json'), 'utf8'));
    killed.child.kill('SIGKILL');
    await waitForExit(killed.child);

    const next = await startDise(['dev'], env, /^ready /);
    const shown = await runDise(['lineage', 'greeter@1.1.0', '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).id).toBe('greeter@1.1.0');
    next.child.kill('SIGINT');
    expect(await waitForExit(next.child)).toBe(0);
    expect(isProcessAlive(state.temporalPid)).toBe(false);
  });

  it('without a worker (--no-worker) stops everything and exits on Ctrl-C', { timeout: 120_000 }, async () => {
    const stack = await startDise(['dev', '--no-worker'], env, /^ready /);
    const state = JSON.parse(readFileSync(path.join(home, 'dev.json'), 'utf8'));
    stack.child.kill('SIGINT');
    expect(await waitForExit(stack.child), stack.stderr()).toBe(0);
    expect(isProcessAlive(state.temporalPid)).toBe(false);
  });
});

describe('a command that fails before its worker starts', () => {
  it('dise demo with an unreachable database says so and exits (the Temporal runtime it installed does not hold it open)', async () => {
    const failed = await runDise(
      ['demo'],
      { ...env, DATABASE_URL: 'postgresql://postgres:x@127.0.0.1:1/nowhere' },
      30_000,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('cannot reach the database at 127.0.0.1:1');
  });

  it.skipIf(process.getuid?.() !== 0)(
    "as root, names the folder PostgreSQL's own user cannot reach (skipped unless root: only then does the server run as another user)",
    async () => {
      const closed = mkdtempSync(path.join(os.tmpdir(), 'dise-closed-')); // 700, as mktemp makes it
      try {
        const failed = await runDise(['dev'], { ...env, DISE_HOME: path.join(closed, 'home') }, 30_000);
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain(`${closed} is closed to other users. Open it (chmod o+x ${closed})`);
      } finally {
        rmSync(closed, { recursive: true, force: true });
      }
    },
  );
});
