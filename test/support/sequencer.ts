import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (measured: npm test's JSON report), longest first. Two forks share the
 * run, so a long file started last would run alone at the end; started first, the short files fill
 * the other fork around it. Vitest's own order (cached durations) needs a previous run on this
 * machine; a fresh checkout or CI has none.
 */
const SLOW_FIRST = [
  'test/faults/worker-kill.test.ts',
  // Mostly waiting (a server down on purpose): light beside worker-kill's concurrent heals.
  'test/faults/temporal-restart.test.ts',
  'test/e2e/demo.test.ts',
  'test/integration/recurrence.test.ts',
  'test/integration/self-heal-llm.test.ts',
  'test/faults/postgres-restart.test.ts',
  'test/e2e/dev-stack.test.ts',
  'test/faults/canary-worker-kill.test.ts',
  // The unit project runs after the integration project (a project's files share its processes): its
  // own long files first, so the last seconds are not one file running alone.
  'test/unit/python-snapshot-cache.test.ts',
  'test/unit/code-inputs.test.ts',
  'test/unit/python-sandbox.test.ts',
  'test/unit/self-heal-workflow.test.ts',
  'test/unit/differential.test.ts',
  'test/unit/health-monitor-workflow.test.ts',
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(path.relative(this.ctx.config.root, spec.moduleId).split(path.sep).join('/'));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
