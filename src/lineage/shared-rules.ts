import type { KeyObject } from 'node:crypto';
import { type Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { checkRuleGates, type GateRule, type GateViolation } from '../detection/static-analysis.js';
import {
  ENGINE_OF_KIND,
  KIND_OF_ENGINE,
  patternHash,
  RULE_DOCUMENT_SCHEMA,
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
  updated: string[];
  withdrawn: string[];
  unchanged: string[];
  /** Rules whose pattern a rule here has already (local or imported), with the rule that has it. */
  duplicates: { id: string; sameAs: string }[];
}

/** An imported rule as `dise rules --json` shows it. */
export interface ImportedRuleListing {
  ruleId: string;
  origin: 'imported';
  description: string;
  language: string;
  patternKind: string;
  pattern: string;
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
export interface RuleSubject {
  id: string;
  code: string;
  language: ToolLanguage;
}

/** self_healing.propagation.similarity_threshold's default. */
const DEFAULT_SIMILARITY = 0.3;

export class SharedRuleStore {
  constructor(private readonly prisma: PrismaClient) {}

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
   * The local machine-checkable rules as portable documents (semantic rules are descriptions, not
   * patterns, and do not travel). Withdrawn rules travel too, so the withdrawal reaches subscribers.
   */
  async exportDocuments(filter: ExportFilter, installationId: string): Promise<RuleDocument[]> {
    const rows = await this.prisma.$queryRaw<LocalRow[]>`
      SELECT r.rule_id AS "ruleId", r.description, r.pattern_to_avoid AS pattern, r.pattern_kind AS "patternKind",
             r.reason, r.propagation_scope AS scope, r.source_failure AS source, r.heal_id AS "healId",
             r.modified_at AS "modifiedAt", r.withdrawn_at AS "withdrawnAt",
             t.language, t.tool_name AS "toolName", t.code AS invalid
      FROM avoidance_rules r JOIN tool_lineage t ON t.tool_id = r.source_failure
      WHERE r.pattern_kind IN ('regex', 'ast', 'tokens')
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
      docs.push({
        schema: RULE_DOCUMENT_SCHEMA,
        id: r.ruleId,
        modified: r.modifiedAt.toISOString(),
        withdrawn: r.withdrawnAt !== null,
        language: r.language,
        pattern: { engine: ENGINE_OF_KIND[r.patternKind]!, source: r.pattern },
        astGrep: astGrepOf(r),
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
   * Stores a verified, self-checked pack's rules in one transaction: new ones report-only, newer
   * versions of known ones updated (a withdrawal stops their gating), same pattern as a rule here
   * skipped as a duplicate.
   */
  async importPack(pack: RulePack, source: string): Promise<ImportSummary> {
    const summary: ImportSummary = { imported: [], updated: [], withdrawn: [], unchanged: [], duplicates: [] };
    await this.prisma.$transaction(async (tx) => {
      for (const doc of pack.rules) {
        const kind = KIND_OF_ENGINE[doc.pattern.engine];
        const hash = patternHash(doc.language, kind, doc.pattern.source);
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
                    pattern: doc.pattern.source,
                    patternKind: kind,
                    patternHash: hash,
                    mode: 'report_only',
                    cleanRegistrations: 0,
                  }
                : {}),
            },
          });
          (doc.withdrawn && !known.withdrawn ? summary.withdrawn : summary.updated).push(doc.id);
          continue;
        }
        const sameAs = await this.samePattern(tx, doc.language, kind, doc.pattern.source, hash);
        if (sameAs) {
          summary.duplicates.push({ id: doc.id, sameAs });
          continue;
        }
        await tx.importedRule.create({
          data: {
            ruleId: doc.id,
            language: doc.language,
            patternKind: kind,
            pattern: doc.pattern.source,
            patternHash: hash,
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
      }
    });
    return summary;
  }

  /** A rule here, imported or local and not withdrawn, with the same pattern, if any. */
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
      WHERE r.withdrawn_at IS NULL AND r.pattern_kind = ${kind} AND t.language = ${language} AND r.pattern_to_avoid = ${pattern}
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
  ): Promise<GateRule[]> {
    return this.gateRules(subject, 'enforcing', db, similarityThreshold);
  }

  private async gateRules(
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

  /** An operator's word: the imported rule enforces now. */
  async promote(ruleId: string): Promise<boolean> {
    const n = await this.prisma.importedRule.updateMany({
      where: { ruleId, mode: 'report_only' },
      data: { mode: 'enforcing', promotedAt: new Date(), promotedBy: 'operator' },
    });
    return n.count > 0 || (await this.prisma.importedRule.count({ where: { ruleId } })) > 0;
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
      where: { withdrawn: false },
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
