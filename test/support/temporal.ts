import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { DEFAULT_NAMESPACE } from '../../src/shared/constants.js';
import type { LlmSettings } from '../../src/llm/client.js';
import { startWorker, type DiseWorkerOptions, type RunningWorker } from '../../src/worker.js';
import type { TestDatabase } from './database.js';
import { workflowBundlePath } from './bundle-path.js';
import { pollUntil, type PollOptions } from './wait.js';

export interface TestTemporal {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export async function connectTestTemporal(): Promise<TestTemporal> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return { client: new Client({ connection }), connection, close: () => connection.close() };
}

/**
 * The ids of the workflows a visibility query returns, once it returns at least one: visibility is
 * eventually consistent, so a workflow just started or just closed may take a moment to show.
 */
export async function findWorkflowIds(client: Client, query: string, options: PollOptions = {}): Promise<string[]> {
  const list = async () => {
    const ids: string[] = [];
    for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
    return ids;
  };
  return pollUntil(list, (ids) => ids.length > 0, { what: `workflows matching ${query}`, ...options });
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A real worker for one test database, on its own task queue, running the run's workflow bundle. */
export async function startTestWorker(
  db: TestDatabase,
  {
    taskQueue,
    config = defaultConfig(),
    llm = null,
    ...rest
  }: { taskQueue: string; config?: DiseConfig; llm?: LlmSettings | null } & Partial<DiseWorkerOptions>,
): Promise<RunningWorker> {
  return startWorker({
    temporal: { address: inject('temporalAddress'), namespace: DEFAULT_NAMESPACE, tls: false },
    prisma: db.prisma,
    config,
    llm,
    taskQueue,
    workflowBundlePath: workflowBundlePath(),
    ...rest,
  });
}
