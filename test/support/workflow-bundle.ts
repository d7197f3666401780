import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

// Global setup's side only: it runs outside the test workers, where `vitest` cannot be imported
// (tests read the path with workflowBundlePath() from ./temporal.js).

declare module 'vitest' {
  export interface ProvidedContext {
    /** src/workflows bundled once for the run (bundleWorkflowCode), for `workflowBundle: { codePath }`. */
    workflowBundlePath: string;
  }
}

// As src/worker.ts's WORKFLOWS_PATH, without loading the worker (and its activities) in global setup.
const WORKFLOWS_PATH = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));

let bundling: Promise<string> | undefined;

/**
 * Bundles src/workflows into a file, once per process: global setup calls it for every project, so
 * the run bundles once instead of once per test file and worker (webpack takes seconds of CPU each).
 */
export function bundleWorkflowsOnce(): Promise<string> {
  bundling ??= (async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dise-bundle-')), 'workflows.js');
    writeFileSync(file, code);
    return file;
  })();
  return bundling;
}
