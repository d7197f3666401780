import type { PrismaClient } from '../infra/database.js';
import type { AvoidanceRuleRecord, TestCaseRecord } from '../shared/lineage-types.js';
import { byCreation, fromRuleRow, rulesInScopeRows, type RuleRow } from './rules.js';
import { gateHeadColumns, type GateHead } from './shared-rules.js';
import type { Db } from './sql.js';
import { suiteRows } from './tests.js';

/** What the judge reads about a version's scope before it runs anything. */
export interface ScopeEvidence {
  /** The suite (null: not asked for). */
  suite: TestCaseRecord[] | null;
  /** The avoidance rules that gate it (null: not asked for). */
  rules: AvoidanceRuleRecord[] | null;
  /** What the imported rules' gate checks before using its kept rules. */
  gateHead: GateHead;
}

/**
 * The judge's reads of a scope in one statement: its suite, the rules in scope (plus a heal's new
 * ones) and the imported rules' head, each as its own store reads it (the same SQL).
 */
export class JudgeEvidenceReads {
  constructor(private readonly prisma: PrismaClient) {}

  async of(
    scopeOf: string,
    want: { suite: boolean; rules: boolean; extraRuleIds: string[] },
    db: Db = this.prisma,
  ): Promise<ScopeEvidence> {
    const [row] = await db.$queryRaw<({ suite: TestCaseRecord[] | null; rules: RuleRow[] | null } & GateHead)[]>`
      SELECT
        CASE WHEN ${want.suite} THEN
          (SELECT coalesce(json_agg(s ORDER BY s.id), '[]') FROM (${suiteRows(scopeOf)}) s) END AS suite,
        CASE WHEN ${want.rules} THEN
          (SELECT coalesce(json_agg(r), '[]') FROM (${rulesInScopeRows(scopeOf, want.extraRuleIds)}) r) END AS rules,
        ${gateHeadColumns(scopeOf)}`;
    return {
      suite: row!.suite,
      rules: row!.rules ? row!.rules.sort(byCreation).map(fromRuleRow) : null,
      gateHead: { generation: row!.generation, tool: row!.tool },
    };
  }
}
