import type { RegisterVersionInput } from '../../src/lineage/store.js';
import type { TestDatabase } from './database.js';

export const TABLES = [
  'tool_lineage', 'lineage_relationships', 'mutations', 'failures', 'avoidance_rules', 'rule_inheritance',
  'fitness_history', 'executions', 'test_cases', 'routes', 'heal_runs',
] as const;

/** Row counts of every table, to prove a refused operation wrote nothing. */
export async function tableCounts(db: TestDatabase): Promise<Record<string, number>> {
  const sql = TABLES.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(' UNION ALL ');
  const rows = await db.query<{ t: string; n: number }>(sql);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

export const REGEX_VALIDATOR = `function run(input) {
  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(String(input));
}`;

export const AT_CHECK_VALIDATOR = `function run(input) {
  // Optimized: skip the regex
  return String(input).includes('@');
}`;

export function version(name: string, v: string, parents: string[] = [], extra: Partial<RegisterVersionInput> = {}): RegisterVersionInput {
  return {
    name,
    version: v,
    parents,
    code: REGEX_VALIDATOR,
    description: `${name} ${v}`,
    category: 'validation',
    mutation: parents.length ? { type: 'refactor', description: `make ${v}` } : null,
    ...extra,
  };
}
