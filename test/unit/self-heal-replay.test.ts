import { readFileSync } from 'node:fs';
import proto from '@temporalio/proto';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundlePath } from '../support/bundle-path.js';

// Recorded heals replayed by today's workflow code: heals recorded before the short steps ran as
// local activities (each step an activity of its own, 78 events), after (45 events), and since the
// search attributes are set once per workflow task (40 events), one rollback
// (the email story's optimization) and one revert (the slug story) each, stored as Temporal's
// protobuf encoding. Replay fails on any command the code issues differently from the history, so
// a heal under way when a worker is upgraded goes on.

const HISTORIES = new URL('../support/histories/', import.meta.url);

type History = ReturnType<typeof proto.temporal.api.history.v1.History.decode>;

/** A recorded heal: its history as Temporal's protobuf encoding, as the client fetched it. */
function history(name: string): History {
  return proto.temporal.api.history.v1.History.decode(readFileSync(new URL(name, HISTORIES)));
}

function replay(h: History, workflowId: string): Promise<void> {
  return Worker.runReplayHistory({ workflowBundle: { codePath: workflowBundlePath() } }, h, workflowId);
}

describe('recorded heals replay on today’s workflow code', { timeout: 60_000 }, () => {
  it.for([
    'heal-rollback-before-local-steps.bin',
    'heal-revert-before-local-steps.bin',
    'heal-rollback-local-steps.bin',
    'heal-revert-local-steps.bin',
    'heal-rollback-attributes-per-task.bin',
    'heal-revert-attributes-per-task.bin',
  ])('%s', async (name) => {
    await expect(replay(history(name), name)).resolves.toBeUndefined();
  });

  it('tells them apart by the patch marker: a local-steps heal without it does not replay', async () => {
    const h = history('heal-rollback-local-steps.bin');
    const patch = h.events
      .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0])
      .find((p) => p?.data && Buffer.from(p.data).toString().includes('local-quick-steps'))!;
    patch.data = Buffer.from(JSON.stringify({ id: 'another-change', deprecated: false }));
    await expect(replay(h, 'without-patch')).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('tells a heal with one upsert per workflow task by its patch marker: without it, it does not replay', async () => {
    const h = history('heal-rollback-attributes-per-task.bin');
    const patch = h.events
      .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0])
      .find((p) => p?.data && Buffer.from(p.data).toString().includes('step-attributes-per-task'))!;
    patch.data = Buffer.from(JSON.stringify({ id: 'another-change', deprecated: false }));
    await expect(replay(h, 'without-per-task-patch')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
