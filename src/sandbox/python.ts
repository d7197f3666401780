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
import { discardCachedSnapshot, readCachedSnapshot, writeCachedSnapshot } from './python-snapshot-cache.js';

// The shared-memory protocol, one home for both sides (python/protocol.mjs).
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
  HEAP_MB,
  BASE_MB,
  INTERRUPT_SEQ,
  CTRL_SLOTS,
  OP_CALL,
  OP_COMPILE_CALL,
  OP_ANALYZE,
  OP_SELF_CHECK,
  OP_PROBE,
  OP_COMPILE_CALL_UNGUARDED,
  STATE_BOOT,
  STATE_READY,
  STATE_FAILED,
  SNAPSHOT_REFUSED,
} from './python/protocol.mjs';
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

type WaitAsync = (
  a: Int32Array,
  i: number,
  v: number,
  t: number,
) => { async: boolean; value: Promise<string> | string };
/** Atomics.waitAsync: waits on shared memory without blocking the event loop. */
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

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
  /** Tool interpreters alive now (one per trust domain, plus the spare being kept ready). */
  interpreters: number;
  /** Tool interpreters retired to stay within sandbox.python_interpreters. */
  evictions: number;
  /** Milliseconds the last interpreter started from the memory snapshot took to load. */
  snapshotStartMs: number | null;
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

/**
 * How Python tools are kept apart past the Python layer. `per_tool`: every code body (a version) gets
 * an interpreter of its own, started from a memory snapshot of a loaded one, so even a tool that got
 * past every Python-level restriction changes nothing another tool computes. `shared`: every tool in
 * one interpreter (fresh globals and module views per call, no wall behind them).
 */
export type PythonIsolation = 'per_tool' | 'shared';

export interface PythonPlacement {
  isolation: PythonIsolation;
  /** Most tool interpreters alive at once; past it the least recently used is retired. */
  maxInterpreters: number;
}

const SHARED_DOMAIN = 'shared';

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
  /** The request the thread works on, until its answer (or its timeout) is taken. */
  pending: Pending | null;
  alive: boolean;
  ready: Promise<void>;
  /** noteReady() ran for it (stats read, the thread unref'd). */
  noted: boolean;
  startedAt: number;
  /** The trust domain it serves (tools), null while it is the spare. */
  domain: string | null;
  /** Started from the snapshot (its load time is snapshotStartMs). */
  fromSnapshot: boolean;
}

const stats: PythonHostStats = {
  coldStartMs: null,
  starts: 0,
  restarts: 0,
  calls: 0,
  timeouts: 0,
  heapMb: 0,
  baselineMb: 0,
  interpreters: 0,
  evictions: 0,
  snapshotStartMs: null,
};
let analysisInterpreter: Interpreter | null = null;
/** Tool interpreters by trust domain, least recently used first. */
const tools = new Map<string, Interpreter>();
/** A loaded interpreter no tool has run in yet: the next new domain takes it. */
let spare: Interpreter | null = null;
/**
 * The memory snapshot of a loaded interpreter (Pyodide's makeMemorySnapshot, taken after the host's
 * code and every allowed module are loaded, before any tool ran): later interpreters start from it.
 */
let snapshot: SharedArrayBuffer | null = null;
let snapshotPort: MessagePort | null = null;
/** Whether the on-disk snapshot was looked for, and whether `snapshot` came from it. */
let diskLooked = false;
let snapshotFromDisk = false;
const unguardedKeys = new Set<string>();

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
  const found = candidates.find(
    (dir) => existsSync(path.join(dir, 'worker.mjs')) && existsSync(path.join(dir, 'host.py')),
  );
  if (!found) throw new Error('the Python sandbox files (src/sandbox/python/worker.mjs, host.py) were not found');
  const require = createRequire(path.join(found, 'worker.mjs'));
  return {
    workerUrl: pathToFileURL(path.join(found, 'worker.mjs')),
    hostPy: path.join(found, 'host.py'),
    pyodideUrl: pathToFileURL(require.resolve('pyodide/pyodide.mjs')).href,
  };
}

