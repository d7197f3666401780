import { Prisma, type AvoidanceRule } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { InvalidIdError, looksLikeVersionId, parseVersionId, toVersionRef, type VersionRef } from '../shared/ids.js';
import {
  HEALTH,
  MUTATION_TYPES,
  type AvoidanceRuleRecord,
  type DetectedFailure,
  type FailureRecord,
  type Health,
  type JsonValue,
  type MutationRecord,
  type MutationType,
  type PropagationScope,
  type RelationshipType,
  type Severity,
  type TestCaseRecord,
  type ToolLineage,
} from '../shared/lineage-types.js';
import { LineageError } from './errors.js';
import { codeHash, parseToolCode } from './tool-code.js';

/** Edges that make up ancestry. A `regenerated` edge links a healed version to the one it replaced. */
const LINEAGE_EDGE_TYPES: RelationshipType[] = ['direct', 'merge', 'fork'];

/** `WITH RECURSIVE d(id)`: every descendant of a version along lineage edges, each once. */
function descendantSet(id: string): Prisma.Sql {
  return Prisma.sql`WITH RECURSIVE d(id) AS (
        SELECT child_id FROM lineage_relationships WHERE parent_id = ${id} AND relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[])
        UNION
        SELECT r.child_id FROM lineage_relationships r JOIN d ON r.parent_id = d.id
        WHERE r.relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[])
      )`;
}

export interface MutationInput {
  type: MutationType;
  description: string;
  prompt?: string | null;
  fitnessBefore?: number | null;
  fitnessAfter?: number | null;
}

export interface TestCaseInput {
  name: string;
  input: JsonValue;
  expect: JsonValue;
  critical?: boolean;
}

export interface RegisterVersionInput {
  name: string;
  version: string;
  /** Parent ids, either spelling. None for a root; two or more make a merge. */
  parents?: string[];
  code: string;
  description?: string;
  category?: string;
  mutation?: MutationInput | null;
  tests?: TestCaseInput[];
  /** Stored health (default healthy). Validation by the detectors sets it before registration. */
  health?: Health;
  /** The healthy ancestor a regenerated version was built from. */
  regeneratedFrom?: string | null;
  /** For regenerated versions: the failed version this one replaces (a `regenerated` edge). */
  replaces?: string | null;
  /** The heal that creates this version (unique: promotion is idempotent). */
  healId?: string | null;
}

/** What a registration validator decided about a version just inserted (inside the transaction). */
export interface ValidationOutcome {
  health: Health;
  failures: DetectedFailure[];
}


/** Runs inside the registration transaction, after the version, its tests and rules are written. */
export type RegistrationValidator = (
  tx: Prisma.TransactionClient,
  version: { id: string; code: string; parents: string[] },
) => Promise<ValidationOutcome>;

export interface RegisteredVersion {
  id: string;
  name: string;
  version: string;
  generation: number;
  parents: string[];
  relationship: RelationshipType | null;
  health: Health;
  inheritedRules: string[];
  /** What validation found (empty when the version passed or was not validated). */
  failures?: DetectedFailure[];
}

type Db = PrismaClient | Prisma.TransactionClient;

/** An avoidance_rules row as the seed's AvoidanceRule (dates as ISO strings). */
function toRuleRecord(r: AvoidanceRule): AvoidanceRuleRecord {
  return {
    ruleId: r.ruleId,
    description: r.description,
    patternToAvoid: r.patternToAvoid,
    patternKind: r.patternKind,
    reason: r.reason,
    sourceFailure: r.sourceFailure,
    propagationScope: r.propagationScope as PropagationScope,
    createdAt: r.createdAt.toISOString(),
  };
}

function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

