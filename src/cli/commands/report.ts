import { createInterface } from 'node:readline';
import type { DiseConfig } from '../../config/schema.js';
import { quickReads } from '../../lineage/quick-reads.js';
import { ToolRuntime, type WrongResultReport } from '../../runtime/tool-runtime.js';
import { SEVERITIES, type JsonValue, type Severity } from '../../shared/lineage-types.js';
import { withPool, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { parseJsonArgument } from '../json-argument.js';
import { optionalSignaler } from '../temporal-client.js';

export interface ReportOptions {
  input?: string;
  observed?: string;
  expected?: string;
  description?: string;
  severity?: string;
  json: boolean;
  /** Read reports as NDJSON from `lines` (stdin), one process for many reports. */
  stdin?: boolean;
}

/** Reports of `--stdin` in flight at once (the runtime's pool has 4 connections). */
const STDIN_CONCURRENCY = 4;

function checkSeverity(severity: unknown, where: string): Severity | undefined {
  if (severity === undefined || severity === null) return undefined;
  if (typeof severity !== 'string' || !(SEVERITIES as readonly string[]).includes(severity)) {
    throw new UsageError(`${where}: "${String(severity)}" is not one of ${SEVERITIES.join(', ')}`);
  }
  return severity as Severity;
}

/** One NDJSON line: {"id": "<version or tool>", "input": …, "observed": …, "expected"?: …, "description"?: "…", "severity"?: "…"}. */
function parseLine(
  line: string,
  lineNo: number,
  defaultId: string | undefined,
): { id: string; report: WrongResultReport } {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (err) {
    throw new UsageError(`stdin line ${lineNo}: not valid JSON (${(err as Error).message})`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data))
    throw new UsageError(`stdin line ${lineNo}: expected a JSON object`);
  const o = data as Record<string, JsonValue | undefined>;
  const id = typeof o.id === 'string' ? o.id : defaultId;
  if (!id) throw new UsageError(`stdin line ${lineNo}: no "id" (and no <id> argument)`);
  if (o.input === undefined) throw new UsageError(`stdin line ${lineNo}: no "input"`);
  if (o.description !== undefined && typeof o.description !== 'string')
    throw new UsageError(`stdin line ${lineNo}: "description" must be a string`);
  const severity = checkSeverity(o.severity, `stdin line ${lineNo}: severity`);
  return {
    id,
    report: {
      input: o.input,
      observed: o.observed ?? null,
      ...(o.expected !== undefined ? { expected: o.expected } : {}),
      ...(o.description !== undefined ? { description: o.description as string } : {}),
      ...(severity ? { severity } : {}),
    },
  };
}

/**
 * `dise report <id> --input <json> …`: record a wrong result observed outside the runtime.
 * `dise report [id] --stdin`: one report per NDJSON line, all in this one process (a script's 100
 * reports cost one start-up, not 100).
 */
export async function report(
  versionId: string | undefined,
  options: ReportOptions,
  config: DiseConfig,
  out: Output,
  lines?: AsyncIterable<string>,
): Promise<void> {
  let single: WrongResultReport | undefined;
  if (!options.stdin) {
    if (!versionId) throw new UsageError('missing <id> (or use --stdin)');
    if (options.input === undefined)
      throw new UsageError("required option '--input <json>' not specified (or use --stdin)");
    const severity = checkSeverity(options.severity, '--severity');
    single = {
      input: parseJsonArgument(options.input, '--input'),
      observed: options.observed !== undefined ? parseJsonArgument(options.observed, '--observed') : null,
      ...(options.expected !== undefined ? { expected: parseJsonArgument(options.expected, '--expected') } : {}),
      ...(options.description ? { description: options.description } : {}),
      ...(severity ? { severity } : {}),
    };
  }
  await withPool(
    out,
    async (db) => {
      const { signaler, close } = await optionalSignaler(out, config);
      const runtime = await ToolRuntime.create({ databaseUrl: db.url, config, signaler, log: out.info, listen: false });
      const resolved = new Map<string, string>();
      const resolve = async (id: string) =>
        resolved.get(id) ?? resolved.set(id, await quickReads.resolve(db.pool, id)).get(id)!;
      const store = async (id: string, wrong: WrongResultReport) => {
        const version = await resolve(id);
        return { version, result: await runtime.report(version, wrong) };
      };
      const print = ({ version, result }: Awaited<ReturnType<typeof store>>) => {
        if (options.json) out.result(JSON.stringify({ versionId: version, ...result }));
        else if (!options.stdin) {
          out.result(`recorded failure #${result.failureId} against ${version} (failure count ${result.failureCount})`);
          if (result.signalled) out.info('the health monitor was signalled');
        }
        return result;
      };
      try {
        if (single) print(await store(versionId!, single));
        else {
          // A few reports in flight at once (each is its own atomic insert and count), printed in order.
          const inFlight: Promise<Awaited<ReturnType<typeof store>>>[] = [];
          let n = 0;
          let signalled = 0;
          let lineNo = 0;
          const settleOldest = async () => {
            const result = print(await inFlight.shift()!);
            n++;
            if (result.signalled) signalled++;
          };
          try {
            // Made here, not earlier: readline drops lines read before the loop starts listening.
            for await (const line of lines ?? createInterface({ input: process.stdin, crlfDelay: Infinity })) {
              lineNo++;
              if (!line.trim()) continue;
              const { id, report: wrong } = parseLine(line, lineNo, versionId);
              const stored = store(id, wrong);
              stored.catch(() => undefined); // awaited in order below; not an unhandled rejection meanwhile
              inFlight.push(stored);
              if (inFlight.length >= STDIN_CONCURRENCY) await settleOldest();
            }
            while (inFlight.length) await settleOldest();
          } finally {
            await Promise.allSettled(inFlight);
          }
          if (!options.json)
            out.result(
              `recorded ${n} failure(s)${signalled ? `; the health monitor was signalled ${signalled} time(s)` : ''}`,
            );
        }
        await runtime.flush();
      } finally {
        await runtime.close();
        await close();
      }
    },
    config,
  );
}
