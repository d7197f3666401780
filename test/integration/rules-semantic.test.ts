import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regenerateActivity } from '../../src/activities/regenerate.js';
import { defaultConfig } from '../../src/config/schema.js';
import { LineageStore } from '../../src/lineage/store.js';
import { LlmClient } from '../../src/llm/client.js';
import { ruleDocumentSchema, type RuleDocument } from '../../src/rules/document.js';
import type { RulePack } from '../../src/rules/pack.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { addressManifest } from '../support/address-manifest.js';
import { runCliIn } from '../support/cli-in-process.js';
import { createTestDatabase, useTestStore, type TestDatabase } from '../support/database.js';
import { useFakeOpenAI } from '../support/fake-openai.js';
import { version } from '../support/fixtures.js';

// A semantic rule (a description, no pattern) travels as advice: A learned it, B imports it, and it
// never gates on B but is given to the LLM that regenerates a version in its scope on B.
const a = useTestStore();
let bDb: TestDatabase;
let bStore: LineageStore;
const fake = useFakeOpenAI();
const sandbox = new Sandbox(defaultConfig().sandbox);
const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-rules-semantic-'));
const keysA = path.join(dir, 'keys-a');
const keysB = path.join(dir, 'keys-b');
const config = path.join(dir, 'config.yaml');
writeFileSync(config, 'rules_sharing:\n  promote_after: 2\n');

const ADVICE =
  'Keep the behaviour of slugger@1.0.0 that slugger@1.1.0 lost (accented letters are kept as their plain letter); no single code construct explains it, so this rule is advice, not a gate';
const REASON = 'the slug of "Crème brûlée" lost its letters';
const GOOD = `function run(input) {
  return String(input).normalize('NFD').replace(/[\\u0300-\\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-');
}`;
const BAD = `function run(input) {
  return String(input).toLowerCase().replace(/[^a-z0-9]+/g, '-');
}`;

/** A version of slugger on B that registers (an address checker's manifest: its one test asks for true). */
const ADDRESS_CHECK = `function run(address) {
  return String(address).toLowerCase().includes('@');
}`;

const cli = (db: TestDatabase, keys: string, argv: string[]) =>
  runCliIn({ DATABASE_URL: db.url, DISE_RULES_KEY_DIR: keys }, ['--config', config, ...argv]);
const onA = (...argv: string[]) => cli(a.db, keysA, argv);
const onB = (...argv: string[]) => cli(bDb, keysB, argv);

let pack: RulePack;

beforeAll(async () => {
  bDb = await createTestDatabase();
  bStore = new LineageStore(bDb.prisma);
  // A: the version that lost the behaviour, the heal's version, and the semantic rule the heal learned.
  await a.store.registerVersion(version('slugger', '1.0.0', [], { code: GOOD }));
  await a.store.registerVersion(version('slugger', '1.1.0', ['slugger@1.0.0'], { code: BAD }));
  await a.store.registerVersion(version('slugger', '1.1.1', ['slugger@1.1.0'], { code: GOOD, healId: 'heal-s' }));
  await a.store.rules.create({
    ruleId: 'avoid_5e3a0001',
    description: ADVICE,
    patternToAvoid: '',
    patternKind: 'semantic',
    reason: REASON,
    sourceVersionId: 'slugger@1.1.0',
    scope: 'descendants',
    healId: 'heal-s',
  });
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
  delete process.env.DISE_RULES_KEY_DIR;
  await bDb?.drop();
  sandbox.close();
});

