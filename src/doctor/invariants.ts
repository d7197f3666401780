import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../infra/database.js';

export interface Violation {
  invariant: 'acyclic' | 'routes' | 'taint' | 'rules' | 'regenerated' | 'heal_runs';
  message: string;
  ids: string[];
}

/**
 * The lineage invariants, each one SQL statement over the whole database:
 * - acyclic: every lineage edge goes from a lower to a higher generation (so no cycle can exist);
 * - routes: every route points at a HEALTHY or REGENERATED version;
 * - taint: no descendant of a pruned version is HEALTHY unless re-validated after the prune;
 * - rules: every inherited rule comes from an ancestor, the version itself, the version it replaces,
 *   or a wider scope (all_similar, global);
 * - regenerated: every regenerated version has its ancestor edge and its `regenerated` relation.
 */
export async function lineageViolations(prisma: PrismaClient): Promise<Violation[]> {
  const violations: Violation[] = [];

  const backwards = await prisma.$queryRaw<{ parent_id: string; child_id: string; pg: number; cg: number }[]>`
    SELECT r.parent_id, r.child_id, p.generation AS pg, c.generation AS cg
    FROM lineage_relationships r JOIN tool_lineage p ON p.tool_id = r.parent_id JOIN tool_lineage c ON c.tool_id = r.child_id
    WHERE r.relationship_type IN ('direct', 'merge', 'fork') AND c.generation <= p.generation
    ORDER BY r.id LIMIT 1000`;
  for (const e of backwards) {
    violations.push({ invariant: 'acyclic', message: `edge ${e.parent_id} → ${e.child_id} does not go down the generations (${e.pg} → ${e.cg}): a cycle or a stale generation`, ids: [e.parent_id, e.child_id] });
  }

  const routes = await prisma.$queryRaw<{ tool_name: string; version_id: string; health_status: string }[]>`
    SELECT r.tool_name, r.version_id, t.health_status FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id
    WHERE t.health_status NOT IN ('healthy', 'regenerated') ORDER BY r.tool_name`;
  for (const r of routes) {
    violations.push({ invariant: 'routes', message: `callers of ${r.tool_name} are routed to ${r.version_id}, which is ${r.health_status.toUpperCase()}`, ids: [r.version_id] });
  }

  const untainted = await prisma.$queryRaw<{ pruned: string; tool_id: string }[]>`
    WITH RECURSIVE d(pruned, id) AS (
      SELECT p.tool_id, r.child_id FROM tool_lineage p JOIN lineage_relationships r ON r.parent_id = p.tool_id AND r.relationship_type IN ('direct', 'merge', 'fork')
      WHERE p.health_status = 'pruned'
      UNION
      SELECT d.pruned, r.child_id FROM d JOIN lineage_relationships r ON r.parent_id = d.id AND r.relationship_type IN ('direct', 'merge', 'fork')
    )
    SELECT d.pruned, t.tool_id FROM d
    JOIN tool_lineage t ON t.tool_id = d.id JOIN tool_lineage p ON p.tool_id = d.pruned
    WHERE t.health_status = 'healthy' AND t.updated_at < p.pruned_at
    ORDER BY t.tool_id LIMIT 1000`;
  for (const u of untainted) {
    violations.push({ invariant: 'taint', message: `${u.tool_id} descends from the pruned ${u.pruned} and is HEALTHY without being re-validated since`, ids: [u.tool_id, u.pruned] });
  }

  const strayRules = await prisma.$queryRaw<{ tool_id: string; rule_id: string; source: string }[]>`
    SELECT i.tool_id, i.rule_id, a.source_failure AS source
    FROM rule_inheritance i JOIN avoidance_rules a ON a.rule_id = i.rule_id
    WHERE a.propagation_scope NOT IN ('global', 'all_similar')
      AND a.source_failure <> i.tool_id
      AND NOT EXISTS (
        SELECT 1 FROM lineage_relationships r JOIN rule_inheritance pi ON pi.tool_id = r.parent_id AND pi.rule_id = i.rule_id
        WHERE r.child_id = i.tool_id AND r.relationship_type IN ('direct', 'merge', 'fork'))
      AND NOT EXISTS (
        SELECT 1 FROM lineage_relationships r WHERE r.child_id = i.tool_id AND r.parent_id = a.source_failure AND r.relationship_type = 'regenerated')
    ORDER BY i.tool_id, i.rule_id LIMIT 1000`;
  for (const r of strayRules) {
    violations.push({ invariant: 'rules', message: `${r.tool_id} holds rule ${r.rule_id} from ${r.source}, which is neither an ancestor, itself, what it replaces, nor a wider scope`, ids: [r.tool_id, r.rule_id] });
  }

  const regenerated = await prisma.$queryRaw<{ tool_id: string; missing: string }[]>`
    SELECT t.tool_id,
           CASE WHEN t.regenerated_from IS NULL THEN 'regenerated_from'
                WHEN NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.parent_id = t.regenerated_from AND r.relationship_type <> 'regenerated') THEN 'its parent edge to ' || t.regenerated_from
                ELSE 'its regenerated relation' END AS missing
    FROM tool_lineage t
    WHERE t.health_status = 'regenerated'
      AND (t.regenerated_from IS NULL
           OR NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.parent_id = t.regenerated_from AND r.relationship_type <> 'regenerated')
           OR NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.relationship_type = 'regenerated'))
    ORDER BY t.tool_id`;
  for (const r of regenerated) {
    violations.push({ invariant: 'regenerated', message: `the regenerated ${r.tool_id} lacks ${r.missing}`, ids: [r.tool_id] });
  }
  return violations;
}

/** Heal runs the database calls running, for comparing with Temporal. */
export interface RunningHealRun {
  id: string;
  workflowId: string;
  toolId: string;
}

export async function runningHealRuns(prisma: PrismaClient): Promise<RunningHealRun[]> {
  return prisma.healRun.findMany({ where: { status: 'running' }, select: { id: true, workflowId: true, toolId: true }, orderBy: { startedAt: 'asc' } });
}

/** One violation per heal run the database calls running that Temporal says is not running. */
export async function healRunViolations(running: RunningHealRun[], client: Client): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const run of running) {
    const status = await client.workflow
      .getHandle(run.workflowId, run.id)
      .describe()
      .then((d) => d.status.name, () => 'NOT_FOUND');
    if (status !== 'RUNNING') {
      violations.push({ invariant: 'heal_runs', message: `heal run ${run.id} of ${run.toolId} is recorded as running, but Temporal says ${run.workflowId} is ${status}`, ids: [run.toolId, run.workflowId, run.id] });
    }
  }
  return violations;
}

/** Everything `dise doctor` checks: the lineage invariants and the heal runs against Temporal. */
export async function allViolations(prisma: PrismaClient, client: Client): Promise<Violation[]> {
  return [...(await lineageViolations(prisma)), ...(await healRunViolations(await runningHealRuns(prisma), client))];
}
