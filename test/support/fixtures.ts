import type { LineageStore, RegisterVersionInput } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { TestDatabase } from './database.js';

export const TABLES = [
  'tool_lineage',
  'lineage_relationships',
  'mutations',
  'failures',
  'avoidance_rules',
  'rule_inheritance',
  'fitness_history',
  'executions',
  'test_cases',
  'routes',
  'heal_runs',
  'immunity_runs',
  'trusted_rule_keys',
  'imported_rules',
  'imported_rule_reports',
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

export function version(
  name: string,
  v: string,
  parents: string[] = [],
  extra: Partial<RegisterVersionInput> = {},
): RegisterVersionInput {
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

const STRICT_V1 =
  "function run(input) { return typeof input === 'string' && /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/i.test(input); }";
/** The "optimized" version throws on anything that is not a string. */
const THROWING_V2 = "function run(input) { const s = input.trim(); return s.length > 3 && s.split('@').length === 2; }";

/**
 * A routed tool whose 2.0.0 throws on one call in `errorEvery` (non-string input), with 100 calls
 * recorded through a real ToolRuntime: the monitor's error-rate check finds it.
 */
export async function registerThrowingTool(
  store: LineageStore,
  databaseUrl: string,
  name: string,
  errorEvery = 10,
): Promise<void> {
  await store.registerMany([
    {
      name,
      version: '1.0.0',
      code: STRICT_V1,
      tests: [
        { name: 'plain', input: 'a@b.co', expect: true },
        { name: 'no at', input: 'ab.co', expect: false },
      ],
    },
    {
      name,
      version: '2.0.0',
      parents: [`${name}@1.0.0`],
      code: THROWING_V2,
      mutation: { type: 'optimization', description: 'Optimize for speed' },
    },
  ]);
  await store.setRoute(`${name}@2.0.0`, 'test');
  const runtime = await ToolRuntime.create({ databaseUrl });
  for (let i = 0; i < 100; i++)
    await runtime.call(name, i % errorEvery === 0 ? 42 : `user${i}@example.com`).catch(() => undefined);
  await runtime.close();
}
