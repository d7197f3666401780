/**
 * The Python host: one Pyodide interpreter per process (per Temporal worker) for tool code, loaded
 * once, lazily, in a worker thread (src/sandbox/python/worker.mjs) and shared by every Sandbox and
 * every Python tool; and a second one, in its own thread, that only parses code for the analyses (a
 * tool cannot tamper with the checks that judge it). Calls are synchronous: the caller writes the request into shared memory, wakes the thread
 * and waits on a futex for the answer (spinning a few µs first), so a call costs the Python work
 * plus a thread hand-off, and Sandbox.run stays synchronous like the JavaScript path.
 *
 * Limits:
 * - time: at timeout_ms the host writes SIGINT into Pyodide's interrupt buffer (KeyboardInterrupt at
 *   the next bytecode check); if the interpreter has not answered after a short grace (stuck in C,
 *   or the tool swallowed the interrupt) the thread is terminated and a fresh one started. Either way
 *   the call is a `timeout`.
 * - memory: the worker caps WebAssembly.Memory#grow at the heap after loading plus memory_limit_mb;
 *   malloc then fails and Python raises MemoryError (`memory_limit`). The heap never shrinks, so a
 *   call may use free heap left by an earlier one below the cap.
 *
 * Loading takes ~3 s. warmPython() starts it without blocking the event loop; a synchronous call
 * made before the interpreter is ready BLOCKS the calling thread until it is (the runtime calls
 * warmPython() as soon as it knows a Python tool exists). The load does not count against a call's
 * time limit.
 *
 * Code generation from strings: V8 reads --disallow-code-generation-from-strings when a context is
 * created, so the host sets the flag, creates the worker, waits (blocking, ~tens of ms) until the
 * worker's context exists, and clears the flag again. The host's own contexts (Temporal's workflow
 * vm contexts, isolated-vm) are unaffected, except any context created by another thread during that
 * window, which would have code generation from strings disabled too.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';

// The protocol: the same constants as worker.mjs.
const REQ = 0, RESP = 1, STATE = 2, OP = 3, LEN_A = 4, LEN_B = 5, LEN_C = 6, MEM_MB = 7, RESULT_LEN = 8, COLD_MS = 9, HEAP_MB = 10, BASE_MB = 11;
const OP_CALL = 1, OP_COMPILE_CALL = 2, OP_ANALYZE = 3, OP_SELF_CHECK = 4, OP_PROBE = 5;
const STATE_BOOT = 0, STATE_READY = 2, STATE_FAILED = 3;
const CTRL_SLOTS = 16;
/** Requests and answers up to this size go through shared memory; larger ones through a MessagePort. */
const DATA_BYTES = 1024 * 1024;
/** How long a timed-out call waits for the interpreter to answer its KeyboardInterrupt. */
const INTERRUPT_GRACE_MS = 250;
/** How long the host spins for an answer before sleeping on the futex (cuts wake-up latency). */
const SPIN_MS = 0.05;
const LOAD_TIMEOUT_MS = 120_000;
/** Analysis runs trusted code over untrusted text: bounded all the same. */
const ANALYSIS_TIMEOUT_MS = 10_000;
const ANALYSIS_MEMORY_MB = 256;

export interface PythonHostStats {
  /** Milliseconds the last interpreter took to load (worker start to ready), null before any load. */
  coldStartMs: number | null;
  /** Interpreters started in this process (1 + restarts). */
  starts: number;
  /** Interpreters replaced after a timeout the interrupt could not end, a crash or an exit. */
  restarts: number;
  calls: number;
  timeouts: number;
  /** The interpreter's heap now and after loading (MB). */
  heapMb: number;
  baselineMb: number;
}

/** How one request ended, as the interpreter answered it. */
export type PythonAnswer =
  | { status: 'ok'; text: string }
  | { status: 'error'; kind: string; message: string; name: string | null; stack: string | null }
  | { status: 'timeout' }
  | { status: 'crashed'; name: string; message: string };