function start(role: Role, domain: string | null = null): Interpreter {
  const files = locate();
  takeSnapshot();
  // An earlier process's snapshot, kept on disk: every interpreter of this one starts from it.
  if (!diskLooked && snapshot === null && snapshotPort === null) {
    diskLooked = true;
    snapshot = readCachedSnapshot(snapshotFiles(files));
    snapshotFromDisk = snapshot !== null;
  }
  // Otherwise the first tools interpreter makes the snapshot the others start from.
  const makeSnapshot = role === 'tools' && snapshot === null && snapshotPort === null;
  const snapshotChannel = makeSnapshot ? new MessageChannel() : null;
  if (snapshotChannel) snapshotPort = snapshotChannel.port1;
  const fromSnapshot = snapshot !== null;
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
  const interrupt = new Int32Array(new SharedArrayBuffer(4));
  const dataBuffer = new SharedArrayBuffer(DATA_BYTES);
  const channel = new MessageChannel();
  const hostDisallows = process.execArgv.includes('--disallow-code-generation-from-strings');
  let worker: Worker;
  v8.setFlagsFromString('--disallow-code-generation-from-strings');
  try {
    worker = new Worker(files.workerUrl, {
      workerData: {
        ctrlBuffer: ctrl.buffer,
        interruptBuffer: interrupt.buffer,
        dataBuffer,
        port: channel.port2,
        pyodideUrl: files.pyodideUrl,
        hostPyPath: files.hostPy,
        snapshot: fromSnapshot ? snapshot : null,
        snapshotPort: snapshotChannel?.port2 ?? null,
      },
      transferList: snapshotChannel ? [channel.port2, snapshotChannel.port2] : [channel.port2],
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
    pending: null,
    alive: true,
    ready: Promise.resolve(),
    noted: false,
    startedAt: performance.now(),
    domain,
    fromSnapshot,
  };
  const died = () => {
    interpreter.alive = false;
    forget(interpreter);
    endPendingOfGone(interpreter);
  };
  worker.on('error', died);
  worker.on('exit', died);
  interpreter.ready = waitReady(interpreter).catch((err: unknown) => {
    // Only a load that failed condemns the kept snapshot, not a thread ended while it loaded (a spare
    // at shutdown).
    const failed = Atomics.load(interpreter.ctrl, STATE) === STATE_FAILED;
    if (failed && fromSnapshot && snapshotFromDisk) forgetDiskSnapshot(files);
    throw err;
  });
  return interpreter;
}

const snapshotFiles = (files: ReturnType<typeof locate>) => ({
  workerFile: fileURLToPath(files.workerUrl),
  hostPy: files.hostPy,
});

/** A kept snapshot that failed to start an interpreter is dropped: the next start loads the plain way. */
function forgetDiskSnapshot(files: ReturnType<typeof locate>): void {
  discardCachedSnapshot(snapshotFiles(files));
  snapshot = null;
  snapshotFromDisk = false;
}

/** Resolves when the interpreter is ready, polling its state without blocking the event loop. */
async function waitReady(interpreter: Interpreter): Promise<void> {
  const deadline = Date.now() + LOAD_TIMEOUT_MS;
  for (;;) {
    const state = Atomics.load(interpreter.ctrl, STATE);
    if (state === STATE_READY) return noteReady(interpreter);
    if (state === STATE_FAILED || !interpreter.alive || Date.now() > deadline)
      throw new Error('the Python interpreter failed to load');
    const waited = waitAsync?.(interpreter.ctrl, STATE, state, 100);
    if (waited?.async) await waited.value;
    else await new Promise((r) => setTimeout(r, 20));
  }
}

function noteReady(interpreter: Interpreter): void {
  interpreter.noted = true;
  if (Atomics.load(interpreter.ctrl, SNAPSHOT_REFUSED) === 1 && snapshotFromDisk) forgetDiskSnapshot(locate());
  if (interpreter.role === 'tools') {
    if (interpreter.fromSnapshot) stats.snapshotStartMs = Atomics.load(interpreter.ctrl, COLD_MS);
    else stats.coldStartMs = Atomics.load(interpreter.ctrl, COLD_MS);
  }
  takeSnapshot();
  stats.baselineMb = Atomics.load(interpreter.ctrl, BASE_MB);
  stats.heapMb = Atomics.load(interpreter.ctrl, HEAP_MB);
  // Idle, the thread keeps no process alive.
  interpreter.worker.unref();
}

/** Drops an interpreter from the tables (it died, was replaced or retired). */
function forget(target: Interpreter): void {
  if (analysisInterpreter === target) analysisInterpreter = null;
  if (spare === target) spare = null;
  if (target.domain !== null && tools.get(target.domain) === target) tools.delete(target.domain);
  stats.interpreters = tools.size + (spare ? 1 : 0);
}

/** The snapshot, once the interpreter that makes it has sent it (non-blocking). */
function takeSnapshot(): void {
  if (snapshot || !snapshotPort) return;
  const message = receiveMessageOnPort(snapshotPort);
  if (message?.message instanceof SharedArrayBuffer) {
    snapshot = message.message;
    snapshotPort.close();
    snapshotPort = null;
    writeCachedSnapshot(snapshotFiles(locate()), snapshot);
  } else if (message) {
    // The snapshot could not be made: every interpreter loads the plain way.
    snapshotPort.close();
    snapshotPort = null;
    snapshot = null;
  }
}

function analysis(): Interpreter {
  if (analysisInterpreter && analysisInterpreter.alive) return analysisInterpreter;
  const started = start('analysis');
  analysisInterpreter = started;
  started.ready.catch(() => {
    // a failed load is reported to the call that waits for it
  });
  return started;
}

/** Keeps one loaded interpreter in reserve, so a new tool does not wait for a load. */
function ensureSpare(): Interpreter {
  if (spare && spare.alive) return spare;
  const started = start('tools', null);
  spare = started;
  stats.interpreters = tools.size + 1;
  started.ready.catch(() => {
    // a failed load is reported to the call that waits for it
  });
  return started;
}

/** The interpreter of a trust domain: its own, else the spare (and a new spare starts loading). */
function toolsFor(domain: string, maxInterpreters: number): Interpreter {
  const existing = tools.get(domain);
  if (existing && existing.alive) {
    // Most recently used last.
    tools.delete(domain);
    tools.set(domain, existing);
    return existing;
  }
  const taken = ensureSpare();
  spare = null;
  taken.domain = domain;
  tools.set(domain, taken);
  while (tools.size > Math.max(1, maxInterpreters)) {
    // The least recently used that is not working for an awaiting caller (all busy: retired later).
    const idle = [...tools.entries()].find(([, candidate]) => !candidate.pending);
    if (!idle) break;
    tools.delete(idle[0]);
    stats.evictions++;
    retire(idle[1], true);
  }
  // The next new domain's interpreter loads in the background (from the snapshot once there is one),
  // started off this call: starting a thread blocks until its context exists.
  if (Atomics.load(taken.ctrl, STATE) === STATE_READY) setImmediate(startSpareIfIdle);
  else
    void taken.ready.then(
      () => startSpareIfIdle(),
      () => undefined,
    );
  stats.interpreters = tools.size + (spare ? 1 : 0);
  return taken;
}

/** Holds on the spare (holdPythonSpare): while any is held, no interpreter is started in reserve. */
let spareHolds = 0;
/** Counts closePythonHost() calls: a call waiting for its turn when the host closed is not sent again. */
let hostGeneration = 0;

function startSpareIfIdle(): void {
  // Only while the process uses Python: closePythonHost() leaves nothing running.
  if (spareHolds === 0 && tools.size > 0 && !(spare && spare.alive)) ensureSpare();
}

/**
 * Until the returned release is called, no interpreter is loaded in reserve for the next new tool.
 * For a command that runs one tool and exits (`dise call`): a spare would cost a second load (the
 * process cannot exit while its thread loads) for a tool that never comes. A tool needing an
 * interpreter meanwhile still gets one, loaded when it asks.
 */
export function holdPythonSpare(): () => void {
  spareHolds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    spareHolds--;
  };
}

/** Ends an interpreter; `later`: its thread is stopped off the current call (stopping one takes ms). */
function retire(target: Interpreter, later = false): void {
  target.alive = false;
  forget(target);
  endPendingOfGone(target);
  target.port.close();
  if (later) setImmediate(() => void target.worker.terminate());
  else void target.worker.terminate();
}

/** A request still pending on an interpreter that is gone ends now: it will never be answered. */
function endPendingOfGone(target: Interpreter): void {
  if (target.pending)
    settle(target, target.pending, {
      status: 'crashed',
      name: 'InterpreterExited',
      message: 'the Python interpreter exited',
    });
}

/** Are the analysis interpreter and a tools interpreter loaded (so a call or an analysis pays nothing for loading)? */
export function pythonReady(): boolean {
  const ready = (i: Interpreter | null) => i !== null && i.alive && Atomics.load(i.ctrl, STATE) === STATE_READY;
  return ready(analysisInterpreter) && (ready(spare) || [...tools.values()].some(ready));
}

/** Starts the interpreters if needed (in parallel) and resolves once both are loaded; never blocks the event loop. */
export async function warmPython(): Promise<void> {
  await Promise.all([analysis().ready, warmPythonTools()]);
}

/** Is an interpreter for tool code loaded (the spare or one a tool already runs in)? */
export function pythonToolsReady(): boolean {
  const ready = (i: Interpreter | null) => i !== null && i.alive && Atomics.load(i.ctrl, STATE) === STATE_READY;
  return ready(spare) || [...tools.values()].some(ready);
}

/**
 * Loads an interpreter for tool code if none is loaded, without the analysis one: calling a tool
 * parses nothing, and a process that only calls (`dise call`) would otherwise load two.
 */
export async function warmPythonTools(): Promise<void> {
  if (!pythonToolsReady()) await ensureSpare().ready;
}

/** Resolves once the spare interpreter (the one the next new tool takes) is loaded. */
export async function warmPythonSpare(): Promise<void> {
  await ensureSpare().ready;
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

/** Terminates the interpreters (process shutdown, tests). The next call starts fresh ones (from the snapshot). */
export async function closePythonHost(): Promise<void> {
  hostGeneration++;
  const targets = [analysisInterpreter, spare, ...tools.values()];
  analysisInterpreter = null;
  spare = null;
  tools.clear();
  stats.interpreters = 0;
  // A thread being stopped keeps no process alive, and one still loading can take a while to stop: a
  // process with nothing else to do would exit in the middle of this await (status 13) without this.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await Promise.all(
      targets.map(async (target) => {
        if (!target) return;
        target.alive = false;
        endPendingOfGone(target);
        target.port.close();
        await target.worker.terminate();
      }),
    );
  } finally {
    clearInterval(keepAlive);
  }
}

