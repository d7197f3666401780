import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';

// Global setup's side only, like ./workflow-bundle.ts (tests read the directory with inject()).

declare module 'vitest' {
  export interface ProvidedContext {
    /** test/support's child scripts bundled once for the run (see bundleChildScripts), or '' if bundling failed. */
    childBundleDir: string;
  }
}

/** The scripts of test/support that tests run in child processes (see ./child-processes.ts). */
export const CHILD_SCRIPTS = ['worker-child.ts', 'runtime-child.ts'];

/**
 * Bundles the child scripts with esbuild (packages left external), as bin/dise.mjs bundles the CLI
 * and into the same cache folder, so the sources find the package root the same way. A child started
 * through tsx transpiles hundreds of modules on every start (seconds of CPU each, many children at
 * once in the fault tests); from the bundle it loads a few files. Returns the directory and a
 * function that removes it.
 */
export async function bundleChildScripts(): Promise<{ dir: string; remove: () => void }> {
  const dir = path.join(PACKAGE_ROOT, '.dise', 'cache', `test-children-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await build({
      entryPoints: CHILD_SCRIPTS.map((s) => path.join(PACKAGE_ROOT, 'test', 'support', s)),
      outdir: dir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, remove };
}
