import type { DiseConfig } from '../../config/schema.js';
import { withDatabase, type Output } from '../context.js';

interface RuleRow {
  ruleId: string;
  description: string;
  scope: string;
  patternKind: string;
  pattern: string;
  source: string;
  reason: string;
  affects: number;
  createdAt: Date;
}

/** `dise rules`: avoidance rules, their scope, source, and how many versions each affects. */
export async function rules(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(out, async ({ prisma }) => {
    const rows = await prisma.$queryRaw<RuleRow[]>`
      SELECT r.rule_id AS "ruleId", r.description, r.propagation_scope AS scope, r.pattern_kind AS "patternKind",
             r.pattern_to_avoid AS pattern, r.source_failure AS source, r.reason, r.created_at AS "createdAt",
             (SELECT count(*)::int FROM rule_inheritance i WHERE i.rule_id = r.rule_id) AS affects
      FROM avoidance_rules r ORDER BY r.created_at, r.rule_id`;
    if (options.json) {
      out.result(JSON.stringify(rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })), null, 2));
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
  }, config);
}