export function pythonStats(): Readonly<PythonHostStats> {
  const last = [...tools.values()].at(-1) ?? spare;
  if (last && Atomics.load(last.ctrl, STATE) === STATE_READY) stats.heapMb = Atomics.load(last.ctrl, HEAP_MB);
  return { ...stats };
}

function replace(target: Interpreter): void {
  // Already gone (it exited, was retired, or the host closed): nothing to replace.
  if (!target.alive) return;
  stats.restarts++;
  retire(target);
  // The next interpreter loads in the background; a call arriving before it is ready waits for it.
  if (target.role === 'analysis') analysis();
  else ensureSpare();
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
    return typeof message?.message === 'string'
      ? message.message
      : 'F{"name":"ProtocolError","message":"answer missing"}';
  }
  return target.data.toString('utf8', 0, n);
}

function decode(text: string): PythonAnswer {
  const status = text.charCodeAt(0);
  if (status === 79 /* O */) return { status: 'ok', text: text.slice(1) };
  try {
    const parsed = JSON.parse(text.slice(1)) as {
      kind?: string;
      message?: string;
      name?: string | null;
      stack?: string | null;
    };
    if (status === 69 /* E */) {
      return {
        status: 'error',
        kind: String(parsed.kind),
        message: String(parsed.message),
        name: parsed.name ?? null,
        stack: parsed.stack ?? null,
      };
    }
    return {
      status: 'crashed',
      name: String(parsed.name ?? 'InterpreterError'),
      message: String(parsed.message ?? ''),
    };
  } catch {
    return { status: 'crashed', name: 'ProtocolError', message: 'an answer that is not JSON' };
  }
}

