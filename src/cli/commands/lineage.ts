import type { DiseConfig } from '../../config/schema.js';
import { pgRunner } from '../../lineage/sql-runner.js';
import { quickReads } from '../../lineage/quick-reads.js';
import { runtimeRouting } from '../../lineage/runtime-routing.js';
import { withPool, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { renderDot, renderMermaid } from '../format/lineage-graph.js';
import { renderLineage } from '../format/lineage-view.js';
import { colorEnabled } from '../format/style.js';

import { LINEAGE_FORMATS } from '../lineage-formats.js';

/** `dise lineage <id>`: the lineage view, or the whole ToolLineage as JSON. */
export async function lineage(
  id: string,
  options: { json: boolean; format: string },
  config: DiseConfig,
  out: Output,
): Promise<void> {
  if (!(LINEAGE_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(`--format: unknown format "${options.format}"; use one of ${LINEAGE_FORMATS.join(', ')}`);
  }
  await withPool(
    out,
    async ({ pool }) => {
      const l = await quickReads.lineage(pgRunner(pool), await quickReads.resolve(pool, id));
      const route = await runtimeRouting.routeOf(pool, l.name);
      const knownWrong =
        route?.knownWrong && route.versionId === l.id
          ? { reason: route.knownWrong, alternativeId: route.alternativeId, policy: config.runtime.known_wrong_policy }
          : null;
      if (options.json) {
        out.result(JSON.stringify(knownWrong ? { ...l, knownWrong } : l, null, 2));
        return;
      }
      if (options.format === 'mermaid' || options.format === 'dot') {
        // The pictures are rarer: they take the Prisma store.
        const { withDatabase } = await import('../context.js');
        const { nodes, edges } = await withDatabase(out, ({ store }) => store.views.picture(l.id), config);
        out.result(options.format === 'mermaid' ? renderMermaid(nodes, edges) : renderDot(nodes, edges));
        return;
      }
      const named = [...l.ancestorPath, ...l.children, ...l.regeneratedAs, ...l.revertedBy, ...l.parents];

      out.result(
        renderLineage(l, {
          healthOf: await quickReads.healthOf(pool, named),
          ruleReach: await quickReads.ruleReach(
            pool,
            l.avoidanceRules.map((r) => r.ruleId),
          ),
          color: colorEnabled(),
        }),
      );
      if (knownWrong) {
        out.result('');
        out.result(`Known wrong: ${knownWrong.reason}`);
        out.result(
          knownWrong.alternativeId
            ? `Callers of ${l.name} are answered by ${knownWrong.alternativeId}, a healthy alternative (same category, similar description, passes the failing inputs).`
            : `No healthy alternative: calls of ${l.name} are ${knownWrong.policy === 'refuse' ? 'refused (ToolPrunedError)' : 'answered with a recorded warning'} (runtime.known_wrong_policy).`,
        );
      }
    },
    config,
  );
}
