import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { checkRuleGates } from '../../src/detection/static-analysis.js';
import { astGrepMatch, astGrepYaml, toAstGrep, type AstGrepRule } from '../../src/rules/ast-grep.js';
import type { RuleDocument } from '../../src/rules/document.js';
import { selfCheck } from '../../src/rules/pack.js';
import type { ToolLanguage } from '../../src/shared/language.js';

const dise = (kind: string, pattern: string, code: string, language: ToolLanguage) =>
  checkRuleGates(code, [{ ruleId: 'r', description: '', patternToAvoid: pattern, patternKind: kind }], language)[0]
    ?.line ?? null;

// The shapes offline analysis writes, each with code it must match and code it must not: the
// translation must agree with dise's own matcher, line for line.
const CASES: [string, string, ToolLanguage, string, string][] = [
  [
    'ast',
    'CallExpression[callee.property.name="includes"]',
    'javascript',
    'function run(x) {\n  const t = String(x);\n  return t.includes("@");\n}',
    'function run(x) {\n  return /^[^@]+@[^@]+$/.test(x);\n}',
  ],
  [
    'ast',
    'CallExpression[callee.name="parseInt"]',
    'javascript',
    'function run(x) {\n  return parseInt(x);\n}',
    'function run(x) {\n  return Number(x);\n}',
  ],
  [
    'ast',
    'Literal[regex.pattern="[^a-z]+"][regex.flags="g"]',
    'javascript',
    "function run(t) {\n  return t.replace(/[^a-z]+/g, '-');\n}",
    "function run(t) {\n  return t.replace(/[^a-z0-9]+/g, '-');\n}",
  ],
  [
    'ast',
    'Literal[regex.pattern="^a$"][regex.flags=""]',
    'javascript',
    'function run(t) {\n  return /^a$/.test(t);\n}',
    'function run(t) {\n  return /^a$/i.test(t);\n}',
  ],
  [
    'ast',
    'Program:not(:has(CallExpression[callee.property.name="trim"]))',
    'javascript',
    'function run(x) {\n  return x.length > 0;\n}',
    'function run(x) {\n  return x.trim().length > 0;\n}',
  ],
  [
    'ast',
    'CallExpression[callee.property.name="slice"] > Literal[value=4]',
    'javascript',
    'function run(x) {\n  return x.slice(0, 4);\n}',
    'function run(x) {\n  return x.slice(0, 40);\n}',
  ],
  [
    'ast',
    'BinaryExpression[operator=">"]',
    'javascript',
    'function run(x) {\n  return x > 1;\n}',
    'function run(x) {\n  return x >= 1;\n}',
  ],
  [
    'tokens',
    String.raw`len \(`,
    'python',
    'def run(s):\n    return len(s.split("@")) >= 2\n',
    'def run(s):\n    return "@" in s\n',
  ],
  [
    'tokens',
    String.raw`\. split \(`,
    'python',
    'def run(s):\n    return s.split("@")\n',
    'def run(s):\n    return s.partition("@")\n',
  ],
  [
    'tokens',
    String.raw`\. sub \( r"\[\^a-z\]\+"`,
    'python',
    'import re\n\ndef run(t):\n    return re.sub(r"[^a-z]+", "-", t)\n',
    'import re\n\ndef run(t):\n    return re.sub(r"[^a-z0-9]+", "-", t)\n',
  ],
];

describe('ast-grep rules from dise patterns', () => {
  it.each(CASES)('%s %s (%s) agrees with dise on its examples', (kind, pattern, language, bad, good) => {
    const rule = toAstGrep(kind, pattern, language);
    expect(rule).not.toBeNull();
    expect(dise(kind, pattern, bad, language)).not.toBeNull();
    expect(astGrepMatch(bad, language, rule!)).toBe(dise(kind, pattern, bad, language));
    expect(dise(kind, pattern, good, language)).toBeNull();
    expect(astGrepMatch(good, language, rule!)).toBeNull();
  });

  it('has no translation where it cannot be faithful: regexes over code, JavaScript token spans, other selectors', () => {
    expect(toAstGrep('regex', String.raw`\beval\(`, 'javascript')).toBeNull();
    expect(toAstGrep('tokens', String.raw`\. includes \( '@' \)`, 'javascript')).toBeNull();
    expect(toAstGrep('ast', 'WithStatement', 'javascript')).toBeNull();
    expect(toAstGrep('ast', 'CallExpression[callee.name=/^ev/]', 'javascript')).toBeNull();
    expect(toAstGrep('tokens', String.raw`ID = ID \+ 1`, 'python')).toBeNull();
  });

  it('writes an ast-grep rule file that reads back as the same rule', () => {
    const rule = toAstGrep('ast', 'CallExpression[callee.property.name="includes"]', 'javascript')!;
    const file = YAML.parse(astGrepYaml('avoid_1', 'javascript', rule, 'no "@" checks')) as {
      id: string;
      language: string;
      rule: AstGrepRule;
    };
    expect(file).toMatchObject({ id: 'avoid_1', language: 'javascript', severity: 'error', message: 'no "@" checks' });
    expect(file.rule).toEqual(rule);
  });

  it('refuses a document whose ast-grep rule disagrees with its examples, though its own pattern agrees', async () => {
    const doc: RuleDocument = {
      schema: 'dise-rule/1',
      id: 'avoid_x',
      modified: '2026-12-04T10:00:00.000Z',
      withdrawn: false,
      language: 'javascript',
      pattern: { engine: 'esquery', source: 'CallExpression[callee.property.name="includes"]' },
      astGrep: astGrepYaml(
        'avoid_x',
        'javascript',
        toAstGrep('ast', 'CallExpression[callee.property.name="indexOf"]', 'javascript')!,
        '',
      ),
      advice: '',
      reason: '',
      evidence: { invalid: 'function run(x) {\n  return x.includes("@");\n}', valid: null, failingInputs: [] },
      scope: 'descendants',
      provenance: { installation: 'i', tool: 't', version: 't@1.0.0', lineage: [], heal: null },
      related: [],
    };
    expect(await selfCheck(doc)).toEqual({
      ok: false,
      problem: 'its ast-grep rule does not match its own invalid example',
    });
    const faithful = {
      ...doc,
      astGrep: astGrepYaml('avoid_x', 'javascript', toAstGrep('ast', doc.pattern.source, 'javascript')!, ''),
    };
    expect(await selfCheck(faithful)).toEqual({ ok: true });
  });
});
