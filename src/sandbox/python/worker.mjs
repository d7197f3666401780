// The thread that hosts the process's one Pyodide interpreter (see src/sandbox/python.ts, which
// starts it and speaks to it). Plain JavaScript, run by Node as is (no loader hooks: execArgv []).
//
// Order matters:
//   1. say the context exists (the host turned code generation from strings off for the window in
//      which this thread's context was created, and waits for this signal to turn it back on);
//   2. cap WebAssembly memory growth (Pyodide grows its heap through WebAssembly.Memory#grow);
//   3. load Pyodide and the trusted host.py, capture the few Python functions used;
//   4. close every door to the host: the API object gutted, no JS module importable from Python, no
//      JsProxy reachable from Python (host.py seal()), Node's fs / child_process / vm / ws / process
//      methods gutted in this thread, the global object stripped of process, require, Buffer, fetch,
//      timers…;
//   5. serve calls synchronously over shared memory until terminated.
//
// Protocol (python/protocol.mjs, shared with python.ts): ctrl is an Int32Array over a SharedArrayBuffer; the host
// writes the request (strings in `data`, or on the port when they do not fit), bumps REQ and notifies;
// this thread answers in `data` (or on the port), sets RESP to the request's sequence and notifies.
import { Buffer } from 'node:buffer';
import childProcess from 'node:child_process';
import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import nodeProcess from 'node:process';
import vm from 'node:vm';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  REQ,
  RESP,
  STATE,
  OP,
  LEN_A,
  LEN_B,
  LEN_C,
  MEM_MB,
  RESULT_LEN,
  COLD_MS,
  SNAPSHOT_REFUSED,
  HEAP_MB,
  BASE_MB,
  INTERRUPT_SEQ,
  OP_CALL,
  OP_COMPILE_CALL,
  OP_ANALYZE,
  OP_SELF_CHECK,
  OP_PROBE,
  OP_COMPILE_CALL_UNGUARDED,
  STATE_CONTEXT,
  STATE_READY,
  STATE_FAILED,
} from './protocol.mjs';

const MIB = 1024 * 1024;

const { ctrlBuffer, interruptBuffer, dataBuffer, port, pyodideUrl, hostPyPath, snapshot, snapshotPort } = workerData;
const ctrl = new Int32Array(ctrlBuffer);
Atomics.store(ctrl, STATE, STATE_CONTEXT);
Atomics.notify(ctrl, STATE);

const interrupt = new Int32Array(interruptBuffer);
const data = Buffer.from(dataBuffer);
const started = performance.now();
const now = () => performance.now();
const atomicsWait = Atomics.wait,
  atomicsLoad = Atomics.load,
  atomicsStore = Atomics.store,
  atomicsNotify = Atomics.notify;
const byteLength = Buffer.byteLength;
const stringify = JSON.stringify;

// 2. Memory: Pyodide grows its heap with WebAssembly.Memory#grow (emscripten's growMemory); a grow
// that would pass the cap throws, emscripten answers "no memory", malloc fails, Python raises
// MemoryError. The cap is the heap after loading plus the call's memory_limit_mb.
const { WebAssembly } = globalThis;
const originalGrow = WebAssembly.Memory.prototype.grow;
let capBytes = Infinity;
Object.defineProperty(WebAssembly.Memory.prototype, 'grow', {
  value: function grow(pages) {
    if (this.buffer.byteLength + pages * 65536 > capBytes) throw new RangeError('dise: memory limit');
    return Reflect.apply(originalGrow, this, [pages]);
  },
  writable: false,
  configurable: false,
});

// 3. Pyodide and the host. An interpreter starts either from the memory snapshot another one made
// (the host's code and every allowed module already loaded: a fraction of the load), or the plain way;
// the first plain one makes the snapshot, before it seals anything or runs any tool, and sends it.
const { loadPyodide } = await import(pyodideUrl);
const discard = () => {};
const options = {
  stdout: discard,
  stderr: discard,
  stdin: () => null,
  env: { HOME: '/home/pyodide' },
  jsglobals: Object.create(null), // what `import js` would show, were it importable: nothing
  packages: [],
};
let pyodide;
let namespace;
if (snapshot) {
  try {
    pyodide = await loadPyodide({ ...options, _loadSnapshot: new Uint8Array(snapshot) });
    namespace = pyodide.globals.get('_dise_host');
    pyodide.globals.delete('_dise_host');
  } catch {
    // A snapshot that does not load (a damaged file kept on disk): the plain way below, and the host
    // is told so it drops the file.
    pyodide = undefined;
    atomicsStore(ctrl, SNAPSHOT_REFUSED, 1);
  }
}
if (!pyodide) {
  const hostSource = fs.readFileSync(hostPyPath, 'utf8');
  pyodide = await loadPyodide({ ...options, _makeSnapshot: Boolean(snapshotPort) });
  namespace = pyodide.globals.get('dict')();
  pyodide.runPython(hostSource, { globals: namespace, filename: 'dise_host.py' });
  const prepare = namespace.get('prepare');
  prepare();
  prepare.destroy();
  if (snapshotPort) {
    let sent = false;
    try {
      pyodide.globals.set('_dise_host', namespace);
      const bytes = pyodide.makeMemorySnapshot();
      pyodide.globals.delete('_dise_host');
      const shared = new SharedArrayBuffer(bytes.byteLength);
      new Uint8Array(shared).set(bytes);
      snapshotPort.postMessage(shared);
      sent = true;
    } catch {
      // no snapshot: every interpreter loads the plain way
    }
    if (!sent) snapshotPort.postMessage('none');
    snapshotPort.close();
  }
}
const module = pyodide._module;
pyodide.setInterruptBuffer(interrupt);
const pyCompile = namespace.get('compile_tool');
const pyCall = namespace.get('call');
const pyAnalyze = namespace.get('analyze');
const pySelfCheck = namespace.get('reachable_js');
const pyProbe = namespace.get('probe');
const pySeal = namespace.get('seal');
pyodide.unregisterJsModule('js');
pyodide.unregisterJsModule('pyodide_js');
pySeal();
pySeal.destroy();
namespace.destroy();

