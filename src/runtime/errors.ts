import type { Health } from '../shared/lineage-types.js';

export { ToolExecutionError } from '../sandbox/errors.js';

/** No tool or version by that name. */
export class UnknownToolError extends Error {
  constructor(readonly nameOrId: string) {
    super(`unknown tool or version "${nameOrId}" (register it with \`dise tool add\`)`);
    this.name = 'UnknownToolError';
  }
}

/** The runtime guard said no: the version is pruned, failed or tainted. */
export class ToolUnavailableError extends Error {
  constructor(
    readonly versionId: string,
    readonly health: Health,
    readonly replacement: string | null,
  ) {
    const why =
      health === 'pruned'
        ? `has been pruned due to a critical bug`
        : health === 'failed'
          ? `has known failures`
          : health === 'degraded'
            ? `is tainted by a pruned ancestor`
            : `is not routable (${health})`;
    super(`tool ${versionId} ${why}${replacement ? `; callers of its tool are routed to ${replacement}` : ''}`);
    this.name = 'ToolUnavailableError';
  }
}

/**
 * The seed's ToolPrunedError: callers of a tool get no answer because its routed version is pruned
 * or known to answer wrongly, and no healthy alternative exists (runtime.known_wrong_policy: refuse).
 */
export class ToolPrunedError extends ToolUnavailableError {
  constructor(
    readonly toolName: string,
    versionId: string,
    health: Health,
    readonly why: string,
  ) {
    super(versionId, health, null);
    this.name = 'ToolPrunedError';
    this.message = `tool ${toolName}: ${versionId} ${why}; no healthy alternative exists, so calls are refused (runtime.known_wrong_policy: refuse)`;
  }
}
