import type { DiseConfig } from '../../config/schema.js';
import type { Health } from '../../shared/lineage-types.js';
import { withDatabase, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { renderLineage } from '../format/lineage-view.js';
import { colorEnabled } from '../format/style.js';

export const LINEAGE_FORMATS = ['text'] as const;

/** `dise lineage <id>`: the seed's lineage view, or the whole ToolLineage as JSON. */
export async function lineage(id: string, options: { json: boolean; format: string }, config: DiseConfig, out: Output): Promise<void> {
  if (!(LINEAGE_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(`--format: unknown format "${options.format}"; use one of ${LINEAGE_FORMATS.join(', ')}`);
  }
  await withDatabase(out, async ({ store, prisma }) => {
    const l = await store.getLineage(await store.resolve(id));
    if (options.json) {
      out.result(JSON.stringify(l, null, 2));
      return;
    }
    const named = [...l.ancestorPath, ...l.children, ...l.regeneratedAs, ...l.parents];
    const rows = await prisma.toolLineage.findMany({ where: { toolId: { in: named } }, select: { toolId: true, healthStatus: true } });
    const reach = await prisma.ruleInheritance.groupBy({
      by: ['ruleId'],
      where: { ruleId: { in: l.avoidanceRules.map((r) => r.ruleId) } },
      _count: { _all: true },
    });
    out.result(
      renderLineage(l, {
        healthOf: new Map(rows.map((r) => [r.toolId, r.healthStatus as Health])),
        ruleReach: new Map(reach.map((r) => [r.ruleId, r._count._all])),
        color: colorEnabled(),
      }),
    );
  }, config);
}
