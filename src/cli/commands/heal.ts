import type { DiseConfig } from '../../config/schema.js';
import { WorkflowNotFoundError } from '@temporalio/client';
import { readLiveDevState } from '../../infra/dev-state.js';
import { taskQueueFromEnv } from '../../infra/temporal-connection.js';
import { startHeal, type HealHandle } from '../../client/start-heal.js';
import { healWorkflowId } from '../../shared/constants.js';
import { HEAL_STEPS, healStepOfActivity } from '../../shared/heal-steps.js';
import type { HealProgress } from '../../shared/heal-types.js';
import { healProgressQuery } from '../../shared/messages.js';
import type { selfHealWorkflow } from '../../workflows/self-heal.js';
import { withDatabase, type Output } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { renderHeal } from '../format/heal-view.js';
import { connectTemporal, type TemporalHandle } from '../temporal-client.js';

export interface HealOptions {
  wait: boolean;
  json: boolean;
  reason?: string;
}

function uiLink(workflowId: string, namespace: string): string | null {
  const ui = readLiveDevState()?.ui;
  return ui ? `${ui}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}` : null;
}

async function withTemporal<T>(config: DiseConfig, fn: (t: TemporalHandle) => Promise<T>): Promise<T> {
  const temporal = await connectTemporal(config);
  try {
    return await fn(temporal);
  } finally {
    await temporal.close();
  }
}

/** The step line of an activity scheduled in a heal's history, from the catalogue the workflow reads too. */
function stepLine(activityType: string): string {
  const step = healStepOfActivity(activityType);
  return step ? HEAL_STEPS[step].line : activityType;
}

/** The marker Temporal records for a local activity's result; its `data` payload names the activity type. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** What stepActivity reads of a history event. */
interface HistoryEvent {
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null;
  } | null;
}

/**
 * The activity type a history event starts: a scheduled activity, or a local activity's marker (a
 * short step runs locally in the worker; its marker is recorded when the step has run).
 */
function stepActivity(e: HistoryEvent): string | undefined {
  const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
  if (scheduled) return scheduled;
  const marker = e.markerRecordedEventAttributes;
  if (marker?.markerName !== LOCAL_ACTIVITY_MARKER) return undefined;
  const data = marker.details?.['data']?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as {
      activity_type?: unknown;
      activityType?: unknown;
    };
    const type = parsed.activity_type ?? parsed.activityType;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Prints each step as the heal reaches it — read from the workflow's history with long polls, so no
 * step is missed however fast it runs — then returns the heal's outcome.
 */
export async function followHeal(
  temporal: TemporalHandle,
  handle: HealHandle,
  out: Output,
  json: boolean,
): Promise<HealProgress> {
  const runId = (await handle.describe()).runId;
  const seen = new Map<string, number>();
  let nextPageToken: Uint8Array | undefined;
  for (;;) {
    const page = await temporal.client.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.settings.namespace,
      execution: { workflowId: handle.workflowId, runId },
      nextPageToken,
      waitNewEvent: true,
    });
    let closed = false;
    for (const e of page.history?.events ?? []) {
      const scheduled = stepActivity(e);
      if (scheduled && !json) {
        const n = (seen.get(scheduled) ?? 0) + 1;
        seen.set(scheduled, n);
        out.info(`[${scheduled}] ${stepLine(scheduled)}${n > 1 ? ` (${n})` : ''}`);
      }
      const failure = e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
      if (failure && !json) out.info(`  … step failed, Temporal will retry: ${failure.message ?? 'timeout'}`);
      if (
        e.workflowExecutionCompletedEventAttributes ||
        e.workflowExecutionFailedEventAttributes ||
        e.workflowExecutionCanceledEventAttributes ||
        e.workflowExecutionTerminatedEventAttributes ||
        e.workflowExecutionTimedOutEventAttributes ||
        e.workflowExecutionContinuedAsNewEventAttributes
      ) {
        closed = true;
      }
    }
    if (closed || !page.nextPageToken?.length) break;
    nextPageToken = page.nextPageToken;
  }
  return handle.result();
}

function exitFor(p: HealProgress): number {
  return p.status === 'healed' ? EXIT.ok : EXIT.failed;
}

/** `dise heal <id>`: start (or join) the heal of a version; with --wait, follow it to the end. */
export async function heal(
  id: string,
  options: HealOptions & { retry?: boolean },
  config: DiseConfig,
  out: Output,
): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id), config);
  return withTemporal(config, async (temporal) => {
    const { client, settings } = temporal;
    const { handle, joined } = await startHeal(
      client,
      {
        versionId,
        trigger: 'manual',
        failure: {
          failureType: 'manual',
          description: options.reason ?? 'heal requested by an operator',
          severity: 'high',
          detectionMethod: 'manual',
        },
      },
      { retry: options.retry ?? false, taskQueue: taskQueueFromEnv(), detectJoined: true },
    );
    const link = uiLink(handle.workflowId, settings.namespace);
    out.info(`${joined ? 'joined the running' : 'started'} heal ${handle.workflowId}${link ? ` — ${link}` : ''}`);
    if (!options.wait) {
      if (options.json)
        out.result(JSON.stringify({ workflowId: handle.workflowId, runId: (await handle.describe()).runId, joined }));
      return EXIT.ok;
    }
    try {
      const result = await followHeal(temporal, handle, out, options.json);
      out.result(options.json ? JSON.stringify(result, null, 2) : renderHeal(result));
      return exitFor(result);
    } catch (err) {
      out.info(`the heal failed: ${(err as Error).message}`);
      return EXIT.failed;
    }
  });
}

/** `dise heal-status <id>`: the live progress of a running heal, or how the last one ended. */
export async function healStatus(
  id: string,
  options: { json: boolean },
  config: DiseConfig,
  out: Output,
): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id), config);
  const workflowId = healWorkflowId(versionId);
  return withTemporal(config, async ({ client }) => {
    const handle = client.workflow.getHandle<typeof selfHealWorkflow>(workflowId);
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new UsageError(`no heal of ${versionId} has run (start one with \`dise heal ${versionId}\`)`);
      throw err;
    }
    let progress: HealProgress | null = null;
    if (status === 'RUNNING' || status === 'COMPLETED')
      progress = await handle.query(healProgressQuery).catch(() => null);
    if (!progress) {
      progress = await withDatabase(out, async ({ store }) => store.healRuns.latestResult(workflowId), config);
    }
    if (options.json) out.result(JSON.stringify({ workflowId, temporalStatus: status, progress }, null, 2));
    else {
      out.result(`${workflowId}: ${status}`);
      if (progress) out.result(status === 'RUNNING' ? `[${progress.step}] ${progress.message}` : renderHeal(progress));
    }
    return EXIT.ok;
  });
}

/** `dise heal-cancel <id>`: cancel a running heal; it leaves the lineage consistent and records the cancel. */
export async function healCancel(
  id: string,
  options: { wait: boolean },
  config: DiseConfig,
  out: Output,
): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id), config);
  return withTemporal(config, async ({ client }) => {
    const handle = client.workflow.getHandle<typeof selfHealWorkflow>(healWorkflowId(versionId));
    const description = await handle.describe().catch(() => null);
    if (!description || description.status.name !== 'RUNNING')
      throw new UsageError(`no running heal of ${versionId} to cancel`);
    await handle.cancel();
    out.result(`cancel requested for ${handle.workflowId}`);
    if (options.wait) {
      await handle.result().catch(() => undefined);
      out.info(`${handle.workflowId} is ${(await handle.describe()).status.name}`);
    }
    return EXIT.ok;
  });
}