/** Normalises an id in either spelling; refuses malformed ids with a typed error naming the field. */
export function normalizeVersionId(input: string, field = 'id'): VersionRef {
  try {
    return parseVersionId(input);
  } catch (err) {
    if (err instanceof InvalidIdError) {
      const code = err.field === 'name' ? 'INVALID_NAME' : err.field === 'version' ? 'INVALID_SEMVER' : 'INVALID_ID';
      throw new LineageError(code, `${field}: ${err.message}`, field, [input]);
    }
    throw err;
  }
}

/**
 * The lineage DAG over PostgreSQL. Walks are single recursive SQL statements; writes that touch many
 * nodes are set-based. Every refusal is a LineageError raised before anything is written.
 */
export class LineageStore {
  constructor(readonly prisma: PrismaClient) {}

  // ---------------------------------------------------------------- registration

  /** Registers one version with its edges, mutation, tests and inherited rules, in one transaction. */
  async registerVersion(input: RegisterVersionInput): Promise<RegisteredVersion> {
    const [registered] = await this.registerMany([input]);
    return registered!;
  }

  /**
   * Registers several versions in one transaction, parents before children whatever the input order:
   * either all are registered or, on the first refusal, none.
   */
  async registerMany(
    inputs: RegisterVersionInput[],
    options: { validate?: RegistrationValidator; afterInsert?: (tx: Prisma.TransactionClient, registered: RegisteredVersion) => Promise<void> } = {},
  ): Promise<RegisteredVersion[]> {
    const ordered = orderParentsFirst(inputs.map((input, index) => ({ input, index, ref: this.validateIdentity(input) })));
    const checked = ordered.map((item) => ({ ...item, prepared: this.prepare(item.input, item.ref) }));
    const results = await this.prisma.$transaction(
      async (tx) => {
        const out: { index: number; registered: RegisteredVersion }[] = [];
        for (const item of checked) {
          const registered = await this.insertVersion(tx, item.ref, item.input, item.prepared);
          if (options.validate) {
            const outcome = await options.validate(tx, { id: registered.id, code: item.input.code, parents: registered.parents });
            await tx.toolLineage.update({ where: { toolId: registered.id }, data: { healthStatus: outcome.health } });
            await this.recordFailures(registered.id, outcome.failures, tx);
            registered.health = outcome.health;
            registered.failures = outcome.failures;
          }
          await options.afterInsert?.(tx, registered);
          out.push({ index: item.index, registered });
        }
        return out;
      },
      { timeout: 60_000, maxWait: 10_000 },
    );
    return results.sort((a, b) => a.index - b.index).map((r) => r.registered);
  }

  /** Checks everything that needs no database; throws before any write. */
  private prepare(input: RegisterVersionInput, ref: VersionRef) {
    const parents = this.validateParents(input.parents ?? [], ref.id);
    parseToolCode(input.code);
    this.validateMutation(input.mutation, parents.length);
    this.validateTests(input.tests ?? []);
    const health = input.health ?? 'healthy';
    if (!HEALTH.includes(health)) throw new LineageError('INVALID_INPUT', `health: unknown value "${health}"`, 'health');
    const regeneratedFrom = input.regeneratedFrom ? normalizeVersionId(input.regeneratedFrom, 'regeneratedFrom').id : null;
    const replaces = input.replaces ? normalizeVersionId(input.replaces, 'replaces').id : null;
    return { parents, health, regeneratedFrom, replaces };
  }

