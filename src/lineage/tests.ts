import type { ToolLanguage } from '../shared/language.js';
import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import type { JsonValue, TestCaseRecord } from '../shared/lineage-types.js';
import { ancestorSet, asJson, isLineageEdge, isRoutable, type Db } from './sql.js';

export interface AuthoredTest {
  name: string;
  input: JsonValue;
  expect: JsonValue;
  critical?: boolean;
}

/** A failing input turned into a test on the ancestor a heal starts from. */
export interface MintedTest {
  name: string;
  input: JsonValue;
  expected: JsonValue;
  sourceFailureId: number | null;
}

/** A minted test that applies to a routed version, with that version's code. */
export interface RoutedMintedTest {
  versionId: string;
  code: string;
  language: ToolLanguage;
  testId: number;
  name: string;
  input: JsonValue;
  expected: JsonValue;
}

/**
 * The rows of a version's suite (TestCaseRecord's fields): tests introduced by it or by any
 * ancestor, less those a revert set aside. A whole SELECT, to read alone or inside another.
 */
export function suiteRows(versionId: string): Prisma.Sql {
  return Prisma.sql`
    ${ancestorSet(versionId, { includeSelf: true })}
    SELECT t.id, t.tool_id AS "toolId", t.name, t.input, t.expected, t.critical, t.origin,
           t.source_failure_id AS "sourceFailureId"
    FROM test_cases t JOIN a ON t.tool_id = a.id
    WHERE NOT EXISTS (SELECT 1 FROM suspended_tests s JOIN a sa ON sa.id = s.version_id WHERE s.test_id = t.id)`;
}

/** test_cases: authored tests, minted tests, and the suite of a version. */
export class TestStore {
  constructor(private readonly prisma: PrismaClient) {}

  async addAuthored(versionId: string, tests: AuthoredTest[], db: Db = this.prisma): Promise<void> {
    if (!tests.length) return;
    await db.testCase.createMany({
      data: tests.map((t) => ({
        toolId: versionId,
        name: t.name,
        input: asJson(t.input),
        expected: asJson(t.expect),
        critical: t.critical ?? true,
        origin: 'authored',
      })),
    });
  }

  /** Attaches minted tests to a version (critical; a name already there is kept as it was). */
  async mint(versionId: string, tests: MintedTest[], db: Db = this.prisma): Promise<void> {
    if (!tests.length) return;
    await db.testCase.createMany({
      data: tests.map((m) => ({
        toolId: versionId,
        name: m.name,
        input: asJson(m.input),
        expected: asJson(m.expected),
        critical: true,
        origin: 'minted',
        sourceFailureId: m.sourceFailureId,
      })),
      skipDuplicates: true,
    });
  }

  /**
   * Pins inputs that kill a version's surviving mutants, with the version's own answers, as critical
   * tests of the version (its descendants inherit them); a name already there is kept as it was.
   */
  async pin(versionId: string, tests: { name: string; input: JsonValue; expected: JsonValue }[]): Promise<void> {
    if (!tests.length) return;
    await this.prisma.testCase.createMany({
      data: tests.map((t) => ({
        toolId: versionId,
        name: t.name,
        input: asJson(t.input),
        expected: asJson(t.expected),
        critical: true,
        origin: 'pinned',
      })),
      skipDuplicates: true,
    });
  }

  /**
   * Sets tests aside for a version and its descendants (a revert's bug-encoding tests), once however
   * often retried.
   */
  async suspend(
    versionId: string,
    testIds: number[],
    healId: string,
    reason: string,
    db: Db = this.prisma,
  ): Promise<void> {
    if (!testIds.length) return;
    await db.suspendedTest.createMany({
      data: testIds.map((testId) => ({ versionId, testId, healId, reason })),
      skipDuplicates: true,
    });
  }

  /** The tests set aside for a version itself. */
  async suspendedAt(
    versionId: string,
  ): Promise<{ testId: number; name: string; introducedBy: string; reason: string }[]> {
    const rows = await this.prisma.suspendedTest.findMany({
      where: { versionId },
      include: { test: { select: { name: true, toolId: true } } },
      orderBy: { testId: 'asc' },
    });
    return rows.map((r) => ({ testId: r.testId, name: r.test.name, introducedBy: r.test.toolId, reason: r.reason }));
  }

  /** The version's suite: tests introduced by it or by any ancestor (never by another branch), less those a revert set aside. */
  async suiteFor(versionId: string, db: Db = this.prisma): Promise<TestCaseRecord[]> {
    return db.$queryRaw<TestCaseRecord[]>`SELECT * FROM (${suiteRows(versionId)}) s ORDER BY s.id`;
  }

  /** Minted tests attached to any ancestor of a routed, routable version (or to it), in one statement. */
  async mintedForRouted(): Promise<RoutedMintedTest[]> {
    const rows = await this.prisma.$queryRaw<
      {
        version_id: string;
        code: string;
        language: ToolLanguage;
        test_id: number;
        name: string;
        input: JsonValue;
        expected: JsonValue;
      }[]
    >`
      WITH RECURSIVE routed AS (
        SELECT t.tool_id, t.code, t.language FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id WHERE ${isRoutable('t')}
      ), anc(root, id) AS (
        SELECT tool_id, tool_id FROM routed
        UNION
        SELECT a.root, e.parent_id FROM anc a JOIN lineage_relationships e ON e.child_id = a.id AND ${isLineageEdge('e')}
      )
      SELECT r.tool_id AS version_id, r.code, r.language, tc.id AS test_id, tc.name, tc.input, tc.expected
      FROM anc JOIN routed r ON r.tool_id = anc.root JOIN test_cases tc ON tc.tool_id = anc.id AND tc.origin = 'minted'
      ORDER BY r.tool_id, tc.id`;
    return rows.map((r) => ({
      versionId: r.version_id,
      code: r.code,
      language: r.language,
      testId: r.test_id,
      name: r.name,
      input: r.input,
      expected: r.expected,
    }));
  }

  /** How many minted tests the versions of a tool carry. */
  async mintedCount(toolName: string): Promise<number> {
    return this.prisma.testCase.count({ where: { origin: 'minted', tool: { toolName } } });
  }
}
