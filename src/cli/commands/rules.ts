import type { DiseConfig } from '../../config/schema.js';
import { withDatabase, type Output } from '../context.js';

/** `dise rules`: avoidance rules, their scope, source, and how many versions each affects. */
export async function rules(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      const rows = await store.rules.list();
      if (options.json) {
        out.result(JSON.stringify(rows, null, 2));
        return;
      }
      if (!rows.length) {
        out.result('Active Avoidance Rules: none');
        return;
      }
      out.result('Active Avoidance Rules:');
      rows.forEach((r, i) => {
        out.result(`  ${i + 1}. ${r.ruleId} [${r.scope.toUpperCase()}]`);
        out.result(`     ${r.description}`);
        out.result(`     Pattern (${r.patternKind}): ${r.pattern}`);
        out.result(`     Source: ${r.source}`);
        out.result(`     Affects: ${r.scope === 'global' ? 'ALL tools' : `${r.affects} version(s)`}`);
      });
    },
    config,
  );
}
