/** The tool runtime library: import this from any Node program that calls dise tools. */
export {
  KNOWN_WRONG_WARNING,
  ToolRuntime,
  type CallResult,
  type ResolvedVersion,
  type ToolRuntimeOptions,
  type WrongResultReport,
} from './tool-runtime.js';
export { ToolExecutionError, ToolPrunedError, ToolUnavailableError, UnknownToolError } from './errors.js';
export { RuntimeMetrics } from './metrics.js';
export { MemorySignaler, TemporalMonitorSignaler, type MonitorSignaler } from './monitor-signaler.js';
export type { FailureReport } from '../shared/messages.js';
