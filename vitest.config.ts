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
    // Two cores: at most two test files at once.
    poolOptions: { forks: { maxForks: 2, minForks: 1 }, threads: { maxThreads: 2, minThreads: 1 } },
    // The long files first, whatever the cache of an earlier run says (see the sequencer).
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
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
          // One process runs file after file: each file makes its own databases, workers and servers, and
          // stops them, so nothing carries over but loaded modules. Loading Temporal, Prisma and the
          // sandbox once per process instead of once per file saves about a third of the CPU these files use.
          isolate: false,
        },
      },
      {
        test: {
          ...services,
          // A module mock (vi.mock) reaches modules loaded after it: these files get a process of their own.
          name: 'integration-mocking',
          include: MOCKING,
        },
      },
    ],
  },
});
