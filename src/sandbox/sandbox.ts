import { availableParallelism } from 'node:os';
import ivm from './isolated-vm.js';
import type { SandboxConfig } from '../config/schema.js';
import type { JsonValue } from '../shared/lineage-types.js';
import type { ToolLanguage } from '../shared/language.js';
import { BOOTSTRAP, ENTRY, NON_JSON_MARKER } from './bootstrap.js';
import { ToolExecutionError } from './errors.js';
import { callPython, callPythonAsync, type PythonAnswer, type PythonPlacement } from './python.js';
import { factorySource, SCREEN_BOOTSTRAP, screeningPlan, type ScreeningPlan } from './screening.js';

/** Names whose absence a tool runs into when it reaches for the host. */
const HOST_GLOBALS = new Set([
  'require',
  'process',
  'fetch',
  'module',
  'exports',
  'Buffer',
  '__dirname',
  '__filename',
  'global',
  'window',
  'self',
  'XMLHttpRequest',
  'WebSocket',
  'importScripts',
  'Deno',
  'Bun',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'queueMicrotask',
  'navigator',
  'location',
  'document',
]);

/** A context with the bootstrap and the tool's top-level code run, ready for one call. */
interface PreparedContext {
  context: ivm.Context;
  invoke: ivm.Reference<(run: unknown, inputJson: string) => string>;
  run: ivm.Reference<unknown>;
}

interface CompiledTool {
  isolate: ivm.Isolate;
  bootstrap: ivm.Script;
  script: ivm.Script;
  /**
   * Contexts ready for one call each, oldest first (per_call): a call takes one and it is freed after
   * that call, never used again. Under `shared`, the one context every call runs in.
   */
  ready: PreparedContext[];
  /**
   * A context being prepared on the isolate's own thread. One at a time: a call on the caller's thread
   * then waits for at most one step of one preparation before it has the isolate.
   */
  preparing: boolean;
  /** How many ready contexts to keep: sandbox.ready_contexts, fewer when this tool's context is large. */
  target: number;
  /** Calls so far: the pool grows with them, so a version judged once does not pay for four contexts. */
  calls: number;
}

export interface SandboxStats {
  compiled: number;
  replaced: number;
  /** Contexts made on the caller's thread because none was ready. */
  contextsOnCallPath: number;
  /** Calls that took a context prepared ahead (per_call). */
  contextsFromPool: number;
  /** Contexts prepared ahead on an isolate's own thread, off the call path. */
  contextsPrepared: number;
  /** Calls answered in a screening context (see screening.ts). */
  screenedCalls: number;
  /** Screenings voided because a check found the context touched (or a limit left it unknowable). */
  screeningsVoided: number;
  /** Runs that ended on a limit that took their isolate down (and the runs queued on it). */
  limitDiscards: number;
}

/**
 * Thrown by a screening session once it can no longer vouch that its answers are those of fresh
 * contexts: every answer it gave is void, and the caller runs those calls again the exact way.
 */
export class ScreeningVoid extends Error {
  constructor(reason: string) {
    super(`screening void: ${reason}`);
    this.name = 'ScreeningVoid';
  }
}

/**
 * Calls of one JavaScript tool answered in one reused context, each as a call in a fresh context
 * would be (screening.ts). runJson() answers like Sandbox.runJson() or throws ScreeningVoid; finish()
 * says whether every answer given stands (the final check) and frees the context.
 */
export interface ScreeningSession {
  runJson(inputJson: string): string;
  finish(): boolean;
  /**
   * Calls on many inputs in one hand-over to the isolate's own thread (the loop runs inside the
   * isolate, a time slice at a time), so this thread stays free meanwhile. Answers the first inputs,
   * in order: all of them, or fewer when a call ran into the time limit (`timedOut`: the answers stop
   * at it; the caller decides whether larger inputs are worth running) or `stop()` said so between
   * slices. Throws ScreeningVoid as runJson() does, and the cancellation's reason at once when the
   * work's signal aborts (the screening's isolate is disposed, so nothing keeps running).
   */
  runBatchAsync(inputsJson: readonly string[], stop?: () => boolean): Promise<ScreenedBatch>;
  /** finish() off this thread. */
  finishAsync(): Promise<boolean>;
  close(): void;
}

/** What a screening session answered of a batch: the outcomes of its first inputs, in order. */
export interface ScreenedBatch {
  outcomes: BatchOutcome[];
  /** The last outcome is a timeout, or the batch stopped at a call a timeout ended. */
  timedOut: boolean;
}

/** The in-isolate state of a batch, as the screening's dispatcher reports it. */
interface BatchProgress {
  /** Output JSON text per call done; null where the call failed (see `failed`). */
  outputs: (string | null)[];
  /** Calls that failed: [index, 'load' | 'call' | 'norun'] (the thrown value is kept in the context). */
  failed: [number, string][];
  calls: number;
  nextCheck: number;
  /** false: a check found the context touched. */
  clean: boolean;
}

/**
 * How long one hand-over of a screened batch runs inside the isolate before it comes back: bounds
 * how late a cancellation, a time budget or a stop is seen, and how much of the call limit the calls
 * of a slice share (a call that a timeout ends after another call of its slice ran is run again first
 * in a slice of its own, with the whole limit).
 */
const BATCH_SLICE_MS = 20;

/**
 * The share of screened calls after which the host draws a check of the context, besides the
 * doubling schedule (see screening.ts). A check costs about what a fresh context does (~0.5 ms against
 * ~20–40 µs for a screened call), so 1/32 adds about 15 µs per call, and a tool that carries state
 * across calls on k of them escapes with probability (31/32)^k: 4% at k = 100.
 */
const SCREEN_CHECK_RATE = 1 / 32;

/**
 * How often a runAsync() call runs again after its isolate died under it with no run ending on a
 * limit (see invokeAsyncAgainIfDiscarded): a tool whose contexts keep going over the memory limit as
 * they are made ahead of calls would otherwise keep its callers waiting for good.
 */
const UNOWED_RETRIES = 2;

/** One call of a batch: the output JSON text, or how the call failed. */
export type BatchOutcome = { output: string; error: null } | { output: null; error: ToolExecutionError };

function batchOutcome(run: () => string): BatchOutcome {
  try {
    return { output: run(), error: null };
  } catch (err) {
    if (err instanceof ToolExecutionError) return { output: null, error: err };
    throw err;
  }
}

interface ScreenState {
  key: string;
  code: string;
  plan: ScreeningPlan;
  isolate: ivm.Isolate | null;
  dispatch: ivm.Reference<(op: string, a?: unknown, b?: unknown) => unknown> | null;
  /** Calls since the context was opened, and the count at which the next check runs. */
  calls: number;
  nextCheck: number;
  voided: string | null;
}

/**
 * How calls of one version are kept apart. `per_call` (the default): every call runs in a fresh
 * context, as if the tool had just been loaded, so no call sees what an earlier one left behind
 * (module-level counters, caches, patched built-ins) and the suite, replay and the differential check
 * see exactly what callers see. `shared`: one context per code body for every call, as calls used to
 * run; kept only as the benchmark's baseline for what isolating calls costs.
 */
