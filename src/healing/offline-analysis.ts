import * as walk from 'acorn-walk';
import type * as acorn from 'acorn';
import { parseForAnalysis } from '../detection/static-analysis.js';

/** What changed between two code bodies, structurally: calls and regex literals added and removed. */
export interface CodeChange {
  addedCalls: string[];
  removedCalls: string[];
  addedRegexes: string[];
  removedRegexes: string[];
  addedLines: string[];
  removedLines: string[];
}

function features(code: string): { calls: Set<string>; regexes: Set<string> } {
  const calls = new Set<string>();
  const regexes = new Set<string>();
  let program: acorn.Program;
  try {
    program = parseForAnalysis(code);
  } catch {
    return { calls, regexes };
  }
  walk.full(program, (node: acorn.AnyNode) => {
    if (node.type === 'CallExpression') {
      if (node.callee.type === 'Identifier') calls.add(`${node.callee.name}()`);
      if (node.callee.type === 'MemberExpression' && !node.callee.computed && node.callee.property.type === 'Identifier') {
        calls.add(`.${node.callee.property.name}()`);
      }
    }
    if (node.type === 'Literal' && 'regex' in node && node.regex) regexes.add(`/${node.regex.pattern}/${node.regex.flags}`);
  });
  return { calls, regexes };
}

const meaningful = (line: string) => {
  const t = line.trim();
  return t && !t.startsWith('//') && t !== '{' && t !== '}' ? t : null;
};

export function diffCode(before: string, after: string): CodeChange {
  const a = features(before);
  const b = features(after);
  const linesA = new Set(before.split('\n').map(meaningful).filter((l): l is string => l !== null));
  const linesB = new Set(after.split('\n').map(meaningful).filter((l): l is string => l !== null));
  return {
    addedCalls: [...b.calls].filter((c) => !a.calls.has(c)),
    removedCalls: [...a.calls].filter((c) => !b.calls.has(c)),
    addedRegexes: [...b.regexes].filter((r) => !a.regexes.has(r)),
    removedRegexes: [...a.regexes].filter((r) => !b.regexes.has(r)),
    addedLines: [...linesB].filter((l) => !linesA.has(l)),
    removedLines: [...linesA].filter((l) => !linesB.has(l)),
  };
}

/** A unified-style line diff, for evidence and prompts (not a minimal diff: good enough to read). */
export function lineDiff(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const setA = new Set(a);
  const setB = new Set(b);
  return [...a.filter((l) => !setB.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !setA.has(l)).map((l) => `+ ${l}`)].join('\n');
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function selectorFor(call: string): string {
  if (call.startsWith('.')) return `CallExpression[callee.property.name="${call.slice(1, -2)}"]`;
  return `CallExpression[callee.name="${call.slice(0, -2)}"]`;
}

export interface OfflineAnalysis {
  problematicPattern: string;
  patternKind: 'regex' | 'ast' | 'semantic';
  ruleDescription: string;
  reason: string;
}

/**
 * Diff-based analysis of the change that introduced a failure, with no LLM: the constructs the
 * mutation added become the pattern to avoid (an AST selector for a new call, else a regex for a new
 * line), checked so that it never matches the good version's code.
 */
export function analyzeOffline(args: { goodCode: string; badCode: string; goodId: string; badId: string; mutation: string | null; failure: string }): OfflineAnalysis {
  const change = diffCode(args.goodCode, args.badCode);
  const removed = [...change.removedRegexes.map(() => 'regex validation'), ...change.removedCalls].filter((v, i, all) => all.indexOf(v) === i);
  const added = change.addedCalls;
  const what = args.mutation ? `the mutation "${args.mutation}"` : `the change from ${args.goodId}`;
  const reason = `${what} in ${args.badId} ${removed.length ? `removed ${removed.join(', ')}` : 'changed the logic'}${added.length ? ` and added ${added.join(', ')}` : ''}; it now fails: ${args.failure}`;

  const candidates: { pattern: string; kind: 'ast' | 'regex'; label: string }[] = [
    ...added.map((c) => ({ pattern: selectorFor(c), kind: 'ast' as const, label: `a bare ${c} check` })),
    ...change.addedLines.filter((l) => l.length >= 8).map((l) => ({ pattern: escapeRegex(l), kind: 'regex' as const, label: `\`${l}\`` })),
  ];
  for (const c of candidates) {
    if (matchesCode(c, args.goodCode)) continue; // never forbid what the good version does
    const instead = removed.length ? ` in place of ${removed.join(' and ')}` : '';
    return {
      problematicPattern: c.pattern,
      patternKind: c.kind,
      ruleDescription: `Never use ${c.label}${instead}: ${args.badId} did and failed (${args.failure})`,
      reason,
    };
  }
  return {
    problematicPattern: `Changes like ${args.badId}'s: ${args.failure}`,
    patternKind: 'semantic',
    ruleDescription: `Keep the behaviour of ${args.goodId} that ${args.badId} lost: ${args.failure}`,
    reason,
  };
}

function matchesCode(c: { pattern: string; kind: 'ast' | 'regex' }, code: string): boolean {
  if (c.kind === 'regex') return new RegExp(c.pattern, 'm').test(code);
  const { calls } = features(code);
  const name = /"([^"]+)"/.exec(c.pattern)?.[1];
  return c.pattern.includes('callee.property.name') ? calls.has(`.${name}()`) : calls.has(`${name}()`);
}
