import type { DiseConfig } from '../../config/schema.js';
import { healRunViolations, lineageViolations } from '../../doctor/invariants.js';
import { withDatabase, type Output } from '../context.js';
import { EXIT } from '../errors.js';
import { connectTemporal } from '../temporal-client.js';

/**
 * `dise doctor`: checks the lineage invariants in SQL, and that every heal run the database calls
 * running is running in Temporal. Prints each violation with the ids involved; exit 1 when any.
 */
export async function doctor(options: { json: boolean }, config: DiseConfig, out: Output): Promise<number> {
  const { violations, running } = await withDatabase(
    out,
    async ({ store }) => ({ violations: await lineageViolations(store), running: await store.healRuns.running() }),
    config,
  );
  let temporalNote: string | null = null;
  if (running.length) {
    try {
      const temporal = await connectTemporal(config);
      try {
        violations.push(...(await healRunViolations(running, temporal.client)));
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
    out.result(
      'doctor: the lineage is consistent (acyclic, routes usable, taint, rule inheritance, regenerated edges, heal runs)',
    );
  } else {
    out.result(`doctor: ${violations.length} violation(s)`);
    for (const v of violations) out.result(`  [${v.invariant}] ${v.message}`);
  }
  if (temporalNote) out.info(`note: ${temporalNote}`);
  return violations.length ? EXIT.failed : EXIT.ok;
}
