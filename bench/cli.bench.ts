/**
 * npm run bench:cli — what a script pays per `dise` command against a running stack (a `dise dev`):
 * wall time, CPU time and peak memory of `call`, `report`, `lineage` and `tool list` (median of 5,
 * each a fresh process, as a script runs them), and 100 reports through one `dise report --stdin`
 * against 100 `dise report` processes, 20 at a time (the baseline: what a script did before).
 * Then a Python tool's `call` and `tool add` beside the JavaScript ones: handed to the running stack's
 * interpreter (the default when a `dise dev` answers), and in the command's own process
 * (DISE_CLI_HANDOFF=0) with the interpreter's snapshot kept on disk and without it (the plain load).
 * Uses the stack of DISE_HOME when one runs, else starts `dise dev --no-worker` for the run.
 * CPU and memory come from /usr/bin/time (GNU time) when installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readLiveDevState } from '../src/infra/dev-state.js';
import { PACKAGE_ROOT } from '../src/infra/paths.js';
import { fmtMs, printFigures, progress } from './support.js';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 5);
const REPORTS = Number(process.env.BENCH_CLI_REPORTS ?? 100);
const BIN = path.join(PACKAGE_ROOT, 'bin', 'dise.mjs');
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

interface Sample {
  wallMs: number;
  cpuMs: number | null;
  peakMiB: number | null;
}

/** Wall time over the same JavaScript command (CPU too when measured), e.g. `+244 ms wall, +20 ms cpu over JavaScript`. */
function overJs(s: Sample, js: Sample): string {
  const signed = (ms: number) => `${ms < 0 ? '-' : '+'}${Math.round(Math.abs(ms))} ms`;
  const cpu = s.cpuMs !== null && js.cpuMs !== null ? `, ${signed(s.cpuMs - js.cpuMs)} cpu` : '';
  return `${signed(s.wallMs - js.wallMs)} wall${cpu} over JavaScript`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function runOnce(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Sample {
  const argv = GNU_TIME
    ? [GNU_TIME, '-f', '__TIME__ %U %S %M', process.execPath, BIN, ...args]
    : [process.execPath, BIN, ...args];
  const started = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, input: stdin, encoding: 'utf8' });
  const wallMs = performance.now() - started;
  if (r.status !== 0) throw new Error(`dise ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const m = /__TIME__ ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  return { wallMs, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : null, peakMiB: m ? Number(m[3]) / 1024 : null };
}

function summarise(samples: Sample[]): Sample {
  const cpu = samples.map((s) => s.cpuMs).filter((x): x is number => x !== null);
  const mem = samples.map((s) => s.peakMiB).filter((x): x is number => x !== null);
  return {
    wallMs: median(samples.map((s) => s.wallMs)),
    cpuMs: cpu.length ? median(cpu) : null,
    peakMiB: mem.length ? median(mem) : null,
  };
}

async function startStack(env: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  if (readLiveDevState(env.DISE_HOME)) return async () => undefined;
  progress('starting `dise dev --no-worker` for the run…');
  const child = spawn(process.execPath, [BIN, 'dev', '--no-worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/^ready /m.test(out)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`dise dev exited (${code}): ${out}`)));
  });
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    // It stops Temporal and PostgreSQL and says `stopped`; a process that lingers after that is ended.
    const onStopped = (d: Buffer) => {
      if (/^stopped$/m.test(d.toString())) setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    };
    child.stderr.on('data', onStopped);
    child.kill('SIGINT');
    await exited;
  };
}

/** A one-version manifest of a small tool with two tests, in either language. */
function manifestFile(dir: string, language: 'javascript' | 'python', i: number): string {
  const code =
    language === 'python'
      ? '    def run(n):\n        return n * 2 if n > 0 else 0\n'
      : '    function run(n) {\n      return n > 0 ? n * 2 : 0;\n    }\n';
  const file = path.join(dir, `${language}-${i}.yaml`);
  writeFileSync(
    file,
    `- name: bench_${language}_${process.pid}_${i}\n  version: 1.0.0\n  language: ${language}\n  code: |\n${code}` +
      '  tests:\n    - name: doubles\n      input: 2\n      expect: 4\n    - name: floors\n      input: -1\n      expect: 0\n',
  );
  return file;
}

/**
 * A Python tool's `call` and `tool add` beside the same JavaScript commands, each a fresh process:
 * handed to the running stack, whose interpreters are loaded (the default with a `dise dev`); in the
 * command's process (DISE_CLI_HANDOFF=0) with the interpreter's snapshot kept on disk (what every run
 * after the first pays); and without it (DISE_PYTHON_SNAPSHOT_CACHE=0: the plain load, the baseline).
 */
function pythonBeside(env: NodeJS.ProcessEnv, figures: Record<string, number | null>): [string, string, string][] {
  try {
    runOnce(['tool', 'add', path.join(PACKAGE_ROOT, 'examples', 'slugify-python.yaml')], env);
  } catch (err) {
    if (!/already registered/.test((err as Error).message)) throw err;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-bench-cli-manifests-'));
  const here = { ...env, DISE_CLI_HANDOFF: '0' };
  const plain = { ...here, DISE_PYTHON_SNAPSHOT_CACHE: '0' };
  let n = 0;
  runOnce(['call', 'slugify_py', '"Hello World"'], here); // makes the snapshot if none is kept yet
  // The stack loads its interpreters at its first Python work (`dise dev` with its worker loads them
  // at start when Python tools exist): measure what every later command pays.
  runOnce(['call', 'slugify_py', '"Hello World"'], env);
  runOnce(['tool', 'add', manifestFile(dir, 'python', n++)], env);
  const cases: [string, string, () => Sample][] = [
    ['jsCall', 'dise call email_validator (JavaScript)', () => runOnce(['call', 'email_validator', '"a@b.co"'], env)],
    [
      'pyCall',
      'dise call slugify_py (Python, handed to the stack)',
      () => runOnce(['call', 'slugify_py', '"Hello World"'], env),
    ],
    [
      'pyCallHere',
      'dise call slugify_py (Python here, snapshot kept)',
      () => runOnce(['call', 'slugify_py', '"Hello World"'], here),
    ],
    [
      'pyCallPlain',
      'dise call slugify_py (Python here, plain load)',
      () => runOnce(['call', 'slugify_py', '"Hello World"'], plain),
    ],
    [
      'jsAdd',
      'dise tool add (JavaScript, one version)',
      () => runOnce(['tool', 'add', manifestFile(dir, 'javascript', n++)], env),
    ],
    [
      'pyAdd',
      'dise tool add (Python, handed to the stack)',
      () => runOnce(['tool', 'add', manifestFile(dir, 'python', n++)], env),
    ],
    [
      'pyAddHere',
      'dise tool add (Python here, snapshot kept)',
      () => runOnce(['tool', 'add', manifestFile(dir, 'python', n++)], here),
    ],
    [
      'pyAddPlain',
      'dise tool add (Python here, plain load)',
      () => runOnce(['tool', 'add', manifestFile(dir, 'python', n++)], plain),
    ],
  ];
  const measured = new Map<string, Sample>();
  const rows: [string, string, string][] = [];
  for (const [key, label, run] of cases) {
    progress(`${label} × ${RUNS}…`);
    const s = summarise(Array.from({ length: RUNS }, run));
    measured.set(key, s);
    figures[`${key}WallMs`] = s.wallMs;
    figures[`${key}CpuMs`] = s.cpuMs;
    const js = key.startsWith('py') ? measured.get(key.includes('Add') ? 'jsAdd' : 'jsCall') : undefined;
    rows.push([
      label,
      fmtMs(s.wallMs),
      `cpu ${s.cpuMs === null ? '?' : fmtMs(s.cpuMs)}${js ? `; ${overJs(s, js)} (target < 500 ms over)` : ''}`,
    ]);
  }
  return rows;
}

async function main(): Promise<void> {
  const home = process.env.DISE_HOME ?? mkdtempSync(path.join(os.tmpdir(), 'dise-bench-cli-'));
  // The embedded PostgreSQL runs as the postgres user when started by root: it must reach its data dir.
  if (!process.env.DISE_HOME) chmodSync(home, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, DISE_HOME: home };
  delete env.DATABASE_URL;
  const stop = await startStack(env);
  try {
    try {
      runOnce(['tool', 'add', path.join(PACKAGE_ROOT, 'examples', 'email-validator.yaml')], env);
    } catch (err) {
      if (!/already registered/.test((err as Error).message)) throw err; // a reused stack has it
    }
    // The first run builds the CLI's bundle (bin/dise.mjs); measure what every later run pays.
    runOnce(['tool', 'list'], env);
    const commands: [string, string[]][] = [
      ['dise call email_validator \'"user@example.com"\'', ['call', 'email_validator', '"user@example.com"']],
      [
        'dise report email_validator@1.0.0 …',
        [
          'report',
          'email_validator@1.0.0',
          '--input',
          '"a@@b.co"',
          '--observed',
          'true',
          '--expected',
          'false',
          '--severity',
          'low',
        ],
      ],
      ['dise lineage email_validator', ['lineage', 'email_validator']],
      ['dise tool list', ['tool', 'list']],
    ];
    const rows: [string, string, string][] = [];
    const figures: Record<string, number | null> = {};
    for (const [label, args] of commands) {
      progress(`${label} × ${RUNS}…`);
      const s = summarise(Array.from({ length: RUNS }, () => runOnce(args, env)));
      const key = args[0] === 'tool' ? 'toolList' : args[0]!;
      figures[`${key}WallMs`] = s.wallMs;
      figures[`${key}CpuMs`] = s.cpuMs;
      figures[`${key}PeakMiB`] = s.peakMiB;
      rows.push([
        label,
        fmtMs(s.wallMs),
        `cpu ${s.cpuMs === null ? '?' : fmtMs(s.cpuMs)}, peak ${s.peakMiB === null ? '?' : `${s.peakMiB.toFixed(0)} MiB`}; median of ${RUNS}, target < 300 ms wall`,
      ]);
    }

    rows.push(...pythonBeside(env, figures));

    progress(`${REPORTS} reports through one \`dise report --stdin\`…`);
    const lines = Array.from({ length: REPORTS }, (_, i) =>
      JSON.stringify({
        id: 'email_validator@1.0.0',
        input: `user${i}@@example.com`,
        observed: true,
        expected: false,
        severity: 'low',
      }),
    ).join('\n');
    const stdin = runOnce(['report', '--stdin'], env, lines + '\n');
    figures.stdinReportsMs = stdin.wallMs;
    rows.push([
      `${REPORTS} reports, one \`dise report --stdin\``,
      fmtMs(stdin.wallMs),
      `cpu ${stdin.cpuMs === null ? '?' : fmtMs(stdin.cpuMs)}`,
    ]);

    progress(`${REPORTS} \`dise report\` processes, 20 at a time (the baseline)…`);
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < REPORTS) {
        const i = next++;
        await new Promise<void>((resolve, reject) => {
          const c = spawn(
            process.execPath,
            [
              BIN,
              'report',
              'email_validator@1.0.0',
              '--input',
              JSON.stringify(`p${i}@@example.com`),
              '--observed',
              'true',
              '--severity',
              'low',
            ],
            { env, stdio: 'ignore' },
          );
          c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dise report exited ${code}`))));
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    const separateMs = performance.now() - started;
    figures.separateReportsMs = separateMs;
    figures.stdinSpeedup = separateMs / stdin.wallMs;
    rows.push([
      `${REPORTS} \`dise report\` processes, 20 at a time`,
      fmtMs(separateMs),
      `baseline; --stdin is ×${(separateMs / stdin.wallMs).toFixed(1)} faster`,
    ]);
    printFigures('bench:cli (against a running stack)', rows, { bench: 'cli', ...figures });
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
