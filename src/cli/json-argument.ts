import type { JsonValue } from '../shared/lineage-types.js';
import { UsageError } from './errors.js';

/** Parses a JSON command-line argument, naming it when it is not JSON. */
export function parseJsonArgument(text: string, name: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new UsageError(
      `${name}: not valid JSON (${(err as Error).message}); quote strings, e.g. '"user@example.com"'`,
    );
  }
}