  private async insertVersion(
    tx: Prisma.TransactionClient,
    ref: VersionRef,
    input: RegisterVersionInput,
    { parents, health, regeneratedFrom, replaces }: ReturnType<LineageStore['prepare']>,
  ): Promise<RegisteredVersion> {
    const existing = await tx.toolLineage.findUnique({ where: { toolId: ref.id }, select: { toolId: true } });
    if (existing) {
      throw new LineageError('DUPLICATE_VERSION', `version ${ref.id} is already registered`, 'version', [ref.id]);
    }
    const parentRows = parents.length
      ? await tx.toolLineage.findMany({
          where: { toolId: { in: parents } },
          select: { toolId: true, toolName: true, generation: true, healthStatus: true },
        })
      : [];
    const byId = new Map(parentRows.map((p) => [p.toolId, p]));
    for (const [i, parentId] of parents.entries()) {
      const parent = byId.get(parentId);
      if (!parent) {
        throw new LineageError('UNKNOWN_PARENT', `parents[${i}]: unknown parent version ${parentId}`, `parents[${i}]`, [parentId]);
      }
      if (parent.healthStatus === 'pruned' || parent.healthStatus === 'failed') {
        const replacement = await this.healedReplacement(parentId, tx);
        throw new LineageError(
          'UNUSABLE_PARENT',
          `parents[${i}]: ${parentId} is ${parent.healthStatus.toUpperCase()} and cannot be a parent; ` +
            (replacement ? `use its healed replacement ${replacement}` : 'no healed replacement exists yet'),
          `parents[${i}]`,
          replacement ? [parentId, replacement] : [parentId],
        );
      }
    }
    for (const [field, id] of [['regeneratedFrom', regeneratedFrom], ['replaces', replaces]] as const) {
      if (id && !(await tx.toolLineage.findUnique({ where: { toolId: id }, select: { toolId: true } }))) {
        throw new LineageError('UNKNOWN_VERSION', `${field}: unknown version ${id}`, field, [id]);
      }
    }

    const generation = parentRows.length ? Math.max(...parentRows.map((p) => p.generation)) + 1 : 0;
    const relationship: RelationshipType | null =
      parents.length === 0 ? null : parents.length > 1 ? 'merge' : byId.get(parents[0]!)!.toolName === ref.name ? 'direct' : 'fork';

    await tx.toolLineage.create({
      data: {
        toolId: ref.id,
        toolName: ref.name,
        version: ref.version,
        fullName: `${ref.name}_v${ref.version}`,
        major: ref.major,
        minor: ref.minor,
        patch: ref.patch,
        healthStatus: health,
        generation,
        code: input.code,
        codeHash: codeHash(input.code),
        description: input.description ?? '',
        category: input.category ?? '',
        regeneratedFrom,
        healId: input.healId ?? null,
      },
    });
    if (relationship) {
      await tx.lineageRelationship.createMany({
        data: parents.map((parentId) => ({ childId: ref.id, parentId, relationshipType: relationship })),
      });
    }
    if (replaces) {
      await tx.lineageRelationship.create({ data: { childId: ref.id, parentId: replaces, relationshipType: 'regenerated' } });
    }
    if (input.mutation) {
      const parentCode = parents.length
        ? ((await tx.toolLineage.findUnique({ where: { toolId: parents[0]! }, select: { code: true } }))?.code ?? '')
        : '';
      await tx.mutation.create({
        data: {
          toolId: ref.id,
          mutationType: input.mutation.type,
          description: input.mutation.description,
          promptUsed: input.mutation.prompt ?? null,
          codeDiffHash: codeHash(`${parentCode}\u0000${input.code}`),
          fitnessBefore: input.mutation.fitnessBefore ?? null,
          fitnessAfter: input.mutation.fitnessAfter ?? null,
        },
      });
      if (input.mutation.fitnessAfter !== undefined && input.mutation.fitnessAfter !== null) {
        await tx.fitnessHistory.create({ data: { toolId: ref.id, fitnessScore: input.mutation.fitnessAfter } });
      }
    }
    if (input.tests?.length) {
      await tx.testCase.createMany({
        data: input.tests.map((t) => ({
          toolId: ref.id,
          name: t.name,
          input: t.input as Prisma.InputJsonValue,
          expected: t.expect as Prisma.InputJsonValue,
          critical: t.critical ?? true,
          origin: 'authored',
        })),
      });
    }
    // Rule closure: every rule any parent holds (parents already hold their ancestors' rules),
    // plus every global rule.
    await tx.$executeRaw`
      INSERT INTO rule_inheritance (tool_id, rule_id, via)
      SELECT ${ref.id}, rule_id, 'ancestor' FROM rule_inheritance WHERE tool_id = ANY(${parents}::varchar[])
      UNION
      SELECT ${ref.id}, rule_id, 'global' FROM avoidance_rules WHERE propagation_scope = 'global'
      ON CONFLICT (tool_id, rule_id) DO NOTHING`;
    const inherited = await tx.ruleInheritance.findMany({ where: { toolId: ref.id }, select: { ruleId: true }, orderBy: { ruleId: 'asc' } });

    return {
      id: ref.id,
      name: ref.name,
      version: ref.version,
      generation,
      parents,
      relationship,
      health,
      inheritedRules: inherited.map((r) => r.ruleId),
    };
  }

