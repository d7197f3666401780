import { WorkflowNotFoundError } from '@temporalio/client';
import { readLiveDevState } from '../../infra/dev-state.js';
import { startHeal, type HealHandle } from '../../healing/start-heal.js';
import { healWorkflowId } from '../../shared/constants.js';
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

async function withTemporal<T>(fn: (t: TemporalHandle) => Promise<T>): Promise<T> {
  const temporal = await connectTemporal();
  try {
    return await fn(temporal);
  } finally {
    await temporal.close();
  }
}

/** Prints each step as the heal reaches it, then its outcome. */
async function follow(handle: HealHandle, out: Output, json: boolean): Promise<HealProgress> {
  let last = '';
  const done = handle.result();
  let finished = false;
  void done.then(
    () => (finished = true),
    () => (finished = true),
  );
  while (!finished) {
    try {
      const p = await handle.query(healProgressQuery);
      const line = `[${p.step}] ${p.message}`;
      if (line !== last && !json) out.info(line);
      last = line;
    } catch {
      // not started yet, or just finished
    }
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 200))]);
  }
  return done;
}

function exitFor(p: HealProgress): number {
  return p.status === 'healed' ? EXIT.ok : EXIT.failed;
}

/** `dise heal <id>`: start (or join) the heal of a version; with --wait, follow it to the end. */
export async function heal(id: string, options: HealOptions & { retry?: boolean }, out: Output): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id));
  return withTemporal(async ({ client, settings }) => {
    const { handle, joined } = await startHeal(
      client,
      {
        versionId,
        trigger: 'manual',
        failure: { failureType: 'manual', description: options.reason ?? 'heal requested by an operator', severity: 'high', detectionMethod: 'manual' },
      },
      { retry: options.retry ?? false },
    );
    const link = uiLink(handle.workflowId, settings.namespace);
    out.info(`${joined ? 'joined the running' : 'started'} heal ${handle.workflowId}${link ? ` — ${link}` : ''}`);
    if (!options.wait) {
      if (options.json) out.result(JSON.stringify({ workflowId: handle.workflowId, runId: (await handle.describe()).runId, joined }));
      return EXIT.ok;
    }
    try {
      const result = await follow(handle, out, options.json);
      out.result(options.json ? JSON.stringify(result, null, 2) : renderHeal(result));
      return exitFor(result);
    } catch (err) {
      out.info(`the heal failed: ${(err as Error).message}`);
      return EXIT.failed;
    }
  });
}

/** `dise heal-status <id>`: the live progress of a running heal, or how the last one ended. */
export async function healStatus(id: string, options: { json: boolean }, out: Output): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id));
  const workflowId = healWorkflowId(versionId);
  return withTemporal(async ({ client }) => {
    const handle = client.workflow.getHandle<typeof selfHealWorkflow>(workflowId);
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new UsageError(`no heal of ${versionId} has run (start one with \`dise heal ${versionId}\`)`);
      throw err;
    }
    let progress: HealProgress | null = null;
    if (status === 'RUNNING' || status === 'COMPLETED') progress = await handle.query(healProgressQuery).catch(() => null);
    if (!progress) {
      progress = await withDatabase(out, async ({ prisma }) => {
        const run = await prisma.healRun.findFirst({ where: { workflowId }, orderBy: { startedAt: 'desc' } });
        return (run?.result as unknown as HealProgress | null) ?? null;
      });
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
export async function healCancel(id: string, options: { wait: boolean }, out: Output): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id));
  return withTemporal(async ({ client }) => {
    const handle = client.workflow.getHandle<typeof selfHealWorkflow>(healWorkflowId(versionId));
    const description = await handle.describe().catch(() => null);
    if (!description || description.status.name !== 'RUNNING') throw new UsageError(`no running heal of ${versionId} to cancel`);
    await handle.cancel();
    out.result(`cancel requested for ${handle.workflowId}`);
    if (options.wait) {
      await handle.result().catch(() => undefined);
      out.info(`${handle.workflowId} is ${(await handle.describe()).status.name}`);
    }
    return EXIT.ok;
  });
}
