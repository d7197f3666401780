import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { detectSecurityIssues } from '../../src/detection/static-analysis.js';
import { judgeVersion } from '../../src/judge/judge.js';
import { ToolExecutionError, type ToolErrorKind } from '../../src/sandbox/errors.js';
import { closePythonHost, warmPython } from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

// Escape attempts against the Python layer, grouped by technique. Every attempt must:
//  - be refused by static analysis where the source can tell (the judge then runs none of it), and
//  - when run (as if analysis had missed it, or where only the run time can tell), end as a typed
//    failure, with no text of another module's real state, the interpreter's environment or the file
//    system in what comes back;
//  - and the next call of an ordinary tool must answer correctly.
// Many build the names they reach for at run time, as a generator would: no dunder in the source.

/** The corpus runs in one shared interpreter: it tests the Python layer, not the wall behind it. */
const config = {
  ...defaultConfig().sandbox,
  timeout_ms: 2000,
  memory_limit_mb: 32,
  python_isolation: 'shared' as const,
};
const sandbox = new Sandbox(config);

beforeAll(async () => {
  await warmPython();
}, 120_000);
afterAll(async () => {
  sandbox.close();
  await closePythonHost();
});

/** Names a generator would build at run time. */
const D = "u = '_' * 2\n";
const dunder = (name: string) => `(u + '${name}' + u)`;

interface Attempt {
  name: string;
  code: string;
  /** What the run must end as (default host_access). */
  kind?: ToolErrorKind;
  /**
   * Static analysis refuses it (default). false: the source cannot tell (a format string or a field
   * name built at run time): the run time refuses it, and the judge sees that failure.
   */
  static?: boolean;
}

