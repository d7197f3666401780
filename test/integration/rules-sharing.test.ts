import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineageStore } from '../../src/lineage/store.js';
import type { RuleDocument } from '../../src/rules/document.js';
import type { RulePack } from '../../src/rules/pack.js';
import { addressManifest } from '../support/address-manifest.js';
import { runCliIn } from '../support/cli-in-process.js';
import { createTestDatabase, useTestStore, type TestDatabase } from '../support/database.js';
import { AT_CHECK_VALIDATOR, REGEX_VALIDATOR, version } from '../support/fixtures.js';

// Two installations on one PostgreSQL (two databases) with their own keys: A learns, B imports.
const a = useTestStore();
let bDb: TestDatabase;
const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-rules-'));
const keysA = path.join(dir, 'keys-a');
const keysB = path.join(dir, 'keys-b');
const config = path.join(dir, 'config.yaml');
writeFileSync(config, 'rules_sharing:\n  promote_after: 2\n');

// An "@" check is not an email check: the pattern over the normalised tokens, so names do not matter.
const AT_CHECK = String.raw`\. includes \( ['"]@['"] \)`;

const cli = (db: TestDatabase, keys: string, argv: string[]) =>
  runCliIn({ DATABASE_URL: db.url, DISE_RULES_KEY_DIR: keys }, ['--config', config, ...argv]);
const onA = (...argv: string[]) => cli(a.db, keysA, argv);
const onB = (...argv: string[]) => cli(bDb, keysB, argv);

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

async function exportFromA(...argv: string[]): Promise<RulePack> {
  const r = await onA('rules', 'export', ...argv);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RulePack;
}

const importedCount = async () =>
  (await bDb.query<{ n: number }>('SELECT count(*)::int AS n FROM imported_rules'))[0]!.n;

const manifest = (name: string, v: string, code: string, parents: string[] = []) =>
  addressManifest(dir, name, v, code, parents);

const REPEATS_THE_MISTAKE = `function run(address) {
  const text = String(address);
  return text.includes("@");
}`;
const OTHER_TOOL = (n: number) => `function run(input) {
  return String(input).length > ${n};
}`;

beforeAll(async () => {
  bDb = await createTestDatabase();
  // A: the culprit, the version its heal produced, and the rule the heal learned.
  await a.store.registerVersion(version('email_validator', '1.0.0', [], { code: AT_CHECK_VALIDATOR }));
  await a.store.registerVersion(
    version('email_validator', '1.0.1', ['email_validator@1.0.0'], { code: REGEX_VALIDATOR, healId: 'heal-a' }),
  );
  await a.store.rules.create({
    ruleId: 'avoid_0000aaaa',
    description: 'an "@" check is not an email check: validate the whole address',
    patternToAvoid: AT_CHECK,
    patternKind: 'tokens',
    reason: 'accepted "@" as an email address',
    sourceVersionId: 'email_validator@1.0.0',
    scope: 'all_similar',
    healId: 'heal-a',
  });
  // A rule whose pattern does not match its own culprit (another tool, exported alone with --tool).
  await a.store.registerVersion(version('broken_rule_tool', '1.0.0', [], { code: OTHER_TOOL(3) }));
  await a.store.rules.create({
    ruleId: 'avoid_0000bbbb',
    description: 'never call eval',
    patternToAvoid: String.raw`\beval\(`,
    patternKind: 'regex',
    reason: 'a mistake',
    sourceVersionId: 'broken_rule_tool@1.0.0',
    scope: 'descendants',
  });
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
  delete process.env.DISE_RULES_KEY_DIR;
  await bDb?.drop();
});

