import type { PrismaClient } from '../infra/database.js';
import type { LineageStore } from '../lineage/store.js';

/** What activities are built from; the worker creates these once. */
export interface ActivityDeps {
  prisma: PrismaClient;
  store: LineageStore;
}

/**
 * Builds the activity functions the worker registers. Each healing step lives in its own file under
 * src/activities and is wired here with its dependencies (no module-level clients).
 */
export function createActivities(deps: ActivityDeps) {
  void deps;
  return {};
}

export type DiseActivities = ReturnType<typeof createActivities>;