/**
 * Two interpreters per process, never sharing a heap: `tools` runs tool code; `analysis` runs only the
 * trusted parse of untrusted text (static analysis, rule gates, tokens). A tool that got past the
 * Python-level restrictions could patch modules in its own interpreter; it cannot reach the one whose
 * answers decide whether code is safe.
 */
type Role = 'tools' | 'analysis';

interface Interpreter {
  role: Role;
  worker: Worker;
  ctrl: Int32Array;
  interrupt: Int32Array;
  data: Buffer;
  port: MessagePort;
  /** Tool keys compiled in this interpreter. */
  known: Set<string>;
  seq: number;
  alive: boolean;
  ready: Promise<void>;
  /** noteReady() ran for it (stats read, the thread unref'd). */
  noted: boolean;
  startedAt: number;
}

const stats: PythonHostStats = { coldStartMs: null, starts: 0, restarts: 0, calls: 0, timeouts: 0, heapMb: 0, baselineMb: 0 };
const current: Record<Role, Interpreter | null> = { tools: null, analysis: null };

function locate(): { workerUrl: URL; hostPy: string; pyodideUrl: string } {
  const candidates: string[] = [];
  try {
    candidates.push(path.join(path.dirname(fileURLToPath(import.meta.url)), 'python'));
  } catch {
    // not a file URL (a bundle): fall through to the walk
  }
  // A bundle (bin/dise.mjs runs one from .dise/cache) lives elsewhere: find the sources from there or the cwd.
  for (const start of [candidates[0] ?? process.cwd(), process.cwd()]) {
    let dir = start;
    for (let i = 0; i < 8; i++) {
      candidates.push(path.join(dir, 'src', 'sandbox', 'python'));
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  const found = candidates.find((dir) => existsSync(path.join(dir, 'worker.mjs')) && existsSync(path.join(dir, 'host.py')));
  if (!found) throw new Error('the Python sandbox files (src/sandbox/python/worker.mjs, host.py) were not found');
  const require = createRequire(path.join(found, 'worker.mjs'));
  return {
    workerUrl: pathToFileURL(path.join(found, 'worker.mjs')),
    hostPy: path.join(found, 'host.py'),
    pyodideUrl: pathToFileURL(require.resolve('pyodide/pyodide.mjs')).href,
  };
}

function start(role: Role): Interpreter {
  const files = locate();
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
  const interrupt = new Int32Array(new SharedArrayBuffer(4));
  const dataBuffer = new SharedArrayBuffer(DATA_BYTES);
  const channel = new MessageChannel();
  const hostDisallows = process.execArgv.includes('--disallow-code-generation-from-strings');
  let worker: Worker;
  v8.setFlagsFromString('--disallow-code-generation-from-strings');
  try {
    worker = new Worker(files.workerUrl, {
      workerData: { ctrlBuffer: ctrl.buffer, interruptBuffer: interrupt.buffer, dataBuffer, port: channel.port2, pyodideUrl: files.pyodideUrl, hostPyPath: files.hostPy },
      transferList: [channel.port2],
      execArgv: [],
      env: {},
      argv: [],
      resourceLimits: { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 64, stackSizeMb: 8 },
    });
    // Until the worker's context exists: it is created with the flag on.
    const until = Date.now() + 30_000;
    while (Atomics.load(ctrl, STATE) === STATE_BOOT && Date.now() < until) Atomics.wait(ctrl, STATE, STATE_BOOT, 50);
  } finally {
    if (!hostDisallows) v8.setFlagsFromString('--no-disallow-code-generation-from-strings');
  }
  stats.starts++;
  const interpreter: Interpreter = {
    role,
    worker,
    ctrl,
    interrupt,
    data: Buffer.from(dataBuffer),
    port: channel.port1,
    known: new Set(),
    seq: 0,
    alive: true,
    ready: Promise.resolve(),
    noted: false,
    startedAt: performance.now(),
  };
  const died = () => {
    interpreter.alive = false;
    if (current[role] === interpreter) current[role] = null;
  };
  worker.on('error', died);
  worker.on('exit', died);
  interpreter.ready = waitReady(interpreter);
  return interpreter;
}

/** Resolves when the interpreter is ready, polling its state without blocking the event loop. */
async function waitReady(interpreter: Interpreter): Promise<void> {
  const deadline = Date.now() + LOAD_TIMEOUT_MS;
  for (;;) {
    const state = Atomics.load(interpreter.ctrl, STATE);
    if (state === STATE_READY) return noteReady(interpreter);
    if (state === STATE_FAILED || !interpreter.alive || Date.now() > deadline) throw new Error('the Python interpreter failed to load');
    const waited = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: Promise<string> | string } }).waitAsync?.(interpreter.ctrl, STATE, state, 100);
    if (waited?.async) await waited.value;
    else await new Promise((r) => setTimeout(r, 20));
  }
}

