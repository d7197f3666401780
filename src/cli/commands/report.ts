import type { DiseConfig } from '../../config/schema.js';
import { ToolRuntime } from '../../runtime/tool-runtime.js';
import { SEVERITIES, type Severity } from '../../shared/lineage-types.js';
import { withDatabase, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { parseJsonArgument } from '../json-argument.js';
import { optionalSignaler } from '../temporal-client.js';

export interface ReportOptions {
  input: string;
  observed?: string;
  expected?: string;
  description?: string;
  severity?: string;
  json: boolean;
}

/** `dise report <id> --input <json> …`: record a wrong result observed outside the runtime. */
export async function report(versionId: string, options: ReportOptions, config: DiseConfig, out: Output): Promise<void> {
  const input = parseJsonArgument(options.input, '--input');
  const observed = options.observed !== undefined ? parseJsonArgument(options.observed, '--observed') : null;
  const expected = options.expected !== undefined ? parseJsonArgument(options.expected, '--expected') : undefined;
  if (options.severity !== undefined && !(SEVERITIES as readonly string[]).includes(options.severity)) {
    throw new UsageError(`--severity: "${options.severity}" is not one of ${SEVERITIES.join(', ')}`);
  }
  await withDatabase(out, async (db) => {
    const id = await db.store.resolve(versionId);
    const { signaler, close } = await optionalSignaler(out, config);
    const runtime = await ToolRuntime.create({ databaseUrl: db.url, config, signaler, log: out.info });
    try {
      const result = await runtime.report(id, {
        input,
        observed,
        ...(expected !== undefined ? { expected } : {}),
        ...(options.description ? { description: options.description } : {}),
        ...(options.severity ? { severity: options.severity as Severity } : {}),
      });
      await runtime.flush();
      if (options.json) out.result(JSON.stringify({ versionId: id, ...result }));
      else {
        out.result(`recorded failure #${result.failureId} against ${id} (failure count ${result.failureCount})`);
        if (result.signalled) out.info('the health monitor was signalled');
      }
    } finally {
      await runtime.close();
      await close();
    }
  }, config);
}
