import { createHash } from 'node:crypto';
import * as acorn from 'acorn';
import { analyzePython } from '../sandbox/python.js';
import type { ToolLanguage } from '../shared/language.js';
import { LineageError } from '../lineage/errors.js';

export function codeHash(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** Parses tool code as a script. Throws INVALID_CODE naming line and column, or when `run` is missing. */
export function parseToolCode(code: string, field = 'code'): acorn.Program {
  let program: acorn.Program;
  try {
    program = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'script', locations: true });
  } catch (err) {
    const e = err as SyntaxError & { loc?: { line: number; column: number } };
    const where = e.loc ? ` at line ${e.loc.line}, column ${e.loc.column + 1}` : '';
    throw new LineageError(
      'INVALID_CODE',
      `${field}: tool code does not parse${where}: ${e.message.replace(/ \(\d+:\d+\)$/, '')}`,
      field,
    );
  }
  if (!definesRun(program)) {
    throw new LineageError(
      'INVALID_CODE',
      `${field}: tool code must define a top-level \`function run(input)\``,
      field,
    );
  }
  return program;
}

function definesRun(program: acorn.Program): boolean {
  return program.body.some((node) => {
    if (node.type === 'FunctionDeclaration') return node.id?.name === 'run';
    if (node.type === 'VariableDeclaration') {
      return node.declarations.some(
        (d) =>
          d.id.type === 'Identifier' &&
          d.id.name === 'run' &&
          (d.init?.type === 'FunctionExpression' || d.init?.type === 'ArrowFunctionExpression'),
      );
    }
    return false;
  });
}

/**
 * Checks that tool code in `language` parses and defines its entry point (`function run(input)` in
 * JavaScript, `def run(input)` in Python). Throws INVALID_CODE naming field, line and column.
 * Python is parsed by Python's own `ast` module, inside the sandbox's interpreter.
 */
export function checkToolCode(code: string, language: ToolLanguage, field = 'code'): void {
  if (language === 'javascript') {
    parseToolCode(code, field);
    return;
  }
  const analysis = analyzePython(code);
  if (!analysis.ok) {
    const { line, col, message } = analysis.error;
    throw new LineageError(
      'INVALID_CODE',
      `${field}: Python tool code does not parse at line ${line}, column ${col + 1}: ${message}`,
      field,
    );
  }
  if (!analysis.definesRun) {
    throw new LineageError(
      'INVALID_CODE',
      `${field}: Python tool code must define a top-level \`def run(input)\``,
      field,
    );
  }
}
