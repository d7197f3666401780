# The trusted half of the Python sandbox, run once in each Pyodide interpreter (src/sandbox/python.ts)
# before any tool. It is executed in a namespace of its own, never registered as an importable module.
#
# A tool is compiled once per key; every call runs that code object in a fresh globals dict whose
# __builtins__ is a fresh copy of SAFE_BUILTINS (no open/eval/exec/compile/input/breakpoint, an
# __import__ that admits only ALLOWED_MODULES), then calls run(input) and checks that the result is
# strictly a JSON value before serialising it with encoders captured here, before any tool ran.
#
# Python-level restrictions are a first layer that types the obvious attempts (host_access); they are
# not the boundary. CPython cannot be sandboxed from inside (object graph walks reach sys), so the
# boundary is the worker that runs the interpreter (python-worker.mjs): no JS module registered, no
# JsProxy reachable from any Python object, a stripped JS global, no code generation from strings and
# Node's fs / child_process / vm / ws gutted in that thread.

import ast as _ast
import builtins as _builtins
import gc as _gc
import io as _io
import json as _json
import json.decoder as _json_decoder
import json.scanner as _json_scanner
import linecache as _linecache
import functools as _functools
import math as _math
import string as _string_module
import _string
import sys as _sys
import token as _token
import tokenize as _tokenize
import traceback as _traceback

ALLOWED_MODULES = frozenset({
    're', 'json', 'math', 'cmath', 'string', 'itertools', 'functools', 'collections', 'collections.abc',
    'datetime', 'unicodedata', 'decimal', 'fractions', 'statistics', 'operator', 'heapq', 'bisect',
    'textwrap', 'typing', 'dataclasses', 'enum', 'copy', 'base64', 'hashlib', 'urllib.parse', 'random',
    'difflib', 'numbers', 'abc', 'html', 'binascii', 'struct', 'calendar', 'pprint', 'reprlib',
    'contextlib', 'array', 'zlib', 'uuid', 'secrets', 'colorsys', 'graphlib', 'keyword',
})

# Built-ins a tool runs into when it reaches for the host (typed host_access, like HOST_GLOBALS in JS).
HOST_NAMES = frozenset({
    'open', 'eval', 'exec', 'compile', 'input', 'breakpoint', 'help', 'exit', 'quit', 'copyright',
    'credits', 'license', '__loader__', '__spec__',
    # vars(obj) is obj.__dict__: a type's dict holds the descriptors that read any function's globals.
    # globals() would let a tool replace the guards the compiler wires into its code.
    'vars', 'globals', 'locals',
})

# Members of allowed modules that look attributes up by a name given as data, past getattr's guard.
HIDDEN_MEMBERS = {
    'operator': frozenset({'attrgetter', 'methodcaller'}),
    'string': frozenset({'Formatter'}),
    # These evaluate string annotations with eval() and, for a class, the interpreter's own builtins.
    'typing': frozenset({'get_type_hints', 'ForwardRef', 'evaluate_forward_ref', 'get_annotations'}),
    # register() reads a function's string annotations with typing.get_type_hints: eval of text the
    # source never showed.
    'functools': frozenset({'singledispatch', 'singledispatchmethod'}),
}

# Attributes that walk from any object to the interpreter's internals (the classic escapes:
# ().__class__.__base__.__subclasses__(), f.__globals__, a traceback's frames). Refused in the tool's
# source (typed host_access at compile time) and by the sandbox's getattr/setattr/delattr/hasattr.
DENIED_ATTRIBUTES = frozenset({
    '__class__', '__base__', '__bases__', '__mro__', '__subclasses__', '__globals__', '__builtins__',
    '__code__', '__closure__', '__dict__', '__getattribute__', '__reduce__', '__reduce_ex__', '__self__',
    '__func__', '__loader__', '__spec__', '__traceback__', '__subclasshook__', '__init_subclass__',
    '__import__', '__objclass__', '__wrapped__', 'mro', 'tb_frame', 'tb_next', 'f_globals', 'f_locals',
    'f_builtins', 'f_back', 'f_code', 'gi_frame', 'gi_code', 'cr_frame', 'cr_code', 'ag_frame', 'ag_code',
    'co_consts', 'func_globals',
    # Modules that allowed modules hold as attributes (typing.sys, random._os, collections._sys…).
    'sys', '_sys', 'os', '_os', 'modules', 'builtins', '_builtins', 'subprocess', 'importlib', '_imp', 'posix',
})


# Dunder names a tool's source may read (as static analysis allows them): its module name, the main
# guard, and the few methods of the data model a tool calls by name.
HARMLESS_DUNDERS = frozenset({'__name__', '__main__', '__init__', '__len__', '__eq__', '__repr__', '__str__'})

