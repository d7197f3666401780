import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { closePythonHost, pythonProbe, setPythonDefencesOffForTests, warmPython } from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

// One tool cannot change another's answers, even past the Python layer. The hostile tool here runs
// with every Python-level defence switched off (the interpreter's own builtins and modules, no source
// checks, no module restore, no audit refusals): what a tool that found a way past all of them could
// do. It rewrites shared module state and the sandbox host's own encoder through the frames.

const HOSTILE = `import builtins, json, math, re, sys
def run(x):
    math.pi = 3
    json.loads = lambda s, **k: 'pwned'
    sys.modules['re'].sub = lambda *a, **k: 'pwned'
    builtins.len = lambda o: 42
    builtins.sorted = lambda *a, **k: ['pwned']
    # The host's call() is the caller's frame: its globals are the sandbox's own namespace.
    host = sys._getframe(1).f_globals
    host['_encode'] = lambda value, indent: ['"pwned"']
    host['ALLOWED_MODULES'] = frozenset({'os', 'sys'})
    return 'the encoder answers for this'
`;

const VICTIM = `import json, math, re
def run(s):
    return [round(math.pi, 5), len(s), re.sub('a', 'b', s), json.loads('[1]'), sorted([2, 1])]
`;
const EXPECTED = [3.14159, 3, 'bbc', [1], [1, 2]];

const base = { ...defaultConfig().sandbox, timeout_ms: 5000, memory_limit_mb: 32 };

beforeAll(async () => {
  await warmPython();
  setPythonDefencesOffForTests(['hostile-own', 'hostile-shared']);
}, 120_000);
afterAll(async () => {
  setPythonDefencesOffForTests([]);
  await closePythonHost();
});

describe("one Python tool cannot change another's answers", () => {
  it('per_tool: a tool past every Python-level defence rewrites its interpreter; the next tool answers as before', () => {
    const sandbox = new Sandbox({ ...base, python_isolation: 'per_tool' });
    expect(sandbox.run('victim-own', VICTIM, 'abc', 'python')).toEqual(EXPECTED);
    // The rewrite took at once: the host's encoder, replaced, answers for its own result.
    expect(sandbox.run('hostile-own', HOSTILE, null, 'python')).toBe('pwned');
    for (let i = 0; i < 3; i++) expect(sandbox.run('victim-own', VICTIM, 'abc', 'python')).toEqual(EXPECTED);
    expect(sandbox.run('victim-own-2', VICTIM.replace('[1]', '[2]'), 'abc', 'python')).toEqual([
      3.14159,
      3,
      'bbc',
      [2],
      [1, 2],
    ]);
    sandbox.close();
  });

  it('shared (the control): the same tool does change what the next tool computes', () => {
    const sandbox = new Sandbox({ ...base, python_isolation: 'shared' });
    expect(sandbox.run('victim-shared', VICTIM, 'abc', 'python')).toEqual(EXPECTED);
    expect(sandbox.run('hostile-shared', HOSTILE, null, 'python')).toBe('pwned');
    // The victim's answer is now the hostile tool's: its encoder, and its error answers broken too.
    let answer: unknown;
    try {
      answer = sandbox.run('victim-shared', VICTIM, 'abc', 'python');
    } catch (err) {
      answer = err;
    }
    expect(answer).not.toEqual(EXPECTED);
    sandbox.close();
  });
});

describe('the audit hook behind the Python layer', () => {
  it('refuses files, directories, processes, frames and the object lists to code running as a tool, even with the full builtins', () => {
    const code = `import os, sys, gc, importlib
def attempt(f):
    try:
        return 'answered: ' + repr(f())[:80]
    except BaseException as e:
        return type(e).__name__ + ': ' + str(e)[:120]
result = {
    'open': attempt(lambda: open('/etc/passwd').read()),
    'listdir': attempt(lambda: os.listdir('/')),
    'scandir': attempt(lambda: list(os.scandir('/home'))),
    'system': attempt(lambda: os.system('true')),
    'putenv': attempt(lambda: os.putenv('X', '1')),
    'getframe': attempt(lambda: sys._getframe(0)),
    'objects': attempt(lambda: len(gc.get_objects())),
    'referrers': attempt(lambda: gc.get_referrers(os)),
    'popen': attempt(lambda: importlib.import_module('subprocess').Popen(['ls'])),
    'stdlib': attempt(lambda: importlib.import_module('sched').__name__ == 'sched'),
}
`;
    // In an interpreter of its own: the control above left the shared one rewritten.
    const asTool = pythonProbe(code, 'audit-probe', { asTool: true }) as Record<string, string>;
    for (const key of ['open', 'listdir', 'scandir', 'system', 'putenv', 'getframe', 'objects', 'referrers']) {
      expect(asTool[key], key).toMatch(/^SandboxAccessError: .*not available in the sandbox/);
    }
    // Processes: emscripten has none to start (refused before the audit event would fire).
    expect(asTool.popen).not.toMatch(/^answered/);
    // A module of the interpreter's own standard library still loads (lazy imports read /lib).
    expect(asTool.stdlib).toBe('answered: True');
    // The same code as the host's own (not a tool): the hook lets it through.
    const asHost = pythonProbe(code, 'audit-probe') as Record<string, string>;
    expect(asHost.listdir).toMatch(/^answered/);
    expect(asHost.getframe).toMatch(/^answered/);
  });
});
