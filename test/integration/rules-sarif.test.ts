import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Ajv as AjvCore } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { useTestStore } from '../support/database.js';
import { AT_CHECK_VALIDATOR, version } from '../support/fixtures.js';
import { captureOutput } from '../support/output.js';

// The published SARIF 2.1.0 JSON schema (draft-04), as Microsoft's SARIF SDK ships it on npm.
const require = createRequire(import.meta.url);
const schema = JSON.parse(
  readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'),
) as object;
// Both are CommonJS; required as such, typed as Ajv 8 (whose class ajv-draft-04 extends).
const Ajv = require('ajv-draft-04') as typeof AjvCore;
const addFormats = require('ajv-formats') as (ajv: AjvCore) => AjvCore;
// The schema's language pattern is not valid with the u flag (a stray `]`): compile patterns without it.
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);

const h = useTestStore();
const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-sarif-'));
const file = (name: string, text: string) => {
  writeFileSync(path.join(dir, name), text);
  return name;
};

interface SarifLog {
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string; defaultConfiguration: { level: string } }[] } };
    invocations: { toolExecutionNotifications: { message: { text: string } }[] }[];
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
    }[];
  }[];
}

async function check(...argv: string[]) {
  const out = captureOutput();
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const code = await runCli(['rules', 'check', ...argv], out);
    return { code, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') };
  } finally {
    process.chdir(cwd);
  }
}

beforeAll(async () => {
  process.env.DATABASE_URL = h.db.url;
  await h.store.registerVersion(version('email_validator', '1.0.0', [], { code: AT_CHECK_VALIDATOR }));
  await h.store.rules.create({
    ruleId: 'avoid_0000aaaa',
    description: 'an "@" check is not an email check',
    patternToAvoid: String.raw`\. includes \( ['"]@['"] \)`,
    patternKind: 'tokens',
    reason: 'accepted "@" as an email address',
    sourceVersionId: 'email_validator@1.0.0',
    scope: 'global',
  });
  await h.store.rules.create({
    ruleId: 'avoid_0000dddd',
    description: 'no console output in tools',
    patternToAvoid: String.raw`console\.log`,
    patternKind: 'regex',
    reason: 'wrote to the host console',
    sourceVersionId: 'email_validator@1.0.0',
    scope: 'descendants',
  });
  await h.store.rules.create({
    ruleId: 'avoid_0000eeee',
    description: 'only words, no pattern',
    patternToAvoid: 'do not trust user input',
    patternKind: 'semantic',
    reason: 'semantic rules do not read code',
    sourceVersionId: 'email_validator@1.0.0',
    scope: 'descendants',
  });
});
afterAll(() => {
  delete process.env.DATABASE_URL;
});

describe('dise rules check', () => {
  it("reports the learned rules' matches in ordinary files as SARIF 2.1.0 that validates against the published schema", async () => {
    file(
      'contact.js',
      'export function isEmail(address) {\n  const text = String(address);\n  return text.includes("@");\n}\n',
    );
    file('clean.js', 'export function isEmail(s) {\n  return /^[^@]+@[^@]+\\.[a-z]+$/.test(s);\n}\n');
    file('debug.py', 'def run(x):\n    print("console.log")\n    return x\n');
    file('broken.js', 'const s = "unterminated\n');
    const r = await check('contact.js', 'clean.js', 'debug.py', 'broken.js', '--sarif');
    expect(r.code, r.stderr).toBe(1); // an enforcing rule matched
    const log = JSON.parse(r.stdout) as SarifLog;
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // The schema has teeth: a run without its tool is refused.
    expect(validate({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false);
    const run = log.runs[0]!;
    expect(run.tool.driver.name).toBe('dise');
    // Machine-checkable rules only: the semantic one reads no code.
    expect(run.tool.driver.rules.map((x) => x.id)).toEqual(['avoid_0000aaaa', 'avoid_0000dddd']);
    expect(
      run.results.map((x) => [
        x.ruleId,
        x.level,
        x.locations[0]!.physicalLocation.artifactLocation.uri,
        x.locations[0]!.physicalLocation.region.startLine,
      ]),
    ).toEqual([
      ['avoid_0000aaaa', 'error', 'contact.js', 3],
      // A regular expression over the code reads any language.
      ['avoid_0000dddd', 'error', 'debug.py', 2],
    ]);
    expect(run.results.every((x) => run.tool.driver.rules[x.ruleIndex]!.id === x.ruleId)).toBe(true);
    // A file that does not tokenize is a notification, not a silent pass.
    expect(run.invocations[0]!.toolExecutionNotifications.map((n) => n.message.text).join('\n')).toContain('broken.js');
  });

  it('prints one line per match without --sarif, and exits 0 when nothing matches', async () => {
    file('fine.js', 'function run(input) {\n  return input;\n}\n');
    expect(await check('fine.js')).toMatchObject({ code: 0, stdout: '' });
    const r = await check('contact.js');
    expect(r.stdout).toBe(
      'contact.js:3: error avoid_0000aaaa an "@" check is not an email check (tokens pattern \\. includes \\( [\'"]@[\'"] \\))',
    );
  });

  it('refuses files it cannot read as code', async () => {
    const r = await check(file('notes.txt', 'hello'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('notes.txt: only JavaScript (.js, .mjs, .cjs) and Python (.py) files can be checked');
  });
});
