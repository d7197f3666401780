import * as acorn from 'acorn';
import { analyzePython } from '../sandbox/python.js';
import type { ToolLanguage } from '../shared/language.js';

/**
 * Splits code into tokens with the text between them (whitespace, comments) kept as items of their
 * own, so that joining the pieces gives the code back exactly. Null when the code does not tokenize.
 */
export function codePieces(code: string, language: ToolLanguage = 'javascript'): string[] | null {
  if (language === 'python') return pythonPieces(code);
  const pieces: string[] = [];
  let at = 0;
  try {
    for (const token of acorn.tokenizer(code, { ecmaVersion: 'latest' })) {
      if (token.start > at) pieces.push(code.slice(at, token.start));
      pieces.push(code.slice(token.start, token.end));
      at = token.end;
    }
  } catch {
    return null;
  }
  if (at < code.length) pieces.push(code.slice(at));
  return pieces;
}

/**
 * Python's tokens (from its own tokenize module) as pieces: each token's text, with the text between
 * tokens (indentation, line breaks, comments) as pieces of their own.
 */
function pythonPieces(code: string): string[] | null {
  const analysis = analyzePython(code);
  if (!analysis.ok) return null;
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1);
  // tokenize counts columns in code points, JavaScript strings in UTF-16 units: they differ after a
  // character outside the BMP (an emoji) on the same line.
  const offset = (line: number, col: number): number => {
    const lineStart = lineStarts[line - 1] ?? code.length;
    const text = code.slice(lineStart, lineStarts[line] ?? code.length);
    if (!/[\uD800-\uDFFF]/.test(text)) return lineStart + col;
    let units = 0;
    let points = 0;
    for (const ch of text) {
      if (points === col) break;
      units += ch.length;
      points++;
    }
    return lineStart + units;
  };
  const pieces: string[] = [];
  let at = 0;
  for (const t of analysis.tokens) {
    const start = offset(t.line, t.col);
    if (start < at || code.slice(start, start + t.text.length) !== t.text) return null;
    if (start > at) pieces.push(code.slice(at, start));
    pieces.push(t.text);
    at = start + t.text.length;
  }
  if (at < code.length) pieces.push(code.slice(at));
  return pieces;
}

/** Python names that mean the same in every tool. */
const PYTHON_KEYWORDS = new Set([
  'def',
  'return',
  'if',
  'elif',
  'else',
  'for',
  'while',
  'in',
  'not',
  'and',
  'or',
  'is',
  'None',
  'True',
  'False',
  'lambda',
  'import',
  'from',
  'as',
  'try',
  'except',
  'finally',
  'raise',
  'with',
  'pass',
  'break',
  'continue',
  'class',
  'yield',
  'global',
  'nonlocal',
  'del',
  'assert',
  'str',
  'int',
  'float',
  'bool',
  'len',
  'list',
  'dict',
  'set',
  'tuple',
  'isinstance',
  'range',
  'sorted',
  'min',
  'max',
  'sum',
  'any',
  'all',
  're',
  'json',
  'math',
]);

/** Names that mean the same in every tool: kept as they are in the normalised stream. */
const KEYWORDS = new Set([
  'function',
  'return',
  'const',
  'let',
  'var',
  'if',
  'else',
  'for',
  'while',
  'do',
  'of',
  'in',
  'new',
  'typeof',
  'instanceof',
  'true',
  'false',
  'null',
  'undefined',
  'this',
  'break',
  'continue',
  'switch',
  'case',
  'default',
  'throw',
  'try',
  'catch',
  'finally',
  'void',
  'delete',
  'class',
  'extends',
  'NaN',
  'Infinity',
  'String',
  'Number',
  'Boolean',
  'Array',
  'Object',
  'Math',
  'JSON',
  'RegExp',
  'Date',
  'Map',
  'Set',
  'parseInt',
  'parseFloat',
  'isNaN',
]);

/**
 * Code as a normalised token stream: names a version chose (variables, parameters, functions) become
 * `ID`, so a rename or a reformat reads the same; property names, literals, keywords and punctuation
 * stay. Tokens are joined by one space; `lines` gives each token's line. Null when it does not tokenize.
 */
export function normalizedTokens(
  code: string,
  language: ToolLanguage = 'javascript',
): { text: string; tokens: string[]; lines: number[] } | null {
  const pieces = codePieces(code, language);
  if (!pieces) return null;
  const keywords = language === 'python' ? PYTHON_KEYWORDS : KEYWORDS;
  const tokens: string[] = [];
  const lines: number[] = [];
  let line = 1;
  for (const p of pieces) {
    const t = p.trim();
    const comment = language === 'python' ? t.startsWith('#') : t.startsWith('//') || t.startsWith('/*');
    if (t && !comment) {
      tokens.push(/^[A-Za-z_$][\w$]*$/.test(t) && !keywords.has(t) && tokens[tokens.length - 1] !== '.' ? 'ID' : t);
      lines.push(line);
    }
    line += p.split('\n').length - 1;
  }
  return { text: tokens.join(' '), tokens, lines };
}
