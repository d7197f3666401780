import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import esquery from 'esquery';
import { analyzePython } from '../sandbox/python.js';
import type { ToolLanguage } from '../shared/language.js';
import { normalizedTokens } from './tokens.js';
import type { DetectedFailure } from './types.js';

export interface StaticFinding {
  check:
    | 'eval'
    | 'function_constructor'
    | 'dynamic_import'
    | 'with_statement'
    | 'host_global'
    | 'constructor_escape'
    | 'prototype_access'
    | 'parse_error'
    // Python
    | 'dynamic_code'
    | 'host_module'
    | 'host_builtin'
    | 'dunder_access'
    | 'dynamic_attribute'
    | 'match_attribute'
    | 'format_attribute'
    | 'class_hook';
  message: string;
  line: number;
  column: number;
}

/** Globals of a host (Node, browsers, other runtimes) that tool code has no business touching. */
export const HOST_GLOBALS = new Set([
  'process',
  'require',
  'globalThis',
  'global',
  'window',
  'self',
  'module',
  'exports',
  'Buffer',
  '__dirname',
  '__filename',
  'fetch',
  'XMLHttpRequest',
  'WebSocket',
  'importScripts',
  'Deno',
  'Bun',
  'WebAssembly',
  'SharedArrayBuffer',
  'Atomics',
]);

type AnyNode = acorn.AnyNode;

export function parseForAnalysis(code: string): acorn.Program {
  return acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'script', locations: true });
}

/** Names the code declares itself (variables, functions, parameters, classes, catch bindings). */
function declaredNames(program: acorn.Program): Set<string> {
  const names = new Set<string>();
  const addPattern = (p: acorn.Pattern | null | undefined): void => {
    if (!p) return;
    switch (p.type) {
      case 'Identifier':
        names.add(p.name);
        break;
      case 'ObjectPattern':
        p.properties.forEach((prop) => addPattern(prop.type === 'RestElement' ? prop.argument : prop.value));
        break;
      case 'ArrayPattern':
        p.elements.forEach((e) => addPattern(e));
        break;
      case 'RestElement':
        addPattern(p.argument);
        break;
      case 'AssignmentPattern':
        addPattern(p.left);
        break;
      default:
        break;
    }
  };
  walk.full(program, (node: AnyNode) => {
    if (node.type === 'VariableDeclarator') addPattern(node.id);
    if (
      node.type === 'FunctionDeclaration' ||
      node.type === 'FunctionExpression' ||
      node.type === 'ArrowFunctionExpression'
    ) {
      if ('id' in node && node.id) names.add(node.id.name);
      node.params.forEach((p) => addPattern(p));
    }
    if (node.type === 'ClassDeclaration' && node.id) names.add(node.id.name);
    if (node.type === 'CatchClause') addPattern(node.param);
  });
  return names;
}