/**
 * A request sent to an interpreter's thread. It ends once, whichever side ends it: the caller that
 * sent it, or a synchronous request for the same thread that has to wait for it (the shared buffers
 * serve one request at a time).
 */
interface Pending {
  seq: number;
  /** performance.now() after which the Python work is interrupted. */
  deadline: number;
  /** When the interrupt was sent; the thread then has INTERRUPT_GRACE_MS to answer. */
  interruptedAt: number | null;
  result: PythonAnswer | null;
  /** Resolves when the request has ended. */
  ended: Promise<void>;
  end: () => void;
}

/** Sends a request to the thread; `timeoutMs` bounds the Python work, `memoryMb` caps heap growth during it. */
function send(target: Interpreter, op: number, strings: string[], timeoutMs: number, memoryMb: number): Pending {
  if (!target.alive) throw new Error('the Python interpreter exited');
  const ctrl = target.ctrl;
  write(target, strings);
  Atomics.store(ctrl, OP, op);
  Atomics.store(ctrl, MEM_MB, memoryMb);
  const seq = ++target.seq;
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const pending: Pending = {
    seq,
    deadline: performance.now() + timeoutMs,
    interruptedAt: null,
    result: null,
    ended,
    end,
  };
  target.pending = pending;
  Atomics.store(ctrl, REQ, seq);
  Atomics.notify(ctrl, REQ);
  stats.calls++;
  return pending;
}

