import type * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { diffComm } from 'node-diff3';
import { checkRuleGates, parseForAnalysis } from '../detection/static-analysis.js';
import { normalizedTokens } from '../detection/tokens.js';
import { analyzePython } from '../sandbox/python.js';
import type { ToolLanguage } from '../shared/language.js';

/** A line diff with two lines of context around each change: for evidence, prompts and people. */
export function lineDiff(before: string, after: string, context = 2): string {
  const out: string[] = [];
  const blocks = diffComm(before.split('\n'), after.split('\n'));
  blocks.forEach((block, i) => {
    if ('common' in block && block.common) {
      const lines = block.common;
      const head = i > 0 ? lines.slice(0, context) : [];
      const tail = i < blocks.length - 1 ? lines.slice(Math.max(head.length, lines.length - context)) : [];
      out.push(...head.map((l) => `  ${l}`));
      if (head.length + tail.length < lines.length && (head.length || tail.length)) out.push('  …');
      out.push(...tail.map((l) => `  ${l}`));
    } else {
      out.push(...(block.buffer1 ?? []).map((l) => `- ${l}`), ...(block.buffer2 ?? []).map((l) => `+ ${l}`));
    }
  });
  return out.join('\n');
}

/** The constructs of a code body that rules can be written about. */
interface Features {
  /** `.trim()` for method calls, `parseInt()` for plain calls. */
  calls: Map<string, number>;
  /** `/pattern/flags` → the literal's pattern and flags. */
  regexes: Map<string, { pattern: string; flags: string }>;
  /** Number and string literals as arguments of a call: `slice(… 40 …)`. */
  callArguments: Map<string, { call: string; value: string | number }>;
  operators: Map<string, number>;
}

function callName(node: acorn.CallExpression): string | null {
  if (node.callee.type === 'Identifier') return `${node.callee.name}()`;
  if (node.callee.type === 'MemberExpression' && !node.callee.computed && node.callee.property.type === 'Identifier')
    return `.${node.callee.property.name}()`;
  return null;
}

/**
 * The same features from Python's own AST and tokens (parsed inside the sandbox's interpreter): calls
 * by callee (`s.split` → `.split()`), literal first arguments of calls, and operators. Python has no
 * regex literals: a regex is a call argument (`re.fullmatch(r"…", s)`).
 */
function pythonFeatures(code: string): Features | null {
  const analysis = analyzePython(code);
  if (!analysis.ok) return null;
  const f: Features = { calls: new Map(), regexes: new Map(), callArguments: new Map(), operators: new Map() };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const c of analysis.calls) bump(f.calls, pythonCallName(c.name));
  const t = analysis.tokens;
  for (let i = 1; i < t.length; i++) {
    const tok = t[i]!;
    if (tok.type === 'OP' && PYTHON_OPERATORS.has(tok.text)) bump(f.operators, tok.text);
    if ((tok.text === 'and' || tok.text === 'or' || tok.text === 'in' || tok.text === 'not') && tok.type === 'NAME')
      bump(f.operators, tok.text);
    // NAME ( LITERAL followed by , or ): a literal first argument
    if (
      tok.text === '(' &&
      t[i - 1]!.type === 'NAME' &&
      !PYTHON_NOT_CALLABLE.has(t[i - 1]!.text) &&
      (t[i + 1]?.type === 'NUMBER' || t[i + 1]?.type === 'STRING') &&
      (t[i + 2]?.text === ',' || t[i + 2]?.text === ')')
    ) {
      const name = t[i - 2]?.text === '.' ? `.${t[i - 1]!.text}()` : `${t[i - 1]!.text}()`;
      const literal = t[i + 1]!;
      f.callArguments.set(`${name}:${literal.text}`, { call: name, value: literal.text });
    }
  }
  return f;
}

/** Keywords a `(` can follow without making a call (`return (…)`, `in (…)`). */
const PYTHON_NOT_CALLABLE = new Set([
  'return',
  'in',
  'not',
  'and',
  'or',
  'if',
  'elif',
  'while',
  'for',
  'is',
  'lambda',
  'yield',
  'await',
  'assert',
  'del',
  'else',
  'import',
  'from',
  'as',
  'with',
  'except',
  'raise',
]);

