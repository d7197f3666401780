import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/support/sequencer.js';

/** Integration files that replace a module with vi.mock. */
const MOCKING = ['test/integration/corpus-broken-source.test.ts'];

/**
 * unit: no services. integration and e2e: a real PostgreSQL and a real Temporal dev server, started
 * once for the run by test/support/global-setup.ts (or taken from DATABASE_URL / TEMPORAL_ADDRESS).
 */
const services = {
  environment: 'node' as const,
  globalSetup: ['test/support/global-setup.ts'],
  setupFiles: ['test/support/setup-integration.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    // Two cores: at most two test files at once. A process runs file after file of a project (isolate:
    // false here): Node, Temporal's core, Prisma and the sandbox load once per process, not once per file.
    // Each project says whether its own modules are loaded again for each file (its `isolate`).
    poolOptions: {
      forks: { maxForks: 2, minForks: 1, isolate: false },
      threads: { maxThreads: 2, minThreads: 1 },
    },
    // The long files first, whatever the cache of an earlier run says (see the sequencer).
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Each file loads the sources afresh (several replace a module with vi.mock).
          isolate: true,
          environment: 'node',
          // Bundles src/workflows once for the run: the workflow tests' workers share it.
          globalSetup: ['test/support/global-setup-unit.ts'],
          // Sandbox-heavy unit tests (the differential check runs 1,000 inputs in fresh contexts) need
          // more than vitest's 5 s on a shared 2-core machine; none asserts a time.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          ...services,
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/faults/**/*.test.ts'],
          exclude: MOCKING,
          // The sources too are loaded once per process: each file makes its own databases, workers and
          // servers, and stops them, so nothing carries over but loaded modules.
          isolate: false,
          // A concurrent describe's cases mostly wait for Temporal (a dead worker's timeouts, a cancelled
          // heal): all of a file's cases wait at once, not five at a time.
          maxConcurrency: 20,
        },
      },
      {
        test: {
          ...services,
          // A module mock (vi.mock) reaches modules loaded after it: these files load the sources afresh.
          name: 'integration-mocking',
          isolate: true,
          include: MOCKING,
        },
      },
    ],
  },
});
