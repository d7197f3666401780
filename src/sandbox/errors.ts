import type { Health } from '../shared/lineage-types.js';

/** How a tool call failed. Every failure of tool code ends as one of these, never a host crash. */
export type ToolErrorKind =
  | 'timeout' // exceeded sandbox.timeout_ms
  | 'memory_limit' // exceeded sandbox.memory_limit_mb; the isolate was replaced
  | 'non_json_result' // returned something that is not a JSON value
  | 'output_too_large' // returned more than sandbox.max_output_bytes
  | 'invalid_input' // the input is not a JSON value
  | 'host_access' // reached for require, process, fetch, the host's globals…
  | 'compile_error' // the code does not compile or defines no run()
  | 'thrown'; // the tool threw (TypeError, RangeError, its own Error…)

export class ToolExecutionError extends Error {
  /** The version whose code failed, when the runtime ran it (callers name it in their answers). */
  version: { id: string; health: Health } | null = null;

  constructor(
    readonly kind: ToolErrorKind,
    message: string,
    /** The tool's own error name (TypeError…) and stack, when it threw one. */
    readonly toolErrorName: string | null = null,
    readonly toolStack: string | null = null,
  ) {
    super(message);
    this.name = 'ToolExecutionError';
  }

  /** The error type recorded with the execution: the kind, or the thrown error's name. */
  get errorType(): string {
    return this.kind === 'thrown' && this.toolErrorName ? this.toolErrorName : this.kind;
  }
}