const groups: Record<string, Attempt[]> = {
  'match class patterns': [
    {
      name: 'keyword dunder on a public function of an allowed module (the reported path)',
      code: `import json\ndef run(x):\n    match json.dumps:\n        case object(__globals__=g):\n            return sorted(g['codecs'].sys.modules)\n    return None\n`,
    },
    {
      name: 'keyword __class__ then __subclasses__',
      code: `def run(x):\n    match ():\n        case object(__class__=c):\n            return str(c)\n    return None\n`,
    },
    {
      name: 'keyword gi_frame on a generator',
      code: `def run(x):\n    def g():\n        yield 1\n    match g():\n        case object(gi_frame=f):\n            return str(f)\n    return None\n`,
    },
    {
      name: 'keyword private name',
      code: `import random\ndef run(x):\n    match random.Random():\n        case object(_inst=i):\n            return str(i)\n    return None\n`,
    },
    {
      name: 'keyword format (an unguarded formatter)',
      code: `def run(x):\n    match 'a':\n        case str(format=f):\n            return f()\n    return None\n`,
    },
    {
      name: 'nested in a sequence pattern',
      code: `import json\ndef run(x):\n    match [json.loads]:\n        case [object(__dict__=d)]:\n            return str(d)\n    return None\n`,
    },
    {
      name: 'positional through a make_dataclass field named at run time',
      code: `${D}import dataclasses, json\ndef run(x):\n    K = dataclasses.make_dataclass('K', [${dunder('globals')}])\n    match json.dumps:\n        case K(g):\n            return str(g)\n    return None\n`,
    },
    {
      name: 'positional through a metaclass made at run time that matches anything',
      code: `${D}import json\ndef run(x):\n    T = type(int)\n    M = T('M', (T,), {${dunder('instancecheck')}: lambda c, o: True})\n    K = M('K', (), {${dunder('match_args')}: (${dunder('globals')},)})\n    match json.dumps:\n        case K(g):\n            return str(g)\n    return None\n`,
    },
    {
      name: 'positional on a rebound built-in name',
      code: `${D}import json\ndef run(x):\n    T = type(int)\n    str = T('S', (), {${dunder('match_args')}: (${dunder('globals')},)})\n    match json.dumps:\n        case str(g):\n            return repr(g)\n    return None\n`,
    },
    {
      name: 'positional on an Enum given __match_args__ at run time',
      code: `${D}import enum, json\ndef run(x):\n    E = enum.Enum('E', [(${dunder('match_args')}, (${dunder('globals')},)), ('A', 1)])\n    match json.dumps:\n        case E(g):\n            return str(g)\n    return None\n`,
    },
  ],
  'format strings': [
    {
      name: 'str.format with a field built at run time (the reported path)',
      static: false,
      code: `${D}import json\ndef run(x):\n    return ('{0.' + ${dunder('globals')} + '}').format(json.dumps)\n`,
    },
    {
      name: 'format_map with a field built at run time',
      static: false,
      code: `${D}import json\ndef run(x):\n    return ('{f.' + ${dunder('globals')} + '}').format_map({'f': json.dumps})\n`,
    },
    {
      name: 'unbound str.format',
      static: false,
      code: `${D}import json\ndef run(x):\n    return str.format('{0.' + ${dunder('globals')} + '}', json.dumps)\n`,
    },
    {
      name: 'the bound method kept in a variable',
      static: false,
      code: `${D}import json\ndef run(x):\n    f = ('{0.' + ${dunder('globals')} + '}').format\n    return f(json.dumps)\n`,
    },
    {
      name: 'the method through getattr',
      code: `${D}import json\ndef run(x):\n    return getattr('{0.' + ${dunder('globals')} + '}', 'for' + 'mat')(json.dumps)\n`,
    },
    {
      name: 'through type(s).format',
      static: false,
      code: `${D}import json\ndef run(x):\n    s = '{0.' + ${dunder('globals')} + '}'\n    return type(s).format(s, json.dumps)\n`,
    },
    {
      name: 'a field nested in the format spec',
      static: false,
      code: `${D}import json\ndef run(x):\n    return ('{0:{1.' + ${dunder('class')} + '}}').format(1, json.dumps)\n`,
    },
    {
      name: 'frames without a dunder: gi_frame.f_back.f_globals',
      code: `def run(x):\n    def g():\n        yield '{0.gi_frame.f_back.f_globals}'.format(it)\n    it = g()\n    return next(it)\n`,
    },
    {
      name: 'the same with names from chr()',
      static: false,
      code: `def run(x):\n    def g():\n        yield ('{0.' + 'gi' + chr(95) + 'frame.f' + chr(95) + 'globals}').format(it)\n    it = g()\n    return next(it)\n`,
    },
    {
      name: 'a str subclass calling super().format',
      static: false,
      code: `${D}import json\nclass S(str):\n    def show(self, o):\n        return super().format(o)\ndef run(x):\n    return S('{0.' + ${dunder('globals')} + '}').show(json.dumps)\n`,
    },
    {
      name: 'map(str.format, …)',
      static: false,
      code: `${D}import json\ndef run(x):\n    return list(map(str.format, ['{0.' + ${dunder('globals')} + '}'], [json.dumps]))\n`,
    },
    {
      name: 'functools.partial(str.format, …)',
      static: false,
      code: `${D}import functools, json\ndef run(x):\n    return functools.partial(str.format, '{0.' + ${dunder('globals')} + '}')(json.dumps)\n`,
    },
    {
      name: 'string.Formatter',
      code: `${D}import string, json\ndef run(x):\n    return str(string.Formatter().get_field('0.' + ${dunder('globals')}, (json.dumps,), {}))\n`,
    },
    {
      name: 'a field string assembled with %',
      static: false,
      code: `${D}import json\ndef run(x):\n    return ('{0.%s}' % ${dunder('globals')}).format(json.dumps)\n`,
    },
    {
      name: 'string.Template cannot walk attributes',
      static: false,
      kind: 'thrown',
      code: `${D}import string, json\ndef run(x):\n    class T(string.Template):\n        braceidpattern = r'[a-z_.]+'\n    return T('\${f.' + ${dunder('globals')} + '}').substitute({'f': json.dumps})\n`,
    },
    {
      name: 'an unguarded formatter copied by update_wrapper',
      code: `import functools\nclass W:\n    pass\ndef run(x):\n    w = W()\n    functools.update_wrapper(w, '{0.gi_code}', assigned=('for' + 'mat',), updated=())\n    return w.format(1)\n`,
    },
  ],
  'operator helpers and getattr by name': [
    {
      name: 'attrgetter with a name built at run time',
      code: `${D}import operator, json\ndef run(x):\n    return str(operator.attrgetter(${dunder('globals')})(json.dumps))\n`,
    },
    {
      name: 'methodcaller',
      code: `${D}import operator\ndef run(x):\n    return str(operator.methodcaller(${dunder('subclasses')})(object))\n`,
    },
    {
      name: 'attrgetter fetched with getattr',
      code: `${D}import operator, json\ndef run(x):\n    return str(getattr(operator, 'attr' + 'getter')(${dunder('globals')})(json.dumps))\n`,
    },
    {
      name: 'functools.reduce(getattr, names, obj)',
      code: `${D}import functools, json\ndef run(x):\n    return str(functools.reduce(getattr, [${dunder('globals')}], json.dumps))\n`,
    },
    {
      name: 'getattr with a name from bytes',
      code: `import json\ndef run(x):\n    return str(getattr(json.dumps, bytes([95, 95, 103, 108, 111, 98, 97, 108, 115, 95, 95]).decode()))\n`,
    },
    {
      name: 'hasattr probing',
      static: false,
      code: `${D}import json\ndef run(x):\n    return hasattr(json.dumps, ${dunder('globals')})\n`,
    },
    {
      name: 'setattr of __match_args__',
      code: `${D}class K:\n    pass\ndef run(x):\n    setattr(K, ${dunder('match_args')}, ('x',))\n    return 1\n`,
    },
    {
      name: 'a private module member by getattr',
      code: `import random\ndef run(x):\n    return str(getattr(random.Random(), '_' + 'randbelow'))\n`,
    },
    {
      name: 'a name from base64',
      code: `import base64, json\ndef run(x):\n    return str(getattr(json.dumps, base64.b64decode('X19nbG9iYWxzX18=').decode()))\n`,
    },
    {
      name: 'a name from a reversed string',
      code: `import json\ndef run(x):\n    return str(getattr(json.dumps, ''.join(reversed('__slabolg__'))))\n`,
    },
  ],
  'descriptors and class hooks': [
    {
      name: 'a descriptor __get__',
      code: `class D:\n    def __get__(self, obj, owner):\n        return owner\nclass K:\n    d = D()\ndef run(x):\n    return str(K().d)\n`,
    },
    {
      name: '__set_name__',
      code: `class D:\n    def __set_name__(self, owner, name):\n        self.owner = owner\nclass K:\n    d = D()\ndef run(x):\n    return 1\n`,
    },
    {
      name: '__init_subclass__',
      code: `class B:\n    def __init_subclass__(cls, **kw):\n        cls.kw = kw\nclass K(B):\n    pass\ndef run(x):\n    return 1\n`,
    },
    {
      name: '__class_getitem__',
      code: `class K:\n    def __class_getitem__(cls, item):\n        return item\ndef run(x):\n    return str(K[1])\n`,
    },
    {
      name: 'a metaclass with __prepare__ renaming keys',
      code: `class M(type):\n    @classmethod\n    def __prepare__(mcs, name, bases):\n        return {}\nclass K(metaclass=M):\n    pass\ndef run(x):\n    return 1\n`,
    },
    {
      name: '__instancecheck__',
      code: `class M:\n    def __instancecheck__(self, other):\n        return True\ndef run(x):\n    return 1\n`,
    },
    {
      name: '__getattr__ on a class',
      code: `class K:\n    def __getattr__(self, name):\n        return name\ndef run(x):\n    return K().anything\n`,
    },
    {
      name: '__mro_entries__',
      code: `class B:\n    def __mro_entries__(self, bases):\n        return (object,)\nclass K(B()):\n    pass\ndef run(x):\n    return 1\n`,
    },
    {
      name: 'a class made at run time with dataclass code injected through a field name',
      static: false,
      code: `${D}import dataclasses\ndef run(x):\n    T = type(int)\n    K = T('K', (), {${dunder('annotations')}: {"a=open('/etc/passwd').read()": int}})\n    return str(dataclasses.dataclass(K)())\n`,
    },
    {
      name: 'make_dataclass with a dunder field built at run time',
      static: false,
      code: `${D}import dataclasses\ndef run(x):\n    return str(dataclasses.make_dataclass('K', [${dunder('globals')}]))\n`,
    },
    {
      name: 'make_dataclass with a namespace key built at run time',
      static: false,
      code: `${D}import dataclasses\ndef run(x):\n    return str(dataclasses.make_dataclass('K', ['a'], namespace={${dunder('match_args')}: (${dunder('globals')},)}))\n`,
    },
    {
      name: 'a dataclass base carrying fields made at run time',
      static: false,
      code: `${D}import dataclasses\ndef run(x):\n    T = type(int)\n    f = dataclasses.field()\n    f.name = "a=open('/etc/passwd')"\n    B = T('B', (), {${dunder('dataclass_fields')}: {'a': f}})\n    return str(dataclasses.make_dataclass('K', ['b'], bases=(B,)))\n`,
    },
  ],
  'generator, coroutine and traceback frames': [
    {
      name: 'gi_frame.f_back',
      code: `def run(x):\n    def g():\n        yield it.gi_frame.f_back\n    it = g()\n    return str(next(it))\n`,
    },
    {
      name: 'gi_frame by getattr with a built name',
      code: `def run(x):\n    def g():\n        yield 1\n    return str(getattr(g(), 'gi' + '_frame'))\n`,
    },
    {
      name: 'cr_frame of a coroutine by format',
      static: false,
      code: `def run(x):\n    async def c():\n        return 1\n    co = c()\n    try:\n        return ('{0.cr' + '_frame.f' + '_back}').format(co)\n    finally:\n        co.close()\n`,
    },
    {
      name: 'ag_frame of an async generator',
      code: `def run(x):\n    async def a():\n        yield 1\n    return str(getattr(a(), 'ag' + '_frame'))\n`,
    },
    {
      name: 'a traceback frame through the exception',
      code: `def run(x):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n        return str(e.__traceback__.tb_frame.f_globals)\n`,
    },
    {
      name: 'a traceback frame by a built name',
      code: `${D}def run(x):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n        return str(getattr(getattr(e, ${dunder('traceback')}), 'tb' + '_frame'))\n`,
    },
    {
      name: 'a traceback frame by format',
      static: false,
      code: `${D}def run(x):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n        return ('{0.' + ${dunder('traceback')} + '.tb_frame.f_globals}').format(e)\n`,
    },
    {
      name: 'gi_code then co_consts',
      code: `def run(x):\n    def g():\n        yield 1\n    return str(g().gi_code.co_consts)\n`,
    },
  ],
  'exception attributes': [
    {
      name: '__context__ of a chained exception',
      code: `def run(x):\n    try:\n        try:\n            1 / 0\n        except ZeroDivisionError:\n            raise ValueError('x')\n    except ValueError as e:\n        return str(e.__context__.__traceback__)\n`,
    },
    {
      name: "an exception group member's traceback by format",
      static: false,
      code: `${D}def run(x):\n    try:\n        raise ExceptionGroup('g', [ValueError('v')])\n    except ExceptionGroup as eg:\n        return ('{0.exceptions[0].' + ${dunder('traceback')} + '}').format(eg)\n`,
    },
    {
      name: "the sandbox's own ImportError walked to its frames",
      code: `${D}def run(x):\n    try:\n        import os\n    except ImportError as e:\n        return ('{0.' + ${dunder('traceback')} + '.tb_frame.f_back}').format(e)\n`,
    },
    {
      name: 'AttributeError.obj then its globals',
      static: false,
      code: `${D}import json\ndef run(x):\n    try:\n        json.dumps.nothing\n    except AttributeError as e:\n        return ('{0.obj.' + ${dunder('globals')} + '}').format(e)\n`,
    },
  ],
  decorators: [
    {
      name: 'functools.wraps copying a dunder built at run time',
      static: false,
      code: `${D}import functools, json\ndef run(x):\n    @functools.wraps(json.dumps, assigned=(${dunder('globals')},), updated=())\n    def w():\n        pass\n    return 1\n`,
    },
    {
      name: 'update_wrapper then dataclasses.asdict to read it back',
      static: false,
      code: `${D}import dataclasses, functools, json\ndef run(x):\n    n = ${dunder('builtins')}\n    K = dataclasses.make_dataclass('K', [n])\n    w = K(None)\n    functools.update_wrapper(w, json.dumps, assigned=(n,), updated=())\n    return str(dataclasses.asdict(w)[n])\n`,
    },
    {
      name: 'singledispatch registering a string annotation (eval)',
      code: `${D}import functools\ndef run(x):\n    @functools.singledispatch\n    def f(a):\n        return 0\n    A = '().' + ${dunder('class')}\n    def g(a: A):\n        return 1\n    f.register(g)\n    return 1\n`,
    },
    {
      name: '@input as a decorator: a call the source does not spell',
      code: `def run(x):\n    @input\n    def f():\n        pass\n    return 1\n`,
    },
    { name: '@vars as a decorator', code: `def run(x):\n    @vars\n    class K:\n        a = 1\n    return str(K)\n` },
    {
      name: 'a class decorated into a dataclass after its annotations were replaced',
      code: `${D}import dataclasses\ndef run(x):\n    class K:\n        a: int = 1\n    setattr(K, ${dunder('annotations')}, {"b=open('/etc/passwd')": int})\n    return str(dataclasses.dataclass(K)())\n`,
    },
  ],
  'module internals and imports': [
    { name: 'import os', code: `def run(x):\n    import os\n    return os.listdir('/')\n` },
    {
      name: '__import__ of a name built at run time',
      code: `def run(x):\n    return str(__import__('o' + 's').environ)\n`,
    },
    { name: 'sys._getframe', code: `def run(x):\n    import sys\n    return str(sys._getframe().f_back.f_globals)\n` },
    {
      name: 'a private module member',
      static: false,
      kind: 'thrown',
      code: `import re\ndef run(x):\n    return str(re._compiler)\n`,
    },
    {
      name: 'typing.get_type_hints on a string annotation built at run time',
      code: `${D}import typing\ndef run(x):\n    def f(a: '().' + ${dunder('class')}):\n        pass\n    return str(typing.get_type_hints(f))\n`,
    },
    {
      name: "the classic walk to object's subclasses",
      code: `def run(x):\n    return str(().__class__.__base__.__subclasses__())\n`,
    },
    { name: 'globals() to replace the format guard', code: `def run(x):\n    globals()['x'] = 1\n    return 1\n` },
    {
      name: 'the builtins of a module function',
      code: `import json\ndef run(x):\n    return str(json.dumps.__builtins__['open']('/etc/passwd').read())\n`,
    },
  ],
};