export type SandboxIsolation = 'per_call' | 'shared';

export interface SandboxOptions {
  isolation?: SandboxIsolation;
  /**
   * The signal of the work this sandbox serves (a heal step: the activity's cancellation signal).
   * Once it is aborted every call throws its reason at once, so a cancelled step's remaining tool
   * runs cost nothing and the step ends at its next await.
   */
  cancellation?: () => AbortSignal | undefined;
  /**
   * Whether screen() may answer batches of calls in one checked context (default true). False keeps a
   * fresh context per call everywhere: the benchmark's baseline, and the reference the tests compare with.
   */
  screening?: boolean;
  /**
   * How many runAsync() calls may run tool code at once (default: the cores less one, at least one).
   * Tool code that spins takes a whole core until its time limit; left unbounded, a storm of such
   * runs takes every core and the thread that serves heartbeats and cancellations barely runs.
   */
  asyncConcurrency?: number;
  /** The share of screened calls checked at random (default SCREEN_CHECK_RATE; tests set 1 or 0). */
  screeningCheckRate?: number;
}

/**
 * Runs tool code in isolated-vm: no require, process, fs or network; a per-call time limit and a
 * per-isolate memory limit. Each code body is compiled once into its own isolate; each call runs in a
 * fresh context of that isolate. A few contexts per tool (sandbox.ready_contexts) are kept ready: each
 * made on the isolate's own thread, the compiled bootstrap and tool run in it (context, bootstrap, the
 * tool's top level), so a call usually pays only for itself; each serves one call and is then freed.
 * When none is ready (a burst faster than the refill) the call makes its own. An isolate killed by a
 * limit is disposed, with its ready contexts, and replaced on the next call.
 *
 * Every outcome is a value or a ToolExecutionError: the host never parses or trusts anything the
 * tool's globals produced (see bootstrap.ts), and anything unexpected is typed on the way out.
 */
export class Sandbox {
  private readonly tools = new Map<string, CompiledTool>();
  readonly stats: SandboxStats = {
    compiled: 0,
    replaced: 0,
    contextsOnCallPath: 0,
    contextsFromPool: 0,
    contextsPrepared: 0,
    screenedCalls: 0,
    screeningsVoided: 0,
    limitDiscards: 0,
  };
  private readonly plans = new Map<string, ScreeningPlan | null>();
  private readonly screens = new Set<ScreenState>();
  private readonly isolation: SandboxIsolation;
  private readonly cancellation: (() => AbortSignal | undefined) | undefined;
  private readonly screening: boolean;
  private readonly asyncSlots: AsyncSlots;
  private readonly checkRate: number;
  /** Compilations under way off this thread (runAsync), one per key: every call of the key awaits it. */
  private readonly compiling = new Map<string, Promise<CompiledTool>>();
  /** Isolates that a run's own limit took down (the runs queued on them run again: see invokeAsyncAgainIfDiscarded). */
  private readonly endedOnLimit = new WeakSet<ivm.Isolate>();
  /** Set by close(): nothing is compiled or run again, and a call it cut short is not retried. */
  private closed = false;

  constructor(
    private readonly config: SandboxConfig,
    options: SandboxOptions = {},
  ) {
    this.isolation = options.isolation ?? 'per_call';
    this.cancellation = options.cancellation;
    this.screening = options.screening ?? true;
    this.asyncSlots = new AsyncSlots(options.asyncConcurrency ?? Math.max(1, availableParallelism() - 1));
    this.checkRate = options.screeningCheckRate ?? SCREEN_CHECK_RATE;
  }

  /**
   * Runs `run(input)` of `code`; `key` identifies the compiled code (e.g. its hash). `language`:
   * JavaScript runs in isolated-vm (below); Python in the process's shared Pyodide interpreter
   * (python.ts), with the same limits and the same typed failures.
   */
  run(key: string, code: string, input: JsonValue, language: ToolLanguage = 'javascript'): JsonValue {
    return outputOf(this.runJson(key, code, inputJsonOf(input), language));
  }

  /**
   * run() without holding the event loop: JavaScript runs on isolated-vm's own threads while this
   * thread goes on serving heartbeats, cancellations and other work. A tool that spins to its time
   * limit blocks run()'s caller's whole process for that long; a heal replaying failing inputs on a
   * broken version uses this, so a storm of such heals cannot starve a worker. Python runs on its
   * interpreter's thread the same way (this thread awaits the answer; a cancellation interrupts the tool).
   */
  async runAsync(
    key: string,
    code: string,
    input: JsonValue,
    language: ToolLanguage = 'javascript',
  ): Promise<JsonValue> {
    return outputOf(await this.runJsonAsync(key, code, inputJsonOf(input), language));
  }

  /**
   * runJson() without holding the event loop: JavaScript on isolated-vm's threads, Python on its
   * interpreter's thread. Once the work's signal aborts, the call is abandoned at once: its reason is
   * thrown while the isolate's thread finishes the call (within its time limit) and frees its slot (a
   * Python call is interrupted).
   */
  async runJsonAsync(
    key: string,
    code: string,
    inputJson: string,
    language: ToolLanguage = 'javascript',
    timeoutMs?: number,
  ): Promise<string> {
    const signal = this.cancellation?.();
    if (signal?.aborted) throw abortReason(signal);
    const work = this.inSlot(signal, () =>
      language === 'python'
        ? this.invokePythonAsync(key, code, inputJson, signal, timeoutMs)
        : this.invokeAsyncAgainIfDiscarded(key, code, inputJson),
    ).catch((err: unknown) => {
      // A cancelled call throws its signal's reason, untouched; so does a call close() cut short.
      if (err instanceof ToolExecutionError || err instanceof SandboxClosed || signal?.aborted) throw err;
      const e = err instanceof Error ? err : new Error(safeText(err));
      throw new ToolExecutionError('thrown', `${e.name}: ${e.message}`, e.name, e.stack ?? null);
    });
    return abandonOnAbort(work, signal);
  }

