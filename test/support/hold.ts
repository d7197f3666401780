import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * An activity interceptor that holds the first attempt of one chosen activity type, for fault tests
 * that must strike while a step runs: `arm(step)` returns a promise that resolves once the step is
 * held; `release()` lets it run on, and `ran` resolves once the held attempt has returned or thrown.
 */
export function activityHold(): {
  interceptor: ActivityInterceptorsFactory;
  arm(step: string | null): Promise<void>;
  release(): void;
  ran(): Promise<void>;
} {
  let holdStep: string | null = null;
  let entered: () => void = () => undefined;
  let release: () => void = () => undefined;
  let ran: () => void = () => undefined;
  let held = Promise.resolve();
  const interceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        if (ctx.info.activityType === holdStep && ctx.info.attempt === 1) {
          const released = new Promise<void>((r) => (release = r));
          entered();
          await released;
          try {
            return await next(input);
          } finally {
            ran();
          }
        }
        return next(input);
      },
    },
  });
  return {
    interceptor,
    arm(step) {
      holdStep = step;
      held = new Promise<void>((r) => (ran = r));
      return new Promise<void>((r) => (entered = r));
    },
    release: () => release(),
    ran: () => held,
  };
}
