import type { DiseConfig } from '../../config/schema.js';
import { ToolRuntime } from '../../runtime/tool-runtime.js';
import { holdPythonSpare } from '../../sandbox/python.js';
import { parseJsonArgument } from '../json-argument.js';
import { withPool, type Output } from '../context.js';
import { optionalSignaler } from '../temporal-client.js';

/** `dise call <name or id> <json>`: one call through the runtime guard; prints the output as JSON. */
export async function call(
  nameOrId: string,
  inputText: string,
  options: { json: boolean },
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
        const result = await runtime.callDetailed(nameOrId, input);
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
