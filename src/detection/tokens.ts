import * as acorn from 'acorn';

/**
 * Splits code into tokens with the text between them (whitespace, comments) kept as items of their
 * own, so that joining the pieces gives the code back exactly. Null when the code does not tokenize.
 */
export function codePieces(code: string): string[] | null {
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

/** Names that mean the same in every tool: kept as they are in the normalised stream. */
const KEYWORDS = new Set([
  'function', 'return', 'const', 'let', 'var', 'if', 'else', 'for', 'while', 'do', 'of', 'in', 'new', 'typeof', 'instanceof',
  'true', 'false', 'null', 'undefined', 'this', 'break', 'continue', 'switch', 'case', 'default', 'throw', 'try', 'catch',
  'finally', 'void', 'delete', 'class', 'extends', 'NaN', 'Infinity', 'String', 'Number', 'Boolean', 'Array', 'Object',
  'Math', 'JSON', 'RegExp', 'Date', 'Map', 'Set', 'parseInt', 'parseFloat', 'isNaN',
]);

/**
 * Code as a normalised token stream: names a version chose (variables, parameters, functions) become
 * `ID`, so a rename or a reformat reads the same; property names, literals, keywords and punctuation
 * stay. Tokens are joined by one space; `lines` gives each token's line. Null when it does not tokenize.
 */
export function normalizedTokens(code: string): { text: string; tokens: string[]; lines: number[] } | null {
  const pieces = codePieces(code);
  if (!pieces) return null;
  const tokens: string[] = [];
  const lines: number[] = [];
  let line = 1;
  for (const p of pieces) {
    const t = p.trim();
    if (t && !t.startsWith('//') && !t.startsWith('/*')) {
      tokens.push(/^[A-Za-z_$][\w$]*$/.test(t) && !KEYWORDS.has(t) && tokens[tokens.length - 1] !== '.' ? 'ID' : t);
      lines.push(line);
    }
    line += p.split('\n').length - 1;
  }
  return { text: tokens.join(' '), tokens, lines };
}