# Dunder methods a tool's classes may define: the data model of values. Not the hooks through which
# the interpreter hands objects or attribute names to code: descriptors (__get__, __set_name__),
# attribute lookup (__getattr__, __getattribute__), class creation (__init_subclass__,
# __class_getitem__, __prepare__, __mro_entries__, __new__), isinstance (__instancecheck__, which
# makes any object match a class pattern), pickling (__reduce__), finalisers (__del__).
DEFINABLE_DUNDERS = frozenset({
    '__init__', '__post_init__', '__repr__', '__str__', '__format__', '__eq__', '__ne__', '__lt__', '__le__',
    '__gt__', '__ge__', '__hash__', '__bool__', '__len__', '__iter__', '__next__', '__reversed__', '__contains__',
    '__getitem__', '__setitem__', '__delitem__', '__missing__', '__call__', '__enter__', '__exit__', '__int__',
    '__float__', '__index__', '__round__', '__neg__', '__pos__', '__abs__', '__invert__',
    '__add__', '__radd__', '__iadd__', '__sub__', '__rsub__', '__isub__', '__mul__', '__rmul__', '__imul__',
    '__truediv__', '__rtruediv__', '__itruediv__', '__floordiv__', '__rfloordiv__', '__ifloordiv__', '__mod__',
    '__rmod__', '__imod__', '__pow__', '__rpow__', '__ipow__', '__matmul__', '__rmatmul__', '__and__', '__rand__',
    '__iand__', '__or__', '__ror__', '__ior__', '__xor__', '__rxor__', '__ixor__', '__lshift__', '__rlshift__',
    '__rshift__', '__rrshift__',
})

# The classes whose class pattern takes one positional sub-pattern matching the subject itself. Any
# other class's positional sub-patterns are looked up through its __match_args__: names as data.
SELF_MATCHING = frozenset({'bool', 'bytearray', 'bytes', 'dict', 'float', 'frozenset', 'int', 'list', 'set', 'str', 'tuple'})

# What the compiler wires into a tool's code: names no source can spell (they are not identifiers),
# found in the call's fresh builtins.
FORMAT_GUARD = 'dise.attribute'


class SandboxAccessError(ImportError):
    """Raised by the sandbox's __import__: the tool reached for a module outside the allowlist."""


_real_import = _builtins.__import__


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level != 0:
        raise SandboxAccessError('relative imports are not available in the sandbox')
    if not isinstance(name, str):
        raise SandboxAccessError('import of a non-string name')
    if name not in ALLOWED_MODULES:
        # from urllib import parse: the package itself is not allowed, each named submodule must be.
        if not fromlist or not all(isinstance(f, str) and f'{name}.{f}' in ALLOWED_MODULES for f in fromlist):
            raise SandboxAccessError(f"import of '{name}' is not available in the sandbox")
    module = _real_import(name, None, None, fromlist, 0)
    root = name.partition('.')[0]
    _touched.add(root)
    return _view(module, module.__name__)


_ModuleType = type(_sys)
_Namespace = type(_sys.implementation)  # types.SimpleNamespace
_view_members = {}


def _view(module, name):
    """
    What a tool gets for a module: a fresh namespace of its public members (functions, classes,
    constants) and of its allowed submodules, as views too. Never the module object: a tool cannot
    reach the modules it holds (typing.sys, dataclasses.inspect, re._compiler) nor patch the module
    other tools import (re.sub = …); what it sets on the view ends with the call.
    """
    members = _view_members.get(name)
    if members is None:
        hidden = HIDDEN_MEMBERS.get(name, ())
        members = {'__name__': name}
        submodules = []
        for key, value in list(module.__dict__.items()):
            if key.startswith('_') or key in hidden:
                continue
            if type(value) is _ModuleType:
                if f'{name}.{key}' in ALLOWED_MODULES:
                    submodules.append((key, value))
                continue
            members[key] = REPLACED_MEMBERS.get((name, key), value)
        _view_members[name] = members = (members, tuple(submodules))
    plain, submodules = members
    view = _Namespace(**plain)
    for key, value in submodules:
        _real_setattr(view, key, _view(value, f'{name}.{key}'))
    return view


_real_getattr, _real_setattr, _real_delattr = getattr, setattr, delattr


def _refused_name(name):
    """
    An attribute a tool may not read or write by a name given as data (getattr, a format field, a
    guarded library function): the denied list, every dunder but the harmless few, and private names
    (a module's or a class's internals: random._inst, re._cache).
    """
    return isinstance(name, str) and (
        name in DENIED_ATTRIBUTES or name in _HIDDEN_NAMES or (name.startswith('_') and name not in HARMLESS_DUNDERS))


def _refuse_attribute(name):
    if _refused_name(name):
        raise SandboxAccessError(f"attribute '{name}' is not available in the sandbox")


def _getattr(obj, name, *default):
    _refuse_attribute(name)
    return _guard_formatter(_real_getattr(obj, name, *default))


def _hasattr(obj, name):
    _refuse_attribute(name)
    try:
        _real_getattr(obj, name)
    except AttributeError:
        return False
    return True


def _setattr(obj, name, value):
    _refuse_attribute(name)
    _real_setattr(obj, name, value)


def _delattr(obj, name):
    _refuse_attribute(name)
    _real_delattr(obj, name)


# str.format and str.format_map walk a field such as {0.attr.attr[key]} with the interpreter's own
# getattr: a format string built at run time reads any attribute. The compiler routes every `.format`
# and `.format_map` a tool writes through _format_attribute, and the guarded getattr does the same,
# so a tool only ever holds the checked versions.
_str_format, _str_format_map = str.format, str.format_map
_BuiltinMethod = type(''.join)
_parse_format, _split_field = _string.formatter_parser, _string.formatter_field_name_split


