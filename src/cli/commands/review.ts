import os from 'node:os';
import type { DiseConfig } from '../../config/schema.js';
import { taskQueueFromEnv } from '../../infra/temporal-connection.js';
import type { ReviewResult } from '../../shared/review.js';
import { reviewWorkflowId } from '../../shared/review.js';
import { withDatabase, type Output } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import { connectTemporal } from '../temporal-client.js';

export interface ReviewOptions {
  approve: boolean;
  refuse: boolean;
  note?: string;
  json: boolean;
  /** Wait for the review workflow to route or refuse the version (default). */
  wait: boolean;
}

export interface ReviewView {
  versionId: string;
  decision: 'approve' | 'refuse';
  note: string | null;
  workflowId: string;
  /** What the review workflow did (null with --no-wait). */
  result: ReviewResult | null;
}

/**
 * `dise review <version> --approve|--refuse [--note]`: a person's decision on a HELD feature_add
 * (deployment.review: hold), sent as the `reviewDecision` signal to its review workflow (started
 * with the signal when nothing started it). The workflow routes an approved version or stores a
 * refused one FAILED; the command waits for that unless --no-wait.
 */
export async function review(id: string, options: ReviewOptions, config: DiseConfig, out: Output): Promise<number> {
  if (options.approve === options.refuse) throw new UsageError('review: give exactly one of --approve or --refuse');
  const decision = options.approve ? 'approve' : 'refuse';
  const held = await withDatabase(
    out,
    async ({ store }) => {
      const versionId = await store.resolve(id);
      const version = await store.graph.version(versionId);
      const differential = (await store.differential.latestFor([versionId])).get(versionId) ?? null;
      return { versionId, health: version?.health ?? 'unknown', differential };
    },
    config,
  );
  if (held.health !== 'held')
    throw new UsageError(`${held.versionId} is ${held.health.toUpperCase()}, not HELD for review: nothing to decide`);
  if (!options.json && held.differential)
    out.info(
      `${held.versionId}: ${held.differential.differing} listed difference(s) from ${held.differential.parents.join(' and ')}, e.g. ${held.differential.differences
        .slice(0, 3)
        .map((d) => JSON.stringify(d.input))
        .join(', ')}`,
    );
  const temporal = await connectTemporal(config);
  try {
    const { sendReviewDecision } = await import('../../client/review.js');
    const handle = await sendReviewDecision(
      temporal.client,
      held.versionId,
      { decision, note: options.note ?? null, by: `cli:${os.hostname()}:${os.userInfo().username}` },
      { taskQueue: taskQueueFromEnv() },
    );
    const view: ReviewView = {
      versionId: held.versionId,
      decision,
      note: options.note ?? null,
      workflowId: reviewWorkflowId(held.versionId),
      result: options.wait ? await handle.result() : null,
    };
    if (options.json) out.result(JSON.stringify(view, null, 2));
    else {
      out.result(`${decision} sent to ${view.workflowId}`);
      if (view.result) out.result(view.result.message);
    }
    return view.result?.outcome === 'not_held' ? EXIT.failed : EXIT.ok;
  } finally {
    await temporal.close();
  }
}