/** True when `node` (an Identifier) is read as a variable, not used as a property name or key. */
function isReference(node: acorn.Identifier, ancestors: AnyNode[]): boolean {
  const parent = ancestors[ancestors.length - 2];
  if (!parent) return true;
  if (parent.type === 'MemberExpression' && parent.property === node && !parent.computed) return false;
  if (
    (parent.type === 'Property' || parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') &&
    parent.key === node &&
    !parent.computed
  ) {
    return parent.type === 'Property' && parent.shorthand;
  }
  if (parent.type === 'LabeledStatement' || parent.type === 'BreakStatement' || parent.type === 'ContinueStatement')
    return false;
  return true;
}

function propertyName(node: acorn.MemberExpression): string | undefined {
  if (!node.computed && node.property.type === 'Identifier') return node.property.name;
  if (node.property.type === 'Literal' && typeof node.property.value === 'string') return node.property.value;
  return undefined;
}

/** The built-in security checks over a real JavaScript AST. */
export function securityFindings(program: acorn.Program): StaticFinding[] {
  const findings: StaticFinding[] = [];
  const declared = declaredNames(program);
  const at = (node: AnyNode) => ({ line: node.loc?.start.line ?? 0, column: (node.loc?.start.column ?? 0) + 1 });
  walk.fullAncestor(program, (node: AnyNode, _state: unknown, ancestors: AnyNode[]) => {
    switch (node.type) {
      case 'CallExpression':
      case 'NewExpression':
        if (node.callee.type === 'Identifier' && node.callee.name === 'eval' && !declared.has('eval')) {
          findings.push({ check: 'eval', message: 'eval() runs arbitrary code', ...at(node) });
        }
        if (node.callee.type === 'Identifier' && node.callee.name === 'Function' && !declared.has('Function')) {
          findings.push({
            check: 'function_constructor',
            message: 'the Function constructor runs arbitrary code',
            ...at(node),
          });
        }
        break;
      case 'ImportExpression':
        findings.push({ check: 'dynamic_import', message: 'dynamic import() loads code', ...at(node) });
        break;
      case 'WithStatement':
        findings.push({ check: 'with_statement', message: '`with` makes scope resolution unpredictable', ...at(node) });
        break;
      case 'Identifier':
        if (HOST_GLOBALS.has(node.name) && !declared.has(node.name) && isReference(node, ancestors)) {
          findings.push({ check: 'host_global', message: `access to the host global \`${node.name}\``, ...at(node) });
        }
        break;
      case 'MemberExpression': {
        const name = propertyName(node);
        if (
          name === 'constructor' &&
          node.object.type === 'MemberExpression' &&
          propertyName(node.object) === 'constructor'
        ) {
          findings.push({
            check: 'constructor_escape',
            message: '`.constructor.constructor` reaches the Function constructor',
            ...at(node),
          });
        }
        if (name === '__proto__' || name === '__defineGetter__' || name === '__defineSetter__') {
          findings.push({ check: 'prototype_access', message: `\`${name}\` tampers with prototypes`, ...at(node) });
        }
        break;
      }
      default:
        break;
    }
  });
  return findings;
}

/** Python builtins that run code given as text. */
const PYTHON_DYNAMIC_CODE = new Set(['eval', 'exec', 'compile', '__import__']);
/** Python builtins that reach the host, the interpreter's internals or the filesystem. */
const PYTHON_HOST_BUILTINS = new Set([
  'open',
  'input',
  'breakpoint',
  'globals',
  'locals',
  'vars',
  'getattr',
  'setattr',
  'delattr',
  'memoryview',
  'help',
  'exit',
  'quit',
]);
/** Library functions that look attributes up by a name given as data (`attrgetter('__globals__')`). */
const PYTHON_DYNAMIC_ATTRIBUTE = new Set(['attrgetter', 'methodcaller', 'Formatter', 'get_field']);
/**
 * Modules that reach the host (the operating system, files, processes, the network, the JavaScript
 * around the interpreter) or the interpreter's internals. A finding names the module's root.
 */
export const PYTHON_HOST_MODULES = new Set([
  'os',
  'sys',
  'subprocess',
  'socket',
  'ctypes',
  'js',
  'pyodide',
  'pyodide_js',
  '_pyodide',
  'importlib',
  'builtins',
  'io',
  'shutil',
  'pathlib',
  'pickle',
  'marshal',
  'gc',
  'inspect',
  'multiprocessing',
  'threading',
  'signal',
  'http',
  'urllib.request',
  'ssl',
  'select',
  'asyncio',
  'tempfile',
  'glob',
  'fcntl',
  'posix',
  'pty',
  'code',
  'codeop',
  'runpy',
  'types',
  'sysconfig',
  'platform',
  'resource',
  'mmap',
  'zipimport',
  'webbrowser',
  'ftplib',
  'smtplib',
  'telnetlib',
  'xmlrpc',
]);
/** Dunder names a tool may use: its own module name and the main guard. */
const HARMLESS_DUNDERS = new Set(['__name__', '__main__', '__init__', '__len__', '__eq__', '__repr__', '__str__']);

function isHostModule(module: string): boolean {
  const parts = module.split('.');
  return parts.some((_, i) => PYTHON_HOST_MODULES.has(parts.slice(0, i + 1).join('.')));
}

/**
 * The built-in security checks over Python's own AST (parsed by its `ast` module inside the sandbox's
 * interpreter): code from text (`eval`, `exec`, `compile`, `__import__`), host modules (`os`, `sys`,
 * `subprocess`, `socket`, `ctypes`, `js`, `pyodide`…), builtins that reach files or the interpreter
 * (`open`, `globals`, `getattr`…), and dunder tricks (`__class__`, `__subclasses__`, `__globals__`…).
 */
export function pythonSecurityFindings(
  analysis: Extract<ReturnType<typeof analyzePython>, { ok: true }>,
): StaticFinding[] {
  const findings: StaticFinding[] = [];
  for (const i of analysis.imports) {
    if (isHostModule(i.module))
      findings.push({
        check: 'host_module',
        message: `import of the host module \`${i.module}\``,
        line: i.line,
        column: 1,
      });
  }
  // A builtin that reaches the host is a finding wherever it is named (`g = vars` too), except
  // `input`, which is also the name every tool gives its parameter: that one only where it is called.
  for (const c of analysis.calls) {
    if (c.name === 'input')
      findings.push({
        check: 'host_builtin',
        message: "the builtin `input` reaches beyond the tool's input",
        line: c.line,
        column: c.col + 1,
      });
  }
  for (const n of analysis.names) {
    if (PYTHON_DYNAMIC_CODE.has(n.id))
      findings.push({
        check: 'dynamic_code',
        message: `\`${n.id}\` runs code given as text`,
        line: n.line,
        column: n.col + 1,
      });
    else if (PYTHON_HOST_BUILTINS.has(n.id) && n.id !== 'input')
      findings.push({
        check: 'host_builtin',
        message: `the builtin \`${n.id}\` reaches beyond the tool's input`,
        line: n.line,
        column: n.col + 1,
      });
    else if (PYTHON_DYNAMIC_ATTRIBUTE.has(n.id))
      findings.push({
        check: 'dynamic_attribute',
        message: `\`${n.id}\` looks attributes up by a name given as data`,
        line: n.line,
        column: n.col + 1,
      });
    else if (/^__\w+__$/.test(n.id) && !HARMLESS_DUNDERS.has(n.id))
      findings.push({
        check: 'dunder_access',
        message: `the dunder name \`${n.id}\``,
        line: n.line,
        column: n.col + 1,
      });
  }
  for (const t of analysis.tokens) {
    // A dunder name as data reaches internals through format strings, attrgetter, getattr…
    const dunder = t.type === 'STRING' || t.type === 'FSTRING_MIDDLE' ? /__\w+__/.exec(t.text)?.[0] : undefined;
    if (dunder && !HARMLESS_DUNDERS.has(dunder)) {
      findings.push({
        check: 'dunder_access',
        message: `the dunder name \`${dunder}\` inside a string`,
        line: t.line,
        column: t.col + 1,
      });
    }
  }
  for (const a of analysis.attributes) {
    if (PYTHON_DYNAMIC_ATTRIBUTE.has(a.attr))
      findings.push({
        check: 'dynamic_attribute',
        message: `\`.${a.attr}\` looks attributes up by a name given as data`,
        line: a.line,
        column: a.col + 1,
      });
    if (/^__\w+__$/.test(a.attr) && !HARMLESS_DUNDERS.has(a.attr)) {
      findings.push({
        check: 'dunder_access',
        message: `the dunder attribute \`.${a.attr}\` reaches the interpreter's internals`,
        line: a.line,
        column: a.col + 1,
      });
    }
  }
  for (const h of analysis.hazards)
    findings.push({ check: h.check, message: h.message, line: h.line, column: h.col + 1 });
  return findings.sort((a, b) => a.line - b.line || a.column - b.column);
}

function parseFailure(finding: StaticFinding): { failure: DetectedFailure; findings: StaticFinding[] } {
  return {
    findings: [finding],
    failure: {
      failureType: 'static_analysis',
      description: `code does not parse: ${finding.message}`,
      stackTrace: null,
      testCaseFailed: null,
      detectionMethod: 'static_analysis',
      severity: 'high',
      evidence: { findings: [finding] } as never,
    },
  };
}

/** Static analysis as a detector: any security finding is a critical `security_vulnerability`. */
export function detectSecurityIssues(
  code: string,
  language: ToolLanguage = 'javascript',
): { failure: DetectedFailure | null; findings: StaticFinding[] } {
  if (language === 'python') {
    const analysis = analyzePython(code);
    if (!analysis.ok)
      return parseFailure({
        check: 'parse_error',
        message: analysis.error.message,
        line: analysis.error.line,
        column: analysis.error.col + 1,
      });
    return securityVerdict(pythonSecurityFindings(analysis));
  }
  let program: acorn.Program;
  try {
    program = parseForAnalysis(code);
  } catch (err) {
    const e = err as SyntaxError & { loc?: { line: number; column: number } };
    return parseFailure({
      check: 'parse_error',
      message: e.message,
      line: e.loc?.line ?? 0,
      column: (e.loc?.column ?? 0) + 1,
    });
  }
  return securityVerdict(securityFindings(program));
}

function securityVerdict(findings: StaticFinding[]): { failure: DetectedFailure | null; findings: StaticFinding[] } {
  if (!findings.length) return { failure: null, findings };
  return {
    findings,
    failure: {
      failureType: 'security_vulnerability',
      description: `found ${findings.length} security issue(s): ${findings.map((f) => `${f.message} (line ${f.line})`).join('; ')}`,
      stackTrace: null,
      testCaseFailed: null,
      detectionMethod: 'static_analysis',
      severity: 'critical',
      evidence: { findings } as never,
    },
  };
}

export interface GateRule {
  ruleId: string;
  description: string;
  patternToAvoid: string;
  /**
   * regex (over the code) | ast (an esquery selector) | tokens (a regex over the normalised token
   * stream: renames and reformatting do not hide a match) | semantic (description only: for people and
   * the LLM, never a gate)
   */
  patternKind: string;
}

export interface GateViolation {
  ruleId: string;
  description: string;
  patternKind: 'regex' | 'ast' | 'tokens';
  pattern: string;
  line: number;
  excerpt: string;
}

/**
 * Compiled patterns, by kind and text: a registration checks every rule in scope, and the same rules
 * are checked again at the next one, so each selector and regular expression is compiled once
 * (bounded: cleared when it grows past what any one rule set needs).
 */
const compiled = new Map<string, CompiledPattern | null>();
const MAX_COMPILED = 100_000;

interface CompiledPattern {
  re?: RegExp;
  selector?: ReturnType<typeof esquery.parse>;
  /**
   * Values some node of the AST must carry for the selector to match (attribute equalities outside
   * `:not` and `:matches`): a rule whose values the code lacks is passed without walking the AST.
   */
  required?: string[];
}

function compile(kind: string, pattern: string): CompiledPattern | null {
  const key = `${kind}\u0000${pattern}`;
  let c = compiled.get(key);
  if (c !== undefined) return c;
  try {
    if (kind === 'regex') c = { re: new RegExp(pattern, 'm') };
    else if (kind === 'tokens') c = { re: new RegExp(`(?:^| )${pattern}(?= |$)`) };
    else if (kind === 'ast') {
      const selector = esquery.parse(pattern);
      c = { selector, required: requiredValues(selector as unknown as SelectorNode) };
    } else c = null;
  } catch {
    c = null; // an unusable pattern cannot gate; it stays a description for the LLM
  }
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, c);
  return c;
}

