/**
 * Code evaluated in every tool context before the tool itself, as a script of its own, so it sees the
 * built-ins as V8 made them: the tool cannot have replaced any of them yet (a function declaration in
 * the tool's script would be instantiated before code in the same script runs, hence two scripts).
 *
 * Its completion value is the one entry point the host calls: `invoke(run, inputJson)`. It parses the
 * input, calls the tool's run(), checks that the result is strictly a JSON value (no undefined,
 * functions, symbols, BigInt, NaN, cycles or class instances) and serialises it. Every built-in it
 * uses was captured before the tool ran, so a tool that redefines JSON.stringify, JSON.parse,
 * Set.prototype.add, Object.keys, Function.prototype.call… changes nothing here; the result is written
 * by this code, not by JSON.stringify, so no toJSON is consulted and each property is read once. What
 * a tool can still do is make its own result misbehave (a getter or a Proxy trap that throws): that
 * happens inside this call and ends as a typed failure on the host, like any other throw.
 * Errors it raises carry a marker prefix so the host can type them.
 */
export const NON_JSON_MARKER = '__DISE_NON_JSON__:';
export const NO_RUN_MARKER = '__DISE_NO_RUN__';

export const BOOTSTRAP = `(() => {
  'use strict';
  const apply = Reflect.apply;
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const getPrototypeOf = Object.getPrototypeOf;
  const keys = Object.keys;
  const isArray = Array.isArray;
  const isFinite = Number.isFinite;
  const ObjectPrototype = Object.prototype;
  const toText = String;
  const Err = Error;
  const SetC = Set;
  const setHas = Set.prototype.has;
  const setAdd = Set.prototype.add;
  const setDelete = Set.prototype.delete;
  const notJson = (message) => new Err('${NON_JSON_MARKER}' + message);
  // Checks and writes the result in one pass, reading every property once: a getter cannot show the
  // check one value and the encoder another, and no toJSON, prototype setter or replaced
  // Array.prototype method is consulted (strings only concatenate). JSON.stringify is applied to
  // strings and numbers alone, which have no toJSON to look up.
  const encode = (value, path, seen, depth) => {
    if (value === null) return 'null';
    const t = typeof value;
    if (t === 'string') return stringify(value);
    if (t === 'boolean') return value ? 'true' : 'false';
    if (t === 'number') {
      if (!isFinite(value)) throw notJson(path + ' is ' + toText(value));
      return stringify(value);
    }
    if (t !== 'object') throw notJson(path + ' is a ' + t);
    if (depth > 500) throw notJson(path + ' is nested more than 500 levels deep');
    if (apply(setHas, seen, [value])) throw notJson(path + ' is a cycle');
    apply(setAdd, seen, [value]);
    let out;
    if (isArray(value)) {
      const n = value.length;
      out = '[';
      for (let i = 0; i < n; i++) out += (i ? ',' : '') + encode(value[i], path + '[' + i + ']', seen, depth + 1);
      out += ']';
    } else {
      const proto = getPrototypeOf(value);
      if (proto !== ObjectPrototype && proto !== null) {
        throw notJson(path + ' is a ' + ((proto && proto.constructor && proto.constructor.name) || 'non-plain object'));
      }
      const own = keys(value);
      const n = own.length;
      out = '{';
      for (let i = 0; i < n; i++) {
        const key = own[i];
        out += (i ? ',' : '') + stringify(key) + ':' + encode(value[key], path + '.' + key, seen, depth + 1);
      }
      out += '}';
    }
    apply(setDelete, seen, [value]);
    return out;
  };
  return function invoke(run, inputJson) {
    const output = apply(run, undefined, [parse(inputJson)]);
    if (output === undefined) throw notJson('result is undefined');
    return encode(output, 'result', new SetC(), 0);
  };
})()`;

/**
 * Appended after the tool's code: the script's completion value is the tool's run, whatever kind of
 * declaration made it (function, const, let). A line break first ends a trailing line comment.
 */
export const ENTRY = `\n;typeof run === 'function' ? run : '${NO_RUN_MARKER}'`;
