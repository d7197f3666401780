import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import { NO_RUN_MARKER } from './bootstrap.js';

/**
 * Screening: many calls of one JavaScript tool in ONE reused context, each as if the tool had just
 * been loaded into a fresh one. Used by the differential check, whose ~1,000 inputs per version would
 * otherwise each pay for a context (createContext, the bootstrap, the tool's top level: about a
 * millisecond, against microseconds for the call itself).
 *
 * How a call stays as fresh as in its own context:
 *   - The tool is compiled a second time as a factory, `(() => { <code>; return run })`, and every call
 *     calls the factory first: the tool's top level runs again, so every `let`/`const`/`var`/function
 *     binding, module-level counter and cache is new. An arrow keeps the script's `this` (the global
 *     object) and has no `arguments` of its own, as at a script's top level.
 *   - What the factory cannot renew is what all calls share: the global object and the built-ins
 *     (prototypes, constructors, namespace objects, the iterator prototypes). SCREEN_BOOTSTRAP records
 *     every object reachable from them before any tool code runs (prototype, extensibility, each own
 *     property's key, value, getter, setter and flags), and `check` compares them all with that record.
 *     A check reads every one of those properties (about as long as making a fresh context), so the
 *     session does not check after every call: after its 1st, 2nd, 4th, 8th… call (a tool that
 *     changes a built-in on every call is caught at once), after calls the host draws at random
 *     (sandbox.ts, SCREEN_CHECK_RATE), and at the end. A check that finds anything touched voids the
 *     whole screening and the caller runs every call again the exact way. The draws are the host's,
 *     out of the tool's reach, so a tool that carries state from one call to the next and removes it
 *     before a check cannot know which calls are checked: each call that leaves such state behind is
 *     caught with the rate's probability, and one that does it on many calls is caught all but surely.
 *     A difference a screening finds is always confirmed in fresh contexts (judge/differential.ts).
 *   - RegExp's legacy statics (RegExp.$1, lastMatch…) are reset before each call by a match against
 *     the empty string, as they are in a new context.
 *
 * What the factory changes compared with a script is only visible to code that looks at the global
 * object or the script's scope from outside its own bindings; `screeningPlan` refuses such code (it
 * then runs the exact way), see there.
 */

/** The words that reach the global object, code built from strings, or another function's frame. */
const UNSCREENABLE_NAMES = new Set([
  'globalThis',
  'eval',
  'Function',
  'constructor',
  'caller',
  'stack',
  'prepareStackTrace',
]);

export interface ScreeningPlan {
  /**
   * Names the code declares with `var` (or as a function inside a block, which behaves as a var in
   * sloppy code). A script's var that names an existing global keeps the global's value until assigned,
   * where the factory's starts undefined: the session refuses the code if any is a global already.
   */
  varNames: string[];
}

function hasUseStrict(body: readonly acorn.Node[]): boolean {
  for (const statement of body) {
    const s = statement as acorn.ExpressionStatement;
    if (s.type !== 'ExpressionStatement' || typeof s.directive !== 'string') return false;
    if (s.directive === 'use strict') return true;
  }
  return false;
}

function patternNames(p: acorn.Pattern | null | undefined, out: string[]): void {
  if (!p) return;
  switch (p.type) {
    case 'Identifier':
      out.push(p.name);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties) patternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out);
      break;
    case 'ArrayPattern':
      for (const e of p.elements) patternNames(e, out);
      break;
    case 'RestElement':
      patternNames(p.argument, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left, out);
      break;
    default:
      break;
  }
}

/**
 * Whether the code may be screened, and what the context must be checked for first; null when the
 * screening cannot vouch for it. Refused (conservatively, by the words alone, wherever they appear):
 * `globalThis`, `eval`, `Function`, `constructor` (a function's constructor builds code from strings
 * that resolves names through the global scope), `caller` (a sloppy function's caller would be the
 * factory), `stack` and `prepareStackTrace` (a stack read at the top level shows the factory's frame),
 * each as a name, a property or a string literal; dynamic `import()`; and `this` anywhere it could be
 * the global object (outside classes and strict functions). With those gone, the tool's own bindings
 * are reached only through its own scope, where the factory's are the script's, renewed per call.
 */