/** Text that would show another module's real state, the environment or the file system. */
const LEAK =
  /worker\.mjs|<module|environ|\/lib\/python|root:x:|posix|sys\.modules|'codecs'|HOME|\/home\/pyodide|<frame|_default_encoder/;

const ordinary = 'def run(s):\n    return s.strip().lower()\n';
let index = 0;

describe('the Python escape corpus', () => {
  const total = Object.values(groups).reduce((n, g) => n + g.length, 0);
  it(`holds at least 60 attempts (${total}), in ${Object.keys(groups).length} techniques`, async () => {
    expect(total).toBeGreaterThanOrEqual(60);
  });

  for (const [technique, attempts] of Object.entries(groups)) {
    describe(technique, () => {
      for (const attempt of attempts) {
        const key = `corpus-${index++}`;
        it(attempt.name, async () => {
          // Refused at analysis: the judge would run none of it.
          const { failure } = detectSecurityIssues(attempt.code, 'python');
          if (attempt.static === false) expect(failure).toBeNull();
          else
            expect(failure, `static analysis found nothing in:\n${attempt.code}`).toMatchObject({
              failureType: 'security_vulnerability',
              severity: 'critical',
            });
          // Run anyway: a typed failure that shows nothing it should not.
          let error: unknown = null;
          let output: unknown;
          try {
            output = sandbox.run(key, attempt.code, { attack: true }, 'python');
          } catch (err) {
            error = err;
          }
          expect(error, `the attempt answered ${JSON.stringify(output)?.slice(0, 300)}`).toBeInstanceOf(
            ToolExecutionError,
          );
          const e = error as ToolExecutionError;
          expect(e.kind).toBe(attempt.kind ?? 'host_access');
          expect(`${e.message}\n${e.stack ?? ''}`).not.toMatch(LEAK);
          // An ordinary tool still answers correctly.
          expect(sandbox.run('corpus-ordinary', ordinary, '  Hello World ', 'python')).toBe('hello world');
        });
      }
    });
  }
});

