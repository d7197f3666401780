import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolExecutionError, type ToolErrorKind } from '../../src/sandbox/errors.js';
import {
  analyzePython,
  closePythonHost,
  pythonProbe,
  pythonSelfCheck,
  pythonStats,
  warmPython,
} from '../../src/sandbox/python.js';
import { detectSecurityIssues } from '../../src/detection/static-analysis.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

const config = { ...defaultConfig().sandbox, timeout_ms: 300, memory_limit_mb: 16, max_output_bytes: 64 * 1024 };
const sandbox = new Sandbox(config);
/**
 * Hostile code and leaks between tools run in one shared interpreter: these test the Python layer
 * (typed endings, restoring what a call patched), not the wall of per-tool interpreters behind it
 * (test/unit/python-isolation.test.ts), and the next call runs where the hostile one ran.
 */
const layer = new Sandbox({ ...config, python_isolation: 'shared' });
/** For the memory bomb: time enough that only the memory limit can stop it, however loaded the machine. */
const roomyLayer = new Sandbox({ ...config, python_isolation: 'shared', timeout_ms: 20_000 });

beforeAll(async () => {
  await warmPython();
}, 120_000);
afterAll(async () => {
  sandbox.close();
  layer.close();
  roomyLayer.close();
  await closePythonHost();
});

/** Hostile code whose run() misbehaves only when asked to, so the next call of the same tool works. */
function hostile(body: string, prelude = ''): string {
  const indented = body
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');
  return `${prelude}\ndef run(input):\n    if isinstance(input, dict) and input.get('attack'):\n${indented}\n    return {'ok': True, 'echo': input}\n`;
}

