import ivm from './isolated-vm.js';
import type { SandboxConfig } from '../config/schema.js';
import type { JsonValue } from '../shared/lineage-types.js';
import { BOOTSTRAP, ENTRY, NO_RUN_MARKER, NON_JSON_MARKER } from './bootstrap.js';
import { ToolExecutionError } from './errors.js';

/** Names whose absence a tool runs into when it reaches for the host. */
const HOST_GLOBALS = new Set([
  'require', 'process', 'fetch', 'module', 'exports', 'Buffer', '__dirname', '__filename', 'global', 'window',
  'self', 'XMLHttpRequest', 'WebSocket', 'importScripts', 'Deno', 'Bun', 'setTimeout', 'setInterval',
  'setImmediate', 'queueMicrotask', 'navigator', 'location', 'document',
]);

interface CompiledTool {
  isolate: ivm.Isolate;
  context: ivm.Context;
  invoke: ivm.Reference<(inputJson: string) => string>;
}

export interface SandboxStats {
  compiled: number;
  replaced: number;
}

/**
 * Runs tool code in isolated-vm: no require, process, fs or network; a per-call time limit and a
 * per-isolate memory limit. Each code body is compiled once and its isolate reused; an isolate
 * killed by a limit is disposed and replaced on the next call.
 */
export class Sandbox {
  private readonly tools = new Map<string, CompiledTool>();
  readonly stats: SandboxStats = { compiled: 0, replaced: 0 };

  constructor(private readonly config: SandboxConfig) {}

  /** Runs `run(input)` of `code`; `key` identifies the compiled code (e.g. its hash). */
  run(key: string, code: string, input: JsonValue): JsonValue {
    let inputJson: string | undefined;
    try {
      inputJson = JSON.stringify(input);
    } catch (err) {
      throw new ToolExecutionError('invalid_input', `input is not a JSON value: ${(err as Error).message}`);
    }
    if (inputJson === undefined) throw new ToolExecutionError('invalid_input', 'input is not a JSON value');
    return JSON.parse(this.runJson(key, code, inputJson)) as JsonValue;
  }

  /** Same as run() with the input already serialised; returns the output as JSON text. */
  runJson(key: string, code: string, inputJson: string): string {
    const tool = this.compiled(key, code);
    let output: string;
    try {
      output = tool.invoke.applySync(undefined, [inputJson], { timeout: this.config.timeout_ms });
    } catch (err) {
      throw this.classify(key, tool, err);
    }
    if (typeof output !== 'string') throw new ToolExecutionError('non_json_result', 'result is not a JSON value');
    if (output.length > this.config.max_output_bytes) {
      throw new ToolExecutionError('output_too_large', `result is ${output.length} bytes, over the limit of ${this.config.max_output_bytes}`);
    }
    return output;
  }

  /** Compiles (once) and returns the isolate for `key`. Throws compile_error for unusable code. */
  private compiled(key: string, code: string): CompiledTool {
    const existing = this.tools.get(key);
    if (existing && !existing.isolate.isDisposed) return existing;
    if (existing) {
      this.tools.delete(key);
      this.stats.replaced++;
    }
    const isolate = new ivm.Isolate({ memoryLimit: this.config.memory_limit_mb });
    try {
      const context = isolate.createContextSync();
      // Setup runs under the same time limit as a call: top-level tool code could loop forever.
      isolate.compileScriptSync(`${BOOTSTRAP}\n${code}\n${ENTRY}`, { filename: `tool:${key}` }).runSync(context, { timeout: this.config.timeout_ms });
      const invoke = context.global.getSync('__diseInvoke', { reference: true }) as ivm.Reference<(inputJson: string) => string>;
      const tool = { isolate, context, invoke };
      this.tools.set(key, tool);
      this.stats.compiled++;
      return tool;
    } catch (err) {
      const classified = this.classifyError(err, isolate);
      if (!isolate.isDisposed) isolate.dispose();
      if (classified.kind === 'thrown') {
        throw new ToolExecutionError('compile_error', `tool code failed to load: ${classified.message}`, classified.toolErrorName, classified.toolStack);
      }
      throw classified;
    }
  }

  private classify(key: string, tool: CompiledTool, err: unknown): ToolExecutionError {
    const classified = this.classifyError(err, tool.isolate);
    // A limit may leave the isolate in any state: start the next call from a fresh one.
    if (classified.kind === 'timeout' || classified.kind === 'memory_limit') this.discard(key);
    return classified;
  }

  private classifyError(err: unknown, isolate: ivm.Isolate): ToolExecutionError {
    const e = err instanceof Error ? err : new Error(String(err));
    const message = e.message ?? '';
    if (isolate.isDisposed || /disposed/i.test(message) || /memory limit/i.test(message)) {
      return new ToolExecutionError('memory_limit', `tool exceeded the memory limit of ${this.config.memory_limit_mb} MB`);
    }
    if (/Script execution timed out/i.test(message)) {
      return new ToolExecutionError('timeout', `tool exceeded the time limit of ${this.config.timeout_ms} ms`);
    }
    if (message.startsWith(NON_JSON_MARKER)) {
      return new ToolExecutionError('non_json_result', `result is not a JSON value: ${message.slice(NON_JSON_MARKER.length)}`);
    }
    if (message === NO_RUN_MARKER) {
      return new ToolExecutionError('compile_error', 'tool code defines no function run(input)');
    }
    if (e.name === 'SyntaxError' && !e.stack?.includes('__diseInvoke')) {
      return new ToolExecutionError('compile_error', `tool code does not compile: ${message}`, 'SyntaxError', e.stack ?? null);
    }
    const missing = /^(\S+) is not defined$/.exec(message);
    if (e.name === 'ReferenceError' && missing && HOST_GLOBALS.has(missing[1]!)) {
      return new ToolExecutionError('host_access', `tool reached for the host: ${missing[1]} is not available in the sandbox`, 'ReferenceError', e.stack ?? null);
    }
    return new ToolExecutionError('thrown', `${e.name}: ${message}`, e.name, e.stack ?? null);
  }

  /** Forgets the compiled isolate of `key` (e.g. its code changed). */
  discard(key: string): void {
    const tool = this.tools.get(key);
    if (!tool) return;
    this.tools.delete(key);
    this.stats.replaced++;
    if (!tool.isolate.isDisposed) tool.isolate.dispose();
  }

  /** Disposes every isolate. */
  close(): void {
    for (const key of [...this.tools.keys()]) this.discard(key);
  }
}
