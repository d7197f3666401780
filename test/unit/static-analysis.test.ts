import { describe, expect, it } from 'vitest';
import { checkRuleGates, detectSecurityIssues } from '../../src/detection/static-analysis.js';

const checks = (code: string) => detectSecurityIssues(code).findings.map((f) => f.check);

describe('static analysis: built-in security checks', () => {
  it.each([
    ['eval', 'function run(x) { return eval(x); }', 'eval'],
    ['the Function constructor', "function run(x) { return new Function('return 1')(); }", 'function_constructor'],
    ['Function called without new', "function run(x) { return Function('return this')(); }", 'function_constructor'],
    ['dynamic import', "function run(x) { return import('fs'); }", 'dynamic_import'],
    ['with', 'function run(x) { with (x) { return a; } }', 'with_statement'],
    ['process', 'function run(x) { return process.env.HOME; }', 'host_global'],
    ['require', "function run(x) { return require('fs'); }", 'host_global'],
    ['globalThis', 'function run(x) { return globalThis; }', 'host_global'],
    ['a shorthand host global', 'function run(x) { return { fetch }; }', 'host_global'],
    [
      'a constructor escape',
      "function run(x) { return x.constructor.constructor('return 1')(); }",
      'constructor_escape',
    ],
    ['__proto__', 'function run(x) { x.__proto__.polluted = 1; return x; }', 'prototype_access'],
  ])('flags %s as a critical security_vulnerability', (_name, code, check) => {
    const { failure, findings } = detectSecurityIssues(code);
    expect(findings.map((f) => f.check)).toContain(check);
    expect(failure).toMatchObject({
      failureType: 'security_vulnerability',
      severity: 'critical',
      detectionMethod: 'static_analysis',
    });
    expect(findings[0]!.line).toBe(1);
  });

  it('does not flag names the code declares, property names or object keys', () => {
    expect(checks('function run(process) { return process + 1; }')).toEqual([]);
    expect(checks('function run(x) { const fetch = (y) => y; return fetch(x); }')).toEqual([]);
    expect(checks('function run(x) { return { process: x.process, require: 1, eval: x.eval }; }')).toEqual([]);
    expect(checks("function run(x) { return x.constructor === Object ? 'plain' : 'other'; }")).toEqual([]);
    expect(detectSecurityIssues('function run(x) { return x; }').failure).toBeNull();
  });
});

describe('avoidance rules as gates', () => {
  const rules = [
    {
      ruleId: 'avoid_substring',
      description: 'no bare @ checks',
      patternToAvoid: "indexOf\\('@'\\)|includes\\('@'\\)",
      patternKind: 'regex',
    },
    {
      ruleId: 'avoid_eq',
      description: 'no loose equality',
      patternToAvoid: 'BinaryExpression[operator="=="]',
      patternKind: 'ast',
    },
    {
      ruleId: 'avoid_semantic',
      description: 'keep validation comprehensive',
      patternToAvoid: 'Replacing validation with substring checks',
      patternKind: 'semantic',
    },
  ];

  it('enforces regex and AST-selector rules, naming the rule and the line', () => {
    const code = "function run(x) {\n  if (x == null) return false;\n  return x.includes('@');\n}";
    const violations = checkRuleGates(code, rules);
    expect(violations.map((v) => [v.ruleId, v.line])).toEqual([
      ['avoid_substring', 3],
      ['avoid_eq', 2],
    ]);
    expect(violations[0]!.excerpt).toBe("return x.includes('@');");
  });

  it('passes code that obeys them; a description-only rule is not checked mechanically', () => {
    const code = 'function run(x) { return typeof x === "string" && /^[^@]+@[^@]+\\.[a-z]+$/.test(x); }';
    expect(checkRuleGates(code, rules)).toEqual([]);
  });

  it('skips a rule whose pattern is unusable instead of failing every version', () => {
    expect(
      checkRuleGates('function run(x) { return x; }', [
        { ruleId: 'bad', description: 'x', patternToAvoid: '([', patternKind: 'regex' },
      ]),
    ).toEqual([]);
  });

  it('finds a selector match whatever part of the AST holds its values, escapes and checks repeated included', () => {
    // The gate passes a selector without walking the AST when the code lacks one of its values: the
    // values it collects must include names in members, keys, labels, and escaped identifiers.
    const rule = (ruleId: string, patternToAvoid: string) => ({
      ruleId,
      description: ruleId,
      patternToAvoid,
      patternKind: 'ast',
    });
    const rules = [
      rule('member', 'CallExpression[callee.property.name="indexOf"]'),
      rule('key', 'Property[key.name="secret"]'),
      rule('label', 'LabeledStatement[label.name="outer"]'),
      rule('number', 'CallExpression[callee.property.name="slice"] > Literal[value=4]'),
      rule('regex', 'Literal[regex.pattern="a+"][regex.flags=""]'),
      rule('operator', 'BinaryExpression[operator="**"]'),
      rule('absent', 'Program:not(:has(CallExpression[callee.property.name="trim"]))'),
      rule('missing', 'CallExpression[callee.property.name="notInTheCode"]'),
    ];
    const code = [
      'function run(x) {',
      '  const o = { secret: 1 };',
      '  outer: for (const c of [1]) { break outer; }',
      '  if (/a+/.test(x)) return x.slice(0, 0x4) ** 2;',
      "  return String(x).\\u0069ndexOf('@') + o.secret;",
      '}',
    ].join('\n');
    const expected = [
      ['member', 5],
      ['key', 2],
      ['label', 3],
      ['number', 4],
      ['regex', 4],
      ['operator', 4],
      ['absent', 1],
    ];
    for (let i = 0; i < 2; i++) expect(checkRuleGates(code, rules).map((v) => [v.ruleId, v.line])).toEqual(expected);
  });
});