interface SelectorNode {
  type: string;
  name?: string;
  operator?: string;
  value?: unknown;
  selectors?: SelectorNode[];
  left?: SelectorNode;
  right?: SelectorNode;
}

/** Attribute paths whose values are all among the AST's values (see astValues). */
const VALUE_PATHS = new Set([
  'name',
  'callee.name',
  'callee.property.name',
  'property.name',
  'object.name',
  'key.name',
  'id.name',
  'value',
  'regex.pattern',
  'regex.flags',
  'operator',
]);

function requiredValues(s: SelectorNode, out: string[] = []): string[] {
  switch (s.type) {
    case 'attribute': {
      const v = s.value as { type?: string; value?: unknown } | undefined;
      if (s.operator === '=' && v?.type === 'literal' && VALUE_PATHS.has(s.name ?? '')) out.push(`${String(v.value)}`);
      break;
    }
    case 'compound':
    case 'has':
      for (const x of s.selectors ?? []) requiredValues(x, out);
      break;
    case 'child':
    case 'descendant':
    case 'sibling':
    case 'adjacent':
      if (s.left) requiredValues(s.left, out);
      if (s.right) requiredValues(s.right, out);
      break;
    default:
      break; // :not, :matches and the rest promise nothing
  }
  return out;
}

/**
 * Every value an attribute in VALUE_PATHS can read in this AST, stringified as esquery compares
 * them. Every node is visited, by all of its properties (as esquery's own traversal does), so that
 * names the usual walkers skip (a member's property, a key, a label) are there too.
 */
