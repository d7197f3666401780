import { vi } from 'vitest';

export interface PollOptions {
  /** How long to keep trying: generous, since the suite also runs on a loaded 2-core machine. */
  timeout?: number;
  /** Pause between tries. */
  interval?: number;
  /** What is awaited, for the message when it never comes. */
  what?: string;
  /**
   * How long one read may take before it counts as failed and the next is tried (a call on a dropped
   * connection may never answer; without this the whole timeout would go to it, with no message).
   */
  attemptTimeout?: number;
}

/**
 * Reads `read` until `ok` holds of its value and returns that value (vi.waitFor underneath). On
 * timeout it fails with the last value read, so the assertion that follows is not the one to explain.
 * For a plain assertion use `expect.poll(read, { timeout }).toBe(...)` instead.
 */
export async function pollUntil<T>(
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  {
    timeout = 60_000,
    interval = 100,
    what = 'the condition',
    attemptTimeout = Math.min(20_000, timeout / 3),
  }: PollOptions = {},
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await withinTime(read(), attemptTimeout, what);
      if (!ok(value)) throw new Error(`still waiting for ${what}; last value: ${describe(value)}`);
      return value;
    },
    { timeout, interval },
  );
}

/** `value`, or a failure naming `what` once `ms` have passed without an answer. */
async function withinTime<T>(value: T | Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a read of ${what} gave no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}
