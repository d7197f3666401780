import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/infra/migrator.js';
import { ensureDatabaseExists, startEmbeddedPostgres, type RunningPostgres } from '../../src/infra/postgres.js';
import { startTemporalDevServer, type RunningTemporal } from '../../src/infra/temporal-server.js';
import { bundleChildScripts } from './child-bundle.js';
import { bundleWorkflowsOnce } from './workflow-bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Maintenance database URL of the test server; test files create their own databases on it. */
    postgresAdminUrl: string;
    /** A migrated database to clone (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string;
    temporalAddress: string;
    temporalUiUrl: string;
  }
}

const TEMPLATE = 'dise_test_template';

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

interface Services {
  adminUrl: string;
  temporalAddress: string;
  uiUrl: string;
  workflowBundlePath: string;
  childBundleDir: string;
  stop(): Promise<void>;
}

/**
 * The run's services, shared by every project that names this set-up (vitest runs each project's
 * global set-up in its own module instance, so they meet on globalThis), stopped after the last.
 */
const SHARED = Symbol.for('dise.test.services');
type Shared = { services: Promise<Services>; users: number };

/** Starts one PostgreSQL and one Temporal dev server for the whole run; each file gets its own database. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const g = globalThis as { [SHARED]?: Shared };
  const shared = (g[SHARED] ??= { services: startServices(), users: 0 });
  shared.users++;
  const services = await shared.services;
  project.provide('postgresAdminUrl', services.adminUrl);
  project.provide('templateDatabase', TEMPLATE);
  project.provide('temporalAddress', services.temporalAddress);
  project.provide('temporalUiUrl', services.uiUrl);
  project.provide('workflowBundlePath', services.workflowBundlePath);
  project.provide('childBundleDir', services.childBundleDir);
  return async () => {
    if (--shared.users > 0) return;
    delete g[SHARED];
    await services.stop();
  };
}

async function startServices(): Promise<Services> {
  // Bundled while the servers start (the bundler and the servers wait on different things).
  const bundling = bundleWorkflowsOnce();
  bundling.catch(() => undefined); // a failure surfaces where it is awaited, below
  // Without the bundle, children run through tsx: slower, not wrong.
  const children = bundleChildScripts().catch((err: Error) => {
    console.error(`[global setup] child scripts not bundled (${err.message}); children run through tsx`);
    return null;
  });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'dise-test-'));
  chmodSync(scratch, 0o755); // PostgreSQL runs as the postgres user and must reach its data dir
  let postgres: RunningPostgres | undefined;
  let adminUrl = process.env.DATABASE_URL ? withDatabase(process.env.DATABASE_URL, 'postgres') : undefined;
  if (!adminUrl) {
    // The run's servers are thrown away after it: they need not wait for the disk (a killed one loses nothing).
    postgres = await startEmbeddedPostgres({ dir: path.join(scratch, 'postgres'), durable: false });
    adminUrl = postgres.adminUrl;
  }
  await ensureDatabaseExists(adminUrl, TEMPLATE);
  await migrate(withDatabase(adminUrl, TEMPLATE));

  let temporal: RunningTemporal | undefined;
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  let uiUrl = '';
  if (!temporalAddress) {
    temporal = await startTemporalDevServer({
      dir: path.join(scratch, 'temporal'),
      durable: false,
      log: (l) => console.error(`[temporal] ${l}`),
    });
    temporalAddress = temporal.address;
    uiUrl = temporal.uiUrl ?? '';
  }
  const workflowBundlePath = await bundling;
  const childBundle = await children;
  return {
    adminUrl,
    temporalAddress,
    uiUrl,
    workflowBundlePath,
    childBundleDir: childBundle?.dir ?? '',
    async stop() {
      await temporal?.stop();
      await postgres?.stop();
      rmSync(scratch, { recursive: true, force: true });
      childBundle?.remove();
    },
  };
}
