import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';

/** The running activity's cancellation signal; undefined outside an activity (unit tests, the CLI). */
export function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Throws the activity's cancellation (a CancelledFailure) if it was asked to stop. */
export function throwIfCancelled(signal: AbortSignal | undefined = activitySignal()): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof Error ? signal.reason : new CancelledFailure('activity cancelled');
}

/**
 * A point between two pieces of sandbox work (one version judged, the next to come). Sandbox calls
 * are synchronous: without a turn of the event loop here, no heartbeat would go out and no
 * cancellation come in until the whole step ended. So: yield, heartbeat, and stop if cancelled.
 */
export async function checkpoint(): Promise<void> {
  const signal = activitySignal();
  if (!signal) return;
  await new Promise((resolve) => setImmediate(resolve));
  try {
    Context.current().heartbeat();
  } catch {
    // Not in an activity after all.
  }
  throwIfCancelled(signal);
}
