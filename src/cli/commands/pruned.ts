import type { DiseConfig } from '../../config/schema.js';
import { withDatabase, type Output } from '../context.js';
import { stamp, titleCase } from '../format/style.js';

/** `dise pruned`: pruned versions and why. */
export async function pruned(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      const rows = await store.views.pruned();
      if (options.json) {
        out.result(JSON.stringify(rows, null, 2));
        return;
      }
      if (!rows.length) {
        out.result('Pruned Tools: none');
        return;
      }
      out.result('Pruned Tools:');
      rows.forEach((r, i) => {
        out.result(
          `  ${i + 1}. ${r.id} (${titleCase(r.severity ?? 'unknown')}: ${titleCase(r.failureType ?? 'failure')})`,
        );
        out.result(`     Pruned ${stamp(r.prunedAt)}${r.replacedBy ? `, replaced by ${r.replacedBy}` : ''}`);
        if (r.why) out.result(`     Why: ${r.why}`);
      });
    },
    config,
  );
}