export function screeningPlan(code: string): ScreeningPlan | null {
  let program: acorn.Program;
  try {
    program = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'script' });
  } catch {
    return null;
  }
  const programStrict = hasUseStrict(program.body);
  const varNames: string[] = [];
  let refused = false;
  walk.fullAncestor(program, (node: acorn.AnyNode, _state: unknown, ancestors: acorn.AnyNode[]) => {
    if (refused) return;
    switch (node.type) {
      case 'Identifier':
        if (UNSCREENABLE_NAMES.has(node.name)) refused = true;
        break;
      case 'MemberExpression':
        // The walker does not visit a property written after a dot.
        if (!node.computed && node.property.type === 'Identifier' && UNSCREENABLE_NAMES.has(node.property.name))
          refused = true;
        break;
      case 'Property':
      case 'PropertyDefinition':
      case 'MethodDefinition':
        // Nor a key written as a name; a class's own `constructor() {}` is no way to the Function constructor.
        if (
          !node.computed &&
          node.key.type === 'Identifier' &&
          UNSCREENABLE_NAMES.has(node.key.name) &&
          !(node.type === 'MethodDefinition' && node.kind === 'constructor')
        )
          refused = true;
        break;
      case 'ObjectPattern':
        // Nor the properties of a destructuring pattern (`const { constructor: F } = f`).
        for (const prop of node.properties)
          if (
            prop.type === 'Property' &&
            !prop.computed &&
            prop.key.type === 'Identifier' &&
            UNSCREENABLE_NAMES.has(prop.key.name)
          )
            refused = true;
        break;
      case 'Literal':
        if (typeof node.value === 'string' && UNSCREENABLE_NAMES.has(node.value)) refused = true;
        break;
      case 'TemplateElement':
        if (UNSCREENABLE_NAMES.has(node.value.cooked ?? node.value.raw)) refused = true;
        break;
      case 'ImportExpression':
        refused = true;
        break;
      case 'ThisExpression': {
        let safe = false;
        for (let i = ancestors.length - 2; i >= 0; i--) {
          const a = ancestors[i]!;
          if (a.type === 'ClassBody') {
            safe = true;
            break;
          }
          if (a.type === 'FunctionDeclaration' || a.type === 'FunctionExpression') {
            // A strict function called plainly has `this` undefined; a sloppy one gets the global object.
            // Code in a class is strict.
            safe =
              programStrict || ancestors.slice(0, i + 1).some((f) => f.type === 'ClassBody' || isStrictFunction(f));
            break;
          }
        }
        if (!safe) refused = true;
        break;
      }
      case 'VariableDeclaration':
        if (node.kind === 'var') for (const d of node.declarations) patternNames(d.id, varNames);
        break;
      case 'FunctionDeclaration': {
        const parent = ancestors[ancestors.length - 2];
        if (parent?.type !== 'Program' && node.id) varNames.push(node.id.name);
        break;
      }
      default:
        break;
    }
  });
  return refused ? null : { varNames: [...new Set(varNames)] };
}

function isStrictFunction(node: acorn.AnyNode): boolean {
  return (
    (node.type === 'FunctionDeclaration' || node.type === 'FunctionExpression') &&
    node.body.type === 'BlockStatement' &&
    hasUseStrict(node.body.body)
  );
}

/**
 * The tool as a factory. The code starts on a line of its own and the script's line numbering starts
 * one line earlier, so every position in the tool (in its functions' stack frames) is the one it has
 * when loaded as a script.
 */