/** Ends `pending` with `result`: the thread is free for the next request. */
function settle(target: Interpreter, pending: Pending, result: PythonAnswer): PythonAnswer {
  pending.result = result;
  if (target.pending === pending) target.pending = null;
  pending.end();
  return result;
}

/** The thread answered `pending`: its answer (an interpreter that crashed is replaced). */
function takeAnswer(target: Interpreter, pending: Pending): PythonAnswer {
  const answer = decode(readAnswer(target));
  if (answer.status === 'crashed') replace(target);
  return settle(target, pending, answer);
}

/** Over time (or cancelled): a KeyboardInterrupt for the tool, which has a grace to unwind. */
function interrupt(target: Interpreter, pending: Pending): void {
  stats.timeouts++;
  pending.interruptedAt = performance.now();
  // Which request it is for first: a thread that has not taken the request yet keeps the interrupt.
  Atomics.store(target.ctrl, INTERRUPT_SEQ, pending.seq);
  Atomics.store(target.interrupt, 0, 2);
}

/** The grace after the interrupt is over: whatever it answered, the request timed out. */
function timedOut(target: Interpreter, pending: Pending, answeredInGrace: boolean): PythonAnswer {
  if (answeredInGrace) {
    if (decode(readAnswer(target)).status === 'crashed') replace(target);
  } else {
    // It did not unwind: the interpreter is replaced.
    replace(target);
  }
  return settle(target, pending, { status: 'timeout' });
}

/** Ends `pending`, blocking this thread: its answer, or a timeout past its deadline. */
function endSync(target: Interpreter, pending: Pending): PythonAnswer {
  if (pending.interruptedAt === null) {
    if (awaitAnswer(target, pending.seq, pending.deadline)) return takeAnswer(target, pending);
    interrupt(target, pending);
  }
  const answered = awaitAnswer(target, pending.seq, pending.interruptedAt! + INTERRUPT_GRACE_MS);
  return answered ? timedOut(target, pending, true) : timedOut(target, pending, false);
}

/**
 * Blocks until `target` can take a request: loaded, and an asynchronous request still running on it
 * ended first (its caller gets its answer). False when that request retired the interpreter (it ran
 * away): the caller asks its domain for the new one.
 */
function turnSync(target: Interpreter): boolean {
  readySync(target);
  if (target.pending) endSync(target, target.pending);
  return target.alive;
}

/** One synchronous request: the event loop waits for the answer. */
function request(
  target: Interpreter,
  op: number,
  strings: string[],
  timeoutMs: number,
  memoryMb: number,
): PythonAnswer {
  turnSync(target);
  return endSync(target, send(target, op, strings, timeoutMs, memoryMb));
}