describe('the two reported paths, through the judge', () => {
  const judge = async (code: string) => {
    const judged = new Sandbox({ ...defaultConfig().sandbox });
    try {
      return await judgeVersion(judged, {
        id: 'escape@1.0.0',
        code,
        language: 'python',
        suite: [{ id: 1, name: 'answers', input: 'x', expected: null, critical: true }],
        rules: [],
        baseline: null,
        replayInputs: [],
      });
    } finally {
      judged.close();
    }
  };

  it('a dunder keyword in a class pattern: refused at registration by static analysis, none of it run', async () => {
    const verdict = await judge(groups['match class patterns']![0]!.code);
    expect(verdict.passed).toBe(false);
    expect(verdict.testsRun).toBe(0);
    expect(verdict.failures).toEqual([expect.objectContaining({ failureType: 'security_vulnerability' })]);
    expect(JSON.stringify(verdict.failures)).toMatch(/match_attribute/);
  });

  it('a format string built at run time: the source cannot tell, the run refuses it, and the judge refuses the version', async () => {
    const verdict = await judge(groups['format strings']![0]!.code);
    expect(verdict.passed).toBe(false);
    expect(verdict.testsRun).toBe(1);
    const text = JSON.stringify(verdict.failures);
    expect(text).toMatch(/host_access|not available in the sandbox/);
    expect(text).not.toMatch(LEAK);
  });
});
