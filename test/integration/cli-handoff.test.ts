import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHandOff, type RunningHandOff } from '../../src/cli/handoff-server.js';
import { handOffFile } from '../../src/cli/handoff-client.js';
import { loadConfig } from '../../src/config/load.js';
import { writeDevState } from '../../src/infra/dev-state.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { closePythonHost } from '../../src/sandbox/python.js';
import { DISE_BIN } from '../support/cli.js';
import { useTestStore } from '../support/database.js';

// The quick commands hand a Python tool's work to the running stack (`dise dev`'s hand-off listener,
// started here in the test process as `dise dev` starts it): the command prints, exits with and
// stores what it would have by itself, loads no interpreter, and does the work itself when no stack
// takes it. The listener answers only requests that carry its key.

const h = useTestStore();
const home = mkdtempSync(path.join(os.tmpdir(), 'dise-cli-handoff-'));
const manifests = mkdtempSync(path.join(os.tmpdir(), 'dise-cli-handoff-manifests-'));
const env: NodeJS.ProcessEnv = { ...process.env, DISE_HOME: home, DISE_SIGNAL_MONITOR: '0' };
delete env.DISE_CLI_HANDOFF;
let handOff: RunningHandOff;
const serverLog: string[] = [];

function dise(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, DISE_BIN, ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...env, DATABASE_URL: h.db.url, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs `args` recording the modules the command loads; answers the result and those modules. */
async function diseRecording(args: string[], name: string) {
  const file = path.join(manifests, `${name}.imports`);
  const r = await dise(args, { DISE_RECORD_IMPORTS: file }, [
    '--import',
    path.join(PACKAGE_ROOT, 'test/support/record-imports.mjs'),
  ]);
  return { ...r, loaded: readFileSync(file, 'utf8').split('\n') };
}

/** A one-version Python manifest: doubles a positive number, raises on a negative one. */
function manifest(name: string): string {
  const file = path.join(manifests, `${name}.yaml`);
  writeFileSync(
    file,
    `- name: ${name}\n  version: 1.0.0\n  language: python\n  code: |\n    def run(n):\n        if n < 0:\n            raise ValueError("negative")\n        return n * 2\n` +
      '  tests:\n    - name: doubles\n      input: 2\n      expect: 4\n',
  );
  return file;
}

const lines = (text: string) => text.split('\n').filter(Boolean);
/** stderr without the lines that say where the work ran (--verbose) and the timing of the call. */
const comparable = (text: string) =>
  lines(text)
    .filter((l) => !/running stack|this process/.test(l))
    .map((l) => l.replace(/answered in [\d.]+ ms/, 'answered in … ms'));

beforeAll(async () => {
  // What `dise dev` leaves for the commands: its state (this process stands for it) and the listener.
  writeDevState(
    {
      pid: process.pid,
      temporal: '127.0.0.1:1',
      ui: null,
      namespace: 'default',
      database: h.db.url,
      temporalPid: null,
      postgresPort: null,
      startedAt: new Date().toISOString(),
    },
    home,
  );
  handOff = await startHandOff({
    databaseUrl: h.db.url,
    store: h.store,
    config: loadConfig(undefined, env, PACKAGE_ROOT),
    temporal: { address: '127.0.0.1:1', namespace: 'default', tls: false },
    dir: home,
    log: (line) => serverLog.push(line),
  });
}, 60_000);

afterAll(async () => {
  await handOff?.close();
  await closePythonHost();
});

describe('the quick commands hand Python work to the running stack', () => {
  it('tool add: judged and stored by the stack, printed as the command prints it, with no interpreter or Prisma loaded here', async () => {
    const handed = await diseRecording(['--verbose', 'tool', 'add', manifest('handoff_py')], 'tool-add');
    expect(handed.code, handed.stderr).toBe(0);
    expect(handed.stderr).toMatch(/judged in the running stack's interpreters/);
    expect(handed.loaded.some((u) => /\/pg\//.test(u))).toBe(true); // the recorder sees what is loaded
    expect(handed.loaded.filter((u) => /pyodide|@prisma\/|generated\/prisma|isolated-vm/.test(u))).toEqual([]);
    const [row] = await h.db.query<{ health: string }>(
      `SELECT health_status AS health FROM tool_lineage WHERE tool_id = 'handoff_py@1.0.0'`,
    );
    expect(row?.health).toBe('healthy');

    // The same registration made in the command's own process prints the same lines.
    const local = await dise(['--verbose', 'tool', 'add', manifest('local_py')], { DISE_CLI_HANDOFF: '0' });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toMatch(/no running stack takes the registration/);
    expect(lines(handed.stdout)).toEqual(lines(local.stdout).map((l) => l.replaceAll('local_py', 'handoff_py')));
    expect(comparable(handed.stderr)).toEqual(comparable(local.stderr));

    // A failure the stack answered with: the same message and exit code.
    const again = await dise(['tool', 'add', manifest('handoff_py')]);
    const againLocal = await dise(['tool', 'add', manifest('handoff_py')], { DISE_CLI_HANDOFF: '0' });
    expect(again.code).toBe(2);
    expect([again.code, lines(again.stderr)]).toEqual([againLocal.code, lines(againLocal.stderr)]);
    expect(again.stderr).toMatch(/already registered/);
  }, 240_000);

  it('call: the answer, the exit code and the stored execution are the command’s own; failures keep their kind', async () => {
    const handed = await diseRecording(['--verbose', 'call', 'handoff_py', '21', '--json'], 'call');
    expect(handed.code, handed.stderr).toBe(0);
    expect(handed.stderr).toMatch(/called in the running stack's interpreter/);
    expect(JSON.parse(handed.stdout)).toMatchObject({ output: 42, versionId: 'handoff_py@1.0.0', health: 'healthy' });
    expect(handed.loaded.filter((u) => /pyodide/.test(u))).toEqual([]);
    // Stored before the command exited.
    const [stored] = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM executions WHERE tool_id = 'handoff_py@1.0.0' AND ok`,
    );
    expect(stored!.n).toBe(1);

    for (const args of [
      ['call', 'handoff_py', '-1'], // the tool raises: exit 1, the error's kind and message
      ['call', 'handoff_py', '{bad'], // not JSON: a usage error, exit 2
      ['call', 'handoff_nothing', '1'], // no such tool: exit 2
    ]) {
      const there = await dise(args);
      const here = await dise(args, { DISE_CLI_HANDOFF: '0' });
      expect([there.code, there.stdout, lines(there.stderr)], args.join(' ')).toEqual([
        here.code,
        here.stdout,
        lines(here.stderr),
      ]);
    }
    const failed = await dise(['call', 'handoff_py', '-1']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/ValueError: negative/);
  }, 240_000);

  it('falls back to the interpreter in the command when the stack refuses the key, and says so with --verbose', async () => {
    const file = handOffFile(home);
    const kept = readFileSync(file, 'utf8');
    try {
      const state = JSON.parse(kept) as { key: string };
      writeFileSync(file, JSON.stringify({ ...state, key: 'not-the-key' }), { mode: 0o600 });
      const r = await dise(['--verbose', 'call', 'handoff_py', '5']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('10');
      expect(r.stderr).toMatch(/did not take the call: the Python interpreter loads in this process/);
    } finally {
      writeFileSync(file, kept, { mode: 0o600 });
    }
  }, 240_000);

  it('answers nothing without its key, and runs nothing', async () => {
    const { url } = JSON.parse(readFileSync(handOffFile(home), 'utf8')) as { url: string };
    const before = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions`);
    for (const authorization of [undefined, 'Bearer wrong', 'Basic x']) {
      const res = await fetch(`${url}/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ tool: 'handoff_py', input: '1' }),
      });
      expect(res.status).toBe(401);
    }
    expect(await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM executions`)).toEqual(before);
    // Only its user may read the key.
    expect((await import('node:fs')).statSync(handOffFile(home)).mode & 0o077).toBe(0);
  });
});