/** Resolves when `ctrl[RESP]` changes from `seen`, after `ms`, or when `signal` aborts. */
async function answerOrTimer(ctrl: Int32Array, seen: number, ms: number, signal?: AbortSignal): Promise<void> {
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const waited = waitAsync?.(ctrl, RESP, seen, Math.max(1, ms));
    const changed = waited?.async
      ? (waited.value as Promise<string>)
      : new Promise((r) => setTimeout(r, Math.min(ms, 5)));
    await Promise.race([changed, aborted]);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The answer to a request cancelled before it was sent (a timeout to its caller, who reports the cancellation). */
const NOT_SENT: PythonAnswer = { status: 'timeout' };

/**
 * One request without holding the event loop: the caller awaits the thread's answer (requests for the
 * same thread take turns). `signal` ends the Python work as its time limit would (the answer is then a
 * timeout; the caller reports the cancellation). Null, sent nowhere, when a request before it retired
 * the interpreter (it ran away): the caller asks its domain for the new one.
 */
async function requestAsync(
  target: Interpreter,
  op: number,
  strings: string[],
  timeoutMs: number,
  memoryMb: number,
  signal?: AbortSignal,
): Promise<PythonAnswer | null> {
  await target.ready;
  if (!target.noted) noteReady(target);
  while (target.pending) await target.pending.ended;
  // No await from here to send(): the turn is this request's alone.
  if (!target.alive) return null;
  // Cancelled while it waited for its turn: not sent at all.
  if (signal?.aborted) return NOT_SENT;
  const pending = send(target, op, strings, timeoutMs, memoryMb);
  // Awaiting shared memory keeps no process alive: the thread does while it works for this caller.
  target.worker.ref();
  void pending.ended.then(() => {
    if (!target.pending) target.worker.unref();
  });
  const ctrl = target.ctrl;
  for (;;) {
    // A synchronous request for this thread, or the thread's end, may have ended it meanwhile.
    if (pending.result) return pending.result;
    if (Atomics.load(ctrl, RESP) === pending.seq)
      // Answered in the grace after the interrupt: a timeout all the same, as endSync() says.
      return pending.interruptedAt === null ? takeAnswer(target, pending) : timedOut(target, pending, true);
    const failed = Atomics.load(ctrl, STATE) === STATE_FAILED;
    const now = performance.now();
    if (pending.interruptedAt === null) {
      if (failed || now >= pending.deadline || signal?.aborted) interrupt(target, pending);
      else {
        await answerOrTimer(ctrl, Atomics.load(ctrl, RESP), Math.min(pending.deadline - now, 1000), signal);
        continue;
      }
    }
    const graceLeft = pending.interruptedAt! + INTERRUPT_GRACE_MS - performance.now();
    if (failed || graceLeft <= 0) return timedOut(target, pending, false);
    await answerOrTimer(ctrl, Atomics.load(ctrl, RESP), graceLeft);
  }
}

/** Error kinds after which the interpreter may not hold the tool's code (see toolRequest). */
const NOT_KEPT = new Set(['compile_error', 'timeout', 'memory_limit']);

const DEFAULT_PLACEMENT: PythonPlacement = { isolation: 'per_tool', maxInterpreters: 8 };

/** A call of the Python tool `key`: the interpreter of its trust domain, and what to send it. */
function toolRequest(key: string, code: string, inputJson: string, placement: PythonPlacement) {
  const domain = placement.isolation === 'shared' ? SHARED_DOMAIN : `tool:${key}`;
  const target = toolsFor(domain, placement.maxInterpreters);
  // The code is compiled once per interpreter: later calls send only the key and the input.
  const compile = !target.known.has(key);
  const op = compile ? (unguardedKeys.has(key) ? OP_COMPILE_CALL_UNGUARDED : OP_COMPILE_CALL) : OP_CALL;
  const strings = compile ? [key, code, inputJson] : [key, inputJson];
  /**
   * Remembers that the interpreter holds the compiled code, once the tool itself answered. Not after a
   * timeout, an interrupt or a crash: an interrupt that lands while the code compiles leaves it
   * uncompiled, and the next call must send the code again.
   */
  const answered = (answer: PythonAnswer): PythonAnswer => {
    const ran = answer.status === 'ok' || (answer.status === 'error' && !NOT_KEPT.has(answer.kind));
    if (compile && target.alive && ran) target.known.add(key);
    return answer;
  };
  return { target, op, strings, answered };
}

/**
 * Runs the Python tool `key` (compiled from `code` once per interpreter) on `inputJson`, in the
 * interpreter of its trust domain (`placement`: the key's own under per_tool).
 */
export function callPython(
  key: string,
  code: string,
  inputJson: string,
  timeoutMs: number,
  memoryMb: number,
  placement: PythonPlacement = DEFAULT_PLACEMENT,
): PythonAnswer {
  const generation = hostGeneration;
  for (;;) {
    const { target, op, strings, answered } = toolRequest(key, code, inputJson, placement);
    // Retired while this call waited for its turn: the domain's next interpreter takes it.
    if (!turnSync(target)) {
      hostStillOpen(generation);
      continue;
    }
    return answered(endSync(target, send(target, op, strings, timeoutMs, memoryMb)));
  }
}

/** A call whose interpreter went away while it waited is sent again only if the host was not closed. */
function hostStillOpen(generation: number): void {
  if (hostGeneration !== generation) throw new Error('the Python interpreter exited');
}

/**
 * callPython() without holding the event loop (the judge's runs): the caller awaits the interpreter's
 * answer while this thread serves heartbeats and cancellations. `signal` interrupts the tool.
 */
export async function callPythonAsync(
  key: string,
  code: string,
  inputJson: string,
  timeoutMs: number,
  memoryMb: number,
  placement: PythonPlacement = DEFAULT_PLACEMENT,
  signal?: AbortSignal,
): Promise<PythonAnswer> {
  const generation = hostGeneration;
  for (;;) {
    const { target, op, strings, answered } = toolRequest(key, code, inputJson, placement);
    // Retired while this call waited for its turn (a call before it ran away): the domain's next
    // interpreter takes it. Each retirement ended another call, so this ends as the calls before it do.
    const answer = await requestAsync(target, op, strings, timeoutMs, memoryMb, signal);
    // Never sent: nothing was compiled, so nothing is remembered.
    if (answer === NOT_SENT) return answer;
    if (answer) return answered(answer);
    hostStillOpen(generation);
  }
}

/**
 * For tests only: the tools with these keys run with every Python-level defence off (the
 * interpreter's full builtins and real modules, no source checks, no module restore, no audit
 * refusals), as a tool that got past all of them would. Pass [] to end it.
 */
export function setPythonDefencesOffForTests(keys: string[]): void {
  unguardedKeys.clear();
  for (const key of keys) unguardedKeys.add(key);
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
      /**
       * Ways past the sandbox's first layer that the AST shows beyond names and attributes: class
       * patterns that read attributes by name, format strings that walk into internals, metaclasses
       * and class hooks (the same checks the tools interpreter refuses before it compiles).
       */
      hazards: {
        check: 'dunder_access' | 'match_attribute' | 'format_attribute' | 'class_hook';
        message: string;
        line: number;
        col: number;
      }[];
    };

/**
 * Parses `code` with Python's own ast and tokenize in the analysis interpreter, which never runs
 * tool code (trusted code over untrusted text). Lines are 1-based, columns 0-based characters. Synchronous: blocks until
 * the interpreter is loaded.
 */
export function analyzePython(code: string): PythonAnalysis {
  const answer = request(analysis(), OP_ANALYZE, [code], ANALYSIS_TIMEOUT_MS, ANALYSIS_MEMORY_MB);
  if (answer.status === 'ok') return JSON.parse(answer.text) as PythonAnalysis;
  if (answer.status === 'timeout') return { ok: false, error: { line: 0, col: 0, message: 'analysis timed out' } };
  return {
    ok: false,
    error: {
      line: 0,
      col: 0,
      message: answer.status === 'error' ? answer.message : `${answer.name}: ${answer.message}`,
    },
  };
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
export function pythonSelfCheck(domainKey?: string): PythonSelfCheck {
  const answer = request(probeTarget(domainKey), OP_SELF_CHECK, [], 30_000, ANALYSIS_MEMORY_MB);
  if (answer.status !== 'ok') throw new Error(`self-check failed: ${JSON.stringify(answer)}`);
  return JSON.parse(answer.text) as PythonSelfCheck;
}

/**
 * Runs trusted Python in the tools interpreter with its full builtins and modules, as a tool that got
 * past every Python-level restriction could: the tests of the boundary around the interpreter use it.
 * Only the host can call it. Answers the JSON value the code leaves in the variable `result`.
 * `asTool`: the interpreter's audit hook treats it as a running tool (the wall behind the Python layer).
 */
export function pythonProbe(code: string, domainKey?: string, options: { asTool?: boolean } = {}): unknown {
  const answer = request(
    probeTarget(domainKey),
    OP_PROBE,
    [code, options.asTool ? '1' : '0'],
    30_000,
    ANALYSIS_MEMORY_MB,
  );
  if (answer.status === 'ok') return JSON.parse(answer.text) as unknown;
  throw new Error(`probe failed: ${JSON.stringify(answer)}`);
}

/** The interpreter a probe runs in: the one of the tool `key` (per_tool), else the shared one. */
function probeTarget(key: string | undefined): Interpreter {
  return toolsFor(
    key === undefined ? SHARED_DOMAIN : `tool:${key}`,
    Math.max(DEFAULT_PLACEMENT.maxInterpreters, tools.size + 1),
  );
}
