import { warmPythonFor } from '../sandbox/python.js';
import { ApplicationFailure } from '@temporalio/common';
import type { DiseConfig } from '../config/schema.js';
import type { HEAL_NON_RETRYABLE_ERRORS } from '../shared/heal-types.js';
import type { VersionRow } from '../lineage/graph.js';
import type { LineageStore } from '../lineage/store.js';
import type { LlmClient } from '../llm/client.js';
import type { Sandbox } from '../sandbox/sandbox.js';

/** What activities are built from; the worker creates these once. The store is their only way to the database. */
export interface ActivityDeps {
  store: LineageStore;
  config: DiseConfig;
  sandbox: Sandbox;
  /** Null: the offline strategy (diff analysis, rollback regeneration). */
  llm: LlmClient | null;
}

/** A business error no retry can fix; its type is listed in HEAL_NON_RETRYABLE_ERRORS. */
export function nonRetryable(type: (typeof HEAL_NON_RETRYABLE_ERRORS)[number], message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

export async function requireVersion(deps: ActivityDeps, versionId: string): Promise<VersionRow> {
  const v = await deps.store.graph.version(versionId);
  if (!v) throw nonRetryable('UnknownVersion', `unknown version ${versionId}`);
  // A step about a Python tool runs Python synchronously: load the interpreter first, off the event
  // loop (heartbeats keep going), rather than on the first synchronous run.
  await warmPythonFor(v.language);
  return v;
}