export function factorySource(code: string): string {
  return `(() => {\n${code}\n;return typeof run === 'function' ? run : '${NO_RUN_MARKER}';\n})`;
}

/**
 * Evaluated after BOOTSTRAP in a screening context, before any tool code: its completion value takes
 * the bootstrap's invoke and returns `screen(op, a, b)`:
 *   init(factory, varNamesJson): false if a var of the tool names a global; else records the state.
 *   load(): resets RegExp's statics and runs the factory (the tool's top level); false: no run().
 *   call(inputJson): the loaded run() through invoke, as a fresh context's call.
 *   check(): whether the global object and the built-ins are exactly as recorded.
 *   batch(inputsJsonArray, settingsJson): load and call on each input in turn, checking on the session's
 *     schedule (calls, nextCheck, and the host's drawn `checks`), for at most sliceMs (at least one
 *     call); returns the progress: each
 *     output, the calls that failed (their thrown values kept for rethrow), the counts, whether clean.
 *   progress(): the last batch's progress so far (read after a call of it timed out).
 *   rethrow(index): throws again what the last batch's call at index threw.
 * Like BOOTSTRAP, it uses only built-ins captured before the tool ran, and `check` reads own properties
 * alone (no getter, proxy or prototype lookup), so no tool code runs inside it.
 */