describe('rules shared between installations', () => {
  it('creates the key on first use, outside the database, readable by its owner only', async () => {
    const r = await onA('rules', 'key');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^installation=[0-9a-f-]{36} key=[0-9a-f]{32}\ned25519:[A-Za-z0-9+/=]+$/);
    expect(statSync(path.join(keysA, 'ed25519.pem')).mode & 0o777).toBe(0o600);
    // The same key on the next use.
    expect((await onA('rules', 'key')).stdout).toBe(r.stdout);
  });

  it('exports a signed pack of portable documents with their evidence and provenance', async () => {
    const pack = await exportFromA('--tool', 'email_validator');
    expect(pack.format).toBe('dise-rule-pack/1');
    expect(pack.manifest.rules.map((r) => r.id)).toEqual(['avoid_0000aaaa']);
    const doc = pack.rules[0] as RuleDocument;
    expect(doc).toMatchObject({
      schema: 'dise-rule/1',
      id: 'avoid_0000aaaa',
      withdrawn: false,
      language: 'javascript',
      pattern: { engine: 'tokens', source: AT_CHECK },
      // A span of JavaScript tokens has no faithful ast-grep translation.
      astGrep: null,
      scope: 'all_similar',
      evidence: { invalid: AT_CHECK_VALIDATOR, valid: REGEX_VALIDATOR },
      provenance: { tool: 'email_validator', version: 'email_validator@1.0.0', heal: 'heal-a' },
    });
    expect(doc.provenance.installation).toBe(/installation=(\S+)/.exec((await onA('rules', 'key')).stdout)![1]);
  });

  it('refuses a pack signed by a key it does not trust, and imports nothing', async () => {
    const packFile = file('untrusted.json', JSON.stringify(await exportFromA('--tool', 'email_validator')));
    const r = await onB('rules', 'import', packFile);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signed by key [0-9a-f]{32} .*which is not trusted here/);
    expect(await importedCount()).toBe(0);
  });

  it('refuses tampered packs (a changed rule, a changed manifest) and rules whose examples disagree', async () => {
    const key = (await onA('rules', 'key')).stdout.split('\n')[1]!;
    expect((await onB('rules', 'trust', key)).code).toBe(0);

    const changedRule = await exportFromA('--tool', 'email_validator');
    (changedRule.rules[0] as RuleDocument).pattern!.source = String.raw`\. indexOf \(`;
    let r = await onB('rules', 'import', file('changed-rule.json', JSON.stringify(changedRule)));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rule avoid_0000aaaa does not match its SHA-256 in the signed manifest');

    const changedManifest = await exportFromA('--tool', 'email_validator');
    changedManifest.manifest.rules = [];
    changedManifest.rules = [];
    r = await onB('rules', 'import', file('changed-manifest.json', JSON.stringify(changedManifest)));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the pack's signature does not verify");

    const badExample = await exportFromA('--tool', 'broken_rule_tool');
    r = await onB('rules', 'import', file('bad-example.json', JSON.stringify(badExample)));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'rule avoid_0000bbbb disagrees with its examples: its regex pattern does not match its own invalid example',
    );
    expect(await importedCount()).toBe(0);
  });

  it('imports report-only, reports matches at registration without refusing, then enforces after clean registrations', async () => {
    const packFile = file('pack.json', JSON.stringify(await exportFromA('--tool', 'email_validator')));
    let r = await onB('rules', 'import', packFile);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('imported 1 (report-only), updated 0, withdrawn 0, unchanged 0, duplicates 0');
    // The same pack again changes nothing.
    expect((await onB('rules', 'import', packFile)).stdout).toContain('unchanged 1');

    const listed = JSON.parse((await onB('rules', '--json')).stdout) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({
        ruleId: 'avoid_0000aaaa',
        origin: 'imported',
        mode: 'report_only',
        provenance: expect.objectContaining({ tool: 'email_validator', heal: 'heal-a', source: packFile }),
      }),
    ]);

    // Report-only: the mistake with other names is registered, and the match reported.
    r = await onB('tool', 'add', manifest('email_check', '1.0.0', REPEATS_THE_MISTAKE));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('email_check@1.0.0 healthy');
    expect(r.stderr).toContain(
      'email_check@1.0.0: imported rule avoid_0000aaaa (report-only) matches at line 3: return text.includes("@");',
    );
    const reports = await bDb.query('SELECT rule_id, tool_id, line, passed_otherwise FROM imported_rule_reports');
    expect(reports).toEqual([
      { rule_id: 'avoid_0000aaaa', tool_id: 'email_check@1.0.0', line: 3, passed_otherwise: true },
    ]);

    // Two clean registrations (promote_after: 2) and it enforces.
    for (const n of [1, 2])
      expect((await onB('tool', 'add', manifest(`length_check_${n}`, '1.0.0', OTHER_TOOL(n)))).code).toBe(0);
    const [rule] = await bDb.query<{ mode: string; promoted_by: string }>(
      'SELECT mode, promoted_by FROM imported_rules',
    );
    expect(rule).toEqual({ mode: 'enforcing', promoted_by: 'quarantine' });

    // Enforcing: a new version of a different tool that repeats the mistake is refused.
    r = await onB('tool', 'add', manifest('contact_check', '1.0.0', REPEATS_THE_MISTAKE.replace(/text/g, 'value')));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('contact_check@1.0.0 failed');
    expect(r.stderr).toContain('avoid_0000aaaa');
  });

  it('a withdrawal on A travels in the next pack, and B stops gating', async () => {
    expect((await onA('rules', 'withdraw', 'avoid_0000aaaa')).stdout).toBe(
      'avoid_0000aaaa withdrawn (local): it no longer gates',
    );
    const pack = await exportFromA('--tool', 'email_validator');
    expect((pack.rules[0] as RuleDocument).withdrawn).toBe(true);
    const r = await onB('rules', 'import', file('withdrawn.json', JSON.stringify(pack)));
    expect(r.stdout).toContain('withdrawn 1');
    const again = await onB('tool', 'add', manifest('address_check', '1.0.0', REPEATS_THE_MISTAKE));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('address_check@1.0.0 healthy');
  });

  it('an operator promotes an imported rule before its quarantine ends', async () => {
    // A learns another rule; B imports it report-only and the operator promotes it.
    await a.store.rules.create({
      ruleId: 'avoid_0000cccc',
      description: 'no length-only checks',
      patternToAvoid: String.raw`\.length > \d+`,
      patternKind: 'regex',
      reason: 'accepted any long text',
      sourceVersionId: 'broken_rule_tool@1.0.0',
      scope: 'descendants',
    });
    await onA('rules', 'withdraw', 'avoid_0000bbbb');
    const pack = await exportFromA('--tool', 'broken_rule_tool');
    const r = await onB('rules', 'import', file('more.json', JSON.stringify(pack)));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('imported 2');
    expect((await onB('rules', 'promote', 'avoid_0000cccc')).stdout).toBe('avoid_0000cccc enforces');
    const [rule] = await bDb.query<{ mode: string; promoted_by: string }>(
      `SELECT mode, promoted_by FROM imported_rules WHERE rule_id = 'avoid_0000cccc'`,
    );
    expect(rule).toEqual({ mode: 'enforcing', promoted_by: 'operator' });
    // Its scope is `descendants` of broken_rule_tool: another tool with a length-only check is not gated...
    const outOfScope = await onB('tool', 'add', manifest('size_check', '1.0.0', OTHER_TOOL(7)));
    expect(outOfScope.code, outOfScope.stderr).toBe(0);
    expect(outOfScope.stdout).toContain('size_check@1.0.0 healthy');
    // ...and the tool it was learned on is refused.
    const inScope = await onB('tool', 'add', manifest('broken_rule_tool', '1.0.0', OTHER_TOOL(7)));
    expect(inScope.code).toBe(1);
    expect(inScope.stdout).toContain('broken_rule_tool@1.0.0 failed');
    expect(inScope.stderr).toContain('avoid_0000cccc');
    // Each installation has its own identity.
    const [keyA, keyB] = [(await onA('rules', 'key')).stdout, (await onB('rules', 'key')).stdout];
    expect(keyB.split('\n')[0]).not.toBe(keyA.split('\n')[0]);
  });

  it('skips a rule whose pattern is already held here, whoever learned it', async () => {
    const b = new LineageStore(bDb.prisma);
    await b.registerVersion(version('b_tool', '1.0.0', [], { code: 'function run(x) {\n  return eval(x);\n}' }));
    await b.rules.create({
      ruleId: 'avoid_b0000001',
      description: 'no eval',
      patternToAvoid: String.raw`\beval\(`,
      patternKind: 'regex',
      reason: 'ran its input',
      sourceVersionId: 'b_tool@1.0.0',
      scope: 'global',
    });
    await a.store.registerVersion(
      version('dup_tool', '1.0.0', [], { code: 'function run(x) {\n  return eval(x);\n}' }),
    );
    await a.store.rules.create({
      ruleId: 'avoid_0000ffff',
      description: 'never eval input',
      patternToAvoid: String.raw`\beval\(`, // the same pattern, learned there
      patternKind: 'regex',
      reason: 'ran its input',
      sourceVersionId: 'dup_tool@1.0.0',
      scope: 'descendants',
    });
    const r = await onB('rules', 'import', file('dup.json', JSON.stringify(await exportFromA('--tool', 'dup_tool'))));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('imported 0 (report-only)');
    expect(r.stdout).toContain('duplicates 1');
    expect(r.stderr).toContain('avoid_0000ffff: same pattern as avoid_b0000001, skipped');
  });
});