def _check_format(text, depth=0):
    if depth > 2:
        raise SandboxAccessError('format specification nested too deeply')
    for _literal, field, spec, _conversion in _parse_format(text):
        if field is None:
            continue
        _first, rest = _split_field(field)
        for is_attribute, key in rest:
            if is_attribute and _refused_name(key):
                raise SandboxAccessError(f"attribute '{key}' is not available in the sandbox (in a format field)")
        if spec:
            _check_format(spec, depth + 1)


def _checked_format(text, *args, **kwargs):
    if isinstance(text, str):
        _check_format(text)
    return _str_format(text, *args, **kwargs)


def _checked_format_map(text, mapping):
    if isinstance(text, str):
        _check_format(text)
    return _str_format_map(text, mapping)


def _guard_formatter(value):
    if type(value) is _BuiltinMethod:
        owner = value.__self__
        if isinstance(owner, str):
            name = value.__name__
            if name == 'format':
                return _functools.partial(_checked_format, owner)
            if name == 'format_map':
                return _functools.partial(_checked_format_map, owner)
        return value
    if value is _str_format:
        return _checked_format
    if value is _str_format_map:
        return _checked_format_map
    return value


def _format_attribute(obj, name):
    return _guard_formatter(_real_getattr(obj, name))


# Library functions that read or write attributes by names given as data, or run text as code, are
# wrapped in the views: only the names their defaults use, only field names a class body could write.
_WRAPPER_ASSIGNMENTS, _WRAPPER_UPDATES = frozenset(_functools.WRAPPER_ASSIGNMENTS), frozenset(_functools.WRAPPER_UPDATES)


def _check_wrapper_names(assigned, updated):
    assigned, updated = tuple(assigned), tuple(updated)
    for name in assigned:
        if name not in _WRAPPER_ASSIGNMENTS:
            raise SandboxAccessError(f"attribute '{name}' is not available in the sandbox (functools.update_wrapper)")
    for name in updated:
        if name not in _WRAPPER_UPDATES:
            raise SandboxAccessError(f"attribute '{name}' is not available in the sandbox (functools.update_wrapper)")
    return assigned, updated


def _update_wrapper(wrapper, wrapped, assigned=_functools.WRAPPER_ASSIGNMENTS, updated=_functools.WRAPPER_UPDATES):
    assigned, updated = _check_wrapper_names(assigned, updated)
    return _functools.update_wrapper(wrapper, wrapped, assigned, updated)


def _wraps(wrapped, assigned=_functools.WRAPPER_ASSIGNMENTS, updated=_functools.WRAPPER_UPDATES):
    assigned, updated = _check_wrapper_names(assigned, updated)
    return _functools.wraps(wrapped, assigned, updated)


def _check_field_name(name):
    # dataclasses writes field names into the text of the methods it execs, in a namespace whose
    # builtins are the interpreter's own when the class's module is not importable (a tool's is not).
    if not isinstance(name, str) or not name.isidentifier() or name.startswith('__') or name in DENIED_ATTRIBUTES:
        raise SandboxAccessError(f'field name {name!r:.60} is not available in the sandbox')


def _make_guarded_dataclasses():
    import annotationlib as _annotationlib
    import dataclasses as real
    import weakref as _weakref
    made = _weakref.WeakSet()  # the classes this wrapper made dataclasses: their fields were checked
    class_dict = type.__dict__['__dict__'].__get__
    class_mro = type.__dict__['__mro__'].__get__
    forwardref = _annotationlib.Format.FORWARDREF

    def check_bases(klass):
        for base in class_mro(klass):
            if '__dataclass_fields__' in class_dict(base) and base not in made:
                raise SandboxAccessError('dataclass fields the sandbox did not check')

    def check(klass):
        if not isinstance(klass, type):
            return
        check_bases(klass)
        # The names dataclasses will write into code, read once and frozen: a class whose
        # annotations answer differently the second time gets the first answer.
        annotations = dict(_annotationlib.get_annotations(klass, format=forwardref))
        for name in annotations:
            _check_field_name(name)
        type.__setattr__(klass, '__annotations__', annotations)

    def dataclass(cls=None, /, **options):
        def wrap(klass):
            check(klass)
            result = real.dataclass(klass, **options)
            made.add(result)
            return result
        return wrap if cls is None else wrap(cls)

    def make_dataclass(cls_name, fields, **options):
        fields = [f if isinstance(f, str) else tuple(f) for f in fields]
        for item in fields:
            _check_field_name(item if isinstance(item, str) else item[0])
        for key in options.get('namespace') or {}:
            _check_field_name(key)
        for base in options.get('bases') or ():
            if isinstance(base, type):
                check_bases(base)
        result = real.make_dataclass(cls_name, fields, **options)
        made.add(result)
        return result

    return dataclass, make_dataclass


_guarded_dataclass, _guarded_make_dataclass = _make_guarded_dataclasses()

REPLACED_MEMBERS = {
    ('functools', 'update_wrapper'): _update_wrapper,
    ('functools', 'wraps'): _wraps,
    ('dataclasses', 'dataclass'): _guarded_dataclass,
    ('dataclasses', 'make_dataclass'): _guarded_make_dataclass,
}


def _safe_builtins():
    table = dict(_builtins.__dict__)
    for name in HOST_NAMES:
        table.pop(name, None)
    table['__import__'] = _guarded_import
    table['getattr'], table['hasattr'], table['setattr'], table['delattr'] = _getattr, _hasattr, _setattr, _delattr
    return table


