import type { DiseConfig } from '../../config/schema.js';
import type { RegisterVersionInput, RegisteredVersion } from '../../lineage/store.js';
import { readManifestFile } from '../manifest.js';
import { configuredDatabaseUrl, withDatabase, type Output } from '../context.js';
import { HandedOffError, UsageError } from '../errors.js';
import { handOff, handOffTarget, replayLines } from '../handoff-client.js';

export interface ToolAddOptions {
  route: boolean;
  json: boolean;
}

export interface ToolAddResult {
  /** `canary`: the stable version it runs in shadow beside (deployment.mode: shadow), else null. */
  registered: (RegisteredVersion & {
    file: string;
    routed: boolean;
    canary: { stableId: string; workflowId: string } | null;
  })[];
}

/** One version of a manifest file, as read. */
export interface ManifestInput {
  file: string;
  input: RegisterVersionInput;
}

/**
 * `dise tool add <file>...`: every manifest of every file is validated (static analysis, rule gates,
 * its suite, regression against its parent, the differential check beside its parent(s)) and registered in one transaction (all or nothing). A
 * version that fails is stored FAILED with its failures; the newest passing version of each tool
 * becomes its route unless --no-route — or, under deployment.mode: shadow, when the tool already has a
 * routed version, enters CANARY beside it and its canary workflow starts. A feature_add the feature review
 * holds for a person (deployment.review: hold) is stored HELD, unrouted, and its review workflow starts
 * (`dise review`). Exit code 1 when any version failed validation.
 */
export async function toolAdd(
  files: string[],
  options: ToolAddOptions & { verbose?: boolean },
  config: DiseConfig,
  out: Output,
): Promise<ToolAddResult & { exitCode: number }> {
  if (!files.length) throw new UsageError('tool add: name at least one manifest file');
  const inputs: ManifestInput[] = [];
  for (const file of files) for (const input of readManifestFile(file)) inputs.push({ file, input });
  const route = { route: options.route, json: options.json };
  const handed = await handedOff(inputs, route, options.verbose ?? false, config, out);
  if (handed) return handed;
  const { registerManifests } = await import('../register-manifests.js');
  return withDatabase(
    out,
    ({ store }) => registerManifests(store, inputs, { ...route, oneShot: true }, config, out),
    config,
  );
}

/**
 * Python versions (or children that may inherit Python from a parent) are judged by the running
 * `dise dev`, whose interpreters are loaded, when one works on the same database and configuration
 * (handoff-client.ts); it prints and stores what this command would. Null: register here.
 */
async function handedOff(
  inputs: ManifestInput[],
  options: ToolAddOptions,
  verbose: boolean,
  config: DiseConfig,
  out: Output,
): Promise<(ToolAddResult & { exitCode: number }) | null> {
  const python = inputs.some(
    (i) => i.input.language === 'python' || (!i.input.language && Boolean(i.input.parents?.length)),
  );
  if (!python) return null;
  const url = configuredDatabaseUrl(config);
  const target = url ? handOffTarget(url) : undefined;
  const answer = target
    ? await handOff<ToolAddResult & { exitCode: number }>(target, '/tool-add', { inputs, options }, config)
    : null;
  if (!answer) {
    if (verbose)
      out.info(
        target
          ? `the running stack (${target.url}) did not take the registration: the Python interpreter loads in this process`
          : 'no running stack takes the registration: the Python interpreter loads in this process',
      );
    return null;
  }
  if (verbose) out.info(`judged in the running stack's interpreters (${target!.url})`);
  replayLines(answer.lines, out);
  if (answer.ok) return answer.value;
  throw new HandedOffError(answer.error.message, answer.error.exitCode, answer.error.name, answer.error.stack);
}