  private validateIdentity(input: RegisterVersionInput): VersionRef {
    if (typeof input.name !== 'string' || input.name === '') {
      throw new LineageError('INVALID_NAME', 'name: required', 'name');
    }
    if (typeof input.version !== 'string' || input.version === '') {
      throw new LineageError('INVALID_SEMVER', 'version: required', 'version');
    }
    try {
      return toVersionRef(input.name, input.version);
    } catch (err) {
      if (err instanceof InvalidIdError) {
        const field = err.field === 'name' ? 'name' : 'version';
        throw new LineageError(field === 'name' ? 'INVALID_NAME' : 'INVALID_SEMVER', `${field}: ${err.message}`, field);
      }
      throw err;
    }
  }

  private validateParents(parents: string[], selfId: string): string[] {
    if (!Array.isArray(parents)) throw new LineageError('INVALID_INPUT', 'parents: must be a list of version ids', 'parents');
    const ids = parents.map((p, i) => normalizeVersionId(p, `parents[${i}]`).id);
    const seen = new Set<string>();
    for (const [i, id] of ids.entries()) {
      if (id === selfId) throw new LineageError('CYCLE', `parents[${i}]: ${id} cannot be its own parent`, `parents[${i}]`, [id]);
      if (seen.has(id)) throw new LineageError('INVALID_INPUT', `parents[${i}]: ${id} is listed twice`, `parents[${i}]`, [id]);
      seen.add(id);
    }
    return ids;
  }

  private validateMutation(mutation: MutationInput | null | undefined, parentCount: number): void {
    if (!mutation) return;
    if (parentCount === 0) {
      throw new LineageError('INVALID_INPUT', 'mutation: a root version (no parents) has no mutation', 'mutation');
    }
    if (!MUTATION_TYPES.includes(mutation.type)) {
      throw new LineageError('INVALID_INPUT', `mutation.type: "${mutation.type}" is not one of ${MUTATION_TYPES.join(', ')}`, 'mutation.type');
    }
    if (!mutation.description) throw new LineageError('INVALID_INPUT', 'mutation.description: required', 'mutation.description');
  }

  private validateTests(tests: TestCaseInput[]): void {
    const names = new Set<string>();
    for (const [i, t] of tests.entries()) {
      if (!t.name) throw new LineageError('INVALID_INPUT', `tests[${i}].name: required`, `tests[${i}].name`);
      if (names.has(t.name)) throw new LineageError('INVALID_INPUT', `tests[${i}].name: "${t.name}" is used twice`, `tests[${i}].name`);
      names.add(t.name);
    }
  }

