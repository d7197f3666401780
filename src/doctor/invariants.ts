import type { Client } from '@temporalio/client';
import type { RunningHealRun } from '../lineage/heal-runs.js';
import type { LineageStore } from '../lineage/store.js';

export interface Violation {
  invariant:
    'acyclic' | 'routes' | 'taint' | 'rules' | 'regenerated' | 'reverts' | 'heal-runs' | 'executions' | 'canary';
  message: string;
  ids: string[];
}

/**
 * The lineage invariants, each one SQL statement over the whole database (the data layer's
 * InvariantQueries):
 * - acyclic: every lineage edge goes from a lower to a higher generation (so no cycle can exist);
 * - routes: every route points at a HEALTHY or REGENERATED version;
 * - taint: no descendant of a pruned version is HEALTHY unless re-validated after the prune;
 * - rules: every inherited rule comes from an ancestor, the version itself, the version it replaces,
 *   or a wider scope (all_similar, global);
 * - regenerated: every regenerated version has its ancestor edge and its `regenerated` relation;
 * - reverts: a revert undoes one PRUNED ancestor of its own;
 * - canary: a version is CANARY exactly while its canary runs (routes never point at one: see routes).
 */
export async function lineageViolations(store: LineageStore): Promise<Violation[]> {
  const q = store.invariants;
  const violations: Violation[] = [];

  const backwards = await q.backwardEdges();
  for (const e of backwards) {
    violations.push({
      invariant: 'acyclic',
      message: `edge ${e.parent_id} → ${e.child_id} does not go down the generations (${e.pg} → ${e.cg}): a cycle or a stale generation`,
      ids: [e.parent_id, e.child_id],
    });
  }

  const routes = await q.unroutableRoutes();
  for (const r of routes) {
    violations.push({
      invariant: 'routes',
      message: `callers of ${r.tool_name} are routed to ${r.version_id}, which is ${r.health_status.toUpperCase()}`,
      ids: [r.version_id],
    });
  }

  const untainted = await q.untaintedDescendants();
  for (const u of untainted) {
    violations.push({
      invariant: 'taint',
      message: `${u.tool_id} descends from the pruned ${u.pruned} and is HEALTHY without being re-validated since`,
      ids: [u.tool_id, u.pruned],
    });
  }

  const strayRules = await q.strayRules();
  for (const r of strayRules) {
    violations.push({
      invariant: 'rules',
      message: `${r.tool_id} holds rule ${r.rule_id} from ${r.source}, which is neither an ancestor, itself, what it replaces, nor a wider scope`,
      ids: [r.tool_id, r.rule_id],
    });
  }

  const regenerated = await q.incompleteRegenerated();
  for (const r of regenerated) {
    violations.push({
      invariant: 'regenerated',
      message: `the regenerated ${r.tool_id} lacks ${r.missing}`,
      ids: [r.tool_id],
    });
  }
  for (const r of await q.badReverts()) {
    violations.push({
      invariant: 'reverts',
      message: `${r.tool_id} reverts ${r.reverted}, which ${r.problem}`,
      ids: [r.tool_id, r.reverted],
    });
  }
  for (const c of await q.strayCanaries()) {
    violations.push({ invariant: 'canary', message: `${c.tool_id} ${c.problem}`, ids: [c.tool_id] });
  }
  return violations;
}

export type { RunningHealRun };

/** One violation per heal run the database calls running that Temporal says is not running. */
export async function healRunViolations(running: RunningHealRun[], client: Client): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const run of running) {
    const status = await client.workflow
      .getHandle(run.workflowId, run.id)
      .describe()
      .then(
        (d) => d.status.name,
        () => 'NOT_FOUND',
      );
    if (status !== 'RUNNING') {
      violations.push({
        invariant: 'heal-runs',
        message: `heal run ${run.id} of ${run.toolId} is recorded as running, but Temporal says ${run.workflowId} is ${status}`,
        ids: [run.toolId, run.workflowId, run.id],
      });
    }
  }
  return violations;
}

/** One violation per canary the database calls running whose workflow Temporal says is not running. */
export async function canaryRunViolations(
  running: { candidateId: string; workflowId: string }[],
  client: Client,
): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const c of running) {
    const status = await client.workflow
      .getHandle(c.workflowId)
      .describe()
      .then(
        (d) => d.status.name,
        () => 'NOT_FOUND',
      );
    if (status !== 'RUNNING') {
      violations.push({
        invariant: 'canary',
        message: `the canary of ${c.candidateId} is recorded as running, but Temporal says ${c.workflowId} is ${status}`,
        ids: [c.candidateId, c.workflowId],
      });
    }
  }
  return violations;
}

/**
 * One violation per version whose execution_count differs from what the hourly rollups (for the
 * hours already summed) and the executions still stored (after them) account for: calls counted but
 * lost, or recorded but not counted. Counts a runtime carries to its next write (a version locked by
 * another runtime) show here until that write, a fraction of a second.
 */
export async function executionViolations(store: LineageStore): Promise<Violation[]> {
  return (await store.retention.counterMismatches()).map((m) => ({
    invariant: 'executions' as const,
    message: `${m.tool_id} counts ${m.counted} call(s), but its rollups and stored executions hold ${m.accounted}`,
    ids: [m.tool_id],
  }));
}

/** Everything `dise doctor` checks: the lineage invariants, the execution counters, and the heal runs and canaries against Temporal. */
export async function allViolations(store: LineageStore, client: Client): Promise<Violation[]> {
  return [
    ...(await lineageViolations(store)),
    ...(await executionViolations(store)),
    ...(await healRunViolations(await store.healRuns.running(), client)),
    ...(await canaryRunViolations(await store.canaries.running(), client)),
  ];
}
