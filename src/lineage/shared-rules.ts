import type { KeyObject } from 'node:crypto';
import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { checkRuleGates, type GateRule, type GateViolation } from '../detection/static-analysis.js';
import {
  ENGINE_OF_KIND,
  KIND_OF_ENGINE,
  patternHash,
  RULE_DOCUMENT_SCHEMA,
  SEMANTIC_RULE_DOCUMENT_SCHEMA,
  type RuleDocument,
} from '../rules/document.js';
import { astGrepYaml, toAstGrep } from '../rules/ast-grep.js';
import { keyIdOf, parsePublicKey } from '../rules/keys.js';
import type { RulePack } from '../rules/pack.js';
import type { CheckRule } from '../rules/sarif.js';
import type { ToolLanguage } from '../shared/language.js';
import { ancestorSet, type Db } from './sql.js';

export interface ExportFilter {
  /** Rules changed at or after this time. */
  since?: Date;
  /** Rules learned from versions of this tool. */
  tool?: string;
}

export interface ImportSummary {
  imported: string[];
  /** Those of `imported` that are semantic: advice for the LLM, never a gate. */
  advice: string[];
  updated: string[];
  withdrawn: string[];
  unchanged: string[];
  /** Rules whose pattern a rule here has already (local or imported), with the rule that has it. */
  duplicates: { id: string; sameAs: string }[];
}

/** An imported semantic rule, as a regeneration prompt reads it. */
export interface ImportedAdvice {
  ruleId: string;
  description: string;
  reason: string;
  /** The culprit it was learned on and the installation that learned it. */
  source: string;
}

/** An imported rule as `dise rules --json` shows it. */
export interface ImportedRuleListing {
  ruleId: string;
  origin: 'imported';
  description: string;
  language: string;
  patternKind: string;
  pattern: string;
  /** report_only or enforcing; advice for a semantic rule (no pattern: never gates, given to the LLM). */
  mode: string;
  withdrawn: boolean;
  cleanRegistrations: number;
  reportedMatches: number;
  provenance: {
    installation: string;
    key: string;
    source: string;
    tool: string;
    version: string;
    heal: string | null;
    importedAt: string;
    modified: string;
    promotedBy: string | null;
  };
}

interface LocalRow {
  ruleId: string;
  description: string;
  pattern: string;
  patternKind: string;
  reason: string;
  scope: RuleDocument['scope'];
  source: string;
  healId: string | null;
  modifiedAt: Date;
  withdrawnAt: Date | null;
  language: ToolLanguage;
  toolName: string;
  invalid: string;
}

/**
 * Rules between installations: the keys trusted here, the local rules as portable documents, the
 * imported rules and their quarantine (report-only, then enforcing).
 */
/** The version a gate reads: `id` names its tool (or, for a candidate, the version it stands in for). */
/**
 * What the gate checks before using its kept rules: the imported rules' generation (has anything
 * changed since they were read?) and the subject's tool name. Read with gateHeadColumns.
 */
export interface GateHead {
  generation: bigint | string | number | null;
  tool: string | null;
}

/** The columns of a GateHead, for a SELECT of its own or inside another. */
export function gateHeadColumns(subjectId: string | null): Prisma.Sql {
  return Prisma.sql`(SELECT generation FROM imported_rules_generation WHERE id = 1) AS generation,
    (SELECT tool_name FROM tool_lineage WHERE tool_id = ${subjectId}::varchar LIMIT 1) AS tool`;
}

export interface RuleSubject {
  id: string;
  code: string;
  language: ToolLanguage;
}

/** self_healing.propagation.similarity_threshold's default. */
const DEFAULT_SIMILARITY = 0.3;

/** An imported rule as the gate keeps it in memory: the pattern, and what its scope reads. */
interface CachedRule extends GateRule {
  language: string;
  mode: string;
  scope: string | null;
  /** The tool it was learned on (`provenance.tool`). */
  tool: string | null;
}

export interface SharedRuleStoreOptions {
  /**
   * Keep the imported rules in memory between gate checks, read again when imported_rules_generation
   * moves (default true). False reads them from PostgreSQL at every check (the benchmark's baseline).
   */
  cacheRules?: boolean;
}

export class SharedRuleStore {
  private readonly cacheRules: boolean;
  /**
   * The gate's imported rules (not withdrawn, not semantic) as of `generation`, by language and mode
   * (`<language> <mode>`), each list in rule id order.
   */
  private cache: { generation: bigint; rules: Map<string, CachedRule[]> } | null = null;