  /**
   * Adds a parent edge between existing versions (e.g. recording a late merge). Refuses an edge that
   * would close a cycle, found with one recursive query.
   */
  async addParent(childInput: string, parentInput: string, type: RelationshipType = 'merge'): Promise<void> {
    const child = normalizeVersionId(childInput, 'child').id;
    const parent = normalizeVersionId(parentInput, 'parent').id;
    if (child === parent) throw new LineageError('CYCLE', `edge ${parent} → ${child} would make ${child} its own parent`, 'parent', [child]);
    await this.prisma.$transaction(async (tx) => {
      await this.requireVersions([child, parent], tx);
      const [cycle] = await tx.$queryRaw<{ found: boolean }[]>`
        WITH RECURSIVE d(id) AS (
          SELECT child_id FROM lineage_relationships WHERE parent_id = ${child} AND relationship_type <> 'regenerated'
          UNION
          SELECT r.child_id FROM lineage_relationships r JOIN d ON r.parent_id = d.id WHERE r.relationship_type <> 'regenerated'
        )
        SELECT EXISTS (SELECT 1 FROM d WHERE id = ${parent}) AS found`;
      if (cycle?.found) {
        throw new LineageError(
          'CYCLE',
          `edge ${parent} → ${child} would close a cycle: ${parent} already descends from ${child}`,
          'parent',
          [parent, child],
        );
      }
      await tx.lineageRelationship.create({ data: { childId: child, parentId: parent, relationshipType: type } });
      // Edge types follow the parent count: a second parent turns the version into a merge.
      await tx.$executeRaw`
        UPDATE lineage_relationships SET relationship_type = 'merge'
        WHERE child_id = ${child} AND relationship_type IN ('direct', 'fork')
          AND (SELECT count(*) FROM lineage_relationships WHERE child_id = ${child} AND relationship_type <> 'regenerated') > 1`;
      // Keep every edge going down the generations: push the child, then its descendants, down as
      // far as needed (one set-based statement per level that moves).
      for (let moved = 1, guard = 0; moved > 0 && guard < 100_000; guard++) {
        moved = await tx.$executeRaw`
          UPDATE tool_lineage c SET generation = p.generation + 1
          FROM lineage_relationships r JOIN tool_lineage p ON p.tool_id = r.parent_id
          WHERE r.child_id = c.tool_id AND r.relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[]) AND c.generation <= p.generation`;
      }
      await tx.$executeRaw`
        INSERT INTO rule_inheritance (tool_id, rule_id, via)
        SELECT ${child}, rule_id, 'ancestor' FROM rule_inheritance WHERE tool_id = ${parent}
        ON CONFLICT (tool_id, rule_id) DO NOTHING`;
    });
  }

  private async requireVersions(ids: string[], db: Db = this.prisma): Promise<void> {
    const found = await db.toolLineage.findMany({ where: { toolId: { in: ids } }, select: { toolId: true } });
    const have = new Set(found.map((f) => f.toolId));
    const missing = ids.find((id) => !have.has(id));
    if (missing) throw new LineageError('UNKNOWN_VERSION', `unknown version ${missing}`, 'id', [missing]);
  }

  // ---------------------------------------------------------------- walks (one statement each)

  /** Every ancestor (merges included), nearest generation last. */
  async ancestors(idInput: string, db: Db = this.prisma): Promise<{ id: string; generation: number; health: Health }[]> {
    const id = normalizeVersionId(idInput).id;
    return db.$queryRaw<{ id: string; generation: number; health: Health }[]>`
      WITH RECURSIVE a(id) AS (
        SELECT parent_id FROM lineage_relationships WHERE child_id = ${id} AND relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[])
        UNION
        SELECT r.parent_id FROM lineage_relationships r JOIN a ON r.child_id = a.id
        WHERE r.relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[])
      )
      SELECT t.tool_id AS id, t.generation, t.health_status AS health
      FROM a JOIN tool_lineage t ON t.tool_id = a.id
      ORDER BY t.generation, t.tool_id`;
  }

  /** Every descendant, in generation order. */
  async descendants(idInput: string, db: Db = this.prisma): Promise<{ id: string; generation: number; health: Health }[]> {
    const id = normalizeVersionId(idInput).id;
    return db.$queryRaw<{ id: string; generation: number; health: Health }[]>`
      ${descendantSet(id)}
      SELECT t.tool_id AS id, t.generation, t.health_status AS health
      FROM d JOIN tool_lineage t ON t.tool_id = d.id
      ORDER BY t.generation, t.tool_id`;
  }

