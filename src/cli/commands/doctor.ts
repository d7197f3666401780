import type { DiseConfig } from '../../config/schema.js';
import { lineageViolations, runningHealRuns, type Violation } from '../../doctor/invariants.js';
import { withDatabase, type Output } from '../context.js';
import { EXIT } from '../errors.js';
import { connectTemporal } from '../temporal-client.js';

/**
 * `dise doctor`: checks the lineage invariants in SQL, and that every heal run the database calls
 * running is running in Temporal. Prints each violation with the ids involved; exit 1 when any.
 */
export async function doctor(options: { json: boolean }, config: DiseConfig, out: Output): Promise<number> {
  const { violations, running } = await withDatabase(out, async ({ prisma }) => ({ violations: await lineageViolations(prisma), running: await runningHealRuns(prisma) }), config);
  let temporalNote: string | null = null;
  if (running.length) {
    try {
      const temporal = await connectTemporal(config);
      try {
        for (const run of running) {
          const status = await temporal.client.workflow
            .getHandle(run.workflowId, run.id)
            .describe()
            .then((d) => d.status.name, () => 'NOT_FOUND');
          if (status !== 'RUNNING') {
            violations.push({ invariant: 'heal_runs', message: `heal run ${run.id} of ${run.toolId} is recorded as running, but Temporal says ${run.workflowId} is ${status}`, ids: [run.toolId, run.workflowId, run.id] } satisfies Violation);
          }
        }
      } finally {
        await temporal.close();
      }
    } catch (err) {
      temporalNote = `could not compare ${running.length} running heal run(s) with Temporal: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  if (options.json) {
    out.result(JSON.stringify({ ok: violations.length === 0, violations, note: temporalNote }, null, 2));
  } else if (!violations.length) {
    out.result('doctor: the lineage is consistent (acyclic, routes usable, taint, rule inheritance, regenerated edges, heal runs)');
  } else {
    out.result(`doctor: ${violations.length} violation(s)`);
    for (const v of violations) out.result(`  [${v.invariant}] ${v.message}`);
  }
  if (temporalNote) out.info(`note: ${temporalNote}`);
  return violations.length ? EXIT.failed : EXIT.ok;
}