  constructor(
    private readonly prisma: PrismaClient,
    options: SharedRuleStoreOptions = {},
  ) {
    this.cacheRules = options.cacheRules ?? true;
  }

  async trust(publicKey: string): Promise<string> {
    const key = parsePublicKey(publicKey);
    const keyId = keyIdOf(key);
    await this.prisma.trustedRuleKey.upsert({
      where: { keyId },
      create: { keyId, publicKey: publicKey.trim() },
      update: {},
    });
    return keyId;
  }

  /** The trusted keys by id, for verifying packs. */
  async trustedKeys(): Promise<Map<string, KeyObject>> {
    const rows = await this.prisma.trustedRuleKey.findMany();
    return new Map(rows.map((r) => [r.keyId, parsePublicKey(r.publicKey)]));
  }

  /**
   * The local rules as portable documents: the machine-checkable ones with their pattern
   * (`dise-rule/1`), the semantic ones (a description, no pattern) as advice with `pattern: null`
   * (`dise-rule/2`). Withdrawn rules travel too, so the withdrawal reaches subscribers.
   */
  async exportDocuments(filter: ExportFilter, installationId: string): Promise<RuleDocument[]> {
    const rows = await this.prisma.$queryRaw<LocalRow[]>`
      SELECT r.rule_id AS "ruleId", r.description, r.pattern_to_avoid AS pattern, r.pattern_kind AS "patternKind",
             r.reason, r.propagation_scope AS scope, r.source_failure AS source, r.heal_id AS "healId",
             r.modified_at AS "modifiedAt", r.withdrawn_at AS "withdrawnAt",
             t.language, t.tool_name AS "toolName", t.code AS invalid
      FROM avoidance_rules r JOIN tool_lineage t ON t.tool_id = r.source_failure
      WHERE r.pattern_kind IN ('regex', 'ast', 'tokens', 'semantic')
        AND (r.pattern_kind <> 'ast' OR t.language = 'javascript')
        AND (${filter.since ?? null}::timestamptz IS NULL OR r.modified_at >= ${filter.since ?? null}::timestamptz)
        AND (${filter.tool ?? null}::varchar IS NULL OR t.tool_name = ${filter.tool ?? null}::varchar)
      ORDER BY r.created_at, r.rule_id`;
    const docs: RuleDocument[] = [];
    for (const r of rows) {
      const [valid, failing, lineage, related] = await Promise.all([
        this.healedCode(r),
        this.prisma.$queryRaw<{ input: unknown; expected: unknown }[]>`
          SELECT tc.input, tc.expected FROM test_cases tc JOIN failures f ON f.id = tc.source_failure_id
          WHERE f.tool_id = ${r.source} AND tc.origin = 'minted' ORDER BY tc.id LIMIT 20`,
        this.prisma.$queryRaw<{ id: string }[]>`
          ${ancestorSet(r.source)} SELECT t.tool_id AS id FROM a JOIN tool_lineage t ON t.tool_id = a.id
          ORDER BY t.generation, t.tool_id`,
        this.prisma.$queryRaw<{ id: string }[]>`
          SELECT r.rule_id AS id FROM avoidance_rules r JOIN tool_lineage t ON t.tool_id = r.source_failure
          WHERE t.tool_name = ${r.toolName} AND r.rule_id <> ${r.ruleId} ORDER BY r.rule_id`,
      ]);
      const engine = ENGINE_OF_KIND[r.patternKind];
      docs.push({
        ...(engine
          ? { schema: RULE_DOCUMENT_SCHEMA, pattern: { engine, source: r.pattern } }
          : { schema: SEMANTIC_RULE_DOCUMENT_SCHEMA, pattern: null }),
        id: r.ruleId,
        modified: r.modifiedAt.toISOString(),
        withdrawn: r.withdrawnAt !== null,
        language: r.language,
        astGrep: engine ? astGrepOf(r) : null,
        advice: r.description,
        reason: r.reason,
        evidence: {
          invalid: r.invalid,
          valid,
          failingInputs: failing.map((f) => ({ input: f.input, expected: f.expected })),
        },
        scope: r.scope,
        provenance: {
          installation: installationId,
          tool: r.toolName,
          version: r.source,
          lineage: lineage.map((l) => l.id),
          heal: r.healId,
        },
        related: related.map((x) => x.id),
      });
    }
    return docs;
  }

