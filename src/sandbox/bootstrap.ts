/**
 * Code evaluated in every tool isolate before the tool itself. It exposes one entry point that takes
 * the input as JSON text and returns the output as JSON text, checking on the way out that the result
 * is strictly a JSON value (no undefined, functions, symbols, BigInt, NaN, cycles or class instances).
 * Errors it raises carry a marker prefix so the host can type them.
 */
export const NON_JSON_MARKER = '__DISE_NON_JSON__:';
export const NO_RUN_MARKER = '__DISE_NO_RUN__';

export const BOOTSTRAP = `
const __diseCheck = (value, path, seen) => {
  if (value === null) return;
  const t = typeof value;
  if (t === 'string' || t === 'boolean') return;
  if (t === 'number') {
    if (!Number.isFinite(value)) throw new Error('${NON_JSON_MARKER}' + path + ' is ' + String(value));
    return;
  }
  if (t !== 'object') throw new Error('${NON_JSON_MARKER}' + path + ' is a ' + t);
  if (seen.has(value)) throw new Error('${NON_JSON_MARKER}' + path + ' is a cycle');
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) __diseCheck(value[i], path + '[' + i + ']', seen);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new Error('${NON_JSON_MARKER}' + path + ' is a ' + ((proto && proto.constructor && proto.constructor.name) || 'non-plain object'));
    }
    for (const key of Object.keys(value)) __diseCheck(value[key], path + '.' + key, seen);
  }
  seen.delete(value);
};
`;

/** Appended after the tool's code: binds the entry point to the tool's run(). */
export const ENTRY = `
;(function () {
  if (typeof run !== 'function') throw new Error('${NO_RUN_MARKER}');
  const __run = run;
  globalThis.__diseInvoke = function (inputJson) {
    const output = __run(JSON.parse(inputJson));
    if (output === undefined) throw new Error('${NON_JSON_MARKER}result is undefined');
    __diseCheck(output, 'result', new Set());
    return JSON.stringify(output);
  };
})();
`;