function failure(key: string, code: string, input: unknown, box = layer): ToolExecutionError {
  try {
    box.run(key, code, input as never, 'python');
  } catch (err) {
    if (err instanceof ToolExecutionError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const cases: [string, string, ToolErrorKind, RegExp][] = [
  ['an infinite loop', 'while True:\n    pass', 'timeout', /time limit of 300 ms/],
  [
    'an infinite loop that swallows the interrupt',
    'while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass',
    'timeout',
    /time limit of 300 ms/,
  ],
  ['a thrown error', "raise ValueError('bad input shape')", 'thrown', /^ValueError: bad input shape$/],
  ['a function result', 'return lambda: 1', 'non_json_result', /result is a function/],
  ['a set result', 'return {1, 2}', 'non_json_result', /result is a set/],
  ['an object result', 'class K: pass\nreturn K()', 'non_json_result', /result is a K/],
  ['a NaN inside the result', "return {'score': float('nan')}", 'non_json_result', /result\['score'\] is nan/],
  ['an infinity', "return [float('inf')]", 'non_json_result', /result\[0\] is inf/],
  ['a non-string key', "return {1: 'a'}", 'non_json_result', /key that is not a string: int 1/],
  ['a cyclic result', "o = {}\no['self'] = o\nreturn o", 'non_json_result', /result\['self'\] is a cycle/],
  ['bytes', "return b'abc'", 'non_json_result', /result is a bytes/],
  ['a huge output', "return 'x' * 200000", 'output_too_large', /over the limit of 65536/],
  ['import os', "import os\nreturn os.listdir('/')", 'host_access', /import of 'os' is not available/],
  ['import sys', 'import sys\nreturn sys.version', 'host_access', /import of 'sys' is not available/],
  ['import subprocess', "import subprocess\nreturn subprocess.run(['ls'])", 'host_access', /import of 'subprocess'/],
  ['import socket', 'import socket\nreturn 1', 'host_access', /import of 'socket'/],
  [
    'import js reaching for process',
    'import js\nreturn str(js.process.env)',
    'host_access',
    /import of 'js' is not available/,
  ],
  [
    'pyodide.ffi',
    "from pyodide.ffi import to_js\nreturn to_js([]).constructor.constructor('return process')()",
    'host_access',
    /import of 'pyodide.ffi'/,
  ],
  ['__import__ of os', "return __import__('os').getcwd()", 'host_access', /import of 'os'/],
  ['importlib', "import importlib\nreturn importlib.import_module('os')", 'host_access', /import of 'importlib'/],
  ['open /etc/passwd', "return open('/etc/passwd').read()", 'host_access', /open is not available/],
  ['eval', "return eval('1 + 1')", 'host_access', /eval is not available/],
  ['exec', "exec('x = 1')\nreturn 1", 'host_access', /exec is not available/],
  ['compile', "return compile('1', 'x', 'eval')", 'host_access', /compile is not available/],
  [
    'a builtins walk through __loader__',
    "return __loader__.load_module('os')",
    'host_access',
    /__loader__ is not available/,
  ],
  [
    'getattr to a dunder',
    "return getattr((), '__cl' + 'ass__')",
    'host_access',
    /attribute '__class__' is not available/,
  ],
];

describe('python sandbox: hostile code ends as a typed failure and the next call works', () => {
  it.each(cases)('%s', (name, body, kind, message) => {
    const key = `hostile:${name}`;
    const code = hostile(body);
    expect(layer.run(key, code, { n: 1 }, 'python')).toEqual({ ok: true, echo: { n: 1 } });
    const err = failure(key, code, { attack: true });
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(message);
    expect(layer.run(key, code, { n: 2 }, 'python')).toEqual({ ok: true, echo: { n: 2 } });
  });

  it('a deep recursion', () => {
    // Time enough that only the recursion limit can stop it, however loaded the machine.
    const code = hostile('def f(n):\n    return f(n + 1) + 1\nreturn f(0)');
    const err = failure('recursion', code, { attack: true }, roomyLayer);
    expect(err.kind).toBe('thrown');
    expect(err.message).toMatch(/RecursionError: maximum recursion depth/);
    expect(roomyLayer.run('recursion', code, { n: 2 }, 'python')).toEqual({ ok: true, echo: { n: 2 } });
  });

  it('a memory bomb', () => {
    const code = hostile('hog = []\nwhile True:\n    hog.append([input] * 100000)');
    expect(roomyLayer.run('bomb', code, { n: 1 }, 'python')).toEqual({ ok: true, echo: { n: 1 } });
    const err = failure('bomb', code, { attack: true }, roomyLayer);
    expect(err.kind).toBe('memory_limit');
    expect(err.message).toMatch(/memory limit of 16 MB/);
    expect(roomyLayer.run('bomb', code, { n: 2 }, 'python')).toEqual({ ok: true, echo: { n: 2 } });
  });

  it('a classic escape in the source is refused before it runs', () => {
    const code = hostile('return [c.__name__ for c in ().__class__.__base__.__subclasses__()]');
    expect(failure('escape', code, { n: 1 }).kind).toBe('host_access');
  });

  it("a thrown error carries the class name and a traceback of the tool's own lines", () => {
    const code = 'def check(x):\n    raise KeyError(x)\n\ndef run(input):\n    return check(input)\n';
    const err = failure('traceback', code, 'missing');
    expect(err.kind).toBe('thrown');
    expect(err.toolErrorName).toBe('KeyError');
    expect(err.message).toBe("KeyError: 'missing'");
    expect(err.toolStack).toMatch(/line 5, in run/);
    expect(err.toolStack).toMatch(/line 2, in check/);
    expect(err.toolStack).not.toMatch(/dise_host/);
  });

  it('refuses a non-JSON input', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(failure('input', 'def run(x):\n    return x\n', cyclic).kind).toBe('invalid_input');
    expect(failure('input', 'def run(x):\n    return x\n', undefined).kind).toBe('invalid_input');
  });

  it('types code that does not load: a SyntaxError, no run(), a top-level raise, a top-level infinite loop', () => {
    expect(failure('syntax', 'def run(x) return x', 1).kind).toBe('compile_error');
    expect(failure('norun', 'def walk(x):\n    return x\n', 1).kind).toBe('compile_error');
    expect(failure('notcallable', 'run = 5\n', 1).kind).toBe('compile_error');
    expect(failure('toplevel-raise', "raise RuntimeError('boom')\ndef run(x):\n    return x\n", 1).message).toMatch(
      /failed to load: RuntimeError: boom/,
    );
    expect(failure('toplevel-loop', 'while True:\n    pass\ndef run(x):\n    return x\n', 1).kind).toBe('timeout');
  });

  it('JSON values come back as JSON: None, tuples as arrays, unicode, big structures through the port', () => {
    expect(layer.run('none', 'def run(x):\n    return None\n', 1, 'python')).toBeNull();
    expect(layer.run('tuple', 'def run(x):\n    return (x, [x, True])\n', 1, 'python')).toEqual([1, [1, true]]);
    expect(layer.run('unicode', 'def run(x):\n    return x + " ✓ é 😀"\n', 'ok', 'python')).toBe('ok ✓ é 😀');
    const big = 'x'.repeat(3 * 1024 * 1024);
    const wide = new Sandbox({ ...config, timeout_ms: 5000, memory_limit_mb: 128, max_output_bytes: 16 * 1024 * 1024 });
    expect(wide.run('big', 'def run(x):\n    return x + x\n', big, 'python')).toBe(big + big);
  });

  it('each tool is compiled once per interpreter and its calls are cheap', () => {
    const code = 'def run(x):\n    return x * 2\n';
    for (let i = 0; i < 200; i++) expect(layer.run('reuse', code, i, 'python')).toBe(i * 2);
  });
});

describe('python sandbox: state does not leak between tools nor between calls', () => {
  it("two tools do not see each other's globals", () => {
    layer.run(
      'a',
      'counter = 41\ndef run(x):\n    global counter\n    counter += 1\n    return counter\n',
      null,
      'python',
    );
    // globals() is gone from a tool's builtins: a NameError is what tool b can find of tool a.
    expect(
      layer.run(
        'b',
        "def run(x):\n    try:\n        return counter\n    except NameError:\n        return 'absent'\n",
        null,
        'python',
      ),
    ).toBe('absent');
  });

  it('a module-level counter starts afresh on every call', () => {
    const code = 'n = 0\ndef run(x):\n    global n\n    n += 1\n    return n\n';
    expect([1, 2, 3, 4, 5].map(() => layer.run('counter', code, null, 'python'))).toEqual([1, 1, 1, 1, 1]);
  });

  it('patched builtins and stdlib modules are restored for the next call and the next tool', () => {
    const taint =
      "import json, math\ndef run(x):\n    __builtins__['len'] = lambda v: 99\n    json.dumps = lambda v: 'evil'\n    math.pi = 3\n    return 0\n";
    layer.run('taint', taint, null, 'python');
    const look = 'import json, math\ndef run(x):\n    return [len([1]), json.dumps([1]), math.pi > 3.14]\n';
    expect(layer.run('look', look, null, 'python')).toEqual([1, '[1]', true]);
  });

  it('the JSON encoding of results does not depend on the stdlib a tool may patch', () => {
    const code = "import json\njson.JSONEncoder.encode = lambda self, o: 'evil'\ndef run(x):\n    return {'a': [x]}\n";
    expect(layer.run('encoder', code, 1, 'python')).toEqual({ a: [1] });
    // …and the patched class is restored for the next tool.
    expect(layer.run('encoder-look', 'import json\ndef run(x):\n    return json.dumps(x)\n', [1], 'python')).toBe(
      '[1]',
    );
  });
});

describe('python sandbox: the interpreter', () => {
  it('a tool keeps its interpreter across Sandboxes, and closing a Sandbox leaves it running', () => {
    const other = new Sandbox(config);
    expect(other.run('kept', 'def run(x):\n    return x + 1\n', 1, 'python')).toBe(2);
    const starts = pythonStats().starts;
    other.close();
    for (let i = 0; i < 5; i++) expect(sandbox.run('kept', 'def run(x):\n    return x + 1\n', i, 'python')).toBe(i + 1);
    expect(pythonStats().starts).toBe(starts);
  });

  it('per_tool: each new tool takes the spare interpreter (started from the snapshot); shared: one interpreter for all', () => {
    const before = pythonStats();
    expect(sandbox.run('own-1', 'def run(x):\n    return 1\n', null, 'python')).toBe(1);
    expect(sandbox.run('own-2', 'def run(x):\n    return 2\n', null, 'python')).toBe(2);
    const after = pythonStats();
    expect(after.starts - before.starts).toBeGreaterThanOrEqual(1); // spares replaced
    expect(after.snapshotStartMs).not.toBeNull();
    const shared = new Sandbox({ ...config, python_isolation: 'shared' });
    shared.run('shared-1', 'def run(x):\n    return 1\n', null, 'python');
    const starts = pythonStats().starts;
    for (let i = 0; i < 5; i++)
      expect(shared.run(`shared-${i + 2}`, 'def run(x):\n    return x\n', i, 'python')).toBe(i);
    expect(pythonStats().starts).toBe(starts);
  });

  it('keeps at most python_interpreters tool interpreters, retiring the least recently used', () => {
    const small = new Sandbox({ ...config, python_interpreters: 2 });
    for (let i = 0; i < 4; i++) expect(small.run(`lru-${i}`, `def run(x):\n    return ${i}\n`, null, 'python')).toBe(i);
    expect(pythonStats().interpreters).toBeLessThanOrEqual(3); // two domains and the spare
    expect(small.run('lru-0', 'def run(x):\n    return 0\n', null, 'python')).toBe(0); // started again
  });

  it('reaches no JavaScript: no JsProxy reachable from Python, no code generation, a stripped global', () => {
    const check = pythonSelfCheck();
    expect(check.reachableJs).toEqual([]);
    expect(check.codeGeneration).toMatch(/Code generation from strings disallowed/);
    for (const name of [
      'process',
      'require',
      'Buffer',
      'fetch',
      'setTimeout',
      'global',
      'WebSocket',
      'MessageChannel',
    ]) {
      expect(check.globals).not.toContain(name);
    }
  });

  it('code with every Python-level restriction gone (the full interpreter) still reaches nothing of the host', () => {
    // The Python layer is a first layer only (CPython cannot be sandboxed from inside): the probe runs
    // with the interpreter's own builtins and modules, as a tool that got past all of it would.
    const result = pythonProbe(`import sys, os, importlib
def attempt(f):
    try:
        return repr(f())[:120]
    except BaseException as e:
        return 'refused: ' + type(e).__name__ + ': ' + str(e)[:200]

mods = sys.modules
ffi = importlib.import_module('pyodide.ffi')
result = {
    'js_module': attempt(lambda: mods.get('js') or mods.get('pyodide_js') or 'absent'),
    'import_js': attempt(lambda: importlib.import_module('js').process),
    'import_pyodide_js': attempt(lambda: importlib.import_module('pyodide_js').mountNodeFS),
    'function_constructor': attempt(lambda: ffi.to_js([]).constructor.constructor('return process')()),
    'run_js': attempt(lambda: importlib.import_module('pyodide.code').run_js('process')),
    'system': attempt(lambda: (os.system('touch /tmp/dise-python-escape'), os.path.exists('/tmp/dise-python-escape'))),
    'passwd': attempt(lambda: open('/etc/passwd').read()),
    'listdir': attempt(lambda: os.listdir('/')),
    'socket': attempt(lambda: importlib.import_module('_socket').socket().connect(('127.0.0.1', 5432))),
}
`);
    const out = result as Record<string, string>;
    expect(Object.keys(out).sort()).toEqual([
      'function_constructor',
      'import_js',
      'import_pyodide_js',
      'js_module',
      'listdir',
      'passwd',
      'run_js',
      'socket',
      'system',
    ]);
    expect(out.js_module).toBe("'absent'");
    expect(out.import_js).toMatch(/^refused: ModuleNotFoundError/);
    expect(out.import_pyodide_js).toMatch(/^refused: ModuleNotFoundError/);
    expect(out.function_constructor).toMatch(/^refused: .*(not available|Code generation)/);
    expect(out.run_js).toMatch(/^refused/);
    expect(out.system).not.toMatch(/True/);
    expect(out.passwd).toMatch(/^refused: FileNotFoundError/);
    expect(out.listdir).not.toMatch(/(work|usr|etc|root)/); // emscripten's in-memory file system, not the host's
    expect(out.socket).toMatch(/^refused/);
    expect(existsSync('/tmp/dise-python-escape')).toBe(false);
    // The interpreter still serves tools.
    expect(sandbox.run('after-escape', 'def run(x):\n    return x\n', 5, 'python')).toBe(5);
  });

  it('a string annotation evaluated by typing cannot hand a tool the real builtins, and static analysis refuses such code', () => {
    const code =
      'import typing\n\nclass Probe:\n    mods: "__import__(\'sys\').modules"\n\ndef run(x):\n    return len(typing.get_type_hints(Probe))\n';
    expect(() => sandbox.run('annotation', code, null, 'python')).toThrow(/get_type_hints/);
    expect(detectSecurityIssues(code, 'python').failure).toMatchObject({
      failureType: 'security_vulnerability',
      severity: 'critical',
    });
  });

  it('leaves code generation on in the host process', () => {
    expect(new Function('return 7')()).toBe(7);
  });

  it('analyzePython reports definitions, imports, calls, names, attributes, tokens and statements', () => {
    const code =
      'import os.path\nfrom json import loads\n\ndef run(s):\n    if s:\n        return s.strip().lower()\n    return eval("1")\n';
    const analysis = analyzePython(code);
    expect(analysis.ok).toBe(true);
    if (!analysis.ok) return;
    expect(analysis.definesRun).toBe(true);
    expect(analysis.imports).toEqual([
      { module: 'os.path', line: 1 },
      { module: 'json', line: 2 },
    ]);
    expect(analysis.calls.map((c) => c.name)).toEqual(expect.arrayContaining(['s.strip', '<expr>.lower', 'eval']));
    expect(analysis.names).toContainEqual({ id: 'eval', line: 7, col: 11 });
    expect(analysis.attributes).toContainEqual({ attr: 'strip', line: 6, col: 17 });
    expect(analysis.tokens[0]).toEqual({ type: 'NAME', text: 'import', line: 1, col: 0 });
    expect(analysis.tokens.some((t) => t.type === 'NEWLINE' || t.type === 'INDENT')).toBe(false);
    expect(analysis.statements.map((s) => s.line)).toEqual([1, 2, 4, 5, 6, 7]);
    expect(analysis.statements.find((s) => s.line === 6)?.dump).toMatch(/^Return\(Call\(Attribute\(/);
    expect(analyzePython('x = lambda: 1\nrun = lambda x: x\n')).toMatchObject({ ok: true, definesRun: true });
    expect(analyzePython('def run(x):\n  return (\n')).toMatchObject({ ok: false, error: { line: 2 } });
  });
});

describe('python sandbox: what one tool does to shared things ends with its call', () => {
  const sb = new Sandbox({ ...defaultConfig().sandbox, timeout_ms: 5000 });
  afterAll(() => sb.close());

  it('a patched module member, an attribute set on a builtin, vars(): none reaches the next tool', () => {
    const patcher = "import re\n\ndef run(x):\n    re.sub = lambda *a: 'evil'\n    getattr.note = 1\n    return 1\n";
    const victim = "import re\n\ndef run(x):\n    return [re.sub('a', 'b', 'aa'), hasattr(getattr, 'note')]\n";
    expect(sb.run('patcher', patcher, null, 'python')).toBe(1);
    expect(sb.run('victim', victim, null, 'python')).toEqual(['bb', false]);
    expect(() =>
      sb.run('vars', 'import typing\n\ndef run(x):\n    return len(vars(typing))\n', null, 'python'),
    ).toThrow(/vars is not available/);
  });

  it('a module view holds no modules: typing.sys, re._compiler, dataclasses.inspect are not there', () => {
    const code =
      "import typing, re, dataclasses\n\ndef run(x):\n    return ['sys' in dir(typing), '_compiler' in dir(re), 'inspect' in dir(dataclasses), 'sub' in dir(re)]\n";
    expect(sb.run('views', code, null, 'python')).toEqual([false, false, false, true]);
  });

  it('an integer beyond 2**53 - 1 is not a JSON value (JSON numbers cannot carry it exactly)', () => {
    expect(() => sb.run('bigint', 'def run(x):\n    return 10**400\n', null, 'python')).toThrow(
      /integer beyond 2\*\*53 - 1/,
    );
    expect(sb.run('safeint', 'def run(x):\n    return 2**53 - 1\n', null, 'python')).toBe(2 ** 53 - 1);
  });

  it('code refused for a denied attribute is refused the same way on every call', () => {
    const code = 'def run(x):\n    return ().__class__\n';
    const kinds = [1, 2].map(() => {
      try {
        sb.run('denied', code, null, 'python');
        return 'ok';
      } catch (err) {
        return (err as { kind: string }).kind;
      }
    });
    expect(kinds).toEqual(['host_access', 'host_access']);
  });
});

describe('python sandbox: runAsync leaves the event loop free', () => {
  const ECHO_OR_SPIN = [
    'def run(x):',
    "    if x == 'spin':",
    '        while True:',
    '            pass',
    "    if x == 'slow':",
    '        n = 0',
    '        for i in range(300000):',
    '            n += i',
    '    return x',
  ].join('\n');

  it('answers as run() does, and a timer due during a spinning call fires before the call ends', async () => {
    expect(await sandbox.runAsync('async-echo', ECHO_OR_SPIN, 'hello', 'python')).toBe('hello');
    const order: string[] = [];
    const spinning = sandbox.runAsync('async-echo', ECHO_OR_SPIN, 'spin', 'python').catch((err: unknown) => {
      order.push('call ended');
      return err;
    });
    setTimeout(() => order.push('timer'), 5);
    const err = await spinning;
    expect(err).toBeInstanceOf(ToolExecutionError);
    expect((err as ToolExecutionError).kind).toBe('timeout');
    expect(order).toEqual(['timer', 'call ended']);
    expect(await sandbox.runAsync('async-echo', ECHO_OR_SPIN, 'after', 'python')).toBe('after');
  });

  it('a cancellation interrupts the tool at once: the call throws the reason, the interpreter serves the next call', async () => {
    const controller = new AbortController();
    const cancellable = new Sandbox({ ...config, timeout_ms: 60_000 }, { cancellation: () => controller.signal });
    try {
      const spinning = cancellable.runAsync('async-cancel', ECHO_OR_SPIN, 'spin', 'python').catch((e: unknown) => e);
      setTimeout(() => controller.abort(new Error('heal cancelled')), 50);
      expect(await spinning).toMatchObject({ message: 'heal cancelled' });
      expect(sandbox.run('async-cancel', ECHO_OR_SPIN, 'next', 'python')).toBe('next');
    } finally {
      cancellable.close();
    }
  });

  it('an interpreter working for an awaiting caller is not retired to make room for another tool', async () => {
    const one = new Sandbox({ ...config, timeout_ms: 5_000, python_interpreters: 1 });
    try {
      const slow = one.runAsync('evict-busy-a', ECHO_OR_SPIN, 'slow', 'python');
      await new Promise((r) => setTimeout(r, 20));
      expect(await one.runAsync('evict-busy-b', ECHO_OR_SPIN, 'other', 'python')).toBe('other');
      expect(await slow).toBe('slow');
    } finally {
      one.close();
    }
  });

  it('calls queued behind a runaway call run in the interpreter that replaces it, not the retired one', async () => {
    // The tool swallows the interrupt, so its interpreter is replaced; the two calls queued behind it
    // were sent nowhere yet and must answer from the new one.
    const runaway = [
      'def run(x):',
      "    if x == 'spin':",
      '        while True:',
      '            try:',
      '                while True:',
      '                    pass',
      '            except BaseException:',
      '                pass',
      '    return x',
    ].join('\n');
    // Slots enough that all three reach the interpreter's queue (one slot would queue them here).
    const box = new Sandbox({ ...config, timeout_ms: 300 }, { asyncConcurrency: 4 });
    try {
      expect(await box.runAsync('queued-runaway', runaway, 'warm', 'python')).toBe('warm');
      const restarts = pythonStats().restarts;
      const [spin, first, second] = await Promise.allSettled([
        box.runAsync('queued-runaway', runaway, 'spin', 'python'),
        box.runAsync('queued-runaway', runaway, 'first', 'python'),
        box.runAsync('queued-runaway', runaway, 'second', 'python'),
      ]);
      expect(spin).toMatchObject({ status: 'rejected', reason: { kind: 'timeout' } });
      expect(first).toEqual({ status: 'fulfilled', value: 'first' });
      expect(second).toEqual({ status: 'fulfilled', value: 'second' });
      expect(pythonStats().restarts).toBe(restarts + 1);
    } finally {
      box.close();
    }
  });

  it('a call cancelled while it waits for its turn never runs: no interrupt lost, no interpreter replaced', async () => {
    const counting = ['def run(x):', '    i = 0', "    while i < x['n']:", '        i += 1', '    return i'].join('\n');
    const controller = new AbortController();
    const box = new Sandbox({ ...config, timeout_ms: 20_000 }, { asyncConcurrency: 4 });
    const cancellable = new Sandbox(
      { ...config, timeout_ms: 20_000 },
      { asyncConcurrency: 4, cancellation: () => controller.signal },
    );
    try {
      expect(await box.runAsync('queued-cancel', counting, { n: 1 }, 'python')).toBe(1);
      const restarts = pythonStats().restarts;
      const ahead = box.runAsync('queued-cancel', counting, { n: 2_000_000 }, 'python');
      // Queued behind `ahead`; it would count for many seconds if it ran.
      const cancelled = cancellable
        .runAsync('queued-cancel', counting, { n: 2_000_000_000 }, 'python')
        .catch((e: unknown) => e);
      const behind = box.runAsync('queued-cancel', counting, { n: 10 }, 'python');
      setTimeout(() => controller.abort(new Error('heal cancelled')), 20);
      expect(await ahead).toBe(2_000_000);
      expect(await cancelled).toMatchObject({ message: 'heal cancelled' });
      expect(await behind).toBe(10);
      expect(pythonStats().restarts).toBe(restarts);
    } finally {
      box.close();
      cancellable.close();
    }
  });

  it('a call cancelled before it was sent leaves its tool uncompiled there: the next calls compile and answer', async () => {
    let controller = new AbortController();
    const box = new Sandbox(config, { cancellation: () => controller.signal });
    const code = 'def run(x):\n    return x * 2\n';
    try {
      const first = box.runAsync('cancel-unsent', code, 21, 'python').catch((e: unknown) => e);
      controller.abort(new Error('step cancelled'));
      expect(await first).toMatchObject({ message: 'step cancelled' });
      controller = new AbortController();
      expect(await box.runAsync('cancel-unsent', code, 1, 'python')).toBe(2);
      expect(box.run('cancel-unsent', code, 5, 'python')).toBe(10);
    } finally {
      box.close();
    }
  });

  it('a call whose time runs out while its code compiles leaves the tool uncompiled there: the next call compiles it', async () => {
    // 1,500 lines: compiling takes longer than the first call's 15 ms limit, and ends within the
    // interrupt's 250 ms grace (a compile past it replaces the interpreter, which hides the bug).
    const lines = Array.from({ length: 1500 }, (_, i) => `v${i} = ${i}`).join('\n');
    const code = `${lines}\ndef run(x):\n    return x + 1\n`;
    // The second call's limit leaves its compile time enough on a loaded machine.
    const roomy = new Sandbox({ ...config, timeout_ms: 20_000 });
    try {
      await expect(roomy.runJsonAsync('compile-interrupted', code, '1', 'python', 15)).rejects.toMatchObject({
        kind: 'timeout',
      });
      expect(await roomy.runAsync('compile-interrupted', code, 1, 'python')).toBe(2);
    } finally {
      roomy.close();
    }
  });

  it('a synchronous call of the same tool while an asynchronous one runs: each gets its own answer', async () => {
    const slow = sandbox.runAsync('async-mixed', ECHO_OR_SPIN, 'slow', 'python');
    await new Promise((r) => setTimeout(r, 20));
    expect(sandbox.run('async-mixed', ECHO_OR_SPIN, 'quick', 'python')).toBe('quick');
    expect(await slow).toBe('slow');
    const both = await Promise.all([
      sandbox.runAsync('async-mixed', ECHO_OR_SPIN, 'slow', 'python'),
      sandbox.runAsync('async-mixed', ECHO_OR_SPIN, 'second', 'python'),
    ]);
    expect(both).toEqual(['slow', 'second']);
  });
});
