import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * How often running activities report liveness; the workflow's heartbeatTimeout is many of these.
 * A cancellation reaches an activity only in the answer to a heartbeat, so this (with the worker's
 * heartbeat throttle, HEARTBEAT_THROTTLE_MS) bounds how long a cancelled step keeps running.
 */
export const HEARTBEAT_INTERVAL_MS = 250;

/** The worker sends a heartbeat at most this often (Temporal's default is 80% of heartbeatTimeout). */
export const HEARTBEAT_THROTTLE_MS = 250;

/**
 * Heartbeats every running activity while it runs. With a short heartbeatTimeout in the workflow's
 * activity options, a killed worker's activity is retried elsewhere within seconds instead of after
 * its start-to-close timeout, and cancellation reaches activities through the heartbeat response.
 */
export const autoHeartbeat: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      // A local activity (a cancelled heal's end) has no heartbeat: it is not cancellable anyway.
      if (ctx.info.isLocal) return next(input);
      const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