function noteReady(interpreter: Interpreter): void {
  interpreter.noted = true;
  if (interpreter.role === 'tools' && (stats.coldStartMs === null || interpreter === current.tools)) stats.coldStartMs = Atomics.load(interpreter.ctrl, COLD_MS);
  stats.baselineMb = Atomics.load(interpreter.ctrl, BASE_MB);
  stats.heapMb = Atomics.load(interpreter.ctrl, HEAP_MB);
  // Idle, the thread keeps no process alive.
  interpreter.worker.unref();
}

function interpreter(role: Role): Interpreter {
  const existing = current[role];
  if (existing && existing.alive) return existing;
  const started = start(role);
  current[role] = started;
  started.ready.catch(() => {
    // a failed load is reported to the call that waits for it
  });
  return started;
}

/** Are both interpreters loaded and ready (so a call or an analysis pays nothing for loading)? */
export function pythonReady(): boolean {
  return (['tools', 'analysis'] as const).every((role) => {
    const i = current[role];
    return i !== null && i.alive && Atomics.load(i.ctrl, STATE) === STATE_READY;
  });
}

/** Starts the interpreters if needed (in parallel) and resolves once both are loaded; never blocks the event loop. */
export async function warmPython(): Promise<void> {
  await Promise.all([interpreter('tools').ready, interpreter('analysis').ready]);
}

/** For work about code in `language`: loads the interpreters first when it is Python (off the event loop). */
export async function warmPythonFor(language: string): Promise<void> {
  if (language === 'python' && !pythonReady()) await warmPython();
}

/** Blocks until the interpreter is loaded (the synchronous call path). */
function readySync(target: Interpreter): void {
  const deadline = Date.now() + LOAD_TIMEOUT_MS;
  for (;;) {
    const state = Atomics.load(target.ctrl, STATE);
    if (state === STATE_READY) {
      if (!target.noted) noteReady(target);
      return;
    }
    if (state === STATE_FAILED || Date.now() > deadline) throw new Error('the Python interpreter failed to load');
    Atomics.wait(target.ctrl, STATE, state, 100);
  }
}

/** Terminates the interpreters (process shutdown, tests). The next call starts fresh ones. */
export async function closePythonHost(): Promise<void> {
  const targets = [current.tools, current.analysis];
  current.tools = null;
  current.analysis = null;
  await Promise.all(
    targets.map(async (target) => {
      if (!target) return;
      target.alive = false;
      target.port.close();
      await target.worker.terminate();
    }),
  );
}

export function pythonStats(): Readonly<PythonHostStats> {
  const tools = current.tools;
  if (tools && Atomics.load(tools.ctrl, STATE) === STATE_READY) stats.heapMb = Atomics.load(tools.ctrl, HEAP_MB);
  return { ...stats };
}

function replace(target: Interpreter): void {
  target.alive = false;
  if (current[target.role] === target) current[target.role] = null;
  stats.restarts++;
  target.port.close();
  void target.worker.terminate();
  // The next interpreter loads in the background; a call arriving before it is ready waits for it.
  interpreter(target.role);
}