SAFE_BUILTINS = _safe_builtins()
_BUILTINS_ITEMS = tuple(SAFE_BUILTINS.items())

# Encoders and decoders captured now: a tool that patches json.dumps, JSONEncoder or JSONDecoder
# changes nothing here.
_scan_once = _json_scanner.c_make_scanner(_json_decoder.JSONDecoder())
_encode = __import__('_json').make_encoder(
    None, None, __import__('_json').encode_basestring, None, ':', ',', False, False, False)
_join = ''.join
_isfinite = _math.isfinite
_str_type, _int_type, _float_type, _bool_type = str, int, float, bool
_dict_type, _list_type, _tuple_type, _NoneType = dict, list, tuple, type(None)
_BaseException = BaseException

# Snapshots of the allowed modules' namespaces, restored after a call that imported them, so one tool
# patching json.loads or math.pi does not change what the next tool sees.
_touched = set()
_snapshots = {}


def _snapshot_modules():
    for name in sorted(ALLOWED_MODULES):
        try:
            module = _real_import(name, None, None, ('__name__',), 0)
        except _BaseException:
            continue
        # The module's namespace and the namespaces of the (Python-defined, hence patchable) classes
        # it defines: json.JSONEncoder.encode = … must not reach the next tool either.
        classes = []
        for value in list(module.__dict__.values()):
            if isinstance(value, type) and getattr(value, '__module__', '').split('.')[0] == name.split('.')[0]:
                try:
                    classes.append((value, dict(value.__dict__)))
                except _BaseException:
                    pass
        _snapshots[name] = (module, dict(module.__dict__), classes)


def _restore_modules():
    for root in _touched:
        for name, (module, saved, classes) in _snapshots.items():
            if name == root or name.startswith(root + '.'):
                current = module.__dict__
                if current != saved:
                    current.clear()
                    current.update(saved)
                for cls, attrs in classes:
                    now = cls.__dict__
                    if now == attrs:
                        continue
                    for key in [k for k in now if k not in attrs]:
                        try:
                            _real_delattr(cls, key)
                        except _BaseException:
                            pass
                    for key, value in attrs.items():
                        if now.get(key, _missing) is not value:
                            try:
                                _real_setattr(cls, key, value)
                            except _BaseException:
                                pass
    _touched.clear()


_missing = object()


class NonJson(Exception):
    pass


def _check(value, path, depth, active):
    t = type(value)
    if t is _str_type or t is _bool_type or value is None:
        return
    if t is _int_type:
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return
        raise NonJson(f'{path} is an integer beyond 2**53 - 1, which JSON numbers cannot carry exactly')
    if t is _float_type:
        if not _isfinite(value):
            raise NonJson(f'{path} is {value!r}')
        return
    if depth > 500:
        raise NonJson(f'{path} is nested more than 500 levels deep')
    if isinstance(value, (_dict_type, _list_type, _tuple_type)):
        ident = id(value)
        if ident in active:
            raise NonJson(f'{path} is a cycle')
        active.add(ident)
        if isinstance(value, _dict_type):
            for key, item in _dict_type.items(value):
                if type(key) is not _str_type and not isinstance(key, _str_type):
                    raise NonJson(f'{path} has a key that is not a string: {type(key).__name__} {key!r:.40}')
                _check(item, f'{path}[{key!r:.40}]', depth + 1, active)
        else:
            for index, item in enumerate(value):
                _check(item, f'{path}[{index}]', depth + 1, active)
        active.discard(ident)
        return
    if isinstance(value, _int_type) and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        raise NonJson(f'{path} is an integer beyond 2**53 - 1, which JSON numbers cannot carry exactly')
    if isinstance(value, (_str_type, _int_type)):
        return  # subclasses (an IntEnum, a str Enum): serialised by value
    if isinstance(value, _float_type):
        if not _isfinite(value):
            raise NonJson(f'{path} is {value!r}')
        return
    raise NonJson(f'{path} is a {t.__name__}')


_tools = {}  # key -> (code object, filename), or (None, the refusal's answer)
_MAX_SAFE_INT = 2**53 - 1
_FunctionType = type(_safe_builtins)


def _fresh(function):
    """A new function object with the same code: attributes a tool sets on it end with its call."""
    return _FunctionType(function.__code__, function.__globals__, function.__name__, function.__defaults__, function.__closure__)


def _dumps(value):
    """JSON text of a plain value with the encoder captured at start (never json.dumps, which a tool may patch)."""
    return _join(_encode(value, 0))


def _error(kind, message, name=None, stack=None):
    return 'E' + _dumps({'kind': kind, 'message': message, 'name': name, 'stack': stack})


def _tool_stack(exc, filename):
    """The Python traceback of the tool's own frames (the host's frames left out)."""
    try:
        frames = [f for f in _traceback.extract_tb(exc.__traceback__) if f.filename == filename]
        lines = ['Traceback (most recent call last):\n'] + _traceback.format_list(frames)
        lines += _traceback.format_exception_only(type(exc), exc)
        return _join(lines)
    except _BaseException:
        return f'{type(exc).__name__}: (traceback unavailable)'