describe('semantic rules travel as advice', () => {
  it('A exports a semantic rule as a dise-rule/2 document with no pattern', async () => {
    const r = await onA('rules', 'export');
    expect(r.code, r.stderr).toBe(0);
    pack = JSON.parse(r.stdout) as RulePack;
    expect(pack.rules).toEqual([
      expect.objectContaining({
        schema: 'dise-rule/2',
        id: 'avoid_5e3a0001',
        pattern: null,
        astGrep: null,
        advice: ADVICE,
        reason: REASON,
        evidence: { invalid: BAD, valid: GOOD, failingInputs: [] },
        scope: 'descendants',
        provenance: expect.objectContaining({ tool: 'slugger', version: 'slugger@1.1.0', heal: 'heal-s' }),
      }),
    ]);
  });

  it('reads documents made before: a dise-rule/1 document has a pattern, a semantic one needs dise-rule/2', () => {
    const semantic = pack.rules[0] as RuleDocument;
    const v1 = {
      ...semantic,
      schema: 'dise-rule/1',
      pattern: { engine: 'regex', source: String.raw`toLowerCase\(\)` },
    };
    expect(ruleDocumentSchema.safeParse(v1).success).toBe(true);
    expect(ruleDocumentSchema.safeParse({ ...v1, pattern: null }).success).toBe(false);
    expect(ruleDocumentSchema.safeParse(semantic).success).toBe(true);
  });

  it('B imports it as advice, lists it with its origin, and never gates or promotes it', async () => {
    const key = (await onA('rules', 'key')).stdout.split('\n')[1]!;
    expect((await onB('rules', 'trust', key)).code).toBe(0);
    const packFile = path.join(dir, 'pack.json');
    writeFileSync(packFile, JSON.stringify(pack));
    const r = await onB('rules', 'import', packFile);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('imported 0 (report-only), 1 as advice (semantic: never gates)');
    // Importing it again changes nothing; a local semantic rule with the same advice would be a duplicate.
    expect((await onB('rules', 'import', packFile)).stdout).toContain('unchanged 1');

    const installation = (await onA('rules', 'key')).stdout.match(/^installation=(\S+)/)![1];
    const listed = JSON.parse((await onB('rules', '--json')).stdout) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({
        ruleId: 'avoid_5e3a0001',
        origin: 'imported',
        description: ADVICE,
        patternKind: 'semantic',
        mode: 'advice',
        withdrawn: false,
        provenance: expect.objectContaining({
          installation,
          source: packFile,
          tool: 'slugger',
          version: 'slugger@1.1.0',
          heal: 'heal-s',
        }),
      }),
    ]);
    expect((await onB('rules')).stdout).toContain('avoid_5e3a0001 [IMPORTED, ADVICE]');

    // The mistake itself registers on B (advice is no gate), and registrations do not promote it.
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
      const added = await onB('tool', 'add', addressManifest(dir, 'slugger', v, ADDRESS_CHECK));
      expect(added.code, added.stderr).toBe(0);
      expect(added.stderr).not.toContain('avoid_5e3a0001');
    }
    expect(await bDb.query('SELECT mode, clean_registrations FROM imported_rules')).toEqual([
      { mode: 'advice', clean_registrations: 0 },
    ]);
    const promote = await onB('rules', 'promote', 'avoid_5e3a0001');
    expect(promote.code).not.toBe(0);
    expect(promote.stderr).toContain(
      'avoid_5e3a0001 is a semantic rule (advice for the LLM, no pattern): it never gates',
    );
    expect((await bStore.shared.checkRules()).map((r) => r.ruleId)).not.toContain('avoid_5e3a0001');
  });

  it("B's regeneration prompt for a version in the rule's scope includes the advice", async () => {
    await bStore.registerVersion(version('slugger', '2.0.0', [], { code: GOOD }));
    await bStore.registerVersion(version('slugger', '2.1.0', ['slugger@2.0.0'], { code: BAD }));
    // Another tool, out of the rule's scope (descendants of slugger): its prompt does not carry it.
    await bStore.registerVersion(version('titler', '1.0.0', [], { code: GOOD }));
    await bStore.registerVersion(version('titler', '1.1.0', ['titler@1.0.0'], { code: BAD }));
    fake.script('RegeneratedTool', [{ content: { code: GOOD, notes: 'kept accented letters' } }]);
    const llm = new LlmClient({
      apiKey: 'test-key',
      baseURL: fake.url,
      model: 'scripted-regenerator',
      timeoutMs: 10_000,
      temperature: 0,
    });
    const regenerate = regenerateActivity({ store: bStore, config: defaultConfig(), sandbox, llm });
    const input = (tool: string) => ({
      healId: `heal-${tool}`,
      attempt: 1,
      strategy: 'llm' as const,
      ancestorId: `${tool}@${tool === 'slugger' ? '2.0.0' : '1.0.0'}`,
      failedId: `${tool}@${tool === 'slugger' ? '2.1.0' : '1.1.0'}`,
      culpritId: `${tool}@${tool === 'slugger' ? '2.1.0' : '1.1.0'}`,
      culpritParentId: `${tool}@${tool === 'slugger' ? '2.0.0' : '1.0.0'}`,
      mistake: 'lost accented letters',
      ruleIds: [],
      rejections: [],
    });
    const installation = (await onA('rules', 'key')).stdout.match(/^installation=(\S+)/)![1];

    expect((await regenerate(input('slugger'))).code).toBe(GOOD);
    const [request] = fake.requestsFor('RegeneratedTool');
    const user = request!.body.messages.find((m) => m.role === 'user')!.content;
    expect(user).toContain(`AVOID: ${ADVICE}`);
    expect(user).toContain(`Reason: ${REASON}`);
    expect(user).toContain(`Source: slugger@1.1.0 at installation ${installation}`);

    await regenerate(input('titler'));
    const other = fake.requestsFor('RegeneratedTool')[1]!.body.messages.find((m) => m.role === 'user')!.content;
    expect(other).not.toContain(ADVICE);
  });
});