function write(target: Interpreter, strings: string[]): void {
  let total = 0;
  const lengths: number[] = [];
  for (const s of strings) {
    const n = Buffer.byteLength(s, 'utf8');
    lengths.push(n);
    total += n;
  }
  if (total > target.data.length) {
    target.port.postMessage(strings);
    Atomics.store(target.ctrl, LEN_A, -1);
    return;
  }
  let offset = 0;
  for (let i = 0; i < strings.length; i++) {
    offset += target.data.write(strings[i]!, offset, 'utf8');
  }
  Atomics.store(target.ctrl, LEN_A, lengths[0] ?? 0);
  Atomics.store(target.ctrl, LEN_B, lengths[1] ?? 0);
  Atomics.store(target.ctrl, LEN_C, lengths[2] ?? 0);
}

/** Waits for the answer to `seq` until `deadline` (performance.now()); false when it did not come. */
function awaitAnswer(target: Interpreter, seq: number, deadline: number): boolean {
  const ctrl = target.ctrl;
  const spinUntil = Math.min(deadline, performance.now() + SPIN_MS);
  while (Atomics.load(ctrl, RESP) !== seq) {
    if (performance.now() >= spinUntil) break;
  }
  for (;;) {
    const seen = Atomics.load(ctrl, RESP);
    if (seen === seq) return true;
    if (Atomics.load(ctrl, STATE) === STATE_FAILED) return Atomics.load(ctrl, RESP) === seq;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    // Slices: a thread that died without answering is noticed at the deadline at the latest.
    Atomics.wait(ctrl, RESP, seen, Math.min(left, 1000));
  }
}

function readAnswer(target: Interpreter): string {
  const n = Atomics.load(target.ctrl, RESULT_LEN);
  if (n < 0) {
    const message = receiveMessageOnPort(target.port);
    return typeof message?.message === 'string' ? message.message : 'F{"name":"ProtocolError","message":"answer missing"}';
  }
  return target.data.toString('utf8', 0, n);
}

function decode(text: string): PythonAnswer {
  const status = text.charCodeAt(0);
  if (status === 79 /* O */) return { status: 'ok', text: text.slice(1) };
  try {
    const parsed = JSON.parse(text.slice(1)) as { kind?: string; message?: string; name?: string | null; stack?: string | null };
    if (status === 69 /* E */) {
      return { status: 'error', kind: String(parsed.kind), message: String(parsed.message), name: parsed.name ?? null, stack: parsed.stack ?? null };
    }
    return { status: 'crashed', name: String(parsed.name ?? 'InterpreterError'), message: String(parsed.message ?? '') };
  } catch {
    return { status: 'crashed', name: 'ProtocolError', message: 'an answer that is not JSON' };
  }
}

/**
 * One synchronous request. `strings` go to the interpreter; `timeoutMs` bounds the Python work (not
 * the load, not the hand-off before it starts); `memoryMb` caps heap growth during it.
 */
function request(role: Role, op: number, strings: string[], timeoutMs: number, memoryMb: number): PythonAnswer {
  const target = interpreter(role);
  readySync(target);
  if (!target.alive) throw new Error('the Python interpreter exited');
  const ctrl = target.ctrl;
  write(target, strings);
  Atomics.store(ctrl, OP, op);
  Atomics.store(ctrl, MEM_MB, memoryMb);
  const seq = ++target.seq;
  Atomics.store(ctrl, REQ, seq);
  Atomics.notify(ctrl, REQ);
  stats.calls++;
  if (awaitAnswer(target, seq, performance.now() + timeoutMs)) {
    const answer = decode(readAnswer(target));
    if (answer.status === 'crashed') replace(target);
    return answer;
  }
  // Over time: interrupt, give it a grace to unwind, else replace the interpreter.
  stats.timeouts++;
  Atomics.store(target.interrupt, 0, 2);
  if (awaitAnswer(target, seq, performance.now() + INTERRUPT_GRACE_MS)) {
    const answer = decode(readAnswer(target));
    if (answer.status === 'crashed') replace(target);
  } else {
    replace(target);
  }
  return { status: 'timeout' };
}