export const SCREEN_BOOTSTRAP = `((invoke) => {
  'use strict';
  const apply = Reflect.apply;
  const ownKeys = Reflect.ownKeys;
  const describe = Reflect.getOwnPropertyDescriptor;
  const getProto = Reflect.getPrototypeOf;
  const isExtensible = Reflect.isExtensible;
  const hasOwn = Object.hasOwn;
  const same = Object.is;
  const parse = JSON.parse;
  const MapC = Map;
  const mapHas = Map.prototype.has;
  const mapSet = Map.prototype.set;
  const exec = RegExp.prototype.exec;
  const emptyPattern = /(?:)/;
  const dateNow = Date.now;
  const G = globalThis;
  const roots = [G];
  const addRoot = (make) => {
    try {
      const o = make();
      if (o !== null && (typeof o === 'object' || typeof o === 'function')) roots[roots.length] = o;
    } catch {}
  };
  // Shared objects no global property leads to: the iterator prototypes and the function kinds'.
  addRoot(() => getProto([][Symbol.iterator]()));
  addRoot(() => getProto(new Map()[Symbol.iterator]()));
  addRoot(() => getProto(new Set()[Symbol.iterator]()));
  addRoot(() => getProto(''[Symbol.iterator]()));
  addRoot(() => getProto(/a/[Symbol.matchAll]('')));
  addRoot(() => getProto(function* () {}));
  addRoot(() => getProto(async function () {}));
  addRoot(() => getProto(async function* () {}));
  addRoot(() => getProto(new Intl.Segmenter().segment('')));
  addRoot(() => getProto(new Intl.Segmenter().segment('')[Symbol.iterator]()));
  addRoot(() => getProto([].values().map((x) => x)));
  addRoot(() => getProto(Iterator.from({ next() {} })));
  const objects = [];
  const protos = [];
  const extensible = [];
  const keyLists = [];
  const valueLists = [];
  const flags = (d) => (d.writable ? 1 : 0) | (d.enumerable ? 2 : 0) | (d.configurable ? 4 : 0);
  const record = () => {
    const seen = new MapC();
    const queue = [];
    for (let i = 0; i < roots.length; i++) queue[queue.length] = roots[i];
    const visit = (x) => {
      if (x !== null && (typeof x === 'object' || typeof x === 'function') && !apply(mapHas, seen, [x])) {
        apply(mapSet, seen, [x, true]);
        queue[queue.length] = x;
      }
    };
    for (let i = 0; i < queue.length; i++) apply(mapSet, seen, [queue[i], true]);
    for (let q = 0; q < queue.length; q++) {
      const o = queue[q];
      const keys = ownKeys(o);
      const values = [];
      for (let i = 0; i < keys.length; i++) {
        const d = describe(o, keys[i]);
        const v = hasOwn(d, 'value') ? d.value : undefined;
        const get = hasOwn(d, 'get') ? d.get : undefined;
        const set = hasOwn(d, 'set') ? d.set : undefined;
        values[i * 4] = v;
        values[i * 4 + 1] = get;
        values[i * 4 + 2] = set;
        values[i * 4 + 3] = flags(d);
        visit(v);
        visit(get);
        visit(set);
      }
      const proto = getProto(o);
      visit(proto);
      objects[q] = o;
      protos[q] = proto;
      extensible[q] = isExtensible(o);
      keyLists[q] = keys;
      valueLists[q] = values;
    }
  };
  const check = () => {
    for (let q = 0; q < objects.length; q++) {
      const o = objects[q];
      if (getProto(o) !== protos[q] || isExtensible(o) !== extensible[q]) return false;
      const keys = keyLists[q];
      const values = valueLists[q];
      const now = ownKeys(o);
      if (now.length !== keys.length) return false;
      for (let i = 0; i < keys.length; i++) {
        if (now[i] !== keys[i]) return false;
        const d = describe(o, keys[i]);
        if (
          !same(hasOwn(d, 'value') ? d.value : undefined, values[i * 4]) ||
          (hasOwn(d, 'get') ? d.get : undefined) !== values[i * 4 + 1] ||
          (hasOwn(d, 'set') ? d.set : undefined) !== values[i * 4 + 2] ||
          flags(d) !== values[i * 4 + 3]
        ) {
          return false;
        }
      }
    }
    return true;
  };
  let factory;
  let run;
  // A batch's state, kept here so the host can read it back after a call of the batch timed out.
  let progress = null;
  let errors = [];
  const batch = (inputs, settings) => {
    const started = dateNow();
    progress = { outputs: [], failed: [], calls: settings.calls, nextCheck: settings.nextCheck, clean: true };
    errors = [];
    // The host's own draws: call counts after which to check besides the doubling schedule.
    const drawn = settings.checks;
    let d = 0;
    const outputs = progress.outputs;
    const failed = progress.failed;
    for (let i = 0; i < inputs.length; i++) {
      if (i > 0 && dateNow() - started >= settings.sliceMs) break;
      let phase = 'load';
      let output = null;
      try {
        apply(exec, emptyPattern, ['']);
        const made = factory();
        if (typeof made !== 'function') {
          phase = 'norun';
          failed[failed.length] = [i, phase];
        } else {
          phase = 'call';
          output = invoke(made, inputs[i]);
        }
      } catch (e) {
        errors[i] = e;
        failed[failed.length] = [i, phase];
      }
      outputs[i] = output;
      progress.calls++;
      let due = progress.calls === progress.nextCheck;
      if (due) progress.nextCheck *= 2;
      while (d < drawn.length && drawn[d] < progress.calls) d++;
      if (d < drawn.length && drawn[d] === progress.calls) due = true;
      if (due && !check()) {
        progress.clean = false;
        break;
      }
    }
    return progress;
  };
  return (op, a, b) => {
    if (op === 'batch') return batch(parse(a), parse(b));
    if (op === 'progress') return progress;
    if (op === 'rethrow') throw errors[a];
    if (op === 'load') {
      run = undefined;
      apply(exec, emptyPattern, ['']);
      const made = factory();
      if (typeof made !== 'function') return false;
      run = made;
      return true;
    }
    if (op === 'call') {
      const f = run;
      run = undefined;
      return invoke(f, a);
    }
    if (op === 'check') return check();
    if (op === 'init') {
      factory = a;
      const names = parse(b);
      for (let i = 0; i < names.length; i++) if (names[i] in G) return false;
      record();
      return true;
    }
    throw new Error('unknown screening operation');
  };
})`;