  /** The healed version's code: the heal's own version, else the newest one regenerated from the culprit. */
  private async healedCode(r: LocalRow): Promise<string | null> {
    const rows = await this.prisma.$queryRaw<{ code: string }[]>`
      SELECT code FROM tool_lineage
      WHERE (${r.healId}::varchar IS NOT NULL AND heal_id = ${r.healId}::varchar) OR regenerated_from = ${r.source}
      ORDER BY (heal_id IS NOT DISTINCT FROM ${r.healId}::varchar) DESC, created_at DESC LIMIT 1`;
    return rows[0]?.code ?? null;
  }

  /**
   * Stores a verified, self-checked pack's rules in one transaction: new ones report-only (a
   * semantic one as advice, which never gates), newer versions of known ones updated (a withdrawal
   * stops their gating), same pattern as a rule here skipped as a duplicate (for a semantic rule, the
   * same advice).
   */
  async importPack(pack: RulePack, source: string): Promise<ImportSummary> {
    const summary: ImportSummary = {
      imported: [],
      advice: [],
      updated: [],
      withdrawn: [],
      unchanged: [],
      duplicates: [],
    };
    await this.prisma.$transaction(async (tx) => {
      for (const doc of pack.rules) {
        const kind = doc.pattern ? KIND_OF_ENGINE[doc.pattern.engine] : 'semantic';
        const pattern = doc.pattern?.source ?? '';
        // A semantic rule is known by its advice: it has no pattern.
        const hash = patternHash(doc.language, kind, doc.pattern ? pattern : doc.advice);
        const firstMode = doc.pattern ? 'report_only' : 'advice';
        const known = await tx.importedRule.findUnique({ where: { ruleId: doc.id } });
        if (known) {
          if (new Date(doc.modified) <= known.modifiedAt) {
            summary.unchanged.push(doc.id);
            continue;
          }
          await tx.importedRule.update({
            where: { ruleId: doc.id },
            data: {
              description: doc.advice,
              document: doc as unknown as Prisma.InputJsonValue,
              modifiedAt: new Date(doc.modified),
              withdrawn: doc.withdrawn,
              // A changed pattern is a new claim: it goes back to quarantine.
              ...(known.patternHash !== hash
                ? {
                    pattern,
                    patternKind: kind,
                    patternHash: hash,
                    mode: firstMode,
                    cleanRegistrations: 0,
                  }
                : {}),
            },
          });
          (doc.withdrawn && !known.withdrawn ? summary.withdrawn : summary.updated).push(doc.id);
          continue;
        }
        const sameAs = await this.samePattern(tx, doc.language, kind, doc.pattern ? pattern : doc.advice, hash);
        if (sameAs) {
          summary.duplicates.push({ id: doc.id, sameAs });
          continue;
        }
        await tx.importedRule.create({
          data: {
            ruleId: doc.id,
            language: doc.language,
            patternKind: kind,
            pattern,
            patternHash: hash,
            mode: firstMode,
            description: doc.advice,
            document: doc as unknown as Prisma.InputJsonValue,
            modifiedAt: new Date(doc.modified),
            withdrawn: doc.withdrawn,
            keyId: pack.manifest.key,
            installationId: pack.manifest.installation,
            source,
          },
        });
        summary.imported.push(doc.id);
        if (!doc.pattern) summary.advice.push(doc.id);
      }
    });
    return summary;
  }

  /**
   * A rule here, imported or local and not withdrawn, with the same pattern, if any; `pattern` is a
   * semantic rule's advice (its description).
   */
  private async samePattern(
    tx: Db,
    language: string,
    kind: string,
    pattern: string,
    hash: string,
  ): Promise<string | null> {
    const imported = await tx.importedRule.findFirst({
      where: { language, patternKind: kind, patternHash: hash, withdrawn: false },
    });
    if (imported) return imported.ruleId;
    const local = await tx.$queryRaw<{ id: string }[]>`
      SELECT r.rule_id AS id FROM avoidance_rules r JOIN tool_lineage t ON t.tool_id = r.source_failure
      WHERE r.withdrawn_at IS NULL AND r.pattern_kind = ${kind} AND t.language = ${language}
        AND (CASE WHEN ${kind} = 'semantic' THEN r.description ELSE r.pattern_to_avoid END) = ${pattern}
      LIMIT 1`;
    return local[0]?.id ?? null;
  }