  /** How many descendants a version has (one statement, no rows shipped). */
  async countDescendants(idInput: string): Promise<number> {
    const id = normalizeVersionId(idInput).id;
    const [row] = await this.prisma.$queryRaw<{ n: bigint }[]>`
      ${descendantSet(id)}
      SELECT count(*) AS n FROM d`;
    return Number(row?.n ?? 0);
  }

  /**
   * Marks every HEALTHY descendant of `id` DEGRADED in one statement (the seed's taint step, without
   * a query per node). Returns the ids tainted.
   */
  async taintDescendants(idInput: string, db: Db = this.prisma): Promise<string[]> {
    const id = normalizeVersionId(idInput).id;
    const rows = await db.$queryRaw<{ tool_id: string }[]>`
      ${descendantSet(id)}
      UPDATE tool_lineage t SET health_status = 'degraded', updated_at = now()
      FROM d WHERE t.tool_id = d.id AND t.health_status = 'healthy'
      RETURNING t.tool_id`;
    return rows.map((r) => r.tool_id);
  }

  /** The first-parent path from the root down to (excluding) `id`: the seed's ancestor_path. */
  async ancestorPath(idInput: string, db: Db = this.prisma): Promise<string[]> {
    const id = normalizeVersionId(idInput).id;
    const rows = await db.$queryRaw<{ id: string; depth: number }[]>`
      WITH RECURSIVE p(id, depth) AS (
        SELECT ${id}::varchar, 0
        UNION ALL
        SELECT (SELECT r.parent_id FROM lineage_relationships r
                WHERE r.child_id = p.id AND r.relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[])
                ORDER BY r.id LIMIT 1), p.depth + 1
        FROM p WHERE p.id IS NOT NULL AND p.depth < 100000
      )
      SELECT id, depth FROM p WHERE id IS NOT NULL AND depth > 0 ORDER BY depth DESC`;
    return rows.map((r) => r.id);
  }

  /** The version that replaced a failed one (its `regenerated` edge), if any. */
  async healedReplacement(idInput: string, db: Db = this.prisma): Promise<string | null> {
    const id = normalizeVersionId(idInput).id;
    const edge = await db.lineageRelationship.findFirst({
      where: { parentId: id, relationshipType: 'regenerated' },
      orderBy: { id: 'desc' },
      select: { childId: true },
    });
    return edge?.childId ?? null;
  }

  // ---------------------------------------------------------------- reads

  /** Resolves a tool name or a version id to a version id: a name goes to its routed version. */
  async resolve(nameOrId: string): Promise<string> {
    if (looksLikeVersionId(nameOrId)) {
      const id = normalizeVersionId(nameOrId).id;
      await this.requireVersions([id]);
      return id;
    }
    const route = await this.prisma.route.findUnique({ where: { toolName: nameOrId } });
    if (route) return route.versionId;
    const newest = await this.prisma.toolLineage.findFirst({
      where: { toolName: nameOrId },
      orderBy: [{ major: 'desc' }, { minor: 'desc' }, { patch: 'desc' }],
      select: { toolId: true },
    });
    if (!newest) throw new LineageError('UNKNOWN_VERSION', `unknown tool or version "${nameOrId}"`, 'id', [nameOrId]);
    return newest.toolId;
  }

