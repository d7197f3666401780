import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { defaultConfig } from '../../src/config/schema.js';
import {
  MemorySignaler,
  TemporalMonitorSignaler,
  ToolExecutionError,
  ToolRuntime,
  ToolUnavailableError,
  UnknownToolError,
} from '../../src/runtime/index.js';
import { failureReportedSignal } from '../../src/shared/messages.js';
import { useTestStore } from '../support/database.js';
import { version } from '../support/fixtures.js';
import { pollUntil } from '../support/wait.js';
import { spawnRuntimeChild } from '../support/child-processes.js';

const h = useTestStore();
const runtimes: ToolRuntime[] = [];

const DOUBLE = 'function run(x) { return x * 2; }';
const TRIPLE = 'function run(x) { return x * 3; }';
const FAILING = "function run(x) { throw new Error('always fails: ' + x); }";

async function runtime(extra: Partial<Parameters<typeof ToolRuntime.create>[0]> = {}): Promise<ToolRuntime> {
  const config = defaultConfig();
  config.runtime.flush_interval_ms = 50;
  const r = await ToolRuntime.create({ databaseUrl: h.db.url, config, ...extra });
  runtimes.push(r);
  return r;
}

/** What `tool` answers to 1, polled until it is `expected` (a route change reaches the runtime in time). */
const answer = (rt: ToolRuntime, tool: string) =>
  expect.poll(() => rt.call(tool, 1), { timeout: 30_000, interval: 50 });

beforeAll(async () => {
  await h.store.registerVersion(version('doubler', '1.0.0', [], { code: DOUBLE }));
  await h.store.registerVersion(version('doubler', '1.1.0', ['doubler@1.0.0'], { code: TRIPLE }));
  await h.store.setRoute('doubler@1.1.0', 'test');
  await h.store.registerVersion(version('flaky', '1.0.0', [], { code: FAILING }));
  await h.store.setRoute('flaky@1.0.0', 'test');
});

afterAll(async () => {
  for (const r of runtimes) await r.close().catch(() => undefined);
});