  /**
   * Imported rules that gate a version: enforcing, not withdrawn, in its language and in its scope.
   * A document's scope reads across installations by tool name, since version ids are not shared:
   * `descendants` gates the tool the rule was learned on, `all_similar` that tool and any version
   * whose code is trigram-similar to the culprit at or above `similarityThreshold`, `global` every
   * version. A version whose tool is not stored yet is gated by all of them (the safe side).
   */
  async enforcing(
    subject: RuleSubject | ToolLanguage,
    db: Db = this.prisma,
    similarityThreshold = DEFAULT_SIMILARITY,
    head?: GateHead,
  ): Promise<GateRule[]> {
    return this.gateRules(subject, 'enforcing', db, similarityThreshold, head);
  }

  private async gateRules(
    subject: RuleSubject | ToolLanguage,
    mode: string,
    db: Db,
    similarityThreshold: number,
    read?: GateHead,
  ): Promise<GateRule[]> {
    if (!this.cacheRules) return this.gateRulesRead(subject, mode, db, similarityThreshold);
    const subjectId = typeof subject === 'string' ? null : subject.id;
    // One round trip (or none, when the caller read it with its own): has anything changed since the
    // rules were read, and the subject's tool name.
    const [head] = read ? [read] : await db.$queryRaw<GateHead[]>`SELECT ${gateHeadColumns(subjectId)}`;
    const generation = head?.generation === null || head?.generation === undefined ? null : BigInt(head.generation);
    let cache = this.cache;
    if (!cache || generation === null || cache.generation !== generation) {
      const rows = await db.$queryRaw<CachedRule[]>`
        SELECT rule_id AS "ruleId", description, pattern AS "patternToAvoid", pattern_kind AS "patternKind",
               language, mode, document->>'scope' AS scope, document->'provenance'->>'tool' AS tool
        FROM imported_rules
        WHERE NOT withdrawn AND mode IN ('report_only', 'enforcing')
        ORDER BY rule_id`;
      const rules = new Map<string, CachedRule[]>();
      for (const r of rows) {
        const key = `${r.language} ${r.mode}`;
        const list = rules.get(key);
        if (list) list.push(r);
        else rules.set(key, [r]);
      }
      cache = { generation: generation ?? -1n, rules };
      // Without its row (a database the migration has not reached) nothing says when to read again.
      this.cache = generation === null ? null : cache;
    }
    const language = typeof subject === 'string' ? subject : subject.language;
    const ofMode = cache.rules.get(`${language} ${mode}`) ?? [];
    return this.inScope(ofMode, subject, mode, head?.tool ?? null, db, similarityThreshold);
  }

  /**
   * The cached rules of a subject's language and mode in its scope (the same reading as
   * gateRulesRead's SQL). Whether an `all_similar` rule's culprit is similar to the code is PostgreSQL's pg_trgm
   * answer, asked only for the rules that need it: for enforcing rules only those that match the code
   * (a rule that does not match gates nothing either way); for report-only ones all of them, since a
   * rule in scope that does not match counts a clean registration.
   */
  private async inScope(
    ofMode: CachedRule[],
    subject: RuleSubject | ToolLanguage,
    mode: string,
    tool: string | null,
    db: Db,
    similarityThreshold: number,
  ): Promise<GateRule[]> {
    // The cached objects themselves (a GateRule with more fields): the gate only reads them.
    if (typeof subject === 'string' || tool === null) return ofMode.slice();
    const held = new Set<string>();
    let maybe: CachedRule[] = [];
    for (const r of ofMode) {
      if (r.scope === 'global' || r.tool === tool) held.add(r.ruleId);
      else if (r.scope === 'all_similar') maybe.push(r);
    }
    if (maybe.length && mode === 'enforcing') {
      const matched = new Set(checkRuleGates(subject.code, maybe, subject.language).map((v) => v.ruleId));
      maybe = maybe.filter((r) => matched.has(r.ruleId));
    }
    if (maybe.length) {
      const similar = await db.$queryRaw<{ ruleId: string }[]>`
        SELECT rule_id AS "ruleId" FROM imported_rules
        WHERE rule_id = ANY(${maybe.map((r) => r.ruleId)}::varchar[])
          AND similarity(document->'evidence'->>'invalid', ${subject.code}) >= ${similarityThreshold}`;
      for (const r of similar) held.add(r.ruleId);
    }
    return ofMode.filter((r) => held.has(r.ruleId));
  }