def _describe(exc):
    try:
        text = str(exc)
    except _BaseException:
        text = '(a message that cannot be shown)'
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def _failure(exc, filename, loading):
    name = type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        return _error('timeout', 'interrupted')
    if isinstance(exc, MemoryError):
        return _error('memory_limit', 'MemoryError')
    if isinstance(exc, SandboxAccessError):
        return _error('host_access', f'tool reached for the host: {exc}', name, _tool_stack(exc, filename))
    if isinstance(exc, NameError) and getattr(exc, 'name', None) in HOST_NAMES:
        return _error('host_access', f'tool reached for the host: {exc.name} is not available in the sandbox', name, _tool_stack(exc, filename))
    text = _describe(exc)
    if 'Code generation from strings disallowed' in text:
        return _error('host_access', f'tool reached for the host: {text}', name, _tool_stack(exc, filename))
    if isinstance(exc, RecursionError):
        return _error('thrown', text, name, _tool_stack(exc, filename))
    if loading:
        return _error('compile_error', f'tool code failed to load: {text}', name, _tool_stack(exc, filename))
    return _error('thrown', text, name, _tool_stack(exc, filename))


def _bound_names(tree):
    """Every name the code binds anywhere (assignment, parameter, def, class, import, pattern, except)."""
    bound = set()
    for node in _ast.walk(tree):
        if isinstance(node, _ast.Name) and not isinstance(node.ctx, _ast.Load):
            bound.add(node.id)
        elif isinstance(node, _ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, _ast.alias):
            bound.add(node.asname or node.name.partition('.')[0])
        elif isinstance(node, (_ast.Global, _ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, (_ast.MatchAs, _ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, _ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif isinstance(node, _ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (_ast.TypeVar, _ast.ParamSpec, _ast.TypeVarTuple)):
            bound.add(node.name)
    return bound


def _format_hazard(text):
    try:
        _check_format(text)
    except SandboxAccessError as exc:
        return str(exc)
    except (ValueError, TypeError):
        return None
    return None


_HIDDEN_NAMES = frozenset().union(*HIDDEN_MEMBERS.values())


def _hazards(tree):
    """
    The ways past the first layer the source shows, as (check, message, line, byte column): every
    way Python reads an attribute by a name is attribute access, wherever the name is written.
    Run by static analysis (findings) and by the tools interpreter before it compiles (a refusal).
    """
    found = []
    bound = None
    for node in _ast.walk(tree):
        if isinstance(node, (_ast.Name, _ast.Attribute)):
            name = node.id if isinstance(node, _ast.Name) else node.attr
            if name in _HIDDEN_NAMES:
                found.append(('dynamic_attribute', f'{name} is not available in the sandbox (it reads attributes by name or evaluates text)', node.lineno, node.col_offset))
        if isinstance(node, (_ast.FunctionDef, _ast.AsyncFunctionDef, _ast.ClassDef)):
            # A decorator is a call the source does not spell as one: @input, @vars, @breakpoint.
            for decorator in node.decorator_list:
                if isinstance(decorator, _ast.Name) and decorator.id in HOST_NAMES:
                    found.append(('host_builtin', f'the decorator {decorator.id} is not available in the sandbox', decorator.lineno, decorator.col_offset))
        if isinstance(node, _ast.Attribute):
            if node.attr in DENIED_ATTRIBUTES or (node.attr.startswith('__') and node.attr not in HARMLESS_DUNDERS):
                found.append(('dunder_access', f"attribute '{node.attr}' is not available in the sandbox", node.end_lineno, node.end_col_offset - len(node.attr)))
        elif isinstance(node, _ast.MatchClass):
            for name, sub in zip(node.kwd_attrs, node.kwd_patterns):
                if _refused_name(name) or name in ('format', 'format_map'):
                    found.append(('match_attribute', f"the class pattern reads the attribute '{name}', which is not available in the sandbox", sub.lineno, sub.col_offset))
            if node.patterns:
                if bound is None:
                    bound = _bound_names(tree)
                cls = node.cls
                if not (isinstance(cls, _ast.Name) and cls.id in SELF_MATCHING and cls.id not in bound):
                    found.append(('match_attribute', "a class pattern with positional sub-patterns reads the attributes its class's __match_args__ names, which a tool can set: only the built-in types (int(x), str(s)…) take them in the sandbox", node.lineno, node.col_offset))
        elif isinstance(node, _ast.ClassDef):
            for keyword in node.keywords:
                if keyword.arg == 'metaclass':
                    found.append(('class_hook', 'a metaclass hooks class creation and isinstance: not available in the sandbox', keyword.value.lineno, keyword.value.col_offset))
            for stmt in node.body:
                if isinstance(stmt, (_ast.FunctionDef, _ast.AsyncFunctionDef)) and stmt.name.startswith('__') and stmt.name.endswith('__') and stmt.name not in DEFINABLE_DUNDERS:
                    found.append(('class_hook', f'the method {stmt.name} hooks how the interpreter hands objects or attribute names to code: not available in the sandbox', stmt.lineno, stmt.col_offset))
        elif isinstance(node, _ast.Constant) and isinstance(node.value, str) and '{' in node.value:
            message = _format_hazard(node.value)
            if message:
                found.append(('format_attribute', message, node.lineno, node.col_offset))
    return found


class _GuardFormat(_ast.NodeTransformer):
    """`x.format` and `x.format_map` read through the sandbox's format guard (see _format_attribute)."""

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr in ('format', 'format_map') and isinstance(node.ctx, _ast.Load):
            call = _ast.Call(_ast.Name(FORMAT_GUARD, _ast.Load()), [node.value, _ast.Constant(node.attr)], [])
            return _ast.copy_location(call, node)
        return node


# The interpreter's audit hook: a second wall, in C's own checkpoints, for what a tool that got past
# the rules above could do. While a tool runs, the events of files, processes, sockets, frames and
# the garbage collector's object lists are refused (the stdlib the interpreter reads from /lib stays
# readable: lazy imports need it). Installed once, for the interpreter's life: no Python code can
# remove it. (sys._getframemodulename stays: namedtuple, enum and dataclasses name a class's module
# with it, and it answers only a name.)
_in_tool = [False]
_AUDIT_REFUSED = frozenset({
    'sys._getframe', 'sys._current_frames', 'sys._current_exceptions', 'sys.settrace',
    'sys.setprofile', 'sys.addaudithook', 'gc.get_objects', 'gc.get_referrers', 'gc.get_referents',
    'code.__new__', 'function.__new__', 'marshal.loads', 'marshal.load', 'os.system', 'os.exec', 'os.posix_spawn',
    'os.spawn', 'os.fork', 'os.forkpty', 'os.kill', 'os.killpg', 'os.putenv', 'os.unsetenv', 'os.remove',
    'os.rename', 'os.rmdir', 'os.mkdir', 'os.chdir', 'os.chmod', 'os.chown', 'os.link', 'os.symlink',
    'os.truncate', 'os.utime', 'os.startfile', 'os.add_dll_directory', 'os.chflags', 'os.lockf', 'os.setxattr',
    'os.removexattr', 'os.getxattr', 'os.listxattr', 'subprocess.Popen', 'ctypes.dlopen', 'ctypes.dlsym',
    'ctypes.cdata', 'ctypes.addressof', 'ctypes.call_function', 'ctypes.create_string_buffer', 'ctypes.string_at',
    'ctypes.wstring_at', 'ctypes.PyObj_FromPtr', 'cpython._PySys_ClearAuditHooks', 'cpython.run_command',
    'cpython.run_file', 'cpython.run_module', 'cpython.run_startup', 'cpython.run_interactivehook',
    'cpython.remote_debugger_script', 'sys.remote_exec', 'webbrowser.open', 'pty.spawn', 'shutil.rmtree',
    'shutil.copyfile', 'shutil.move', 'shutil.chown', 'shutil.make_archive', 'shutil.unpack_archive',
    'tempfile.mkstemp', 'tempfile.mkdtemp', 'urllib.Request', 'http.client.connect', 'sqlite3.connect',
    'signal.pthread_kill', 'resource.setrlimit', 'resource.prlimit', 'syslog.openlog', 'fcntl.fcntl', 'fcntl.ioctl',
    'fcntl.flock', 'fcntl.lockf', 'mmap.__new__', 'pickle.find_class',
})
# Reads C audits as object.__getattr__: frames behind generators, coroutines and tracebacks.
_AUDITED_READS_REFUSED = frozenset({'tb_frame', 'gi_frame', 'cr_frame', 'ag_frame', 'f_back', 'f_globals', 'f_locals', 'f_builtins', 'gi_code', 'cr_code', 'ag_code'})
_STDLIB_PREFIX = '/lib/'
_HOST_ROOTS = frozenset({
    'os', 'sys', 'subprocess', 'socket', 'ctypes', '_ctypes', 'js', 'pyodide', 'pyodide_js', '_pyodide', 'importlib', 'builtins',
    'io', 'shutil', 'pathlib', 'pickle', 'marshal', 'gc', 'inspect', 'multiprocessing', 'threading', 'signal', 'http',
    'ssl', 'select', 'asyncio', 'tempfile', 'glob', 'fcntl', 'posix', 'pty', 'code', 'codeop', 'runpy', 'sysconfig',
    'platform', 'resource', 'mmap', 'zipimport', 'webbrowser', 'ftplib', 'smtplib', 'xmlrpc', '_posixsubprocess',
})


def _audit(event, args):
    if not _in_tool[0]:
        return
    if event in _AUDIT_REFUSED or event.startswith('socket.'):
        raise SandboxAccessError(f'{event} is not available in the sandbox')
    if event == 'object.__getattr__':
        if len(args) > 1 and args[1] in _AUDITED_READS_REFUSED:
            raise SandboxAccessError(f"attribute '{args[1]}' is not available in the sandbox")
    elif event == 'open':
        path = args[0] if args else None
        mode = args[1] if len(args) > 1 else 'r'
        if not (isinstance(path, str) and path.startswith(_STDLIB_PREFIX) and (mode is None or mode in ('r', 'rb'))):
            raise SandboxAccessError(f'open of {path!r:.80} is not available in the sandbox')
    elif event in ('os.listdir', 'os.scandir'):
        path = args[0] if args else None
        if not (isinstance(path, str) and path.startswith(_STDLIB_PREFIX)):
            raise SandboxAccessError(f'{event} of {path!r:.80} is not available in the sandbox')
    elif event == 'import':
        if args and isinstance(args[0], str) and args[0].partition('.')[0] in _HOST_ROOTS:
            raise SandboxAccessError(f"import of '{args[0]}' is not available in the sandbox")


# Keys compiled with every Python-level defence off (full builtins, real modules, no checks, no
# restore, no audit refusals): only the host's tests ask for it, to show what holds past this layer.
_unguarded = set()


def compile_tool(key, code, unguarded=False):
    """Compiles `code` once for `key`; returns '' or an error answer."""
    filename = f'tool:{key}'
    if unguarded:
        _unguarded.add(key)
        _tools[key] = (compile(code, filename, 'exec', dont_inherit=True), filename)
        return ''
    try:
        compiled = compile(code, filename, 'exec', dont_inherit=True)
    except SyntaxError as exc:
        return _error('compile_error', f'tool code does not compile: SyntaxError: {exc.msg} (line {exc.lineno})', 'SyntaxError', None)
    except _BaseException as exc:
        return _error('compile_error', f'tool code does not compile: {_describe(exc)}', type(exc).__name__, None)
    try:
        tree = _ast.parse(code, filename, 'exec')
        hazards = _hazards(tree)
        if hazards:
            _check_name, message, line, _col = hazards[0]
            refusal = _error('host_access', f'tool reached for the host: {message} (line {line})', 'SandboxAccessError', None)
            # Every call of this key answers the same: the refusal is the tool's behaviour.
            _tools[key] = (None, refusal)
            return refusal
        compiled = compile(_ast.fix_missing_locations(_GuardFormat().visit(tree)), filename, 'exec', dont_inherit=True)
    except _BaseException as exc:
        return _error('compile_error', f'tool code does not compile: {_describe(exc)}', type(exc).__name__, None)
    lines = code.splitlines(True)
    _linecache.cache[filename] = (len(code), None, lines, filename)
    _tools[key] = (compiled, filename)
    return ''


def call(key, input_json):
    """Runs the tool's code in fresh globals, then run(input). Answers 'O' + JSON or 'E' + error JSON."""
    entry = _tools.get(key)
    if entry is None:
        return _error('compile_error', 'tool code is not compiled')
    compiled, filename = entry
    if compiled is None:
        return filename
    try:
        value, end = _scan_once(input_json, 0)
    except _BaseException as exc:
        return _error('invalid_input', f'input is not JSON: {exc}')
    builtins = dict(_BUILTINS_ITEMS)
    # The guards are the host's functions: the tool gets its own copies, so an attribute set on one
    # (getattr.note = …) is not there for the next call or tool.
    builtins['__import__'], builtins['getattr'], builtins['hasattr'] = _fresh(_guarded_import), _fresh(_getattr), _fresh(_hasattr)
    builtins['setattr'], builtins['delattr'] = _fresh(_setattr), _fresh(_delattr)
    builtins[FORMAT_GUARD] = _fresh(_format_attribute)
    scope = {'__builtins__': builtins, '__name__': 'tool'}
    if key in _unguarded:
        scope = {'__builtins__': _builtins, '__name__': 'tool'}
    stage = 'load'
    try:
        try:
            _in_tool[0] = key not in _unguarded
            exec(compiled, scope)
            run = scope.get('run')
            if not callable(run):
                return _error('compile_error', 'tool code defines no function run(input)')
            stage = 'run'
            output = run(value)
            stage = 'check'
            _check(output, 'result', 0, set())
            return 'O' + _join(_encode(output, 0))
        finally:
            _in_tool[0] = False
            scope.clear()
            if _touched:
                _restore_modules()
    except NonJson as exc:
        return _error('non_json_result', f'result is not a JSON value: {exc}')
    except RecursionError as exc:
        if stage == 'check':
            return _error('non_json_result', 'result is not a JSON value: nested too deeply')
        return _failure(exc, filename, False)
    except _BaseException as exc:
        return _failure(exc, filename, stage == 'load')


# ---------------------------------------------------------------------------------------------------
# Static analysis of tool code (trusted: ast and tokenize over the text; the tool's code never runs).

_SKIP_TOKENS = frozenset({_token.NEWLINE, _token.NL, _token.INDENT, _token.DEDENT, _token.COMMENT, _token.ENDMARKER})


def _callee(node):
    if isinstance(node, _ast.Name):
        return node.id
    if isinstance(node, _ast.Attribute):
        return f'{_callee(node.value)}.{node.attr}'
    return '<expr>'


def analyze(code):
    lines = code.splitlines(True)

    def col(line, byte_col):
        # ast columns are UTF-8 byte offsets; report characters, as tokenize does.
        if line < 1 or line > len(lines) or byte_col <= 0:
            return max(byte_col, 0)
        text = lines[line - 1]
        if text.isascii():
            return byte_col
        return len(text.encode('utf-8')[:byte_col].decode('utf-8', 'ignore'))

    try:
        tree = _ast.parse(code, '<tool>', 'exec')
    except SyntaxError as exc:
        return _dumps({'ok': False, 'error': {'line': exc.lineno or 0, 'col': max((exc.offset or 1) - 1, 0), 'message': exc.msg}})
    except (ValueError, RecursionError, MemoryError) as exc:
        return _dumps({'ok': False, 'error': {'line': 0, 'col': 0, 'message': _describe(exc)}})
    defines_run = False
    for stmt in tree.body:
        if isinstance(stmt, _ast.FunctionDef) and stmt.name == 'run':
            defines_run = True
        elif isinstance(stmt, _ast.Assign) and isinstance(stmt.value, _ast.Lambda):
            if any(isinstance(t, _ast.Name) and t.id == 'run' for t in stmt.targets):
                defines_run = True
        elif isinstance(stmt, _ast.AnnAssign) and isinstance(stmt.value, _ast.Lambda):
            if isinstance(stmt.target, _ast.Name) and stmt.target.id == 'run':
                defines_run = True
    imports, calls, names, attributes, statements = [], [], [], [], []
    for node in _ast.walk(tree):
        if isinstance(node, _ast.Import):
            for alias in node.names:
                imports.append({'module': alias.name, 'line': node.lineno})
        elif isinstance(node, _ast.ImportFrom):
            imports.append({'module': '.' * node.level + (node.module or ''), 'line': node.lineno})
        elif isinstance(node, _ast.Call):
            calls.append({'name': _callee(node.func), 'line': node.lineno, 'col': col(node.lineno, node.col_offset)})
        elif isinstance(node, _ast.Name):
            names.append({'id': node.id, 'line': node.lineno, 'col': col(node.lineno, node.col_offset)})
        elif isinstance(node, _ast.Attribute):
            # The attribute's own position: it ends the expression.
            end_line, end_col = node.end_lineno, node.end_col_offset
            attributes.append({'attr': node.attr, 'line': end_line, 'col': col(end_line, end_col) - len(node.attr)})
        if isinstance(node, _ast.stmt):
            statements.append((node.lineno, node.col_offset, {
                'line': node.lineno, 'endLine': node.end_lineno,
                'dump': _ast.dump(node, annotate_fields=False, include_attributes=False)}))
    order = lambda item: (item['line'], item.get('col', 0))
    imports.sort(key=order)
    calls.sort(key=order)
    names.sort(key=order)
    attributes.sort(key=order)
    statements.sort(key=lambda s: (s[0], s[1]))
    tokens = []
    try:
        for tok in _tokenize.generate_tokens(_io.StringIO(code).readline):
            if tok.type in _SKIP_TOKENS:
                continue
            tokens.append({'type': _token.tok_name[tok.type], 'text': tok.string, 'line': tok.start[0], 'col': tok.start[1]})
    except (_tokenize.TokenError, SyntaxError) as exc:
        return _dumps({'ok': False, 'error': {'line': 0, 'col': 0, 'message': _describe(exc)}})
    hazards = [{'check': check, 'message': message, 'line': line, 'col': col(line, byte_col)} for check, message, line, byte_col in _hazards(tree)]
    hazards.sort(key=order)
    return _dumps({
        'ok': True, 'definesRun': defines_run, 'imports': imports, 'calls': calls, 'names': names,
        'attributes': attributes, 'tokens': tokens, 'statements': [s[2] for s in statements], 'hazards': hazards,
    })


# ---------------------------------------------------------------------------------------------------
# Closing the doors to JavaScript: no JS module importable, no JsProxy left reachable from Python.

def prepare():
    """Work done before a memory snapshot is taken: every allowed module imported and recorded."""
    _snapshot_modules()
    for name in ('_strptime', 'annotationlib', 'weakref', 'encodings.idna', 'unicodedata'):
        try:
            _real_import(name, None, None, ('__name__',), 0)
        except _BaseException:
            pass
    _gc.collect()


def seal():
    for name in ('js', 'pyodide_js', 'pyodide_js._api'):
        _sys.modules.pop(name, None)
    webloop = _sys.modules.get('pyodide.webloop')
    if webloop is not None:
        webloop.__dict__.pop('scheduleCallback', None)
    loader = _sys.modules.get('pyodide._package_loader')
    if loader is not None:
        loader.__dict__.pop('loadedPackages', None)
    # Specs of the JS modules imported at start keep a JsLoader that holds the module's JsProxy.
    for obj in _gc.get_objects():
        loader = getattr(obj, 'loader', None) if type(obj).__name__ == 'ModuleSpec' else None
        if loader is not None and type(loader).__name__ == 'JsLoader':
            for name in list(getattr(loader, '__dict__', {})):
                setattr(loader, name, None)
            obj.loader = None
    if not _snapshots:
        _snapshot_modules()
    # Imports look only in the standard library: not in the working directory, which the audit hook
    # would refuse to list during a tool's call.
    _sys.path[:] = [entry for entry in _sys.path if entry.startswith(_STDLIB_PREFIX)]
    _sys.path_importer_cache.clear()
    _sys.addaudithook(_audit)
    _gc.collect()


def probe(code, as_tool='0'):
    """
    Runs trusted Python with the interpreter's full builtins and every module (the host calls it; no
    tool can): what a tool that got past every Python-level restriction could do. The code sets
    `result`, a JSON value; the answer is its JSON text. For the tests of the boundary around the
    interpreter.
    """
    scope = {'__name__': 'probe'}
    # as_tool: the audit hook treats the probe as a running tool (what it refuses past this layer).
    _in_tool[0] = as_tool == '1'
    try:
        exec(compile(code, 'probe', 'exec'), scope)
    finally:
        _in_tool[0] = False
    return _dumps(scope.get('result'))


def reachable_js():
    """Describes every JsProxy reachable from any Python object (a self-check for the tests)."""
    from pyodide.ffi import JsProxy
    seen, found = set(), []
    stack = list(_gc.get_objects()) + [_sys.modules]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, JsProxy):
            try:
                found.append(str(obj)[:80])
            except _BaseException as exc:
                found.append(repr(exc))
            continue
        try:
            stack.extend(_gc.get_referents(obj))
        except _BaseException:
            pass
    return _dumps(found)
