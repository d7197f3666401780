import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRuleGates } from '../../src/detection/static-analysis.js';
import { createPrismaClient, type PrismaClient } from '../../src/infra/database.js';
import { SharedRuleStore, type RuleSubject } from '../../src/lineage/shared-rules.js';
import { RULE_DOCUMENT_SCHEMA, type RuleDocument } from '../../src/rules/document.js';
import { importPack } from '../../src/rules/import.js';
import { installationIdentity } from '../../src/rules/keys.js';
import { buildPack } from '../../src/rules/pack.js';
import { useTestStore } from '../support/database.js';
import { version } from '../support/fixtures.js';

// The gate keeps the imported rules in memory between registrations. Two stores on one database,
// each with its own connection pool, stand for two processes (the CLI that imports or promotes, the
// worker whose heals are gated): what one changes, the other's next gate check sees.
const t = useTestStore();
let otherPrisma: PrismaClient;
/** The store whose gate keeps the rules in memory (another process's). */
let gate: SharedRuleStore;
/** The same database read at every check: what the cached gate must always agree with. */
let reread: SharedRuleStore;
const identity = installationIdentity(mkdtempSync(path.join(os.tmpdir(), 'dise-gate-cache-')));

const EVAL = String.raw`\beval\(`;
const USES_EVAL = 'function run(input) {\n  return eval(String(input));\n}';
const NO_EVAL = 'function run(input) {\n  return Number(input);\n}';
/** Matches `return eval` but shares little else with the culprit. */
const DISSIMILAR = `function run(payload) {
  const values = Object.values(payload ?? {}).filter((v) => typeof v === 'number');
  const total = values.reduce((sum, v) => sum + v, 0);
  if (total > 100) return evaluateLater;
  return eval;
}`;

function doc(id: string, patch: Partial<RuleDocument> = {}): RuleDocument {
  return {
    schema: RULE_DOCUMENT_SCHEMA,
    id,
    modified: '2026-12-04T10:00:00.000Z',
    withdrawn: false,
    language: 'javascript',
    pattern: { engine: 'regex', source: EVAL },
    astGrep: null,
    advice: 'never eval the input',
    reason: 'eval ran what a caller sent',
    evidence: { invalid: USES_EVAL, valid: NO_EVAL, failingInputs: [] },
    scope: 'global',
    provenance: { installation: identity.installationId, tool: 'calc', version: 'calc@1.0.0', lineage: [], heal: null },
    related: [],
    ...patch,
  } as RuleDocument;
}

/** Imports a pack signed by the peer, through the writing store (the CLI's `dise rules import`). */
const importDocs = (writer: SharedRuleStore, docs: RuleDocument[]) =>
  importPack(writer, buildPack(docs, identity), 'test');

const subject = (id: string, code = USES_EVAL): RuleSubject => ({ id, code, language: 'javascript' });
const enforcingIds = async (store: SharedRuleStore, s: RuleSubject) => (await store.enforcing(s)).map((r) => r.ruleId);
const generation = async () =>
  (await t.db.query<{ g: string }>('SELECT generation::text AS g FROM imported_rules_generation'))[0]!.g;

beforeAll(async () => {
  otherPrisma = createPrismaClient(t.db.url, { poolSize: 2 });
  gate = new SharedRuleStore(otherPrisma);
  reread = new SharedRuleStore(t.db.prisma, { cacheRules: false });
  await t.store.shared.trust(identity.publicKey);
  await t.store.registerVersion(version('calc', '1.0.0', [], { code: NO_EVAL }));
  await t.store.registerVersion(version('other', '1.0.0', [], { code: 'function run(input) {\n  return 1;\n}' }));
});
afterAll(async () => {
  await otherPrisma?.$disconnect();
});

