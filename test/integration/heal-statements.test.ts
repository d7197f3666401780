import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { healInput, reportWrongResults } from '../support/failures.js';
import { useHealStack } from '../support/heal-stack.js';

// The worker's SQL statements are a heal's main cost at fleet scale (docs/benchmarks.md, "Half the
// statements per heal"): this file's process holds the worker, so every statement it sends is counted.

const h = useHealStack('statements');

/** Counts the statements every node-postgres client of this process sends until stopped. */
function countStatements(): { stop(): number } {
  const send = pg.Client.prototype.query;
  let count = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count++;
    return (send as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof send;
  return {
    stop() {
      pg.Client.prototype.query = send;
      return count;
    },
  };
}
let counting: { stop(): number } | null = null;
afterEach(() => {
  counting?.stop();
  counting = null;
});

describe("a heal's statements", () => {
  it('the email story heals with at most 55 SQL statements from the worker (88 before they were halved, 50 after)', async () => {
    await registerEmailStory(h.store, 'counted_mail');
    await reportWrongResults(h.db.url, 'counted_mail@2.0.0', WRONG_RESULTS);

    counting = countStatements();
    const { handle } = await startHeal(
      h.temporal.client,
      healInput('counted_mail@2.0.0', { description: 'accepts invalid emails', detectionMethod: 'runtime' }),
      { taskQueue: h.taskQueue },
    );
    expect((await handle.result()).status).toBe('healed');
    const statements = counting.stop();
    counting = null;
    expect(statements).toBeGreaterThan(0);
    // A budget, not a measurement: a step that reads again what another read fails it.
    expect(statements).toBeLessThanOrEqual(55);
  });
});
