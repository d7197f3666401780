import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** How often running activities report liveness; the workflow's heartbeatTimeout is a few of these. */
export const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * Heartbeats every running activity while it runs. With a short heartbeatTimeout in the workflow's
 * activity options, a killed worker's activity is retried elsewhere within seconds instead of after
 * its start-to-close timeout, and cancellation reaches activities through the heartbeat response.
 */
export const autoHeartbeat: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