describe("the gate's imported rules, kept in memory", () => {
  it('sees a rule imported, promoted and withdrawn by another store at its next check', async () => {
    const writer = t.store.shared;
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual([]); // read, and kept
    await importDocs(writer, [doc('avoid_eval')]);
    // Imported: report-only, so not enforcing yet; but the report-only reading sees it.
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual([]);
    expect(await gate.observe({ id: 'calc@2.0.0', code: NO_EVAL, language: 'javascript' }, true, 5)).toEqual([]);

    expect(await writer.promote('avoid_eval')).toBe('enforcing');
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual(['avoid_eval']);

    expect(await writer.withdraw('avoid_eval')).toBe('imported');
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual([]);
  });

  it('sees a change written by SQL from another connection, and a newer document that goes back to quarantine', async () => {
    await importDocs(t.store.shared, [
      doc('avoid_eval2', { pattern: { engine: 'regex', source: String.raw`eval\(` } }),
    ]);
    await t.db.query(`UPDATE imported_rules SET mode = 'enforcing' WHERE rule_id = 'avoid_eval2'`);
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual(['avoid_eval2']);
    // A newer version of the document with another pattern is a new claim: report-only again.
    await importDocs(t.store.shared, [
      doc('avoid_eval2', {
        modified: '2026-12-05T10:00:00.000Z',
        pattern: { engine: 'regex', source: String.raw`eval\s*\(` },
      }),
    ]);
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual([]);
    await t.db.query(`DELETE FROM imported_rules WHERE rule_id = 'avoid_eval2'`);
    await t.db.query(`UPDATE imported_rules SET withdrawn = false WHERE rule_id = 'avoid_eval'`);
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual(['avoid_eval']);
  });

  it('is not read again for a registration that only counts quarantine', async () => {
    await importDocs(t.store.shared, [
      doc('avoid_eval3', { pattern: { engine: 'regex', source: String.raw`eval\(String` } }),
    ]);
    const before = await generation();
    // A clean registration counts for the report-only rule, below the promotion threshold: nothing the gate reads changed.
    await gate.observe({ id: 'calc@2.1.0', code: NO_EVAL, language: 'javascript' }, true, 5);
    expect(await generation()).toBe(before);
    // The registration that promotes it does change it.
    const rows = await t.db.query<{ clean: number }>(
      `SELECT clean_registrations AS clean FROM imported_rules WHERE rule_id = 'avoid_eval3'`,
    );
    await gate.observe({ id: 'calc@2.2.0', code: NO_EVAL, language: 'javascript' }, true, rows[0]!.clean + 1);
    expect(await generation()).not.toBe(before);
    expect(await enforcingIds(gate, subject('calc@2.0.0'))).toEqual(['avoid_eval', 'avoid_eval3']);
  });

  it('reads scope as PostgreSQL does: by tool name, and all_similar by pg_trgm similarity to the culprit', async () => {
    await t.db.query(`UPDATE imported_rules SET withdrawn = true`);
    await importDocs(t.store.shared, [
      doc('avoid_desc', {
        scope: 'descendants',
        pattern: { engine: 'regex', source: String.raw`eval\(String\(input` },
      }),
      doc('avoid_similar', { scope: 'all_similar', pattern: { engine: 'regex', source: String.raw`return eval` } }),
    ]);
    await t.db.query(`UPDATE imported_rules SET mode = 'enforcing' WHERE rule_id IN ('avoid_desc', 'avoid_similar')`);
    const cases: [RuleSubject, string[]][] = [
      // The tool it was learned on: both.
      [subject('calc@1.0.0'), ['avoid_desc', 'avoid_similar']],
      // Another tool with the culprit's code: the similar one only.
      [subject('other@1.0.0'), ['avoid_similar']],
      // Another tool whose code is not similar, though it matches: neither.
      [subject('other@1.0.0', DISSIMILAR), []],
      // A tool not stored yet: every rule (the safe side).
      [subject('newcomer@1.0.0'), ['avoid_desc', 'avoid_similar']],
    ];
    for (const [s, expected] of cases) {
      const kept = await gate.enforcing(s);
      expect(
        kept.map((r) => r.ruleId),
        s.id,
      ).toEqual(expected);
      // The rules that gate (those that match) are the same as read from PostgreSQL at every check.
      const gated = (rules: typeof kept) => checkRuleGates(s.code, rules).map((v) => v.ruleId);
      expect(gated(kept), s.id).toEqual(gated(await reread.enforcing(s)));
    }
  });
});