// 4. The doors. The API object: nothing left on it (its functions reach the loader, the file system,
// NODEFS mounts, runPython…).
for (const key of Reflect.ownKeys(pyodide)) {
  try {
    delete pyodide[key];
  } catch {
    // a non-configurable property: nothing to do
  }
}
// Node's modules as this thread sees them (Pyodide's closures hold fs, child_process, vm and ws):
// every function refuses. emscripten's system() (os.system) spawns through child_process.spawnSync.
const refuse = (name) =>
  function refused() {
    throw new Error(`dise: ${name} is not available in the Python sandbox`);
  };
function gut(object, name) {
  if (!object) return;
  for (const key of Reflect.ownKeys(object)) {
    try {
      if (typeof object[key] === 'function') object[key] = refuse(`${name}.${String(key)}`);
    } catch {
      // read-only: skip
    }
  }
}
gut(fs, 'fs');
gut(fs.promises, 'fs.promises');
gut(childProcess, 'child_process');
childProcess.spawnSync = () => ({
  pid: 0,
  status: 127,
  signal: null,
  output: [null, null, null],
  stdout: null,
  stderr: null,
});
gut(vm, 'vm');
for (const key of [
  'binding',
  '_linkedBinding',
  'dlopen',
  'kill',
  'chdir',
  'abort',
  'setuid',
  'setgid',
  'seteuid',
  'setegid',
  'setgroups',
  'initgroups',
  'reallyExit',
  '_kill',
]) {
  try {
    nodeProcess[key] = refuse(`process.${key}`);
  } catch {
    // skip
  }
}
try {
  const requireFromPyodide = createRequire(new URL(pyodideUrl));
  const wsPath = requireFromPyodide.resolve('ws');
  requireFromPyodide(wsPath);
  const cached = requireFromPyodide.cache[wsPath];
  if (cached) cached.exports = refuse('ws');
} catch {
  // no ws installed: emscripten's sockets have nothing to open
}
syncBuiltinESMExports();
// The global object: keep what Pyodide uses at run time (performance, crypto, WebAssembly, the
// language's built-ins); console becomes silent; the rest goes.
for (const name of [
  'process',
  'global',
  'Buffer',
  'require',
  'module',
  'exports',
  'setImmediate',
  'clearImmediate',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'queueMicrotask',
  'structuredClone',
  'fetch',
  'FormData',
  'Headers',
  'Request',
  'Response',
  'WebSocket',
  'EventSource',
  'BroadcastChannel',
  'MessageChannel',
  'MessagePort',
  'MessageEvent',
  'Blob',
  'File',
  'navigator',
  'importScripts',
  'Worker',
  'SharedWorker',
  'XMLHttpRequest',
  'localStorage',
  'sessionStorage',
  'caches',
  'indexedDB',
  'Deno',
  'Bun',
]) {
  try {
    delete globalThis[name];
  } catch {
    // skip
  }
}
const silent = {};
for (const key of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table', 'assert']) silent[key] = discard;
globalThis.console = silent;
// Second line behind the code-generation flag: no function's .constructor is the Function constructor.
for (const proto of [
  Function.prototype,
  Object.getPrototypeOf(async function () {}),
  Object.getPrototypeOf(function* () {}),
  Object.getPrototypeOf(async function* () {}),
]) {
  try {
    Object.defineProperty(proto, 'constructor', {
      value: refuse('the Function constructor'),
      writable: false,
      configurable: false,
    });
  } catch {
    // skip
  }
}
let codeGeneration = 'allowed';
try {
  Function('return 1');
} catch (err) {
  codeGeneration = String(err && err.message);
}

// One trusted call before the first tool's: WebAssembly compiles functions lazily, per thread, so
// without it a new tool's first call in this interpreter pays for compiling the call path (~10 ms).
// Its key cannot be a tool's (keys are code hashes).
try {
  pyCompile(
    'warm-up',
    "import json, re\ndef run(x):\n    return json.loads(json.dumps(re.sub('a', 'b', '{0}'.format(x))))\n",
  );
  pyCall('warm-up', '"a"');
} catch {
  // not needed for correctness
}

const heapBytes = () => module.HEAPU8.length;
const baseline = heapBytes();
atomicsStore(ctrl, COLD_MS, Math.round(now() - started));
atomicsStore(ctrl, BASE_MB, Math.round(baseline / MIB));
atomicsStore(ctrl, HEAP_MB, Math.round(baseline / MIB));
atomicsStore(ctrl, STATE, STATE_READY);
atomicsNotify(ctrl, STATE);
void codeGeneration;

// 5. Serving.
function readStrings(count) {
  const a = atomicsLoad(ctrl, LEN_A);
  if (a < 0) return receiveMessageOnPort(port).message;
  const lengths = [a, atomicsLoad(ctrl, LEN_B), atomicsLoad(ctrl, LEN_C)].slice(0, count);
  const out = [];
  let offset = 0;
  for (const n of lengths) {
    out.push(data.toString('utf8', offset, offset + n));
    offset += n;
  }
  return out;
}

function answer(seq, text) {
  const n = byteLength(text, 'utf8');
  if (n <= data.length) {
    data.write(text, 0, 'utf8');
    atomicsStore(ctrl, RESULT_LEN, n);
  } else {
    port.postMessage(text);
    atomicsStore(ctrl, RESULT_LEN, -1);
  }
  atomicsStore(ctrl, HEAP_MB, Math.round(heapBytes() / MIB));
  atomicsStore(ctrl, RESP, seq);
  atomicsNotify(ctrl, RESP);
}

function serve(op) {
  switch (op) {
    case OP_CALL: {
      const [key, input] = readStrings(2);
      return pyCall(key, input);
    }
    case OP_COMPILE_CALL:
    case OP_COMPILE_CALL_UNGUARDED: {
      const [key, code, input] = readStrings(3);
      const compiled = pyCompile(key, code, op === OP_COMPILE_CALL_UNGUARDED);
      return compiled || pyCall(key, input);
    }
    case OP_ANALYZE: {
      const [code] = readStrings(1);
      return 'O' + pyAnalyze(code);
    }
    case OP_SELF_CHECK:
      return (
        'O' +
        stringify({
          reachableJs: JSON.parse(pySelfCheck()),
          codeGeneration,
          globals: Reflect.ownKeys(globalThis).map(String),
        })
      );
    case OP_PROBE: {
      const [code, asTool] = readStrings(2);
      return 'O' + pyProbe(code, asTool);
    }
    default:
      return 'F' + stringify({ name: 'ProtocolError', message: `unknown op ${op}` });
  }
}

let last = 0; // the host's first request is 1 (it may already be posted: the host saw STATE_READY)
for (;;) {
  // Spin briefly for the next request (calls come in bursts), then sleep on the futex.
  const spinUntil = now() + 0.05;
  while (atomicsLoad(ctrl, REQ) === last && now() < spinUntil);
  while (atomicsLoad(ctrl, REQ) === last) atomicsWait(ctrl, REQ, last, 1000);
  const seq = atomicsLoad(ctrl, REQ);
  last = seq;
  // An interrupt meant for an earlier request (its time ran out as it answered) is dropped; one the host
  // sent for this request before this thread took it (a cancelled call) stands, and stops it at once.
  // Cleared first, then set again if it is this request's: the host writes INTERRUPT_SEQ before the
  // interrupt, so one it sends after the clear is kept either way (a check-then-clear could wipe it).
  atomicsStore(interrupt, 0, 0);
  if (atomicsLoad(ctrl, INTERRUPT_SEQ) === seq) atomicsStore(interrupt, 0, 2);
  const op = atomicsLoad(ctrl, OP);
  const mb = atomicsLoad(ctrl, MEM_MB);
  capBytes = Math.max(baseline + mb * MIB, heapBytes());
  let text;
  let fatal = false;
  try {
    text = serve(op);
  } catch (err) {
    // Not a Python exception (host.py catches those): the interpreter itself failed (a fatal error, a
    // JS stack overflow, a grow that broke an invariant). Answer, then stop serving.
    fatal = true;
    let name = 'InterpreterError';
    let message = 'the Python interpreter failed';
    try {
      name = String(err && err.name) || name;
      message = String(err && err.message) || message;
    } catch {
      // keep the defaults
    }
    text = 'F' + stringify({ name, message });
  }
  capBytes = baseline + 256 * MIB;
  answer(seq, text);
  if (fatal) {
    atomicsStore(ctrl, STATE, STATE_FAILED);
    atomicsNotify(ctrl, STATE);
    break;
  }
}