describe('ToolRuntime', () => {
  it('calls the routed version, or an explicit one, and records every execution in batches', async () => {
    const rt = await runtime();
    expect(await rt.call('doubler', 5)).toBe(15);
    expect(await rt.call('doubler@1.0.0', 5)).toBe(10);
    expect(await rt.call('doubler_v1.1.0', 2)).toBe(6);
    await rt.flush();
    const rows = await h.db.query<{
      tool_id: string;
      execution_count: number;
      failure_count: number;
      success_rate: number;
    }>(
      `SELECT tool_id, execution_count, failure_count, success_rate FROM tool_lineage WHERE tool_name = 'doubler' ORDER BY tool_id`,
    );
    expect(rows).toEqual([
      { tool_id: 'doubler@1.0.0', execution_count: 1, failure_count: 0, success_rate: 1 },
      { tool_id: 'doubler@1.1.0', execution_count: 2, failure_count: 0, success_rate: 1 },
    ]);
    const executions = await h.db.query<{ ok: boolean; input: unknown; input_hash: string }>(
      `SELECT ok, input, input_hash FROM executions WHERE tool_id = 'doubler@1.1.0'`,
    );
    expect(executions).toHaveLength(2);
    expect(executions.every((e) => e.ok && e.input === null && /^[0-9a-f]{64}$/.test(e.input_hash))).toBe(true);
  });

  it('refuses unknown tools and pruned, failed or tainted versions with typed errors', async () => {
    const rt = await runtime();
    await expect(rt.call('nope', 1)).rejects.toBeInstanceOf(UnknownToolError);
    await expect(rt.call('doubler@9.0.0', 1)).rejects.toBeInstanceOf(UnknownToolError);
    await h.store.registerVersion(version('guarded', '1.0.0', [], { code: DOUBLE }));
    await h.store.registerVersion(version('guarded', '1.1.0', ['guarded@1.0.0'], { code: DOUBLE }));
    await h.store.setRoute('guarded@1.0.0', 'test');
    for (const health of ['pruned', 'failed', 'degraded'] as const) {
      await h.db.query(`UPDATE tool_lineage SET health_status = $1 WHERE tool_id = 'guarded@1.1.0'`, [health]);
      // The notification invalidates the cache: refused once it has arrived.
      const refusal = () => rt.call('guarded@1.1.0', 1).catch((e: unknown) => e);
      const err = await pollUntil(refusal, (e) => e instanceof ToolUnavailableError && e.health === health, {
        what: `a refusal as ${health}`,
      });
      expect(err).toBeInstanceOf(ToolUnavailableError);
      expect((err as ToolUnavailableError).health).toBe(health);
      expect((err as Error).message).toMatch(/routed to guarded@1\.0\.0/);
    }
  });

  it('loses no execution on a clean stop', async () => {
    const config = defaultConfig();
    config.runtime.batch_size = 100;
    config.runtime.flush_interval_ms = 60_000;
    const rt = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    await h.store.registerVersion(version('counted', '1.0.0', [], { code: DOUBLE }));
    for (let i = 0; i < 1234; i++) await rt.call('counted@1.0.0', i);
    await rt.close();
    const [row] = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM executions WHERE tool_id = 'counted@1.0.0'`,
    );
    expect(row!.n).toBe(1234);
  });

  it('records a failed call with its input and error type, and reports hostile code as critical', async () => {
    const signaler = new MemorySignaler();
    const rt = await runtime({ signaler });
    await h.store.registerVersion(
      version('sneaky', '1.0.0', [], { code: "function run(x) { if (x === 'escape') return process.env; return x; }" }),
    );
    const err = await rt.call('sneaky@1.0.0', 'escape').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolExecutionError);
    expect((err as ToolExecutionError).kind).toBe('host_access');
    expect(await rt.call('sneaky@1.0.0', 'fine')).toBe('fine');
    await rt.flush();
    const [exec] = await h.db.query<{ error_type: string; input: unknown }>(
      `SELECT error_type, input FROM executions WHERE tool_id = 'sneaky@1.0.0' AND NOT ok`,
    );
    expect(exec).toEqual({ error_type: 'host_access', input: 'escape' });
    expect(signaler.reports).toHaveLength(1);
    expect(signaler.reports[0]).toMatchObject({
      versionId: 'sneaky@1.0.0',
      kind: 'critical',
      severity: 'critical',
      failureType: 'security_vulnerability',
    });
    const [failure] = await h.db.query<{ failure_type: string; severity: string }>(
      `SELECT failure_type, severity FROM failures WHERE tool_id = 'sneaky@1.0.0'`,
    );
    expect(failure).toEqual({ failure_type: 'security_vulnerability', severity: 'critical' });
  });

  it('types and records a tool that tampers with its built-ins, and the next call sees none of it', async () => {
    const rt = await runtime();
    const code = `function run(x) {
      if (x === 'stringify') { JSON.stringify = () => '{'; return { fine: true }; }
      if (x === 'toJSON') { Object.prototype.toJSON = () => undefined; return {}; }
      return [x, typeof ({}).toJSON];
    }`;
    await h.store.registerVersion(version('tamperer', '1.0.0', [], { code }));
    expect(await rt.call('tamperer@1.0.0', 'stringify')).toEqual({ fine: true });
    // The result is written from the tool's own value, consulting no toJSON: the answer is the real {}.
    expect(await rt.call('tamperer@1.0.0', 'toJSON')).toEqual({});
    expect(await rt.call('tamperer@1.0.0', 'after')).toEqual(['after', 'undefined']);
    await rt.flush();
    const rows = await h.db.query<{ ok: boolean; error_type: string | null }>(
      `SELECT ok, error_type FROM executions WHERE tool_id = 'tamperer@1.0.0' ORDER BY id`,
    );
    expect(rows).toEqual([
      { ok: true, error_type: null },
      { ok: true, error_type: null },
      { ok: true, error_type: null },
    ]);
  });

  it('keeps calls apart by default; sandbox.isolation: shared lets module state persist, as before', async () => {
    await h.store.registerVersion(
      version('counter', '1.0.0', [], { code: 'let n = 0; function run() { return ++n; }' }),
    );
    const isolated = await runtime();
    expect([
      await isolated.call('counter@1.0.0', null),
      await isolated.call('counter@1.0.0', null),
      await isolated.call('counter@1.0.0', null),
    ]).toEqual([1, 1, 1]);
    const config = defaultConfig();
    config.sandbox.isolation = 'shared';
    const shared = await runtime({ config });
    expect([
      await shared.call('counter@1.0.0', null),
      await shared.call('counter@1.0.0', null),
      await shared.call('counter@1.0.0', null),
    ]).toEqual([1, 2, 3]);
  });

  it('records a wrong result reported from outside, with its evidence', async () => {
    const signaler = new MemorySignaler();
    const rt = await runtime({ signaler });
    await h.store.registerVersion(
      version('reported', '1.0.0', [], { code: "function run(x) { return String(x).includes('@'); }" }),
    );
    const first = await rt.report('reported_v1.0.0', { input: 'user@@domain.com', observed: true, expected: false });
    expect(first).toMatchObject({ failureCount: 1, signalled: false });
    const [row] = await h.db.query<{
      failure_type: string;
      detection_method: string;
      severity: string;
      description: string;
      evidence: unknown;
    }>(`SELECT failure_type, detection_method, severity, description, evidence FROM failures WHERE id = $1`, [
      first.failureId,
    ]);
    expect(row).toEqual({
      failure_type: 'wrong_output',
      detection_method: 'report',
      severity: 'high',
      description: 'wrong result for input "user@@domain.com": returned true, expected false',
      evidence: { input: 'user@@domain.com', observed: true, expected: false },
    });
    const critical = await rt.report('reported@1.0.0', {
      input: '@domain.com',
      observed: true,
      severity: 'critical',
      description: "Accepted '@domain.com'",
    });
    expect(critical.signalled).toBe(true);
    await rt.flush();
    expect(signaler.reports.map((r) => [r.kind, r.description])).toEqual([['critical', "Accepted '@domain.com'"]]);
    await rt.report('reported@1.0.0', { input: 'user@', observed: true });
    await rt.flush();
    expect(signaler.reports.map((r) => r.kind)).toEqual(['critical', 'threshold']);
  });
});

describe('ToolRuntime across processes and with Temporal', () => {
  it('stops routing to a pruned version within one second in every runtime process', async () => {
    await h.store.registerVersion(version('shared', '1.0.0', [], { code: DOUBLE }));
    await h.store.registerVersion(version('shared', '1.1.0', ['shared@1.0.0'], { code: TRIPLE }));
    await h.store.setRoute('shared@1.1.0', 'test');
    const children = [spawnRuntimeChild(h.db.url, 'shared', 10), spawnRuntimeChild(h.db.url, 'shared', 10)];
    const until = (cond: () => boolean, timeout: number) => pollUntil(cond, (ok) => ok, { timeout, interval: 20 });
    try {
      await until(() => children.every((c) => c.lines.filter((l) => l.version === 'shared@1.1.0').length >= 5), 30_000);
      const prunedAt = Date.now();
      await h.db.query(
        `BEGIN; UPDATE tool_lineage SET health_status = 'pruned' WHERE tool_id = 'shared@1.1.0'; UPDATE routes SET version_id = 'shared@1.0.0' WHERE tool_name = 'shared'; COMMIT;`,
      );
      await until(() => children.every((c) => c.lines.some((l) => (l.at ?? 0) > prunedAt + 1000)), 10_000);
      for (const c of children) {
        const lastOld = Math.max(...c.lines.filter((l) => l.version === 'shared@1.1.0').map((l) => l.at!));
        expect(lastOld - prunedAt).toBeLessThan(1000);
        const after = c.lines.filter((l) => (l.at ?? 0) > prunedAt + 1000);
        expect(after.length).toBeGreaterThan(0);
        expect(after.every((l) => l.version === 'shared@1.0.0')).toBe(true);
      }
    } finally {
      for (const c of children) await c.stop();
    }
  });

  it('signals the monitor exactly once when 50 concurrent failing calls cross the threshold', async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const client = new Client({ connection });
    const workflowId = `monitor-test-${Date.now()}`;
    const signaler = new TemporalMonitorSignaler(client, { workflowId, taskQueue: `no-worker-${Date.now()}` });
    const config = defaultConfig();
    config.runtime.batch_size = 7; // the 50 failures land in several batches
    const rt = await ToolRuntime.create({ databaseUrl: h.db.url, config, signaler });
    try {
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => rt.call('flaky', i)));
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      await rt.flush();
      const [row] = await h.db.query<{ failure_count: number }>(
        `SELECT failure_count FROM tool_lineage WHERE tool_id = 'flaky@1.0.0'`,
      );
      expect(row!.failure_count).toBe(50);
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const signals = (history.events ?? []).filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === failureReportedSignal.name,
      );
      expect(signals).toHaveLength(1);
      expect(rt.signalsSent).toBe(1);
    } finally {
      await rt.close();
      await client.workflow
        .getHandle(workflowId)
        .terminate('test done')
        .catch(() => undefined);
      await connection.close();
    }
  });

  it('keeps exact counters when several runtimes record the same versions at once, without deadlocks', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `busy_${i}`);
    await h.store.registerMany(names.map((n) => version(n, '1.0.0', [], { code: DOUBLE })));
    const logs: string[] = [];
    const make = () => {
      const config = defaultConfig();
      config.runtime.batch_size = 25;
      config.runtime.flush_interval_ms = 5;
      return ToolRuntime.create({ databaseUrl: h.db.url, config, log: (l) => logs.push(l) });
    };
    const rts = await Promise.all([make(), make(), make(), make()]);
    // Every runtime calls every version, in a different order, for many small batches.
    await Promise.all(
      rts.map(async (rt, k) => {
        for (let round = 0; round < 40; round++) {
          for (let i = 0; i < names.length; i++)
            await rt.call(`${names[(i * (k + 1) + round) % names.length]}@1.0.0`, i);
          await new Promise((r) => setImmediate(r));
        }
      }),
    );
    await Promise.all(rts.map((rt) => rt.close()));
    const rows = await h.db.query<{ tool_id: string; execution_count: number; n: number }>(
      `SELECT t.tool_id, t.execution_count, (SELECT count(*)::int FROM executions e WHERE e.tool_id = t.tool_id) AS n
       FROM tool_lineage t WHERE t.tool_name LIKE 'busy\\_%'`,
    );
    expect(rows).toHaveLength(30);
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(4 * 40 * 30);
    for (const r of rows) expect(r.execution_count).toBe(r.n);
    expect(logs.filter((l) => l.includes('could not record'))).toEqual([]);
  });

  it('makes callers wait (backpressure) instead of buffering without bound while the database keeps up', async () => {
    const config = defaultConfig();
    config.runtime.batch_size = 10; // high-water mark: 20 batches = 200 records
    config.runtime.flush_interval_ms = 60_000;
    const rt = await runtime({ config });
    await h.store.registerVersion(version('pressed', '1.0.0', [], { code: DOUBLE }));
    let most = 0;
    for (let i = 0; i < 3000; i++) {
      await rt.call('pressed@1.0.0', i);
      most = Math.max(most, rt.pendingExecutions);
    }
    expect(most).toBeLessThanOrEqual(200);
    await rt.flush();
    const [row] = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM executions WHERE tool_id = 'pressed@1.0.0'`,
    );
    expect(row!.n).toBe(3000);
  });

  it('preloads every route and its version in one query', async () => {
    const rt = await runtime();
    const routed = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM routes`);
    expect(await rt.preload()).toBe(routed[0]!.n);
    expect(await rt.preload(['doubler', 'no_such_tool'])).toBe(1);
    expect(await rt.call('doubler', 1)).toBe(3);
  });

  it('picks up a route change it was never told about on its periodic refresh', async () => {
    await h.store.registerVersion(version('quiet', '1.0.0', [], { code: DOUBLE }));
    await h.store.registerVersion(version('quiet', '1.1.0', ['quiet@1.0.0'], { code: TRIPLE }));
    await h.store.setRoute('quiet@1.0.0', 'test');
    const config = defaultConfig();
    config.runtime.route_refresh_seconds = 1;
    const rt = await runtime({ config });
    expect(await rt.call('quiet', 1)).toBe(2);
    // Move the route with the notification trigger off: only the periodic refresh can see it.
    await h.db.query(
      `BEGIN; ALTER TABLE routes DISABLE TRIGGER routes_notify_routing; UPDATE routes SET version_id = 'quiet@1.1.0' WHERE tool_name = 'quiet'; ALTER TABLE routes ENABLE TRIGGER routes_notify_routing; COMMIT;`,
    );
    expect(await rt.call('quiet', 1)).toBe(2); // still cached
    await answer(rt, 'quiet').toBe(3);
  });

  it('reconnects its routing listener after losing it, and hears the next change', async () => {
    await h.store.registerVersion(version('deaf', '1.0.0', [], { code: DOUBLE }));
    await h.store.registerVersion(version('deaf', '1.1.0', ['deaf@1.0.0'], { code: TRIPLE }));
    await h.store.setRoute('deaf@1.0.0', 'test');
    const config = defaultConfig();
    config.runtime.route_refresh_seconds = 3600; // no periodic refresh: only LISTEN can tell it
    const rt = await runtime({ config });
    expect(await rt.call('deaf', 1)).toBe(2);
    const listeners = () =>
      h.db.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
      );
    const lost = (
      await h.db.query<{ pid: number }>(
        `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
      )
    ).map((r) => r.pid);
    // Each runtime of this file lost its listener, and reconnects after 500 ms: as many new sessions listening.
    await pollUntil(listeners, (rows) => rows.filter((r) => !lost.includes(r.pid)).length >= lost.length, {
      what: 'the routing listeners to reconnect',
    });
    expect(await rt.call('deaf', 1)).toBe(2); // cached again, after the reconnect's invalidation
    await h.store.setRoute('deaf@1.1.0', 'test');
    await answer(rt, 'deaf').toBe(3);
  });

  it('records a failed call whose input holds U+0000, which jsonb cannot store, with ␀ in its place', async () => {
    await h.store.registerMany([version('nul_input', '1.0.0', [], { code: FAILING })]);
    const logs: string[] = [];
    const rt = await runtime({ log: (l) => logs.push(l) });
    await rt.call('nul_input@1.0.0', 'a\u0000b').catch(() => undefined);
    await rt.flush();
    const rows = await h.db.query<{ input: unknown }>(`SELECT input FROM executions WHERE tool_id = 'nul_input@1.0.0'`);
    expect(rows).toEqual([{ input: 'a\u2400b' }]);
    expect(logs.filter((l) => l.includes('could not record'))).toEqual([]);
  });

  it('writes a batch again at once when PostgreSQL picks it as the victim of a deadlock', async () => {
    await h.store.registerMany([
      version('dl_a', '1.0.0', [], { code: FAILING }),
      version('dl_b', '1.0.0', [], { code: FAILING }),
    ]);
    const logs: string[] = [];
    const config = defaultConfig();
    config.runtime.flush_interval_ms = 60_000; // only the flush below writes
    const rt = await runtime({ config, log: (l) => logs.push(l) });
    await rt.call('dl_a@1.0.0', 1).catch(() => undefined);
    await rt.call('dl_b@1.0.0', 1).catch(() => undefined);
    // Another session holds dl_b; the runtime's write locks dl_a, then waits for dl_b…
    const other = new pg.Client({ connectionString: h.db.url });
    await other.connect();
    try {
      // The other session checks for deadlocks only after 30 s, so the runtime's session (default
      // 1 s) is always the one that finds the deadlock and is aborted, however loaded the machine.
      await other.query(`SET deadlock_timeout = '30s'`);
      await other.query(`BEGIN; SELECT 1 FROM tool_lineage WHERE tool_id = 'dl_b@1.0.0' FOR UPDATE`);
      const flushed = rt.flush();
      const waiting = async () =>
        (
          await h.db.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).length > 0;
      await expect.poll(waiting, { timeout: 30_000, interval: 20 }).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      // …and the other session now wants dl_a: a deadlock. The runtime's check fires first and
      // PostgreSQL aborts its transaction; the other session gets dl_a.
      await other.query(`SELECT 1 FROM tool_lineage WHERE tool_id = 'dl_a@1.0.0' FOR UPDATE`);
      await other.query('COMMIT');
      await flushed;
    } finally {
      await other.end();
    }
    expect(logs.filter((l) => l.includes('could not record'))).toEqual([]);
    const rows = await h.db.query<{ tool_id: string; failure_count: number; n: number }>(
      `SELECT t.tool_id, t.failure_count, (SELECT count(*)::int FROM executions e WHERE e.tool_id = t.tool_id) AS n
       FROM tool_lineage t WHERE t.tool_name IN ('dl_a', 'dl_b') ORDER BY t.tool_id`,
    );
    expect(rows).toEqual([
      { tool_id: 'dl_a@1.0.0', failure_count: 1, n: 1 },
      { tool_id: 'dl_b@1.0.0', failure_count: 1, n: 1 },
    ]);
  });
});
