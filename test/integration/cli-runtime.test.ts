import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { useTestStore } from '../support/database.js';
import { captureOutput } from '../support/output.js';

const h = useTestStore();
const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-cli-rt-'));

beforeAll(async () => {
  process.env.DATABASE_URL = h.db.url;
  // No monitor for these commands: they must still record everything.
  process.env.DISE_SIGNAL_MONITOR = '0';
  const out = captureOutput();
  const code = await runCli(
    [
      'tool',
      'add',
      path.join(PACKAGE_ROOT, 'examples/email-validator.yaml'),
      path.join(PACKAGE_ROOT, 'examples/email-validator-international.yaml'),
    ],
    out,
  );
  expect(code, out.stderr.join('\n')).toBe(0);
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
  delete process.env.DISE_SIGNAL_MONITOR;
});

describe('dise call / report / tool list', () => {
  it('calls the routed version and prints its output as JSON', async () => {
    const out = captureOutput();
    expect(await runCli(['call', 'email_validator', '"user@@domain.com"'], out)).toBe(0);
    expect(out.stdout).toEqual(['true']); // the internationalized 2.2.0 lets a second '@' through
    expect(out.stderr.join('\n')).toMatch(/email_validator@2\.2\.0 answered in/);
    const json = captureOutput();
    expect(await runCli(['call', 'email_validator@1.0.0', '"user@@domain.com"', '--json'], json)).toBe(0);
    expect(JSON.parse(json.stdout[0]!)).toMatchObject({ output: false, versionId: 'email_validator@1.0.0' });
    const [row] = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions`);
    expect(row!.n).toBe(2);
  });

  it('exits 2 for invalid JSON and unknown tools, 1 when the tool fails', async () => {
    const bad = captureOutput();
    expect(await runCli(['call', 'email_validator', 'user@example.com'], bad)).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/input: not valid JSON/);
    const unknown = captureOutput();
    expect(await runCli(['call', 'nope', '1'], unknown)).toBe(2);
    expect(unknown.stderr.join('\n')).toMatch(/unknown tool or version "nope"/);
    const f = path.join(dir, 'slow.yaml');
    writeFileSync(f, 'name: slow\nversion: 1.0.0\ncode: "function run(x) { if (x) { for (;;) {} } return 0; }"\n');
    expect(await runCli(['tool', 'add', f], captureOutput())).toBe(0);
    const failed = captureOutput();
    expect(await runCli(['call', 'slow', 'true'], failed)).toBe(1);
    expect(failed.stderr.join('\n')).toMatch(/error: tool exceeded the time limit of 1000 ms/);
    const [exec] = await h.db.query<{ ok: boolean; error_type: string; input: unknown }>(
      `SELECT ok, error_type, input FROM executions WHERE tool_id = 'slow@1.0.0'`,
    );
    expect(exec).toEqual({ ok: false, error_type: 'timeout', input: true });
  });

  it('records a reported wrong result', async () => {
    const out = captureOutput();
    const code = await runCli(
      [
        'report',
        'email_validator@2.2.0',
        '--input',
        '"user@@domain.com"',
        '--observed',
        'true',
        '--expected',
        'false',
        '--json',
      ],
      out,
    );
    expect(code, out.stderr.join('\n')).toBe(0);
    expect(JSON.parse(out.stdout[0]!)).toMatchObject({
      versionId: 'email_validator@2.2.0',
      failureCount: 1,
      signalled: false,
    });
    const bad = captureOutput();
    expect(await runCli(['report', 'email_validator@2.2.0', '--input', '1', '--severity', 'apocalyptic'], bad)).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/severity/);
  });

  it('lists tools with their routed version and health, as a table or JSON', async () => {
    const out = captureOutput();
    expect(await runCli(['tool', 'list'], out)).toBe(0);
    expect(out.stdout[0]).toMatch(/^TOOL\s+ROUTED\s+VERSIONS\s+IMMUNITY\s+HEALTH$/);
    expect(out.stdout.join('\n')).toMatch(/email_validator\s+email_validator@2\.2\.0\s+5\s+-\s+✓ Healthy/);
    const json = captureOutput();
    expect(await runCli(['tool', 'list', '--json'], json)).toBe(0);
    expect(JSON.parse(json.stdout.join(''))).toContainEqual({
      name: 'email_validator',
      versions: 5,
      routedVersion: 'email_validator@2.2.0',
      health: 'healthy',
      knownWrong: null,
      alternativeId: null,
      languages: ['javascript'],
      mutationScore: null,
      canary: null,
    });
  });

  it('reads --config and refuses a bad one naming the key', async () => {
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'sandbox:\n  timeout_ms: 50\n');
    const out = captureOutput();
    expect(await runCli(['--config', cfg, 'call', 'slow', 'true'], out)).toBe(1);
    expect(out.stderr.join('\n')).toMatch(/time limit of 50 ms/);
    writeFileSync(cfg, 'sandbox:\n  timeout: 50\n');
    const bad = captureOutput();
    expect(await runCli(['--config', cfg, 'call', 'slow', 'false'], bad)).toBe(2);
    expect(bad.stderr.join('\n')).toContain(`${cfg}: sandbox.timeout: unknown key`);
  });
});