  /**
   * The same rules read from PostgreSQL at every check (the store built with `cacheRules: false`),
   * and the imported advice in a version's scope (mode `advice`).
   */
  private async gateRulesRead(
    subject: RuleSubject | ToolLanguage,
    mode: string,
    db: Db,
    similarityThreshold: number,
  ): Promise<GateRule[]> {
    if (typeof subject === 'string') {
      const rows = await db.importedRule.findMany({
        where: { language: subject, mode, withdrawn: false },
        select: { ruleId: true, description: true, pattern: true, patternKind: true },
        orderBy: { ruleId: 'asc' },
      });
      return rows.map((r) => ({
        ruleId: r.ruleId,
        description: r.description,
        patternToAvoid: r.pattern,
        patternKind: r.patternKind,
      }));
    }
    return db.$queryRaw<GateRule[]>`
      WITH subj AS (SELECT tool_name FROM tool_lineage WHERE tool_id = ${subject.id} LIMIT 1)
      SELECT r.rule_id AS "ruleId", r.description, r.pattern AS "patternToAvoid", r.pattern_kind AS "patternKind"
      FROM imported_rules r
      WHERE r.language = ${subject.language} AND r.mode = ${mode} AND NOT r.withdrawn
        AND (r.document->>'scope' = 'global'
          OR NOT EXISTS (SELECT 1 FROM subj)
          OR r.document->'provenance'->>'tool' = (SELECT tool_name FROM subj)
          OR (r.document->>'scope' = 'all_similar'
            AND similarity(r.document->'evidence'->>'invalid', ${subject.code}) >= ${similarityThreshold}))
      ORDER BY r.rule_id`;
  }

  /**
   * Imported semantic rules in a version's scope (read like a gate's, by tool name): advice for the
   * LLM that regenerates it, never a gate. `source` names the culprit and the installation that
   * learned it.
   */
  async advice(
    subject: RuleSubject,
    db: Db = this.prisma,
    similarityThreshold = DEFAULT_SIMILARITY,
  ): Promise<ImportedAdvice[]> {
    const inScope = await this.gateRulesRead(subject, 'advice', db, similarityThreshold);
    if (!inScope.length) return [];
    const rows = await db.importedRule.findMany({
      where: { ruleId: { in: inScope.map((r) => r.ruleId) } },
      orderBy: { ruleId: 'asc' },
    });
    return rows.map((r) => {
      const doc = r.document as unknown as RuleDocument;
      return {
        ruleId: r.ruleId,
        description: r.description,
        reason: doc.reason,
        source: `${doc.provenance.version} at installation ${r.installationId}`,
      };
    });
  }

  /**
   * Report-only rules at a registration: each match is recorded, never refused. A registration the
   * rule does not match counts as clean; a match on a version that passed every other check may be a
   * false positive and starts the count again. After `promoteAfter` clean registrations the rule
   * enforces.
   */
  async observe(
    version: { id: string; code: string; language: ToolLanguage },
    passedOtherwise: boolean,
    promoteAfter: number,
    db: Db = this.prisma,
    similarityThreshold = DEFAULT_SIMILARITY,
  ): Promise<GateViolation[]> {
    const rules = await this.gateRules(version, 'report_only', db, similarityThreshold);
    if (!rules.length) return [];
    const violations = checkRuleGates(version.code, rules, version.language);
    const matched = new Set(violations.map((v) => v.ruleId));
    for (const v of violations) {
      await db.importedRuleReport.create({
        data: { ruleId: v.ruleId, toolId: version.id, line: v.line, excerpt: v.excerpt, passedOtherwise },
      });
    }
    const clean = rules.filter((r) => !matched.has(r.ruleId)).map((r) => r.ruleId);
    await db.$executeRaw`
      UPDATE imported_rules SET reported_matches = reported_matches + 1,
        clean_registrations = CASE WHEN ${passedOtherwise} THEN 0 ELSE clean_registrations END
      WHERE rule_id = ANY(${[...matched]}::varchar[])`;
    await db.$executeRaw`
      UPDATE imported_rules SET clean_registrations = clean_registrations + 1,
        mode = CASE WHEN clean_registrations + 1 >= ${promoteAfter} THEN 'enforcing' ELSE mode END,
        promoted_at = CASE WHEN clean_registrations + 1 >= ${promoteAfter} THEN now() ELSE promoted_at END,
        promoted_by = CASE WHEN clean_registrations + 1 >= ${promoteAfter} THEN 'quarantine' ELSE promoted_by END
      WHERE rule_id = ANY(${clean}::varchar[])`;
    return violations;
  }

