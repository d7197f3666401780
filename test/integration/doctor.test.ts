import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { captureOutput } from '../support/output.js';
import { useHealStack } from '../support/heal-stack.js';
import { healInput, reportWrongResults } from '../support/failures.js';

const h = useHealStack('doctor');
beforeAll(() => {
  process.env.DATABASE_URL = h.db.url;
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
});
afterAll(() => {
  delete process.env.DATABASE_URL;
  delete process.env.TEMPORAL_ADDRESS;
});

async function doctor(): Promise<{ code: number; violations: { invariant: string; ids: string[] }[] }> {
  const out = captureOutput();
  const code = await runCli(['doctor', '--json'], out);
  return { code, violations: JSON.parse(out.stdout.join('')).violations };
}

describe('dise doctor', () => {
  it('is clean after a heal, and after a late merge re-levels the generations', async () => {
    await registerEmailStory(h.store, 'doc');
    await reportWrongResults(h.db.url, 'doc@2.0.0', WRONG_RESULTS);
    const { handle } = await startHeal(h.temporal.client, healInput('doc@2.0.0', { description: 'x' }), {
      taskQueue: h.taskQueue,
    });
    expect((await handle.result()).status).toBe('healed');
    await h.store.registerMany([
      { name: 'deep', version: '1.0.0', code: 'function run(x) { return x; }' },
      { name: 'deep', version: '1.1.0', parents: ['deep@1.0.0'], code: 'function run(x) { return x; }' },
      { name: 'deep', version: '1.2.0', parents: ['deep@1.1.0'], code: 'function run(x) { return x; }' },
      { name: 'side', version: '1.0.0', code: 'function run(x) { return x; }' },
      { name: 'side', version: '1.1.0', parents: ['side@1.0.0'], code: 'function run(x) { return x; }' },
      { name: 'side', version: '1.2.0', parents: ['side@1.1.0'], code: 'function run(x) { return x; }' },
      { name: 'side', version: '1.3.0', parents: ['side@1.2.0'], code: 'function run(x) { return x; }' },
    ]);
    await h.store.addParent('deep@1.1.0', 'side@1.3.0');
    const out = captureOutput();
    expect(await runCli(['doctor'], out)).toBe(0);
    expect(out.stdout[0]).toMatch(/^doctor: the lineage is consistent/);
  });

  it('reports each broken invariant with the ids involved, and exits 1', async () => {
    await h.db.query(`UPDATE routes SET version_id = 'doc@2.0.0' WHERE tool_name = 'doc'`); // routed to a pruned version
    await h.db.query(`UPDATE tool_lineage SET generation = 0 WHERE tool_id = 'deep@1.2.0'`); // an edge going up
    await h.db.query(
      `UPDATE tool_lineage SET health_status = 'healthy', updated_at = '2000-01-01' WHERE tool_id = 'deep@1.2.0'`,
    );
    await h.db.query(
      `UPDATE tool_lineage SET health_status = 'pruned', pruned_at = now() WHERE tool_id = 'deep@1.1.0'`,
    ); // a healthy child never re-validated
    await h.db.query(
      `INSERT INTO avoidance_rules (rule_id, description, pattern_to_avoid, reason, source_failure, propagation_scope) VALUES ('avoid_stray', 'x', 'x', 'x', 'side@1.0.0', 'descendants')`,
    );
    await h.db.query(
      `INSERT INTO rule_inheritance (tool_id, rule_id, via) VALUES ('doc@1.0.0', 'avoid_stray', 'descendants')`,
    ); // not a descendant of side
    await h.db.query(
      `DELETE FROM lineage_relationships WHERE child_id = 'doc@2.0.1' AND relationship_type = 'regenerated'`,
    );
    await h.db.query(
      `INSERT INTO heal_runs (id, workflow_id, tool_id, status) VALUES ('no-such-run', 'heal:doc@1.0.0', 'doc@1.0.0', 'running')`,
    );
    const { code, violations } = await doctor();
    expect(code).toBe(1);
    const by = (inv: string) => violations.filter((v) => v.invariant === inv).map((v) => v.ids);
    expect(by('routes')).toEqual([['doc@2.0.0']]);
    expect(by('acyclic')).toContainEqual(['deep@1.1.0', 'deep@1.2.0']);
    expect(by('taint')).toContainEqual(['deep@1.2.0', 'deep@1.1.0']);
    // (doc@2.0.1 also loses the right to its rule once its regenerated relation is gone.)
    expect(by('rules')).toContainEqual(['doc@1.0.0', 'avoid_stray']);
    expect(by('regenerated')).toEqual([['doc@2.0.1']]);
    expect(by('heal-runs')).toEqual([['doc@1.0.0', 'heal:doc@1.0.0', 'no-such-run']]);
    const text = captureOutput();
    expect(await runCli(['doctor'], text)).toBe(1);
    expect(text.stdout.join('\n')).toMatch(/\[routes\] callers of doc are routed to doc@2\.0\.0, which is PRUNED/);
  });
});