  /** Everything the seed's ToolLineage holds for one version. */
  async getLineage(idInput: string): Promise<ToolLineage> {
    const id = normalizeVersionId(idInput).id;
    const row = await this.prisma.toolLineage.findUnique({
      where: { toolId: id },
      include: {
        parentEdges: { orderBy: { id: 'asc' } },
        childEdges: { orderBy: { id: 'asc' } },
        failures: { orderBy: { id: 'asc' } },
        mutations: { orderBy: { id: 'asc' } },
        rulesCreated: { orderBy: { createdAt: 'asc' } },
        inheritedRules: { orderBy: { ruleId: 'asc' }, select: { ruleId: true } },
        fitnessHistory: { orderBy: { id: 'asc' }, select: { fitnessScore: true } },
      },
    });
    if (!row) throw new LineageError('UNKNOWN_VERSION', `unknown version ${id}`, 'id', [id]);
    const route = await this.prisma.route.findUnique({ where: { toolName: row.toolName } });
    const lineageParents = row.parentEdges.filter((e) => e.relationshipType !== 'regenerated');
    return {
      id: row.toolId,
      toolId: row.toolId,
      name: row.toolName,
      version: row.version,
      fullName: row.fullName,
      description: row.description,
      category: row.category,
      code: row.code,
      codeHash: row.codeHash,
      parents: lineageParents.map((e) => e.parentId),
      parentEdges: row.parentEdges.map((e) => ({ id: e.parentId, type: e.relationshipType as RelationshipType })),
      children: row.childEdges.filter((e) => e.relationshipType !== 'regenerated').map((e) => e.childId),
      ancestorPath: await this.ancestorPath(id),
      health: row.healthStatus as Health,
      failureCount: row.failureCount,
      failures: row.failures.map(
        (f): FailureRecord => ({
          id: f.id,
          failureType: f.failureType,
          description: f.description,
          stackTrace: f.stackTrace,
          testCaseFailed: f.testCaseFailed,
          detectionMethod: f.detectionMethod,
          severity: f.severity as Severity,
          timestamp: f.timestamp.toISOString(),
        }),
      ),
      mutations: row.mutations.map(
        (m): MutationRecord => ({
          mutationType: m.mutationType as MutationType,
          description: m.description,
          promptUsed: m.promptUsed,
          codeDiffHash: m.codeDiffHash,
          fitnessBefore: m.fitnessBefore,
          fitnessAfter: m.fitnessAfter,
          timestamp: m.timestamp.toISOString(),
        }),
      ),
      generation: row.generation,
      avoidanceRules: row.rulesCreated.map(toRuleRecord),
      inheritedRules: row.inheritedRules.map((r) => r.ruleId),
      fitnessHistory: row.fitnessHistory.map((f) => f.fitnessScore),
      executionCount: row.executionCount,
      successRate: row.successRate,
      createdAt: row.createdAt.toISOString(),
      lastExecuted: iso(row.lastExecuted),
      prunedAt: iso(row.prunedAt),
      regeneratedFrom: row.regeneratedFrom,
      regeneratedAs: row.childEdges.filter((e) => e.relationshipType === 'regenerated').map((e) => e.childId),
      pruneEvidence: (row.pruneEvidence ?? null) as JsonValue | null,
      route: { routed: route?.versionId === row.toolId, toolRoutedTo: route?.versionId ?? null },
    };
  }

  /** The version's suite: tests introduced by it or by any ancestor (never by another branch). */
  async suiteFor(idInput: string, db: Db = this.prisma): Promise<TestCaseRecord[]> {
    const id = normalizeVersionId(idInput).id;
    const rows = await db.$queryRaw<
      { id: number; tool_id: string; name: string; input: JsonValue; expected: JsonValue; critical: boolean; origin: string; source_failure_id: number | null }[]
    >`
      WITH RECURSIVE a(id) AS (
        SELECT ${id}::varchar
        UNION
        SELECT r.parent_id FROM lineage_relationships r JOIN a ON r.child_id = a.id
        WHERE r.relationship_type = ANY(${LINEAGE_EDGE_TYPES}::varchar[])
      )
      SELECT t.id, t.tool_id, t.name, t.input, t.expected, t.critical, t.origin, t.source_failure_id
      FROM test_cases t JOIN a ON t.tool_id = a.id
      ORDER BY t.id`;
    return rows.map((r) => ({
      id: r.id,
      toolId: r.tool_id,
      name: r.name,
      input: r.input,
      expected: r.expected,
      critical: r.critical,
      origin: r.origin as 'authored' | 'minted',
      sourceFailureId: r.source_failure_id,
    }));
  }

