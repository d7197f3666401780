import { vi } from 'vitest';

export interface PollOptions {
  /** How long to keep trying: generous, since the suite also runs on a loaded 2-core machine. */
  timeout?: number;
  /** Pause between tries. */
  interval?: number;
  /** What is awaited, for the message when it never comes. */
  what?: string;
}

/**
 * Reads `read` until `ok` holds of its value and returns that value (vi.waitFor underneath). On
 * timeout it fails with the last value read, so the assertion that follows is not the one to explain.
 * For a plain assertion use `expect.poll(read, { timeout }).toBe(...)` instead.
 */
export async function pollUntil<T>(
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  { timeout = 60_000, interval = 100, what = 'the condition' }: PollOptions = {},
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await read();
      if (!ok(value)) throw new Error(`still waiting for ${what}; last value: ${describe(value)}`);
      return value;
    },
    { timeout, interval },
  );
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}
