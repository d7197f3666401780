import type { MetricMeter } from '@temporalio/common';
import { afterAll, beforeAll } from 'vitest';
import type { DiseConfig } from '../../src/config/schema.js';
import type { LlmSettings } from '../../src/llm/client.js';
import type { RunningWorker } from '../../src/worker.js';
import { useTestStore, type TestDatabase } from './database.js';
import type { LineageStore } from '../../src/lineage/store.js';
import { connectTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from './temporal.js';

export interface HealStack {
  db: TestDatabase;
  store: LineageStore;
  temporal: TestTemporal;
  worker: RunningWorker;
  taskQueue: string;
}

/**
 * What a heal test file needs, set up in its beforeAll and torn down in its afterAll: its own
 * database, a Temporal client, and a real worker on its own task queue. The fields are filled in
 * once beforeAll has run.
 */
export function useHealStack(
  prefix: string,
  options: { config?: DiseConfig; llm?: LlmSettings | null; metricMeter?: MetricMeter } = {},
): HealStack {
  const stack = { taskQueue: uniqueTaskQueue(prefix) } as HealStack;
  const testStore = useTestStore();
  beforeAll(async () => {
    stack.db = testStore.db;
    stack.store = testStore.store;
    stack.temporal = await connectTestTemporal();
    stack.worker = await startTestWorker(stack.db, { taskQueue: stack.taskQueue, ...options });
  });
  afterAll(async () => {
    await stack.worker?.shutdown();
    await stack.temporal?.close();
  });
  return stack;
}