  /**
   * An operator's word: the imported rule enforces now. `advice` for a semantic rule, which has no
   * pattern to enforce; null when there is no such rule.
   */
  async promote(ruleId: string): Promise<'enforcing' | 'advice' | null> {
    await this.prisma.importedRule.updateMany({
      where: { ruleId, mode: 'report_only' },
      data: { mode: 'enforcing', promotedAt: new Date(), promotedBy: 'operator' },
    });
    const rule = await this.prisma.importedRule.findUnique({ where: { ruleId }, select: { mode: true } });
    return rule ? (rule.mode === 'advice' ? 'advice' : 'enforcing') : null;
  }

  /**
   * Withdraws a rule: a local one stops gating and its withdrawal travels in the next pack; an
   * imported one stops gating here. False when there is no such rule.
   */
  async withdraw(ruleId: string, now: Date = new Date()): Promise<'local' | 'imported' | null> {
    const local = await this.prisma.avoidanceRule.updateMany({
      where: { ruleId, withdrawnAt: null },
      data: { withdrawnAt: now, modifiedAt: now },
    });
    if (local.count || (await this.prisma.avoidanceRule.count({ where: { ruleId } }))) return 'local';
    const imported = await this.prisma.importedRule.updateMany({ where: { ruleId }, data: { withdrawn: true } });
    return imported.count ? 'imported' : null;
  }

  /**
   * Every rule that can read source files (`dise rules check`): the local machine-checkable ones and
   * the imported ones, withdrawn ones aside; an imported rule in quarantine is a warning.
   */
  async checkRules(): Promise<CheckRule[]> {
    const local = await this.prisma.$queryRaw<
      {
        ruleId: string;
        description: string;
        pattern: string;
        patternKind: string;
        reason: string;
        language: ToolLanguage;
      }[]
    >`
      SELECT r.rule_id AS "ruleId", r.description, r.pattern_to_avoid AS pattern, r.pattern_kind AS "patternKind",
             r.reason, t.language
      FROM avoidance_rules r JOIN tool_lineage t ON t.tool_id = r.source_failure
      WHERE r.withdrawn_at IS NULL AND r.pattern_kind IN ('regex', 'ast', 'tokens')
      ORDER BY r.created_at, r.rule_id`;
    const imported = await this.prisma.importedRule.findMany({
      where: { withdrawn: false, patternKind: { not: 'semantic' } },
      orderBy: { ruleId: 'asc' },
    });
    return [
      ...local.map((r) => ({
        ruleId: r.ruleId,
        description: r.description,
        patternToAvoid: r.pattern,
        // A regular expression over the code reads any language; the others read the one they were learned in.
        patternKind: r.patternKind,
        language: r.patternKind === 'regex' ? null : r.language,
        level: 'error' as const,
        help: r.reason,
        origin: 'local' as const,
      })),
      ...imported.map((r) => ({
        ruleId: r.ruleId,
        description: r.description,
        patternToAvoid: r.pattern,
        patternKind: r.patternKind,
        language: r.language as ToolLanguage,
        level: r.mode === 'enforcing' ? ('error' as const) : ('warning' as const),
        help: (r.document as unknown as RuleDocument).reason,
        origin: 'imported' as const,
      })),
    ];
  }

  async listImported(): Promise<ImportedRuleListing[]> {
    const rows = await this.prisma.importedRule.findMany({ orderBy: [{ importedAt: 'asc' }, { ruleId: 'asc' }] });
    return rows.map((r) => {
      const doc = r.document as unknown as RuleDocument;
      return {
        ruleId: r.ruleId,
        origin: 'imported' as const,
        description: r.description,
        language: r.language,
        patternKind: r.patternKind,
        pattern: r.pattern,
        mode: r.mode,
        withdrawn: r.withdrawn,
        cleanRegistrations: r.cleanRegistrations,
        reportedMatches: r.reportedMatches,
        provenance: {
          installation: r.installationId,
          key: r.keyId,
          source: r.source,
          tool: doc.provenance.tool,
          version: doc.provenance.version,
          heal: doc.provenance.heal,
          importedAt: r.importedAt.toISOString(),
          modified: r.modifiedAt.toISOString(),
          promotedBy: r.promotedBy,
        },
      };
    });
  }
}

function astGrepOf(r: LocalRow): string | null {
  const rule = toAstGrep(r.patternKind, r.pattern, r.language);
  return rule ? astGrepYaml(r.ruleId, r.language, rule, r.description) : null;
}
