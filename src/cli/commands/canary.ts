import type { DiseConfig } from '../../config/schema.js';
import type { CanaryRecord } from '../../lineage/canaries.js';
import type { CanaryProgress } from '../../shared/canary-types.js';
import { canaryWorkflowId } from '../../shared/constants.js';
import { looksLikeVersionId } from '../../shared/ids.js';
import { canaryAbortSignal, canaryProgressQuery, canaryPromoteSignal } from '../../shared/messages.js';
import type { canaryWorkflow } from '../../workflows/canary.js';
import { withDatabase, type Output } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { canaryProgressLine } from '../format/canary-view.js';
import { connectTemporal } from '../temporal-client.js';

/** A canary as `dise canary status` shows it: the stored row, what runtimes recorded, the live query. */
export interface CanaryStatusView extends CanaryRecord {
  mirrored: number;
  agreedCalls: number;
  /** The workflow's live progress, when Temporal answered. */
  live: CanaryProgress | null;
}

const QUERY_TIMEOUT_MS = 3000;

async function liveProgress(config: DiseConfig, workflowIds: string[]): Promise<Map<string, CanaryProgress>> {
  const live = new Map<string, CanaryProgress>();
  if (!workflowIds.length) return live;
  const temporal = await connectTemporal(config).catch(() => null);
  if (!temporal) return live;
  try {
    for (const id of workflowIds) {
      // A query waits for a worker; the stored verdict is shown without it after a few seconds.
      const query = temporal.client.workflow
        .getHandle<typeof canaryWorkflow>(id)
        .query(canaryProgressQuery)
        .catch(() => null);
      const p = await Promise.race([
        query,
        new Promise<null>((r) => setTimeout(() => r(null), QUERY_TIMEOUT_MS).unref()),
      ]);
      if (p) live.set(id, p);
    }
  } finally {
    await temporal.close();
  }
  return live;
}

/** `dise canary status [id]`: one canary (by version id or tool name), or every running one and the latest ended. */
export async function canaryStatus(
  id: string | undefined,
  options: { json: boolean },
  config: DiseConfig,
  out: Output,
): Promise<number> {
  const rows = await withDatabase(
    out,
    async ({ store }) => {
      let list: CanaryRecord[];
      if (id) {
        const byId = looksLikeVersionId(id) ? await store.canaries.get(await store.resolve(id)) : null;
        list = byId ? [byId] : await store.canaries.list({ toolNames: [id], limit: 1 });
        if (!list.length) throw new UsageError(`no canary of ${id}`);
      } else {
        list = await store.canaries.list({ limit: 50 });
      }
      const counts = await store.canaries.mirroredCounts(list.map((c) => c.candidateId));
      return list.map((c) => ({
        ...c,
        mirrored: counts.get(c.candidateId)?.mirrored ?? 0,
        agreedCalls: counts.get(c.candidateId)?.agreed ?? 0,
      }));
    },
    config,
  );
  const live = await liveProgress(
    config,
    rows.filter((r) => r.status === 'running').map((r) => r.workflowId),
  );
  const views: CanaryStatusView[] = rows.map((r) => ({ ...r, live: live.get(r.workflowId) ?? null }));
  if (options.json) {
    out.result(JSON.stringify(id ? views[0] : views, null, 2));
    return EXIT.ok;
  }
  if (!views.length) {
    out.info('no canaries (deployment.mode: shadow puts new versions in one)');
    return EXIT.ok;
  }
  for (const v of views) {
    out.result(
      `${v.candidateId} ${v.status.toUpperCase()} beside ${v.stableId} (${v.origin}${v.healId ? ` ${v.healId}` : ''}), started ${v.startedAt}${v.endedAt ? `, ended ${v.endedAt}` : ''}`,
    );
    out.result(`  ${canaryProgressLine(v.verdict?.mirrored ?? v.mirrored, v.verdict, v.mirrorFraction)}`);
    if (v.verdict?.reasons.length) out.result(`  judge: ${v.verdict.reasons.join('; ')}`);
    if (v.decision) out.result(`  decision: ${v.decision}`);
    if (v.live?.deadline && v.status === 'running')
      out.result(`  deadline: ${v.live.deadline} (then on_timeout: ${config.deployment.canary.on_timeout})`);
  }
  return EXIT.ok;
}

/** `dise canary promote|abort <id>`: signals the canary workflow; with --wait, waits for it to end. */
export async function canarySignal(
  action: 'promote' | 'abort',
  id: string,
  options: { wait: boolean; reason?: string },
  config: DiseConfig,
  out: Output,
): Promise<number> {
  const versionId = await withDatabase(out, async ({ store }) => store.resolve(id), config);
  const temporal = await connectTemporal(config);
  try {
    const handle = temporal.client.workflow.getHandle<typeof canaryWorkflow>(canaryWorkflowId(versionId));
    const description = await handle.describe().catch(() => null);
    if (!description || description.status.name !== 'RUNNING')
      throw new UsageError(`no running canary of ${versionId}`);
    const reason =
      options.reason ??
      (action === 'promote'
        ? 'promoted by an operator (dise canary promote)'
        : 'aborted by an operator (dise canary abort)');
    await handle.signal(action === 'promote' ? canaryPromoteSignal : canaryAbortSignal, { reason });
    out.result(`${action} requested for ${handle.workflowId}`);
    if (options.wait) {
      const end = await handle.result();
      out.result(`${versionId} ${end.status}: ${end.message}`);
    }
    return EXIT.ok;
  } finally {
    await temporal.close();
  }
}
