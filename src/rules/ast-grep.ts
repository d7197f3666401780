import { createRequire } from 'node:module';
import type * as AstGrepNapi from '@ast-grep/napi';
import esquery from 'esquery';
import YAML from 'yaml';
import type { ToolLanguage } from '../shared/language.js';

/**
 * ast-grep rules (https://ast-grep.github.io): the portable document's pattern in a format other
 * tools read. dise learns esquery selectors (JavaScript) and regular expressions over normalised
 * tokens (Python, and spans of JavaScript); this translates the shapes offline analysis writes into
 * ast-grep's rule objects, and matches them with @ast-grep/napi (Python through @ast-grep/lang-python).
 * A pattern with no faithful translation has none: dise's own matcher stays its gate.
 */
export type AstGrepRule = Record<string, unknown>;

type Napi = typeof AstGrepNapi;
let napi: Napi | undefined;
/** Loaded on first use: the CLI's quick commands never pay for the native module. */
function load(): Napi {
  if (napi) return napi;
  const require = createRequire(import.meta.url);
  const loaded = require('@ast-grep/napi') as Napi;
  loaded.registerDynamicLanguage({ python: require('@ast-grep/lang-python') as never });
  napi = loaded;
  return loaded;
}

const exact = (s: string) => `^${s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`;

interface Selector {
  type: string;
  name?: string;
  /** An identifier's node type, or an attribute's value. */
  value?: string | { type: string; value: unknown };
  operator?: string;
  selectors?: Selector[];
  left?: Selector;
  right?: Selector;
}

const NODE_KINDS: Record<string, AstGrepRule> = {
  CallExpression: { kind: 'call_expression' },
  BinaryExpression: { kind: 'binary_expression' },
  Program: { kind: 'program' },
  Literal: {
    any: [
      { kind: 'string' },
      { kind: 'number' },
      { kind: 'regex' },
      { kind: 'true' },
      { kind: 'false' },
      { kind: 'null' },
    ],
  },
};

function attribute(s: Selector): AstGrepRule | null {
  if (s.operator !== '=' || typeof s.value !== 'object' || s.value.type !== 'literal') return null;
  const v = s.value.value;
  switch (s.name) {
    case 'callee.property.name':
      return {
        has: { field: 'function', kind: 'member_expression', has: { field: 'property', regex: exact(String(v)) } },
      };
    case 'callee.name':
      return { has: { field: 'function', kind: 'identifier', regex: exact(String(v)) } };
    case 'regex.pattern':
      return { has: { field: 'pattern', regex: exact(String(v)) } };
    case 'regex.flags':
      return v === ''
        ? { not: { has: { field: 'flags', regex: '.' } } }
        : { has: { field: 'flags', regex: exact(String(v)) } };
    case 'operator':
      return { has: { field: 'operator', regex: exact(String(v)) } };
    case 'value':
      return typeof v === 'number'
        ? { kind: 'number', regex: exact(String(v)) }
        : { kind: 'string', regex: `^["'\`]${exact(String(v)).slice(1, -1)}["'\`]$` };
    default:
      return null;
  }
}

function fromSelector(s: Selector): AstGrepRule | null {
  switch (s.type) {
    case 'identifier':
      return NODE_KINDS[String(s.value)] ?? null;
    case 'attribute':
      return attribute(s);
    case 'compound': {
      const parts = (s.selectors ?? []).map(fromSelector);
      return parts.every(Boolean) ? { all: parts } : null;
    }
    case 'has': {
      const inner = s.selectors?.length === 1 ? fromSelector(s.selectors[0]!) : null;
      return inner ? { has: { stopBy: 'end', ...inner } } : null;
    }
    case 'not': {
      const inner = s.selectors?.length === 1 ? fromSelector(s.selectors[0]!) : null;
      return inner ? { not: inner } : null;
    }
    case 'child': {
      const [left, right] = [s.left && fromSelector(s.left), s.right && fromSelector(s.right)];
      if (!left || !right) return null;
      // A call's arguments sit in an `arguments` node in tree-sitter's JavaScript grammar.
      const parent = s.left?.type === 'compound' && s.left.selectors?.[0]?.value === 'CallExpression';
      return { all: [right, { inside: parent ? { kind: 'arguments', inside: left } : left }] };
    }
    default:
      return null;
  }
}

/** A call in Python's normalised tokens (`\. name \(` or `name \(`) as an ast-grep rule. */
function fromPythonTokens(pattern: string): AstGrepRule | null {
  const method = /^\\\. ([A-Za-z_]\w*) \\\($/.exec(pattern);
  if (method)
    return {
      kind: 'call',
      has: { field: 'function', kind: 'attribute', has: { field: 'attribute', regex: exact(method[1]!) } },
    };
  // A call whose first argument is a given literal (`re.sub(r"[^a-z]+", …)`): offline analysis writes
  // the literal's token escaped as a regular expression.
  const withArgument = /^\\\. ([A-Za-z_]\w*) \\\( (\S.*)$/.exec(pattern);
  if (withArgument) {
    const literal = withArgument[2]!.replace(/\\(.)/g, '$1');
    return {
      kind: 'call',
      all: [
        { has: { field: 'function', kind: 'attribute', has: { field: 'attribute', regex: exact(withArgument[1]!) } } },
        { has: { field: 'arguments', has: { nthChild: 1, regex: exact(literal) } } },
      ],
    };
  }
  const fn = /^([A-Za-z_]\w*) \\\($/.exec(pattern);
  if (fn) return { kind: 'call', has: { field: 'function', kind: 'identifier', regex: exact(fn[1]!) } };
  return null;
}

/** dise's pattern as an ast-grep rule object, or null when there is no faithful translation. */
export function toAstGrep(kind: string, pattern: string, language: ToolLanguage): AstGrepRule | null {
  if (kind === 'ast' && language === 'javascript') {
    try {
      return fromSelector(esquery.parse(pattern) as unknown as Selector);
    } catch {
      return null;
    }
  }
  if (kind === 'tokens' && language === 'python') return fromPythonTokens(pattern);
  return null;
}

/** An ast-grep rule file (YAML), as `ast-grep scan --rule` reads it. */
export function astGrepYaml(id: string, language: ToolLanguage, rule: AstGrepRule, message: string): string {
  return YAML.stringify({ id, language, severity: 'error', message, rule });
}

/** The line (1-based) of the rule's first match in the code, or null; throws when the code does not parse. */
export function astGrepMatch(code: string, language: ToolLanguage, rule: AstGrepRule): number | null {
  const { parse, Lang } = load();
  const root = parse(language === 'python' ? 'python' : Lang.JavaScript, code).root();
  const found = root.find({ rule } as never);
  return found ? found.range().start.line + 1 : null;
}