  /** Every avoidance rule that applies to a version (inherited, propagated or global). */
  async rulesInScope(idInput: string, db: Db = this.prisma): Promise<AvoidanceRuleRecord[]> {
    const id = normalizeVersionId(idInput).id;
    const rows = await db.avoidanceRule.findMany({
      where: { OR: [{ inheritance: { some: { toolId: id } } }, { propagationScope: 'global' }] },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(toRuleRecord);
  }

  /** Stores detector findings against a version and counts them in failure_count. */
  async recordFailures(versionId: string, failures: DetectedFailure[], db: Db = this.prisma): Promise<void> {
    if (!failures.length) return;
    await db.failure.createMany({
      data: failures.map((f) => ({
        toolId: versionId,
        failureType: f.failureType,
        description: f.description,
        stackTrace: f.stackTrace,
        testCaseFailed: f.testCaseFailed?.slice(0, 255) ?? null,
        detectionMethod: f.detectionMethod,
        severity: f.severity,
        evidence: f.evidence as Prisma.InputJsonValue,
      })),
    });
    await db.toolLineage.update({ where: { toolId: versionId }, data: { failureCount: { increment: failures.length } } });
  }

  // ---------------------------------------------------------------- routing

  /** Points callers of `toolName` at `versionId`. */
  async setRoute(versionInput: string, reason: string, db: Db = this.prisma): Promise<void> {
    const ref = normalizeVersionId(versionInput);
    await db.route.upsert({
      where: { toolName: ref.name },
      create: { toolName: ref.name, versionId: ref.id, reason },
      update: { versionId: ref.id, reason, updatedAt: new Date() },
    });
  }

  async listTools(): Promise<{ name: string; versions: number; routedVersion: string | null; health: Health | null }[]> {
    const rows = await this.prisma.$queryRaw<{ name: string; versions: bigint; routed: string | null; health: Health | null }[]>`
      SELECT t.tool_name AS name, count(*) AS versions, r.version_id AS routed, rv.health_status AS health
      FROM tool_lineage t
      LEFT JOIN routes r ON r.tool_name = t.tool_name
      LEFT JOIN tool_lineage rv ON rv.tool_id = r.version_id
      GROUP BY t.tool_name, r.version_id, rv.health_status
      ORDER BY t.tool_name`;
    return rows.map((r) => ({ name: r.name, versions: Number(r.versions), routedVersion: r.routed, health: r.health }));
  }
}

/** Sorts a batch so that a version comes after any parent defined in the same batch. */
function orderParentsFirst<T extends { input: RegisterVersionInput; ref: VersionRef }>(items: T[]): T[] {
  const byId = new Map(items.map((item) => [item.ref.id, item]));
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const out: T[] = [];
  const visit = (item: T) => {
    if (placed.has(item.ref.id)) return;
    if (visiting.has(item.ref.id)) {
      throw new LineageError('CYCLE', `versions in this batch name each other as parents (at ${item.ref.id})`, 'parents', [item.ref.id]);
    }
    visiting.add(item.ref.id);
    for (const p of item.input.parents ?? []) {
      let parentId: string | undefined;
      try {
        parentId = parseVersionId(p).id;
      } catch {
        parentId = undefined; // reported with its field by prepare()
      }
      const parent = parentId ? byId.get(parentId) : undefined;
      if (parent && parent !== item) visit(parent);
    }
    visiting.delete(item.ref.id);
    placed.add(item.ref.id);
    out.push(item);
  };
  items.forEach(visit);
  return out;
}
