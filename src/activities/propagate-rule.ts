import type { PropagationResult } from '../shared/heal-types.js';
import type { PropagationScope } from '../shared/lineage-types.js';
import { nonRetryable, type ActivityDeps } from './deps.js';

export interface PropagateRuleInput {
  ruleId: string;
}

/**
 * Step 5: propagates a rule by its scope, set-based: `descendants` (every descendant of the version
 * that broke), `all_similar` (those, plus every version of the tools whose description and code are
 * trigram-similar to it above propagation.similarity_threshold), `global` (every version). New
 * versions inherit it from their parents from then on.
 */
export function propagateRuleActivity(deps: ActivityDeps) {
  return async function propagateRule(input: PropagateRuleInput): Promise<PropagationResult> {
    const rule = await deps.prisma.avoidanceRule.findUnique({ where: { ruleId: input.ruleId } });
    if (!rule) throw nonRetryable('InvalidHealInput', `unknown rule ${input.ruleId}`);
    const scope = rule.propagationScope as PropagationScope;
    const source = rule.sourceFailure;
    let similarTools: string[] = [];
    await deps.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`
        WITH RECURSIVE d(id) AS (
          SELECT child_id FROM lineage_relationships WHERE parent_id = ${source} AND relationship_type IN ('direct', 'merge', 'fork')
          UNION
          SELECT r.child_id FROM lineage_relationships r JOIN d ON r.parent_id = d.id WHERE r.relationship_type IN ('direct', 'merge', 'fork')
        )
        INSERT INTO rule_inheritance (tool_id, rule_id, via)
        SELECT id, ${rule.ruleId}, 'descendants' FROM d
        ON CONFLICT (tool_id, rule_id) DO NOTHING`;
      if (scope === 'all_similar') {
        const similar = await tx.$queryRaw<{ tool_name: string }[]>`
          WITH src AS (SELECT tool_name, description || ' ' || code AS text FROM tool_lineage WHERE tool_id = ${source}),
          newest AS (
            SELECT DISTINCT ON (tool_name) tool_name, description || ' ' || code AS text
            FROM tool_lineage ORDER BY tool_name, major DESC, minor DESC, patch DESC
          )
          SELECT n.tool_name FROM newest n, src
          WHERE n.tool_name <> src.tool_name AND similarity(n.text, src.text) >= ${deps.config.self_healing.propagation.similarity_threshold}
          ORDER BY n.tool_name`;
        similarTools = similar.map((s) => s.tool_name);
        await tx.$executeRaw`
          INSERT INTO rule_inheritance (tool_id, rule_id, via)
          SELECT tool_id, ${rule.ruleId}, 'all_similar' FROM tool_lineage WHERE tool_name = ANY(${similarTools}::varchar[])
          ON CONFLICT (tool_id, rule_id) DO NOTHING`;
      }
      if (scope === 'global') {
        await tx.$executeRaw`
          INSERT INTO rule_inheritance (tool_id, rule_id, via)
          SELECT tool_id, ${rule.ruleId}, 'global' FROM tool_lineage
          ON CONFLICT (tool_id, rule_id) DO NOTHING`;
      }
    });
    const reached = await deps.prisma.ruleInheritance.count({ where: { ruleId: rule.ruleId, via: { not: 'source' } } });
    return { ruleId: rule.ruleId, scope, reached, similarTools };
  };
}