function astValues(program: acorn.Program): Set<string> {
  const values = new Set<string>(['']);
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const node = value as Record<string, unknown>;
    for (const key of ['name', 'operator', 'value']) {
      const v = node[key];
      if (v !== null && typeof v === 'object') continue;
      if (v !== undefined || key === 'value') values.add(`${String(v)}`);
    }
    const regex = node.regex as { pattern: string; flags: string } | undefined;
    if (regex) {
      values.add(regex.pattern);
      values.add(regex.flags);
    }
    for (const [key, child] of Object.entries(node)) {
      if (key !== 'loc' && child !== null && typeof child === 'object') visit(child);
    }
  };
  visit(program);
  return values;
}

/** Checks code against every machine-checkable avoidance rule; semantic rules are skipped here. */
export function checkRuleGates(
  code: string,
  rules: GateRule[],
  language: ToolLanguage = 'javascript',
): GateViolation[] {
  const violations: GateViolation[] = [];
  let program: acorn.Program | undefined;
  let values: Set<string> | undefined;
  let stream: ReturnType<typeof normalizedTokens> | undefined;
  const lines = code.split('\n');
  const violation = (rule: GateRule, patternKind: GateViolation['patternKind'], line: number, excerpt?: string) =>
    violations.push({
      ruleId: rule.ruleId,
      description: rule.description,
      patternKind,
      pattern: rule.patternToAvoid,
      line,
      excerpt: excerpt ?? (lines[line - 1] ?? '').trim(),
    });
  for (const rule of rules) {
    if (rule.patternKind === 'regex') {
      const re = compile('regex', rule.patternToAvoid)?.re;
      if (!re) continue;
      const m = re.exec(code);
      if (m) violation(rule, 'regex', code.slice(0, m.index).split('\n').length);
    } else if (rule.patternKind === 'tokens') {
      const re = compile('tokens', rule.patternToAvoid)?.re;
      if (!re) continue;
      stream ??= normalizedTokens(code, language);
      if (!stream) {
        // Fail closed: a rule that cannot be checked is not passed.
        violation(rule, 'tokens', 0, '(the code could not be tokenized to check this rule)');
        continue;
      }
      const m = re.exec(stream.text);
      if (m) {
        const tokenIndex = stream.text.slice(0, m.index + (m[0].startsWith(' ') ? 1 : 0)).split(' ').length - 1;
        violation(rule, 'tokens', stream.lines[tokenIndex] ?? 0);
      }
    } else if (rule.patternKind === 'ast' && language === 'javascript') {
      // A selector over JavaScript's AST: it says nothing about code in another language.
      const c = compile('ast', rule.patternToAvoid);
      if (!c?.selector) continue;
      program ??= parseForAnalysis(code);
      values ??= astValues(program);
      if (c.required?.some((v) => !values!.has(v))) continue;
      let matches: AnyNode[];
      try {
        matches = esquery.match(program as never, c.selector) as unknown as AnyNode[];
      } catch {
        continue;
      }
      const first = matches[0];
      if (first) violation(rule, 'ast', first.loc?.start.line ?? 0);
    }
  }
  return violations;
}

/** Gate violations as a detector result. */
export function detectGateViolations(
  code: string,
  rules: GateRule[],
  language: ToolLanguage = 'javascript',
): { failure: DetectedFailure | null; violations: GateViolation[] } {
  const violations = checkRuleGates(code, rules, language);
  if (!violations.length) return { failure: null, violations };
  return {
    violations,
    failure: {
      failureType: 'avoidance_rule_violation',
      description: `violates ${violations.length} avoidance rule(s): ${violations.map((v) => `${v.ruleId} "${v.description}" (line ${v.line}: ${v.excerpt})`).join('; ')}`,
      stackTrace: null,
      testCaseFailed: null,
      detectionMethod: 'rule_gate',
      severity: 'critical',
      evidence: { violations } as never,
    },
  };
}
