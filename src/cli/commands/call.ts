import type { DiseConfig } from '../../config/schema.js';
import { ToolRuntime, type CallResult } from '../../runtime/tool-runtime.js';
import { holdPythonSpare } from '../../sandbox/python.js';
import { parseJsonArgument } from '../json-argument.js';
import { withPool, type Output } from '../context.js';
import { HandedOffError } from '../errors.js';
import { handOff, handOffTarget } from '../handoff-client.js';
import { optionalSignaler } from '../temporal-client.js';

/**
 * `dise call <name or id> <json>`: one call through the runtime guard; prints the output as JSON. A
 * Python tool's call is handed to the running `dise dev`, whose interpreter is already loaded
 * (handoff-client.ts); without one that answers, the call loads an interpreter here.
 */
export async function call(
  nameOrId: string,
  inputText: string,
  options: { json: boolean; verbose?: boolean },
  config: DiseConfig,
  out: Output,
): Promise<void> {
  const input = parseJsonArgument(inputText, 'input');
  await withPool(
    out,
    async (db) => {
      const { signaler, close } = await optionalSignaler(out, config);
      const runtime = await ToolRuntime.create({ databaseUrl: db.url, config, signaler, log: out.info, listen: false });
      // One call: a Python interpreter loaded in reserve would only hold the exit up.
      const releaseSpare = holdPythonSpare();
      try {
        const result =
          (await handedOff(runtime, db.url, nameOrId, inputText, options, config, out)) ??
          (await runtime.callDetailed(nameOrId, input));
        if (options.json) out.result(JSON.stringify(result));
        else {
          out.info(
            `${result.versionId} answered in ${result.durationMs.toFixed(2)} ms${result.alternativeFor ? ` (a healthy alternative to ${result.alternativeFor}, which is known wrong)` : ''}`,
          );
          if (result.warning) out.info(`warning: ${result.warning}`);
          out.result(JSON.stringify(result.output));
        }
      } finally {
        await runtime.close();
        await close();
        releaseSpare();
      }
    },
    config,
  );
}

/**
 * The call as the running stack answered it, when the tool is Python and a stack on the same database
 * takes it; null to call here. A failure it answered with is thrown as the command would have.
 */
async function handedOff(
  runtime: ToolRuntime,
  databaseUrl: string,
  nameOrId: string,
  inputText: string,
  options: { verbose?: boolean },
  config: DiseConfig,
  out: Output,
): Promise<CallResult | null> {
  const target = handOffTarget(databaseUrl);
  if (!target) {
    if (options.verbose && (await runtime.resolve(nameOrId)).language === 'python')
      out.info('no running stack takes the call: the Python interpreter loads in this process');
    return null;
  }
  // Only Python pays for loading an interpreter; a JavaScript call is cheaper here than a round trip.
  // (A name that does not resolve fails here as it would in the call.)
  if ((await runtime.resolve(nameOrId)).language !== 'python') return null;
  const answer = await handOff<CallResult>(
    target,
    '/call',
    { tool: nameOrId, input: inputText, signal: process.env.DISE_SIGNAL_MONITOR !== '0' },
    config,
  );
  if (!answer) {
    if (options.verbose)
      out.info(`the running stack (${target.url}) did not take the call: the Python interpreter loads in this process`);
    return null;
  }
  if (options.verbose) out.info(`called in the running stack's interpreter (${target.url})`);
  if (answer.ok) return answer.value;
  throw new HandedOffError(answer.error.message, answer.error.exitCode, answer.error.name, answer.error.stack);
}
