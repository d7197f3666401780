import { Prisma, type AvoidanceRule } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import type { AvoidanceRuleRecord, PropagationScope } from '../shared/lineage-types.js';
import { descendantSet, newestFirst, type Db } from './sql.js';

/** An avoidance_rules row as an AvoidanceRuleRecord (dates as ISO strings). */
export function toRuleRecord(r: AvoidanceRule): AvoidanceRuleRecord {
  return fromRuleRow({ ...r, propagationScope: r.propagationScope as PropagationScope });
}

/** A rule row as rulesInScopeRows selects it (createdAt: a Date, or its text inside JSON). */
export interface RuleRow extends Omit<AvoidanceRuleRecord, 'createdAt'> {
  createdAt: Date | string;
}

/**
 * The rules that gate a version, withdrawn ones aside: those it holds (inherited, propagated), every
 * global one, and `extra` ids (a heal's new rule before it is inherited). A whole SELECT, to read
 * alone or inside another; in creation order once sorted with byCreation.
 */
export function rulesInScopeRows(versionId: string, extra: string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT r.rule_id AS "ruleId", r.description, r.pattern_to_avoid AS "patternToAvoid",
           r.pattern_kind AS "patternKind", r.reason, r.source_failure AS "sourceFailure",
           r.propagation_scope AS "propagationScope", r.created_at AS "createdAt"
    FROM avoidance_rules r
    WHERE r.withdrawn_at IS NULL
      AND (r.propagation_scope = 'global' OR r.rule_id = ANY(${extra}::varchar[])
        OR EXISTS (SELECT 1 FROM rule_inheritance i WHERE i.rule_id = r.rule_id AND i.tool_id = ${versionId}))`;
}

/** Oldest rule first, then by id. */
export function byCreation(a: RuleRow, b: RuleRow): number {
  return new Date(a.createdAt).getTime() - new Date(b.createdAt).getTime() || (a.ruleId < b.ruleId ? -1 : 1);
}

/** A rule row (a Prisma model's or rulesInScopeRows') as an AvoidanceRuleRecord (dates as ISO strings). */
export function fromRuleRow(r: RuleRow): AvoidanceRuleRecord {
  return {
    ruleId: r.ruleId,
    description: r.description,
    patternToAvoid: r.patternToAvoid,
    patternKind: r.patternKind,
    reason: r.reason,
    sourceFailure: r.sourceFailure,
    propagationScope: r.propagationScope,
    createdAt: new Date(r.createdAt).toISOString(),
  };
}

export interface NewRule {
  ruleId: string;
  description: string;
  patternToAvoid: string;
  patternKind: string;
  reason: string;
  sourceVersionId: string;
  scope: PropagationScope;
  /** The heal that learned it, when a heal did. */
  healId?: string | null;
}

/** A rule row for listings: scope, source and how many versions hold it. */
export interface RuleListing {
  ruleId: string;
  description: string;
  scope: string;
  patternKind: string;
  pattern: string;
  source: string;
  reason: string;
  affects: number;
  createdAt: string;
  /** Learned here (imported rules are listed by SharedRuleStore). */
  origin: 'local';
  /** When it was withdrawn: a withdrawn rule no longer gates. */
  withdrawnAt: string | null;
  /** Where it came from: the heal that learned it. */
  provenance: { heal: string | null };
}

/**
 * The one statement that gives versions rules: `rows` is a SELECT yielding (tool_id, rule_id, via);
 * a version that holds a rule already keeps it as it was.
 */
export async function grantRules(db: Db, rows: Prisma.Sql): Promise<number> {
  return db.$executeRaw`
    INSERT INTO rule_inheritance (tool_id, rule_id, via)
    ${rows}
    ON CONFLICT (tool_id, rule_id) DO NOTHING`;
}

/** avoidance_rules and rule_inheritance: creating rules, propagating them, and what applies where. */
export class RuleStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Creates a rule held by the version it was learned from (idempotent: the id is the heal's). One
   * statement, so the rule never exists without its holder, however the step ends.
   */
  async create(rule: NewRule, db: Db = this.prisma): Promise<void> {
    await db.$executeRaw`
      WITH rule AS (
        INSERT INTO avoidance_rules
          (rule_id, description, pattern_to_avoid, pattern_kind, reason, source_failure, propagation_scope, heal_id)
        VALUES (${rule.ruleId}, ${rule.description}, ${rule.patternToAvoid}, ${rule.patternKind}, ${rule.reason},
          ${rule.sourceVersionId}, ${rule.scope}, ${rule.healId ?? null})
        ON CONFLICT (rule_id) DO NOTHING
      )
      INSERT INTO rule_inheritance (tool_id, rule_id, via)
      VALUES (${rule.sourceVersionId}, ${rule.ruleId}, 'source')
      ON CONFLICT (tool_id, rule_id) DO NOTHING`;
  }

  /**
   * Gives a new version every rule its parents hold (they hold their ancestors') and every global
   * rule; returns the rules it holds, sorted (a new version holds no rule before this).
   */
  async inheritFromParents(versionId: string, parents: string[], db: Db = this.prisma): Promise<string[]> {
    const rows = await db.$queryRaw<{ rule_id: string }[]>`
      INSERT INTO rule_inheritance (tool_id, rule_id, via)
      SELECT ${versionId}::varchar, rule_id, 'ancestor' FROM rule_inheritance WHERE tool_id = ANY(${parents}::varchar[])
      UNION
      SELECT ${versionId}::varchar, rule_id, 'global' FROM avoidance_rules WHERE propagation_scope = 'global'
      ON CONFLICT (tool_id, rule_id) DO NOTHING
      RETURNING rule_id`;
    return rows.map((r) => r.rule_id).sort();
  }

  /** Gives a version the named rules, as their holder (`source`): a healed version keeps what its heal learned. */
  async grantByIds(versionId: string, ruleIds: string[], db: Db = this.prisma): Promise<void> {
    if (!ruleIds.length) return;
    await grantRules(
      db,
      Prisma.sql`SELECT ${versionId}::varchar, rule_id, 'source' FROM avoidance_rules WHERE rule_id = ANY(${ruleIds}::varchar[])`,
    );
  }

  /**
   * Propagates a rule by its scope, set-based: `descendants` (every descendant of the version that
   * broke), `all_similar` (those, plus every version of the tools whose newest description and code
   * are trigram-similar to it at or above `similarityThreshold`), `global` (every version).
   */
  async propagate(
    ruleId: string,
    similarityThreshold: number,
  ): Promise<{ scope: PropagationScope; reached: number; similarTools: string[] } | null> {
    const rule = await this.prisma.avoidanceRule.findUnique({ where: { ruleId } });
    if (!rule) return null;
    const scope = rule.propagationScope as PropagationScope;
    const source = rule.sourceFailure;
    let similarTools: string[] = [];
    const grant = async (tx: Db) => {
      await grantRules(tx, Prisma.sql`${descendantSet(source)} SELECT id, ${ruleId}::varchar, 'descendants' FROM d`);
      if (scope === 'all_similar') {
        const similar = await tx.$queryRaw<{ tool_name: string }[]>`
          WITH src AS (SELECT tool_name, description || ' ' || code AS text FROM tool_lineage WHERE tool_id = ${source}),
          newest AS (
            SELECT DISTINCT ON (tool_name) tool_name, description || ' ' || code AS text
            FROM tool_lineage ORDER BY tool_name, ${newestFirst()}
          )
          SELECT n.tool_name FROM newest n, src
          WHERE n.tool_name <> src.tool_name AND similarity(n.text, src.text) >= ${similarityThreshold}
          ORDER BY n.tool_name`;
        similarTools = similar.map((s) => s.tool_name);
        await grantRules(
          tx,
          Prisma.sql`SELECT tool_id, ${ruleId}::varchar, 'all_similar' FROM tool_lineage WHERE tool_name = ANY(${similarTools}::varchar[])`,
        );
      }
      if (scope === 'global') {
        await grantRules(tx, Prisma.sql`SELECT tool_id, ${ruleId}::varchar, 'global' FROM tool_lineage`);
      }
    };
    // The descendants alone are one statement: no transaction around it.
    if (scope === 'descendants') await grant(this.prisma);
    else await this.prisma.$transaction((tx) => grant(tx));
    const reached = await this.prisma.ruleInheritance.count({ where: { ruleId, via: { not: 'source' } } });
    return { scope, reached, similarTools };
  }

  /** Every avoidance rule that applies to a version (inherited, propagated or global), withdrawn ones aside. */
  async inScope(versionId: string, db: Db = this.prisma): Promise<AvoidanceRuleRecord[]> {
    const rows = await db.avoidanceRule.findMany({
      where: {
        withdrawnAt: null,
        OR: [{ inheritance: { some: { toolId: versionId } } }, { propagationScope: 'global' }],
      },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(toRuleRecord);
  }

  async byIds(ruleIds: string[], db: Db = this.prisma): Promise<AvoidanceRuleRecord[]> {
    if (!ruleIds.length) return [];
    const rows = await db.avoidanceRule.findMany({
      where: { ruleId: { in: ruleIds }, withdrawnAt: null },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(toRuleRecord);
  }

  /** The rules in scope of a version plus `extra` ids (a heal's new rule before it is inherited), each once. */
  async inScopeWith(versionId: string, extra: string[], db: Db = this.prisma): Promise<AvoidanceRuleRecord[]> {
    const rows = await db.$queryRaw<RuleRow[]>`SELECT * FROM (${rulesInScopeRows(versionId, extra)}) r`;
    return rows.sort(byCreation).map(fromRuleRow);
  }

  /** Every rule with its scope, source and how many versions hold it (`dise rules`). */
  async list(): Promise<RuleListing[]> {
    const rows = await this.prisma.$queryRaw<
      (Omit<RuleListing, 'createdAt' | 'origin' | 'withdrawnAt' | 'provenance'> & {
        createdAt: Date;
        withdrawnAt: Date | null;
        healId: string | null;
      })[]
    >`
      SELECT r.rule_id AS "ruleId", r.description, r.propagation_scope AS scope, r.pattern_kind AS "patternKind",
             r.pattern_to_avoid AS pattern, r.source_failure AS source, r.reason, r.created_at AS "createdAt",
             r.withdrawn_at AS "withdrawnAt", r.heal_id AS "healId",
             (SELECT count(*)::int FROM rule_inheritance i WHERE i.rule_id = r.rule_id) AS affects
      FROM avoidance_rules r ORDER BY r.created_at, r.rule_id`;
    return rows.map(({ healId, ...r }) => ({
      ...r,
      createdAt: r.createdAt.toISOString(),
      origin: 'local' as const,
      withdrawnAt: r.withdrawnAt?.toISOString() ?? null,
      provenance: { heal: healId },
    }));
  }
}
