import { InvalidIdError } from '../shared/ids.js';
import { LineageError } from '../lineage/errors.js';
import { ManifestError } from './manifest.js';
import { ConfigError } from '../config/load.js';
import { MigrationError } from '../infra/migrator.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import { UnknownToolError } from '../runtime/errors.js';
import { asDatabaseFailure } from '../infra/database-errors.js';

/** Exit codes of the `dise` command (DESIGN.md §9). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad usage or input: the user must change the command, a file or a value. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the running stack answered a handed-off command with (handoff-client.ts): its message and exit code. */
export class HandedOffError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    name: string,
    stack: string | null,
  ) {
    super(message);
    this.name = name;
    if (stack) this.stack = stack;
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof HandedOffError) return err.exitCode;
  if (
    err instanceof UsageError ||
    err instanceof LineageError ||
    err instanceof ManifestError ||
    err instanceof InvalidIdError
  ) {
    return EXIT.usage;
  }
  if (err instanceof MigrationError || err instanceof ConfigError || err instanceof UnknownToolError) return EXIT.usage;
  if (err instanceof ToolExecutionError && err.kind === 'invalid_input') return EXIT.usage;
  return EXIT.failed;
}

/** One line for the user; the stack only with --verbose. */
export function describeError(err: unknown, verbose: boolean): string {
  if (!(err instanceof Error)) return `error: ${String(err)}`;
  // A driver's error names our call sites and its own internals: say what it means instead.
  const database = asDatabaseFailure(err);
  if (database) {
    const cause = database.cause instanceof Error ? database.cause : null;
    return verbose && cause?.stack ? `error: ${database.message}\n${cause.stack}` : `error: ${database.message}`;
  }
  if (verbose && err.stack) return `error: ${err.stack}`;
  return `error: ${err.message}`;
}