const PYTHON_OPERATORS = new Set([
  '==',
  '!=',
  '<',
  '>',
  '<=',
  '>=',
  '+',
  '-',
  '*',
  '/',
  '//',
  '%',
  '**',
  '&',
  '|',
  '^',
]);

function pythonCallName(callee: string): string {
  const dot = callee.lastIndexOf('.');
  return dot >= 0 ? `.${callee.slice(dot + 1)}()` : `${callee}()`;
}

function features(code: string, language: ToolLanguage): Features | null {
  if (language === 'python') return pythonFeatures(code);
  let program: acorn.Program;
  try {
    program = parseForAnalysis(code);
  } catch {
    return null;
  }
  const f: Features = { calls: new Map(), regexes: new Map(), callArguments: new Map(), operators: new Map() };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  walk.full(program, (node: acorn.AnyNode) => {
    if (node.type === 'CallExpression') {
      const name = callName(node);
      if (name) {
        bump(f.calls, name);
        for (const arg of node.arguments) {
          if (arg.type === 'Literal' && (typeof arg.value === 'number' || typeof arg.value === 'string')) {
            f.callArguments.set(`${name}:${JSON.stringify(arg.value)}`, { call: name, value: arg.value });
          }
        }
      }
    }
    if (node.type === 'Literal' && 'regex' in node && node.regex)
      f.regexes.set(`/${node.regex.pattern}/${node.regex.flags}`, node.regex);
    if (node.type === 'BinaryExpression' || node.type === 'LogicalExpression') bump(f.operators, node.operator);
  });
  return f;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A value inside an esquery attribute selector's double quotes. */
function selectorString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

function methodSelector(call: string): string {
  return call.startsWith('.')
    ? `CallExpression[callee.property.name="${call.slice(1, -2)}"]`
    : `CallExpression[callee.name="${call.slice(0, -2)}"]`;
}

export type PatternKind = 'regex' | 'ast' | 'tokens' | 'semantic';

export interface OfflineAnalysis {
  problematicPattern: string;
  patternKind: PatternKind;
  ruleDescription: string;
  reason: string;
}

interface RuleCandidate {
  pattern: string;
  kind: 'ast' | 'tokens';
  /** Advice to a developer, completed by "made <version> fail: …". */
  advice: string;
  /** What the change did, for the analysis' reason. */
  summary: string;
}

/** Does a machine-checkable pattern match the code? */
export function patternMatches(
  pattern: string,
  kind: PatternKind,
  code: string,
  language: ToolLanguage = 'javascript',
): boolean {
  if (kind === 'semantic') return false;
  try {
    return (
      checkRuleGates(code, [{ ruleId: 'probe', description: '', patternToAvoid: pattern, patternKind: kind }], language)
        .length > 0
    );
  } catch {
    return false;
  }
}

/**
 * Rule candidates from the smallest structural differences between the good and the bad code, most
 * telling first: a call the change removed (the bad code lacks it), a regex literal it changed, a
 * call argument it changed, a call it added, an operator it swapped — then the changed span of the
 * normalised token stream.
 */
function ruleCandidates(
  good: Features,
  bad: Features,
  goodCode: string,
  badCode: string,
  language: ToolLanguage,
): RuleCandidate[] {
  if (language === 'python') return pythonRuleCandidates(good, bad, goodCode, badCode);
  const out: RuleCandidate[] = [];
  // Methods first: `.trim()` says more about what was lost than `String()`.
  const removedCalls = [...good.calls.keys()]
    .filter((c) => !bad.calls.has(c))
    .sort((a, b) => Number(b.startsWith('.')) - Number(a.startsWith('.')));
  const addedCalls = [...bad.calls.keys()].filter((c) => !good.calls.has(c));
  const removedRegexes = [...good.regexes.entries()].filter(([k]) => !bad.regexes.has(k));
  const addedRegexes = [...bad.regexes.entries()].filter(([k]) => !good.regexes.has(k));

  for (const [key, r] of addedRegexes) {
    const was = removedRegexes[0]?.[0];
    out.push({
      pattern: `Literal[regex.pattern="${selectorString(r.pattern)}"][regex.flags="${selectorString(r.flags)}"]`,
      kind: 'ast',
      advice: was ? `keep the regex \`${was}\`; changing it to \`${key}\`` : `don't use the regex \`${key}\`; it`,
      summary: was ? `changed the regex \`${was}\` to \`${key}\`` : `added the regex \`${key}\``,
    });
  }
  for (const call of removedCalls) {
    if (addedCalls.length && removedRegexes.length) continue; // a replaced check is told below
    out.push({
      pattern: `Program:not(:has(${methodSelector(call)}))`,
      kind: 'ast',
      advice: `keep \`${call}\`; dropping it`,
      summary: `dropped \`${call}\``,
    });
  }
  for (const [key, arg] of bad.callArguments) {
    if (good.callArguments.has(key)) continue;
    const was = [...good.callArguments.values()].find((g) => g.call === arg.call);
    if (!was) continue;
    const value = typeof arg.value === 'number' ? String(arg.value) : `"${selectorString(arg.value)}"`;
    out.push({
      pattern: `${methodSelector(arg.call)} > Literal[value=${value}]`,
      kind: 'ast',
      advice: `keep \`${arg.call.replace('()', `(… ${JSON.stringify(was.value)} …)`)}\`; changing it to ${JSON.stringify(arg.value)}`,
      summary: `changed ${JSON.stringify(was.value)} to ${JSON.stringify(arg.value)} in \`${arg.call}\``,
    });
  }
  for (const call of addedCalls) {
    const instead = removedRegexes.length
      ? `the regex check \`${removedRegexes[0]![0]}\``
      : removedCalls.length
        ? `\`${removedCalls.join('`, `')}\``
        : null;
    out.push({
      pattern: methodSelector(call),
      kind: 'ast',
      advice: instead ? `don't replace ${instead} with \`${call}\`; doing so` : `don't use \`${call}\` here; it`,
      summary: instead ? `replaced ${instead} with \`${call}\`` : `added \`${call}\``,
    });
  }
  for (const [op, n] of bad.operators) {
    if ((good.operators.get(op) ?? 0) >= n) continue;
    const swapped = [...good.operators.keys()].find((o) => (bad.operators.get(o) ?? 0) < good.operators.get(o)!);
    if (!swapped) continue;
    out.push({
      pattern: `BinaryExpression[operator="${selectorString(op)}"]`,
      kind: 'ast',
      advice: `keep \`${swapped}\`; changing it to \`${op}\``,
      summary: `changed \`${swapped}\` to \`${op}\``,
    });
  }
  const span = changedTokenSpan(goodCode, badCode, 'javascript');
  if (span)
    out.push({
      pattern: span.pattern,
      kind: 'tokens',
      advice: `don't write \`${span.text}\`; it`,
      summary: `wrote \`${span.text}\``,
    });
  return out;
}

/** A call as a pattern over Python's normalised token stream (a method, or a builtin kept by name). */
function pythonCallPattern(call: string): string | null {
  const name = call.slice(call.startsWith('.') ? 1 : 0, -2);
  if (call.startsWith('.')) return `\\. ${escapeRegex(name)} \\(`;
  return normalizedTokens(`${name}()`, 'python')?.tokens[0] === name ? `${escapeRegex(name)} \\(` : null;
}

/**
 * Python's rule candidates, all over the normalised token stream (Python has no selector language
 * here): a call argument the change altered (`re.fullmatch(r"…")` with another regex), a call it
 * added in place of what it dropped, then the changed span.
 */
function pythonRuleCandidates(good: Features, bad: Features, goodCode: string, badCode: string): RuleCandidate[] {
  const out: RuleCandidate[] = [];
  const removedCalls = [...good.calls.keys()].filter((c) => !bad.calls.has(c));
  for (const [key, arg] of bad.callArguments) {
    if (good.callArguments.has(key)) continue;
    const was = [...good.callArguments.values()].find((g) => g.call === arg.call);
    const call = pythonCallPattern(arg.call);
    if (!was || !call) continue;
    out.push({
      pattern: `${call} ${escapeRegex(String(arg.value))}`,
      kind: 'tokens',
      advice: `keep \`${arg.call.replace('()', `(${was.value}, …)`)}\`; changing it to ${arg.value}`,
      summary: `changed ${was.value} to ${arg.value} in \`${arg.call}\``,
    });
  }
  for (const call of [...bad.calls.keys()].filter((c) => !good.calls.has(c))) {
    const pattern = pythonCallPattern(call);
    if (!pattern) continue;
    const instead = removedCalls.length ? `\`${removedCalls.join('`, `')}\`` : null;
    out.push({
      pattern,
      kind: 'tokens',
      advice: instead ? `don't replace ${instead} with \`${call}\`; doing so` : `don't use \`${call}\` here; it`,
      summary: instead ? `replaced ${instead} with \`${call}\`` : `added \`${call}\``,
    });
  }
  const span = changedTokenSpan(goodCode, badCode, 'python');
  if (span)
    out.push({
      pattern: span.pattern,
      kind: 'tokens',
      advice: `don't write \`${span.text}\`; it`,
      summary: `wrote \`${span.text}\``,
    });
  return out;
}

/** The tokens the bad code has where the good code differs (normalised, with one token of context). */
function changedTokenSpan(
  goodCode: string,
  badCode: string,
  language: ToolLanguage,
): { pattern: string; text: string } | null {
  const a = normalizedTokens(goodCode, language)?.tokens;
  const b = normalizedTokens(badCode, language)?.tokens;
  if (!a || !b) return null;
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const tokens = b.slice(Math.max(0, start - 1), Math.min(b.length, endB + 1));
  if (!tokens.length || tokens.length > 12) return null; // a span that long is no rule, it is a rewrite
  return { pattern: tokens.map(escapeRegex).join(' '), text: tokens.join(' ') };
}

/**
 * Diff-based analysis of the change that introduced a failure, with no LLM. The rule is the smallest
 * structural difference that explains it — an esquery selector, or a regex over the normalised token
 * stream — kept only if it matches the bad code and matches neither the good code nor any healed
 * code given (so it can gate future versions without refusing the fix). When no such pattern exists
 * the rule is `semantic`: advice for people and the LLM, not a gate. Without `reproduced` evidence
 * (a failing input the bad code gets wrong) nothing machine-checkable is learned.
 */
export function analyzeOffline(args: {
  goodCode: string;
  badCode: string;
  language: ToolLanguage;
  goodId: string;
  badId: string;
  mutation: string | null;
  failure: string;
  /** Code the rule must not match: the heal's expected result (a revert) when known. */
  healedCodes?: string[];
  /** The failure was reproduced on the bad code (a failing input it gets wrong). */
  reproduced: boolean;
}): OfflineAnalysis {
  const good = features(args.goodCode, args.language);
  const bad = features(args.badCode, args.language);
  const what = args.mutation ? `the mutation "${args.mutation}"` : `the change from ${args.goodId}`;
  const candidates = good && bad ? ruleCandidates(good, bad, args.goodCode, args.badCode, args.language) : [];
  const chosen = args.reproduced
    ? candidates.find(
        (c) =>
          patternMatches(c.pattern, c.kind, args.badCode, args.language) &&
          !patternMatches(c.pattern, c.kind, args.goodCode, args.language) &&
          !(args.healedCodes ?? []).some((h) => patternMatches(c.pattern, c.kind, h, args.language)),
      )
    : undefined;
  const reason = `${what} in ${args.badId} ${chosen ? chosen.summary : 'changed the code (no single construct explains the failure)'}; it now fails: ${args.failure}`;
  if (chosen) {
    return {
      problematicPattern: chosen.pattern,
      patternKind: chosen.kind,
      ruleDescription: `${capitalise(chosen.advice)} made ${args.badId} fail: ${args.failure}`,
      reason,
    };
  }
  return {
    problematicPattern: '',
    patternKind: 'semantic',
    ruleDescription: args.reproduced
      ? `Keep the behaviour of ${args.goodId} that ${args.badId} lost (${args.failure}); no single code construct explains it, so this rule is advice, not a gate`
      : `${args.badId} was reported failing (${args.failure}) with no failing input to reproduce it; nothing is learned as a gate`,
    reason,
  };
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