  /**
   * `work` once one of the runAsync slots (sandbox.judge_threads) is free, holding it until the work
   * settles (also when its caller abandoned it on a cancellation: the isolate's thread is still busy).
   * A cancelled step leaves the queue at once (its signal's reason is thrown).
   */
  private async inSlot<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    await this.asyncSlots.acquire(signal);
    let running: Promise<T>;
    try {
      running = work();
    } catch (err) {
      this.asyncSlots.release();
      throw err;
    }
    void running.then(
      () => this.asyncSlots.release(),
      () => this.asyncSlots.release(),
    );
    return running;
  }

  /** The per-call time limit (sandbox.timeout_ms). */
  get callLimitMs(): number {
    return this.config.timeout_ms;
  }

  /**
   * Same as run() with the input already serialised; returns the output as JSON text. `timeoutMs`
   * lowers the time limit of a Python call below timeout_ms (the differential check's quick tries).
   */
  runJson(
    key: string,
    code: string,
    inputJson: string,
    language: ToolLanguage = 'javascript',
    timeoutMs?: number,
  ): string {
    const signal = this.cancellation?.();
    if (signal?.aborted) throw abortReason(signal);
    try {
      return language === 'python'
        ? this.invokePython(key, code, inputJson, timeoutMs)
        : this.invoke(key, code, inputJson);
    } catch (err) {
      // The last line of defence: whatever escaped the classification below is still a typed failure.
      if (err instanceof ToolExecutionError || err instanceof SandboxClosed) throw err;
      const e = err instanceof Error ? err : new Error(safeText(err));
      throw new ToolExecutionError('thrown', `${e.name}: ${e.message}`, e.name, e.stack ?? null);
    }
  }

  /**
   * A Python tool: one call in the interpreter of its trust domain (python_isolation: its own, or the
   * shared one). Calls are always kept apart by fresh globals: `isolation: shared` applies to
   * JavaScript only. Nothing here is per Sandbox, so close() leaves the
   * interpreter to the other Sandbox instances (closePythonHost() ends it).
   */
  private invokePython(key: string, code: string, inputJson: string, timeoutMs?: number): string {
    const timeout = Math.min(timeoutMs ?? Infinity, this.config.timeout_ms);
    let answer: PythonAnswer;
    try {
      answer = callPython(key, code, inputJson, timeout, this.config.memory_limit_mb, this.pythonPlacement());
    } catch (err) {
      throw interpreterUnavailable(err);
    }
    return this.pythonOutput(answer, timeout);
  }

  /** invokePython() awaiting the interpreter's thread; `signal` interrupts the tool and its reason is thrown. */
  private async invokePythonAsync(
    key: string,
    code: string,
    inputJson: string,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<string> {
    const timeout = Math.min(timeoutMs ?? Infinity, this.config.timeout_ms);
    const memory = this.config.memory_limit_mb;
    let answer: PythonAnswer;
    try {
      answer = await callPythonAsync(key, code, inputJson, timeout, memory, this.pythonPlacement(), signal);
    } catch (err) {
      throw interpreterUnavailable(err);
    }
    if (signal?.aborted) throw abortReason(signal);
    return this.pythonOutput(answer, timeout);
  }

  private pythonPlacement(): PythonPlacement {
    return { isolation: this.config.python_isolation, maxInterpreters: this.config.python_interpreters };
  }

  /** The interpreter's answer as the tool's output JSON, or the typed failure it stands for. */
  private pythonOutput(answer: PythonAnswer, timeout: number): string {
    const { memory_limit_mb: memory, max_output_bytes: maxOutput } = this.config;
    switch (answer.status) {
      case 'ok':
        if (answer.text.length > maxOutput) {
          throw new ToolExecutionError(
            'output_too_large',
            `result is ${answer.text.length} bytes, over the limit of ${maxOutput}`,
          );
        }
        return answer.text;
      case 'timeout':
        throw new ToolExecutionError('timeout', `tool exceeded the time limit of ${timeout} ms`);
      case 'crashed':
        // The interpreter itself failed (it is being replaced): typed, and the next call works.
        if (/memory/i.test(answer.message))
          throw new ToolExecutionError('memory_limit', `tool exceeded the memory limit of ${memory} MB`);
        throw new ToolExecutionError('thrown', `${answer.name}: ${answer.message}`, answer.name);
      case 'error':
        return this.pythonFailure(answer, timeout, memory);
    }
  }

  private pythonFailure(answer: Extract<PythonAnswer, { status: 'error' }>, timeout: number, memory: number): never {
    switch (answer.kind) {
      case 'timeout':
        throw new ToolExecutionError('timeout', `tool exceeded the time limit of ${timeout} ms`);
      case 'memory_limit':
        throw new ToolExecutionError('memory_limit', `tool exceeded the memory limit of ${memory} MB`);
      case 'non_json_result':
      case 'invalid_input':
      case 'host_access':
      case 'compile_error':
      case 'thrown':
        throw new ToolExecutionError(answer.kind, answer.message, answer.name, answer.stack);
      default:
        throw new ToolExecutionError('thrown', answer.message, answer.name, answer.stack);
    }
  }

  private invoke(key: string, code: string, inputJson: string): string {
    const tool = this.compiled(key, code);
    const prepared = this.takeContext(key, tool);
    let output: unknown;
    try {
      output = prepared.invoke.applySync(undefined, [prepared.run.derefInto(), inputJson], {
        timeout: this.config.timeout_ms,
      });
    } catch (err) {
      throw this.classify(key, tool, err);
    } finally {
      if (this.isolation === 'per_call') release(prepared);
      this.refill(tool);
    }
    return this.checkedOutput(output);
  }

  /**
   * A run of the same code that hit the memory limit takes the isolate down under the runs queued on
   * it: that says nothing about their inputs, so they run again in a fresh isolate. Each such retry
   * is owed to a run that ended on its limit, so it ends as the runs before it do. An isolate can also
   * die with no run ending on a limit (a context made ahead of the calls going over the memory limit,
   * a tool whose top level varies): after UNOWED_RETRIES of those, the call ends on the limit.
   */
  private async invokeAsyncAgainIfDiscarded(key: string, code: string, inputJson: string): Promise<string> {
    for (let unowed = 0; ;) {
      try {
        return await this.invokeAsync(key, code, inputJson);
      } catch (err) {
        if (!(err instanceof IsolateDiscardedUnder)) throw err;
        if (!err.owed && ++unowed > UNOWED_RETRIES) {
          throw new ToolExecutionError(
            'memory_limit',
            `the tool's isolate was taken down under this call ${unowed} times with no call ending on a limit ` +
              `(as when making its contexts ahead of calls goes over the memory limit of ${this.config.memory_limit_mb} MB)`,
          );
        }
      }
    }
  }

  private async invokeAsync(key: string, code: string, inputJson: string): Promise<string> {
    const tool = await this.compiledAsync(key, code);
    const prepared = await this.takeContextAsync(key, tool);
    let output: unknown;
    try {
      output = await prepared.invoke.apply(undefined, [prepared.run.derefInto(), inputJson], {
        timeout: this.config.timeout_ms,
      });
    } catch (err) {
      throw this.discardedUnder(key, tool, err) ?? this.classify(key, tool, err);
    } finally {
      if (this.isolation === 'per_call') release(prepared);
      this.refill(tool);
    }
    return this.checkedOutput(output);
  }

  /**
   * Whether a run's failure is another's: its isolate was disposed while it waited on the isolate's
   * thread (isolated-vm says only "Isolate is disposed"), or while it ran by a discard for another
   * run or by close(). A run that itself hit the memory limit is told so ("...due to memory limit").
   */
  private discardedUnder(key: string, tool: CompiledTool, err: unknown): Error | null {
    if (!tool.isolate.isDisposed) return null;
    if (this.closed) return new SandboxClosed();
    const message = err instanceof Error ? err.message : '';
    const owed = this.endedOnLimit.has(tool.isolate);
    if (message === 'Isolate is disposed') return new IsolateDiscardedUnder(owed);
    if (!/memory limit/i.test(message) && this.tools.get(key) !== tool) return new IsolateDiscardedUnder(owed);
    return null;
  }

  /** What the bootstrap returned, as the caller gets it: JSON text within the output limit. */
  private checkedOutput(output: unknown): string {
    if (typeof output !== 'string') throw new ToolExecutionError('non_json_result', 'result is not a JSON value');
    if (output.length > this.config.max_output_bytes) {
      throw new ToolExecutionError(
        'output_too_large',
        `result is ${output.length} bytes, over the limit of ${this.config.max_output_bytes}`,
      );
    }
    return output;
  }

  /** Counts the call, and takes a ready context for it if there is one (the shared one under `shared`). */
  private takeReady(tool: CompiledTool): PreparedContext | undefined {
    tool.calls++;
    const ready = this.isolation === 'per_call' ? tool.ready.shift() : tool.ready[0];
    if (ready && this.isolation === 'per_call') this.stats.contextsFromPool++;
    if (!ready) this.stats.contextsOnCallPath++;
    return ready;
  }

  /** The context for this call: a ready one when there is one, else one made now (under the call's time limit). */
  private takeContext(key: string, tool: CompiledTool): PreparedContext {
    const ready = this.takeReady(tool);
    if (ready) return ready;
    try {
      const prepared = prepareSync(tool, this.config.timeout_ms);
      if (this.isolation === 'shared') tool.ready.push(prepared);
      return prepared;
    } catch (err) {
      throw this.loadFailure(err, tool.isolate, key);
    }
  }

  /** takeContext() with the context, when none is ready, made on the isolate's own thread. */
  private async takeContextAsync(key: string, tool: CompiledTool): Promise<PreparedContext> {
    const ready = this.takeReady(tool);
    if (ready) return ready;
    let prepared: PreparedContext;
    try {
      prepared = await prepareAsync(tool, this.config.timeout_ms);
    } catch (err) {
      throw this.discardedUnder(key, tool, err) ?? this.loadFailure(err, tool.isolate, key);
    }
    if (this.isolation === 'shared') {
      // Another call made the shared context meanwhile: every call runs in that one.
      if (tool.ready[0]) {
        release(prepared);
        return tool.ready[0];
      }
      tool.ready.push(prepared);
    }
    return prepared;
  }

  /**
   * Tops the tool's ready contexts up to its target (no more than the calls it has had: a version
   * called once, as heal steps judge many, keeps one spare as before), one at a time on the isolate's thread, each
   * started when the last one is in. Started on the next turn of this thread, not in the call that
   * took a context: handing the work to the isolate's thread costs ~15 µs that call need not pay. A
   * failure just stops the refill until the next call, which makes its own context and meets the
   * failure itself.
   */
  private refill(tool: CompiledTool): void {
    if (this.isolation !== 'per_call' || tool.preparing || tool.isolate.isDisposed) return;
    if (tool.ready.length >= wanted(tool)) return;
    tool.preparing = true;
    setImmediate(() => this.prepareNext(tool));
  }

  private prepareNext(tool: CompiledTool): void {
    if (tool.isolate.isDisposed || tool.ready.length >= wanted(tool)) {
      tool.preparing = false;
      return;
    }
    prepareAsync(tool, this.config.timeout_ms).then(
      (prepared) => {
        // Disposed (a limit, discard(), close()): its contexts went with it.
        if (tool.isolate.isDisposed) {
          tool.preparing = false;
          return release(prepared);
        }
        tool.ready.push(prepared);
        this.stats.contextsPrepared++;
        this.prepareNext(tool);
      },
      () => {
        tool.preparing = false;
      },
    );
  }

  /** The compiled tool of `key` while its isolate lives. */
  private liveTool(key: string): CompiledTool | undefined {
    const existing = this.tools.get(key);
    if (existing && !existing.isolate.isDisposed) return existing;
    if (existing) {
      this.tools.delete(key);
      this.stats.replaced++;
    }
    return undefined;
  }

  /** Compiles (once) and returns the isolate for `key`. Throws compile_error for unusable code. */
  private compiled(key: string, code: string): CompiledTool {
    if (this.closed) throw new SandboxClosed();
    const existing = this.liveTool(key);
    if (existing) return existing;
    const isolate = new ivm.Isolate({ memoryLimit: this.config.memory_limit_mb });
    try {
      const bootstrap = isolate.compileScriptSync(BOOTSTRAP, { filename: 'dise:bootstrap' });
      const script = isolate.compileScriptSync(`${code}${ENTRY}`, { filename: `tool:${key}` });
      const tool: CompiledTool = { isolate, bootstrap, script, ready: [], preparing: false, target: 0, calls: 0 };
      // Load it once now, so code that does not load fails here as compile_error, and keep the context.
      const before = isolate.getHeapStatisticsSync().used_heap_size;
      tool.ready.push(prepareSync(tool, this.config.timeout_ms));
      const contextBytes = Math.max(1, isolate.getHeapStatisticsSync().used_heap_size - before);
      return this.install(key, tool, contextBytes);
    } catch (err) {
      const failure = this.loadFailure(err, isolate, key);
      if (!isolate.isDisposed) isolate.dispose();
      throw failure;
    }
  }

  /**
   * compiled() with every step on the isolate's own thread: compiling, and loading the tool's top level
   * once (a top level that spins to its limit holds that thread, not this one). Concurrent calls of
   * one key share one compilation.
   */
  private compiledAsync(key: string, code: string): Promise<CompiledTool> {
    if (this.closed) return Promise.reject(new SandboxClosed());
    const existing = this.liveTool(key);
    if (existing) return Promise.resolve(existing);
    let compiling = this.compiling.get(key);
    if (!compiling) {
      compiling = this.compileAsync(key, code).finally(() => this.compiling.delete(key));
      this.compiling.set(key, compiling);
    }
    return compiling;
  }

  private async compileAsync(key: string, code: string): Promise<CompiledTool> {
    const isolate = new ivm.Isolate({ memoryLimit: this.config.memory_limit_mb });
    try {
      const [bootstrap, script] = await Promise.all([
        isolate.compileScript(BOOTSTRAP, { filename: 'dise:bootstrap' }),
        isolate.compileScript(`${code}${ENTRY}`, { filename: `tool:${key}` }),
      ]);
      const tool: CompiledTool = { isolate, bootstrap, script, ready: [], preparing: false, target: 0, calls: 0 };
      const before = (await isolate.getHeapStatistics()).used_heap_size;
      tool.ready.push(await prepareAsync(tool, this.config.timeout_ms));
      const contextBytes = Math.max(1, (await isolate.getHeapStatistics()).used_heap_size - before);
      if (this.closed) throw new SandboxClosed();
      // A synchronous call compiled the key meanwhile: one isolate per key.
      const raced = this.liveTool(key);
      if (raced) {
        isolate.dispose();
        return raced;
      }
      return this.install(key, tool, contextBytes);
    } catch (err) {
      // Not loadFailure(): this isolate is not the key's yet, so there is nothing under the key to discard.
      const failure =
        err instanceof SandboxClosed || this.closed
          ? new SandboxClosed()
          : err instanceof ToolExecutionError
            ? err
            : loadFailureOf(this.classifyError(err, isolate, true));
      if (!isolate.isDisposed) isolate.dispose();
      throw failure;
    }
  }

  /** Keeps a freshly compiled tool under `key`, its ready-context target sized from one context's heap. */
  private install(key: string, tool: CompiledTool, contextBytes: number): CompiledTool {
    // Ready contexts live in the isolate's heap, under its memory limit: together they may take at
    // most a quarter of it, so a tool with a large top level keeps fewer (at least one) and its
    // calls keep the rest of the limit.
    const fit = Math.floor((this.config.memory_limit_mb * 1024 * 1024) / 4 / contextBytes);
    tool.target = Math.min(this.config.ready_contexts, Math.max(1, fit));
    this.tools.set(key, tool);
    this.stats.compiled++;
    this.refill(tool);
    return tool;
  }

  /** Types a failure while loading the code: what the tool threw is a compile_error, limits stay limits. */
  private loadFailure(err: unknown, isolate: ivm.Isolate, key: string): ToolExecutionError {
    if (err instanceof ToolExecutionError) return err;
    const classified = this.classifyError(err, isolate, true);
    if (classified.kind === 'timeout' || classified.kind === 'memory_limit') this.discardForLimit(key, isolate);
    return loadFailureOf(classified);
  }

  private classify(key: string, tool: CompiledTool, err: unknown): ToolExecutionError {
    const classified = this.classifyError(err, tool.isolate);
    // The memory limit has taken the isolate down already: the next call starts from a fresh one.
    // A timeout leaves only the call's context unknown; under per_call that context is never used
    // again, and the isolate, its other contexts and the calls queued on it go on. The shared
    // context is everyone's, so under `shared` the isolate is replaced (runAsync calls that isolated-vm
    // had already queued on it may still run in the context the timed-out call left: `shared` is the
    // benchmark's baseline, not an isolation).
    if (classified.kind === 'memory_limit' || (classified.kind === 'timeout' && this.isolation === 'shared'))
      this.discardForLimit(key, tool.isolate);
    return classified;
  }

  private classifyError(err: unknown, isolate: ivm.Isolate, loading = false): ToolExecutionError {
    const e = err instanceof Error ? err : new Error(safeText(err));
    const message = typeof e.message === 'string' ? e.message : safeText(e.message);
    if (isolate.isDisposed || /disposed/i.test(message) || /memory limit/i.test(message)) {
      return new ToolExecutionError(
        'memory_limit',
        `tool exceeded the memory limit of ${this.config.memory_limit_mb} MB`,
      );
    }
    if (/Script execution timed out/i.test(message)) {
      return new ToolExecutionError('timeout', `tool exceeded the time limit of ${this.config.timeout_ms} ms`);
    }
    if (message.startsWith(NON_JSON_MARKER)) {
      return new ToolExecutionError(
        'non_json_result',
        `result is not a JSON value: ${message.slice(NON_JSON_MARKER.length)}`,
      );
    }
    if (loading && e.name === 'SyntaxError') {
      return new ToolExecutionError(
        'compile_error',
        `tool code does not compile: ${message}`,
        'SyntaxError',
        e.stack ?? null,
      );
    }
    const missing = /^(\S+) is not defined$/.exec(message);
    if (e.name === 'ReferenceError' && missing && HOST_GLOBALS.has(missing[1]!)) {
      return new ToolExecutionError(
        'host_access',
        `tool reached for the host: ${missing[1]} is not available in the sandbox`,
        'ReferenceError',
        e.stack ?? null,
      );
    }
    return new ToolExecutionError('thrown', `${e.name}: ${message}`, e.name, e.stack ?? null);
  }

  /**
   * A screening session for many calls of one JavaScript tool (the differential check's inputs), or
   * null when calls must each get a fresh context: Python (its calls already get fresh globals),
   * `isolation: shared`, code the screening cannot vouch for (screeningPlan), or code that does not
   * load (its calls then fail through runJson() exactly as before).
   */
  screen(key: string, code: string, language: ToolLanguage = 'javascript'): ScreeningSession | null {
    const plan = this.screeningPlanOf(key, code, language);
    if (!plan) return null;
    try {
      // The normal load first: code that fails it keeps failing the exact way, with the same errors.
      this.compiled(key, code);
    } catch {
      return null;
    }
    return this.openSession(key, code, plan);
  }

  /** screen() with the normal load on the isolate's own thread (see compiledAsync()). */
  async screenAsync(
    key: string,
    code: string,
    language: ToolLanguage = 'javascript',
  ): Promise<ScreeningSession | null> {
    const plan = this.screeningPlanOf(key, code, language);
    if (!plan) return null;
    try {
      await this.compiledAsync(key, code);
    } catch (err) {
      if (err instanceof SandboxClosed) throw err;
      return null;
    }
    return this.openSession(key, code, plan);
  }

  private screeningPlanOf(key: string, code: string, language: ToolLanguage): ScreeningPlan | null {
    if (!this.screening || language !== 'javascript' || this.isolation !== 'per_call') return null;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = screeningPlan(code);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private openSession(key: string, code: string, plan: ScreeningPlan): ScreeningSession {
    const state: ScreenState = {
      key,
      code,
      plan,
      isolate: null,
      dispatch: null,
      calls: 0,
      nextCheck: 1,
      voided: null,
    };
    this.screens.add(state);
    return {
      runJson: (inputJson) => this.screenCall(state, inputJson),
      finish: () => this.finishScreen(state),
      runBatchAsync: (inputsJson, stop) => this.screenBatch(state, inputsJson, stop),
      finishAsync: () => this.finishScreenAsync(state),
      close: () => this.closeScreen(state),
    };
  }

  /**
   * Runs `code` on each input, every answer the one a fresh context gives: screened in one checked
   * context when screen() allows it, else (or when the screening is void) a fresh context per call.
   * Each outcome is the output JSON text or the ToolExecutionError runJson() would throw (the same
   * kind, error type and message; a screened error's stack has one more frame, the screening's
   * dispatcher, below the bootstrap's invoke).
   */
  runBatch(
    key: string,
    code: string,
    inputsJson: readonly string[],
    language: ToolLanguage = 'javascript',
  ): BatchOutcome[] {
    const session = this.screen(key, code, language);
    if (session) {
      try {
        const outcomes = inputsJson.map((json) => batchOutcome(() => session.runJson(json)));
        if (session.finish()) return outcomes;
      } catch (err) {
        if (!(err instanceof ScreeningVoid)) throw err;
      } finally {
        session.close();
      }
    }
    return inputsJson.map((json) => batchOutcome(() => this.runJson(key, code, json, language)));
  }

  /**
   * runBatch() off this thread: screened batches (one hand-over per time slice, the loop inside the
   * isolate), else, or when the screening is void, a fresh context per call through runJsonAsync().
   */
  async runBatchAsync(
    key: string,
    code: string,
    inputsJson: readonly string[],
    language: ToolLanguage = 'javascript',
  ): Promise<BatchOutcome[]> {
    const session = await this.screenAsync(key, code, language);
    if (session) {
      try {
        const outcomes: BatchOutcome[] = [];
        while (outcomes.length < inputsJson.length)
          outcomes.push(...(await session.runBatchAsync(inputsJson.slice(outcomes.length))).outcomes);
        if (await session.finishAsync()) return outcomes;
      } catch (err) {
        if (!(err instanceof ScreeningVoid)) throw err;
      } finally {
        session.close();
      }
    }
    const outcomes: BatchOutcome[] = [];
    for (const json of inputsJson) {
      try {
        outcomes.push({ output: await this.runJsonAsync(key, code, json, language), error: null });
      } catch (err) {
        if (!(err instanceof ToolExecutionError)) throw err;
        outcomes.push({ output: null, error: err });
      }
    }
    return outcomes;
  }

  /**
   * The call counts, among the `count` after `done`, after which a screened batch checks its context
   * besides the doubling schedule: each drawn on this thread with the check rate's probability.
   */
  private drawChecks(done: number, count: number): number[] {
    const checks: number[] = [];
    for (let call = done + 1; call <= done + count; call++) if (Math.random() < this.checkRate) checks.push(call);
    return checks;
  }

  /** A screened batch: see ScreeningSession.runBatchAsync. */
  private async screenBatch(
    state: ScreenState,
    inputsJson: readonly string[],
    stop?: () => boolean,
  ): Promise<ScreenedBatch> {
    const signal = this.cancellation?.();
    const outcomes: BatchOutcome[] = [];
    const dropContext = () => this.disposeScreenContext(state);
    while (outcomes.length < inputsJson.length) {
      if (signal?.aborted) throw abortReason(signal);
      if (state.voided) throw new ScreeningVoid(state.voided);
      if (outcomes.length && stop?.()) break;
      // A slice holds one runAsync slot from its hand-over to its last read-back (a timeout's progress,
      // failures thrown again, the check after it): screened batches count against judge_threads too.
      const rest = inputsJson.slice(outcomes.length);
      const slice = await abandonOnAbort(
        this.inSlot(signal, () => this.openAndScreenSlice(state, rest, signal)),
        signal,
        dropContext,
      );
      outcomes.push(...slice.outcomes);
      if (slice.timedOut) return { outcomes, timedOut: true };
    }
    return { outcomes, timedOut: false };
  }

  /**
   * screenSlice() once the slot is this batch's, in the session as the wait left it: closed, voided,
   * or its context replaced after another batch's timeout (a fresh one is opened then).
   */
  private async openAndScreenSlice(
    state: ScreenState,
    inputsJson: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<ScreenedBatch> {
    if (this.closed) throw new SandboxClosed();
    if (state.voided) throw new ScreeningVoid(state.voided);
    if (!this.screens.has(state)) throw new ScreeningVoid('the screening session was closed');
    if (!state.dispatch) await this.openScreenAsync(state);
    return this.screenSlice(state, inputsJson, signal);
  }

  /**
   * One hand-over of a screened batch: the calls on `inputsJson` that fit in a slice (BATCH_SLICE_MS),
   * in the open screening context. After a timeout, what the calls before it answered is read back,
   * the context is checked and replaced, and the batch ends there.
   */
  private async screenSlice(
    state: ScreenState,
    inputsJson: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<ScreenedBatch> {
    const timeout = this.config.timeout_ms;
    const dispatch = state.dispatch!;
    const isolate = state.isolate!;
    // A cancellation drops the context under the slice: what fails after it says nothing of the tool.
    const voided: (reason: string) => never = (reason) => {
      if (signal?.aborted) throw abortReason(signal);
      return this.voidScreen(state, reason);
    };
    const settings = JSON.stringify({
      calls: state.calls,
      nextCheck: state.nextCheck,
      sliceMs: BATCH_SLICE_MS,
      checks: this.drawChecks(state.calls, inputsJson.length),
    });
    let progress: BatchProgress;
    let timedOut = false;
    try {
      progress = (await dispatch.apply(undefined, ['batch', JSON.stringify(inputsJson), settings], {
        timeout,
        result: { copy: true },
      })) as BatchProgress;
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      const failure = this.classifyError(err, isolate);
      if (failure.kind === 'memory_limit') voided('a call hit the memory limit');
      if (failure.kind !== 'timeout') voided(`a screened batch failed: ${failure.message}`);
      // The isolate survives a timeout: what the calls before it answered is read back.
      timedOut = true;
      try {
        progress = (await dispatch.apply(undefined, ['progress'], {
          timeout,
          result: { copy: true },
        })) as BatchProgress;
      } catch {
        voided('a call that timed out left the context unreadable');
      }
    }
    const outcomes = await this.batchOutcomes(voided, dispatch, isolate, progress);
    state.calls = progress.calls;
    state.nextCheck = progress.nextCheck;
    this.stats.screenedCalls += outcomes.length;
    if (!progress.clean) voided('a call left the global object or a built-in changed');
    // A slice always makes its first call: no answer without a timeout means the record was tampered with.
    if (!outcomes.length && !timedOut) voided('a screened batch answered no call');
    if (!timedOut) return { outcomes, timedOut: false };
    // As the exact path replaces the isolate after a limit: the state it left is checked, then the
    // context is replaced. A call that had the whole limit (the first of its slice) timed out; one
    // that shared its slice's limit is left to a slice of its own.
    if (!(await this.checkScreenAsync(state))) voided('a call that timed out left the context touched');
    this.disposeScreenContext(state);
    if (!outcomes.length) {
      this.stats.screenedCalls++;
      outcomes.push({
        output: null,
        error: new ToolExecutionError('timeout', `tool exceeded the time limit of ${timeout} ms`),
      });
    }
    return { outcomes, timedOut: true };
  }

  /**
   * The outcomes of a batch's calls: outputs as runJson() returns them, failures typed as runJson()
   * types them (each thrown value is thrown again out of the context, so the host sees what it saw
   * when the call itself threw). A limit while doing so leaves the answers unknowable: void.
   */
  private async batchOutcomes(
    voided: (reason: string) => never,
    dispatch: NonNullable<ScreenState['dispatch']>,
    isolate: ivm.Isolate,
    progress: BatchProgress,
  ): Promise<BatchOutcome[]> {
    const outcomes: BatchOutcome[] = progress.outputs.map((output) =>
      output === null
        ? { output: null, error: new ToolExecutionError('thrown', 'unset') }
        : batchOutcome(() => this.checkedOutput(output)),
    );
    const timeout = this.config.timeout_ms;
    const failures = await Promise.all(
      progress.failed.map(async ([index, phase]): Promise<ToolExecutionError> => {
        if (phase === 'norun')
          return new ToolExecutionError('compile_error', 'tool code defines no function run(input)');
        try {
          await dispatch.apply(undefined, ['rethrow', index], { timeout });
        } catch (err) {
          return this.screenFailure(err, isolate, phase === 'load');
        }
        return new ToolExecutionError('thrown', 'a failed call did not throw again');
      }),
    );
    progress.failed.forEach(([index], i) => {
      const error = failures[i]!;
      if (error.kind === 'timeout' || error.kind === 'memory_limit')
        voided('a failed call hit a limit when its error was read');
      outcomes[index] = { output: null, error };
    });
    return outcomes;
  }

  /** A screened call's failure typed as the exact path types it (a throw while loading is a compile_error). */
  private screenFailure(err: unknown, isolate: ivm.Isolate, loading: boolean): ToolExecutionError {
    const failure = this.classifyError(err, isolate, loading);
    return loading ? loadFailureOf(failure) : failure;
  }

  private screenCall(state: ScreenState, inputJson: string): string {
    const signal = this.cancellation?.();
    if (signal?.aborted) throw abortReason(signal);
    if (state.voided) throw new ScreeningVoid(state.voided);
    if (!state.dispatch) this.openScreen(state);
    const dispatch = state.dispatch!;
    const isolate = state.isolate!;
    const timeout = this.config.timeout_ms;
    let output: unknown;
    let failure: ToolExecutionError | null = null;
    let loading = true;
    try {
      if (!dispatch.applySync(undefined, ['load'], { timeout })) {
        failure = new ToolExecutionError('compile_error', 'tool code defines no function run(input)');
      } else {
        loading = false;
        output = dispatch.applySync(undefined, ['call', inputJson], { timeout });
      }
    } catch (err) {
      failure = this.classifyError(err, isolate, loading);
      if (failure.kind === 'memory_limit') this.voidScreen(state, 'a call hit the memory limit');
      if (failure.kind === 'timeout') {
        // The isolate survives a timeout: the state it left is checked, then the context is replaced,
        // as the exact path replaces the isolate after a limit.
        if (!this.checkScreen(state)) this.voidScreen(state, 'a call that timed out left the context touched');
        this.disposeScreenContext(state);
        this.stats.screenedCalls++;
        throw failure;
      }
      if (loading && failure.kind === 'thrown') {
        failure = new ToolExecutionError(
          'compile_error',
          `tool code failed to load: ${failure.message}`,
          failure.toolErrorName,
          failure.toolStack,
        );
      }
    }
    state.calls++;
    const due = state.calls === state.nextCheck;
    if (due) state.nextCheck *= 2;
    if (due || Math.random() < this.checkRate) {
      if (!this.checkScreen(state)) this.voidScreen(state, 'a call left the global object or a built-in changed');
    }
    this.stats.screenedCalls++;
    if (failure) throw failure;
    return this.checkedOutput(output);
  }

  /** A new isolate and context: the bootstrap, the screening bootstrap, the factory, the record. */
  private openScreen(state: ScreenState): void {
    if (this.closed) throw new SandboxClosed();
    const timeout = this.config.timeout_ms;
    const isolate = new ivm.Isolate({ memoryLimit: this.config.memory_limit_mb });
    state.isolate = isolate;
    try {
      const bootstrap = isolate.compileScriptSync(BOOTSTRAP, { filename: 'dise:bootstrap' });
      const screening = isolate.compileScriptSync(SCREEN_BOOTSTRAP, { filename: 'dise:screening' });
      const factory = isolate.compileScriptSync(factorySource(state.code), {
        filename: `tool:${state.key}`,
        lineOffset: -1,
      });
      const context = isolate.createContextSync();
      const invoke = bootstrap.runSync(context, { reference: true, timeout }) as ivm.Reference<unknown>;
      const makeDispatch = screening.runSync(context, { reference: true, timeout }) as ivm.Reference<unknown>;
      const dispatch = makeDispatch.applySync(undefined, [invoke.derefInto()], {
        timeout,
        result: { reference: true },
      }) as ScreenState['dispatch'];
      const made = factory.runSync(context, { reference: true, timeout }) as ivm.Reference<unknown>;
      const vouched = dispatch!.applySync(undefined, ['init', made.derefInto(), JSON.stringify(state.plan.varNames)], {
        timeout,
      });
      state.dispatch = dispatch;
      state.calls = 0;
      state.nextCheck = 1;
      if (!vouched) this.voidScreen(state, 'a var of the tool names a global');
    } catch (err) {
      if (err instanceof ScreeningVoid) throw err;
      this.voidScreen(state, `the screening context could not be prepared: ${(err as Error).message}`);
    }
  }

  private checkScreen(state: ScreenState): boolean {
    if (!state.dispatch || !state.isolate || state.isolate.isDisposed) return false;
    try {
      return state.dispatch.applySync(undefined, ['check'], { timeout: this.config.timeout_ms }) === true;
    } catch {
      return false;
    }
  }

  /** openScreen() with every step on the isolate's own thread. */
  private async openScreenAsync(state: ScreenState): Promise<void> {
    if (this.closed) throw new SandboxClosed();
    const timeout = this.config.timeout_ms;
    const isolate = new ivm.Isolate({ memoryLimit: this.config.memory_limit_mb });
    state.isolate = isolate;
    try {
      const [bootstrap, screening, factory, context] = await Promise.all([
        isolate.compileScript(BOOTSTRAP, { filename: 'dise:bootstrap' }),
        isolate.compileScript(SCREEN_BOOTSTRAP, { filename: 'dise:screening' }),
        isolate.compileScript(factorySource(state.code), { filename: `tool:${state.key}`, lineOffset: -1 }),
        isolate.createContext(),
      ]);
      const invoke = (await bootstrap.run(context, { reference: true, timeout })) as ivm.Reference<unknown>;
      const makeDispatch = (await screening.run(context, { reference: true, timeout })) as ivm.Reference<unknown>;
      const dispatch = (await makeDispatch.apply(undefined, [invoke.derefInto()], {
        timeout,
        result: { reference: true },
      })) as ScreenState['dispatch'];
      const made = (await factory.run(context, { reference: true, timeout })) as ivm.Reference<unknown>;
      const vouched = await dispatch!.apply(
        undefined,
        ['init', made.derefInto(), JSON.stringify(state.plan.varNames)],
        {
          timeout,
        },
      );
      if (state.isolate !== isolate) throw new Error('the screening was closed while it was prepared');
      state.dispatch = dispatch;
      state.calls = 0;
      state.nextCheck = 1;
      if (!vouched) this.voidScreen(state, 'a var of the tool names a global');
    } catch (err) {
      if (err instanceof ScreeningVoid) throw err;
      if (!isolate.isDisposed) isolate.dispose();
      this.voidScreen(state, `the screening context could not be prepared: ${(err as Error).message}`);
    }
  }

  private async checkScreenAsync(state: ScreenState): Promise<boolean> {
    if (!state.dispatch || !state.isolate || state.isolate.isDisposed) return false;
    try {
      return (await state.dispatch.apply(undefined, ['check'], { timeout: this.config.timeout_ms })) === true;
    } catch {
      return false;
    }
  }

  private async finishScreenAsync(state: ScreenState): Promise<boolean> {
    const stands = !state.voided && (!state.dispatch || state.calls === 0 || (await this.checkScreenAsync(state)));
    if (!stands && !state.voided) {
      this.stats.screeningsVoided++;
      state.voided = 'the final check found the context touched';
    }
    this.closeScreen(state);
    return stands;
  }

  private voidScreen(state: ScreenState, reason: string): never {
    if (!state.voided) this.stats.screeningsVoided++;
    state.voided = reason;
    this.disposeScreenContext(state);
    throw new ScreeningVoid(reason);
  }

  private disposeScreenContext(state: ScreenState): void {
    state.dispatch = null;
    if (state.isolate && !state.isolate.isDisposed) state.isolate.dispose();
    state.isolate = null;
  }

  private finishScreen(state: ScreenState): boolean {
    const stands = !state.voided && (!state.dispatch || state.calls === 0 || this.checkScreen(state));
    if (!stands && !state.voided) {
      this.stats.screeningsVoided++;
      state.voided = 'the final check found the context touched';
    }
    this.closeScreen(state);
    return stands;
  }

  private closeScreen(state: ScreenState): void {
    this.disposeScreenContext(state);
    this.screens.delete(state);
  }

  /** How many contexts of `key`'s tool are ready for a call now (per_call; diagnostics and tests). */
  readyContexts(key: string): number {
    const tool = this.tools.get(key);
    return tool && !tool.isolate.isDisposed && this.isolation === 'per_call' ? tool.ready.length : 0;
  }

  /** Forgets the compiled isolate of `key` (e.g. its code changed). */
  discard(key: string): void {
    const tool = this.tools.get(key);
    if (!tool) return;
    this.tools.delete(key);
    this.stats.replaced++;
    // Disposing the isolate frees its ready contexts (and stops a preparation under way).
    tool.ready = [];
    if (!tool.isolate.isDisposed) tool.isolate.dispose();
  }

  /** discard() because a run ended on a limit: the runs it takes down with it may run again. */
  /**
   * discard() because a run on `isolate` ended on a limit: the runs it takes down with it are owed a
   * run again. Only that isolate: one that already replaced it under the key serves on.
   */
  private discardForLimit(key: string, isolate: ivm.Isolate): void {
    this.stats.limitDiscards++;
    this.endedOnLimit.add(isolate);
    if (this.tools.get(key)?.isolate === isolate) this.discard(key);
    else if (!isolate.isDisposed) isolate.dispose();
  }

  /** Disposes every isolate. The process's Python interpreter is shared: see closePythonHost(). */
  close(): void {
    this.closed = true;
    for (const state of [...this.screens]) this.closeScreen(state);
    for (const key of [...this.tools.keys()]) this.discard(key);
  }
}

/** A tool's input as JSON text, or the invalid_input failure a value that is not JSON gets. */
function inputJsonOf(input: JsonValue): string {
  let inputJson: string | undefined;
  try {
    inputJson = JSON.stringify(input);
  } catch (err) {
    throw new ToolExecutionError('invalid_input', `input is not a JSON value: ${(err as Error).message}`);
  }
  if (inputJson === undefined) throw new ToolExecutionError('invalid_input', 'input is not a JSON value');
  return inputJson;
}

/** A tool's answer from its JSON text. */
function outputOf(output: string): JsonValue {
  try {
    return JSON.parse(output) as JsonValue;
  } catch (err) {
    throw new ToolExecutionError('non_json_result', `result is not JSON text: ${(err as Error).message}`);
  }
}

/** A throw while the tool's code loads is a compile_error, on the exact path and in a screening alike. */
function loadFailureOf(failure: ToolExecutionError): ToolExecutionError {
  if (failure.kind !== 'thrown') return failure;
  return new ToolExecutionError(
    'compile_error',
    `tool code failed to load: ${failure.message}`,
    failure.toolErrorName,
    failure.toolStack,
  );
}

/** A typed failure for an interpreter that could not take the call (it failed to load or exited). */
function interpreterUnavailable(err: unknown): ToolExecutionError {
  return new ToolExecutionError(
    'thrown',
    `InterpreterError: the Python interpreter is unavailable: ${(err as Error).message}`,
    'InterpreterError',
  );
}

/** A runAsync() call's isolate was discarded by a concurrent run of the same code (a limit it hit). */
class IsolateDiscardedUnder extends Error {
  /** `owed`: a run on that isolate ended on its own limit (else it died with no run to blame). */
  constructor(readonly owed: boolean) {
    super('the isolate was discarded under this run');
  }
}

/**
 * A call close() cut short, or one made after it: not the tool's failure, so it is not typed as one
 * (a Sandbox is closed when the work it served ends: a worker shutting down, a step that returned).
 */
export class SandboxClosed extends Error {
  constructor() {
    super('the sandbox was closed');
    this.name = 'SandboxClosed';
  }
}

/** A counting semaphore, first come first served; a waiter whose signal aborts leaves the queue. */
class AsyncSlots {
  private free: number;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal!.reason instanceof Error ? signal!.reason : new Error('cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.free++;
  }
}

/** The ready contexts a tool should have now: its target, grown into one call at a time. */
function wanted(tool: CompiledTool): number {
  return Math.min(tool.target, Math.max(1, tool.calls));
}

function release(used: PreparedContext): void {
  // Only these references: touching context.global would keep the context alive (isolated-vm 5).
  try {
    used.invoke.release();
    used.run.release();
    used.context.release();
  } catch {
    // The isolate was disposed (a limit, discard()): its contexts went with it.
  }
}

function readyContext(
  context: ivm.Context,
  invoke: ivm.Reference<unknown>,
  run: ivm.Reference<unknown>,
): PreparedContext {
  if (run.typeof !== 'function') {
    invoke.release();
    run.release();
    context.release();
    throw new ToolExecutionError('compile_error', 'tool code defines no function run(input)');
  }
  return { context, invoke: invoke as PreparedContext['invoke'], run };
}

function prepareSync(tool: CompiledTool, timeout: number): PreparedContext {
  const context = tool.isolate.createContextSync();
  try {
    const invoke = tool.bootstrap.runSync(context, { reference: true, timeout }) as ivm.Reference<unknown>;
    const run = tool.script.runSync(context, { reference: true, timeout }) as ivm.Reference<unknown>;
    return readyContext(context, invoke, run);
  } catch (err) {
    if (!tool.isolate.isDisposed) context.release();
    throw err;
  }
}

async function prepareAsync(tool: CompiledTool, timeout: number): Promise<PreparedContext> {
  const context = await tool.isolate.createContext();
  // Both runs queued at once (the isolate's thread takes them in order): one hand-back to this thread
  // instead of two, so a context is ready a turn sooner. A failed bootstrap fails the preparation.
  const [invoke, run] = await Promise.allSettled([
    tool.bootstrap.run(context, { reference: true, timeout }) as Promise<ivm.Reference<unknown>>,
    tool.script.run(context, { reference: true, timeout }) as Promise<ivm.Reference<unknown>>,
  ]);
  if (invoke.status === 'fulfilled' && run.status === 'fulfilled')
    return readyContext(context, invoke.value, run.value);
  if (!tool.isolate.isDisposed) {
    for (const made of [invoke, run]) if (made.status === 'fulfilled') made.value.release();
    context.release();
  }
  throw invoke.status === 'rejected' ? invoke.reason : (run as PromiseRejectedResult).reason;
}

/** Text of a thrown value that may be anything (a symbol, an object whose toString throws…). */
function safeText(value: unknown): string {
  try {
    return typeof value === 'symbol' ? value.toString() : String(value);
  } catch {
    return 'a value that cannot be shown';
  }
}

/** The reason a cancelled step's work ends with. */
function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('cancelled');
}

/**
 * `work`, or the signal's reason as soon as it aborts (then `onAbort` runs: e.g. disposing the isolate
 * the work runs in, so nothing keeps running for a step that was cancelled).
 */
function abandonOnAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(abortReason(signal));
    };
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err instanceof Error ? err : new Error(safeText(err)));
      },
    );
  });
}
