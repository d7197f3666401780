import type { DiseConfig } from '../config/schema.js';
import { registrationValidator } from '../judge/registration.js';
import { normalizeVersionId } from '../lineage/ids.js';
import { holdPythonSpare, warmPython } from '../sandbox/python.js';
import { Sandbox } from '../sandbox/sandbox.js';
import type { LineageStore, RegisteredVersion } from '../lineage/store.js';
import { compareSemver, parseVersionId } from '../shared/ids.js';
import { ROUTABLE_HEALTH } from '../shared/lineage-types.js';
import { canaryWorkflowId } from '../shared/constants.js';
import type { Output } from './output.js';
import { renderDifferential } from './format/differential-view.js';
import { EXIT } from './errors.js';
import type { ManifestInput, ToolAddOptions, ToolAddResult } from './commands/tool-add.js';

/**
 * The work of `dise tool add` once its manifests are read: validates and registers every version in
 * one transaction, routes, starts canaries and reviews, and prints what `dise tool add` prints. Run by
 * the command, or by the running `dise dev` it hands the work to (handoff-server.ts). `oneShot`: the
 * process exits after it (no Python interpreter is worth loading in reserve).
 */
export async function registerManifests(
  store: LineageStore,
  inputs: ManifestInput[],
  options: ToolAddOptions & { oneShot: boolean },
  config: DiseConfig,
  out: Output,
): Promise<ToolAddResult & { exitCode: number }> {
  // Python code is parsed and run by the sandbox's interpreter: load it once, up front (a child
  // without a language field is in its first parent's).
  const firstParents = inputs.flatMap((i) =>
    !i.input.language && i.input.parents?.length ? [normalizeVersionId(i.input.parents[0]!, 'parents[0]').id] : [],
  );
  const parentSources = await store.graph.codes(firstParents);
  if (
    inputs.some((i) => i.input.language === 'python') ||
    [...parentSources.values()].some((s) => s.language === 'python')
  ) {
    out.info('loading the Python interpreter (once per process)');
    await warmPython();
  }
  // One version with no parent runs in one interpreter: none need be loaded in reserve for a next
  // version (a parent's code, or a second version, runs in an interpreter of its own).
  const releaseSpare =
    options.oneShot && inputs.length === 1 && !inputs[0]!.input.parents?.length ? holdPythonSpare() : () => {};
  const sandbox = new Sandbox(config.sandbox);
  let registered: RegisteredVersion[];
  try {
    registered = await store.registerMany(
      inputs.map((i) => i.input),
      { validate: registrationValidator({ store, sandbox, config }) },
    );
  } finally {
    sandbox.close();
    releaseSpare();
  }
  const routed = new Set<string>();
  const canaries = new Map<string, { stableId: string; workflowId: string }>();
  if (options.route) {
    const newest = new Map<string, RegisteredVersion>();
    for (const r of registered) {
      if (!ROUTABLE_HEALTH.includes(r.health)) continue;
      const current = newest.get(r.name);
      if (!current || compareSemver(parseVersionId(r.id), parseVersionId(current.id)) > 0) newest.set(r.name, r);
    }
    for (const r of newest.values()) {
      // Only move a route forward: a newer routed version already in place wins.
      const existing = await store.routing.routeOf(r.name);
      if (existing && compareSemver(parseVersionId(existing), parseVersionId(r.id)) > 0) continue;
      // Shadow mode: a tool that already answers callers keeps doing so while the new version is judged.
      const stable =
        config.deployment.mode === 'shadow' &&
        existing &&
        existing !== r.id &&
        (await store.routing.isRoutable(existing))
          ? existing
          : null;
      if (stable) {
        const workflowId = canaryWorkflowId(r.id);
        await store.canaries.begin({
          candidateId: r.id,
          toolName: r.name,
          stableId: stable,
          targetHealth: r.health,
          origin: 'registration',
          healId: null,
          workflowId,
          mirrorFraction: config.deployment.canary.mirror_fraction,
        });
        canaries.set(r.id, { stableId: stable, workflowId });
        continue;
      }
      await store.setRoute(r.id, 'registered by dise tool add');
      routed.add(r.id);
    }
  }
  // A feature_add held for a person's review (deployment.review: hold) waits in its review workflow.
  const held = registered.filter((r) => r.health === 'held').map((r) => r.id);
  if (canaries.size || held.length) {
    // Loaded only when a canary or a review starts: the Temporal client is heavy for a command that rarely needs it.
    const [{ connectTemporal }, { startCanary }, { taskQueueFromEnv }] = await Promise.all([
      import('./temporal-client.js'),
      import('../client/start-canary.js'),
      import('../infra/temporal-connection.js'),
    ]);
    const temporal = await connectTemporal(config);
    try {
      for (const id of canaries.keys()) await startCanary(temporal.client, id, { taskQueue: taskQueueFromEnv() });
      if (held.length) {
        const { startReview } = await import('../client/review.js');
        for (const id of held) await startReview(temporal.client, id, { taskQueue: taskQueueFromEnv() });
      }
    } finally {
      await temporal.close();
    }
  }
  const result: ToolAddResult = {
    registered: registered.map((r, i) => ({
      ...r,
      health: canaries.has(r.id) ? ('canary' as const) : r.health,
      file: inputs[i]!.file,
      routed: routed.has(r.id),
      canary: canaries.get(r.id) ?? null,
    })),
  };
  if (options.json) {
    out.result(JSON.stringify(result, null, 2));
  } else {
    for (const r of result.registered) {
      out.result(
        `${r.id} ${r.health}${r.language === 'python' ? ' (python)' : ''}${r.routed ? ' (routed)' : ''}${r.canary ? ` (in shadow beside ${r.canary.stableId}; dise canary status ${r.id})` : ''}${r.health === 'held' ? ` (held for review: dise review ${r.id} --approve | --refuse)` : ''}`,
      );
      for (const f of r.failures ?? []) out.info(`  ${r.id}: [${f.severity}] ${f.failureType}: ${f.description}`);
      for (const line of r.reports ?? []) out.info(`  ${r.id}: ${line}`);
      // The verdict goes to stdout with the version: the three smallest differing inputs and both answers.
      if (r.differential)
        for (const line of renderDifferential(r.differential).slice(
          0,
          r.differential.verdict === 'same' ? 1 : undefined,
        ))
          out.result(line);
    }
  }
  const failed = result.registered.filter((r) => r.health === 'failed');
  if (failed.length) out.info(`${failed.length} version(s) failed validation and were stored FAILED (never routed)`);
  return { ...result, exitCode: failed.length ? EXIT.failed : EXIT.ok };
}
