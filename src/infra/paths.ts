import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The dise-heal package root (where package.json and prisma/ live), wherever it is run from: the
 * first folder above this module with both (src/infra in the sources, .dise/cache/cli-… in the CLI's
 * bundle, see bin/dise.mjs).
 */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'prisma', 'schema.prisma'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '../..');
  }
}

export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'prisma', 'migrations');
export const SCHEMA_FILE = path.join(PACKAGE_ROOT, 'prisma', 'schema.prisma');

/**
 * State of the embedded stack: `DISE_HOME` when set, otherwise `.dise/` in the working directory.
 * Holds the PostgreSQL data directory, Temporal's database file and dev.json.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DISE_HOME ?? path.join(process.cwd(), '.dise'));
}

/** Downloaded tools (the Temporal CLI) are cached with the package, shared by every state dir. */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DISE_TOOLS_DIR ?? path.join(PACKAGE_ROOT, '.dise', 'tools'));
}

/** Files worth keeping between runs (the Python interpreter's snapshot), shared by every state dir. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DISE_CACHE_DIR ?? path.join(PACKAGE_ROOT, '.dise', 'cache'));
}

export function ensureDir(dir: string, mode = 0o755): string {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode });
  return dir;
}