/** Runs the Python tool `key` (compiled from `code` once per interpreter) on `inputJson`. */
export function callPython(key: string, code: string, inputJson: string, timeoutMs: number, memoryMb: number): PythonAnswer {
  const target = interpreter('tools');
  readySync(target);
  const compile = !target.known.has(key);
  const answer = compile
    ? request('tools', OP_COMPILE_CALL, [key, code, inputJson], timeoutMs, memoryMb)
    : request('tools', OP_CALL, [key, inputJson], timeoutMs, memoryMb);
  if (compile && target.alive && !(answer.status === 'error' && answer.kind === 'compile_error')) target.known.add(key);
  return answer;
}

export type PythonAnalysis =
  | { ok: false; error: { line: number; col: number; message: string } }
  | {
      ok: true;
      /** A top-level `def run(...)` (or `run = lambda …`). */
      definesRun: boolean;
      /** `import x.y` → 'x.y'; `from x import y` → 'x' (relative: leading dots). */
      imports: { module: string; line: number }[];
      /** Dotted callee: 'eval', 'os.system', 's.strip', '<expr>.lower', '<expr>'. */
      calls: { name: string; line: number; col: number }[];
      /** Every ast.Name. */
      names: { id: string; line: number; col: number }[];
      /** Every ast.Attribute, at the position of the attribute's name. */
      attributes: { attr: string; line: number; col: number }[];
      /** The tokenize stream minus NEWLINE/NL/INDENT/DEDENT/COMMENT/ENDMARKER; type = token.tok_name. */
      tokens: { type: string; text: string; line: number; col: number }[];
      /** Every statement (ast.stmt, nested ones included) in source order, as ast.dump without fields or positions. */
      statements: { line: number; endLine: number; dump: string }[];
    };

/**
 * Parses `code` with Python's own ast and tokenize in the analysis interpreter, which never runs
 * tool code (trusted code over untrusted text). Lines are 1-based, columns 0-based characters. Synchronous: blocks until
 * the interpreter is loaded.
 */
export function analyzePython(code: string): PythonAnalysis {
  const answer = request('analysis', OP_ANALYZE, [code], ANALYSIS_TIMEOUT_MS, ANALYSIS_MEMORY_MB);
  if (answer.status === 'ok') return JSON.parse(answer.text) as PythonAnalysis;
  if (answer.status === 'timeout') return { ok: false, error: { line: 0, col: 0, message: 'analysis timed out' } };
  return { ok: false, error: { line: 0, col: 0, message: answer.status === 'error' ? answer.message : `${answer.name}: ${answer.message}` } };
}

export interface PythonSelfCheck {
  /** Every JsProxy reachable from any Python object (expected: none). */
  reachableJs: string[];
  /** What `Function('return 1')` did in the worker (expected: an EvalError message, not 'allowed'). */
  codeGeneration: string;
  /** The worker's global object's own properties. */
  globals: string[];
}

/** What the interpreter can reach, for the tests and `dise doctor`-style checks. */
export function pythonSelfCheck(): PythonSelfCheck {
  const answer = request('tools', OP_SELF_CHECK, [], 30_000, ANALYSIS_MEMORY_MB);
  if (answer.status !== 'ok') throw new Error(`self-check failed: ${JSON.stringify(answer)}`);
  return JSON.parse(answer.text) as PythonSelfCheck;
}

/**
 * Runs trusted Python in the tools interpreter with its full builtins and modules, as a tool that got
 * past every Python-level restriction could: the tests of the boundary around the interpreter use it.
 * Only the host can call it. Answers the JSON value the code leaves in the variable `result`.
 */
export function pythonProbe(code: string): unknown {
  const answer = request('tools', OP_PROBE, [code], 30_000, ANALYSIS_MEMORY_MB);
  if (answer.status === 'ok') return JSON.parse(answer.text) as unknown;
  throw new Error(`probe failed: ${JSON.stringify(answer)}`);
}
