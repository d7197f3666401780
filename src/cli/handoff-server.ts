import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DiseConfig } from '../config/schema.js';
import type { TemporalSettings } from '../infra/temporal-connection.js';
import type { MonitorSignaler } from '../runtime/monitor-signaler.js';
import type { ToolRuntime } from '../runtime/tool-runtime.js';
import type { FailureReport } from '../shared/messages.js';
import { describeError, exitCodeFor } from './errors.js';
import { parseJsonArgument } from './json-argument.js';
import {
  CONFIG_HEADER,
  configDigest,
  removeHandOffState,
  writeHandOffState,
  type HandedOffFailure,
  type HandOffAnswer,
  type OutputLine,
} from './handoff-client.js';
import type { ManifestInput, ToolAddOptions } from './commands/tool-add.js';
import type { Output } from './output.js';
import type { LineageStore } from '../lineage/store.js';

/** Requests larger than this are refused (a call's input travels in it). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface HandOffOptions {
  databaseUrl: string;
  /** Where handed-off registrations are stored. */
  store: LineageStore;
  config: DiseConfig;
  /** Where the monitor is signalled from handed-off calls (as `dise call` would). */
  temporal: TemporalSettings;
  /** The state folder: handoff.json is written there. */
  dir: string;
  log: (line: string) => void;
}

export interface RunningHandOff {
  url: string;
  close(): Promise<void>;
}

/**
 * `dise dev`'s listener for work the quick commands hand off (handoff-client.ts): on 127.0.0.1 only,
 * every request must carry the key of handoff.json and the digest of this stack's configuration.
 * POST /call {tool, input, signal} answers what `dise call` would print or fail with, through one runtime
 * kept for the process (its interpreters stay loaded), with the execution stored before the answer.
 * POST /tool-add {inputs, options} judges and registers manifests as `dise tool add` would, and
 * answers with the lines it would have printed.
 */
export async function startHandOff(options: HandOffOptions): Promise<RunningHandOff> {
  const key = randomBytes(32).toString('base64url');
  const digest = configDigest(options.config);
  // Two runtimes, made when first needed: one signals the monitor as `dise call` does, one does not
  // (for a command run with DISE_SIGNAL_MONITOR=0). They share the process's interpreters.
  const runtimes = new Map<boolean, Promise<ToolRuntime>>();
  const signaler = lazySignaler(options);
  const getRuntime = (signal: boolean) => {
    let runtime = runtimes.get(signal);
    if (!runtime) {
      runtime = import('../runtime/tool-runtime.js').then(({ ToolRuntime }) =>
        ToolRuntime.create({
          databaseUrl: options.databaseUrl,
          config: options.config,
          signaler: signal ? signaler.signaler : undefined,
          log: options.log,
        }),
      );
      runtimes.set(signal, runtime);
    }
    return runtime;
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (!authorised(req.headers.authorization, key)) return send(401, { error: 'a hand-off key is required' });
    if (req.method !== 'POST' || (req.url !== '/call' && req.url !== '/tool-add'))
      return send(404, { error: `nothing at ${req.method} ${req.url}` });
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      return send(415, { error: 'requests take application/json' });
    // Another configuration would judge or limit differently: the command does the work itself.
    if (req.headers[CONFIG_HEADER] !== digest) return send(409, { error: 'the stack runs another configuration' });
    void readBody(req)
      .then(async (text) => {
        const body = JSON.parse(text) as {
          tool?: unknown;
          input?: unknown;
          signal?: unknown;
          inputs?: unknown;
          options?: unknown;
        };
        if (req.url === '/tool-add') {
          if (!Array.isArray(body.inputs) || typeof body.options !== 'object' || body.options === null)
            return send(400, { error: 'inputs and options are required' });
          return send(200, await register(options, body.inputs as ManifestInput[], body.options as ToolAddOptions));
        }
        if (typeof body.tool !== 'string' || typeof body.input !== 'string')
          return send(400, { error: 'tool and input (JSON text) are required' });
        send(200, await answer(() => getRuntime(body.signal !== false), body.tool, body.input));
      })
      .catch((err: Error) => {
        if (!res.headersSent) send(400, { error: err.message });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeHandOffState({ pid: process.pid, url, key }, options.dir);
  return {
    url,
    async close() {
      removeHandOffState(options.dir);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      for (const runtime of runtimes.values()) await (await runtime).close();
      await signaler.close();
    },
  };
}

/** One call as `dise call` makes it: parsed input, the runtime's guard, the execution stored. */
async function answer(
  getRuntime: () => Promise<ToolRuntime>,
  tool: string,
  inputText: string,
): Promise<HandOffAnswer<unknown>> {
  try {
    const input = parseJsonArgument(inputText, 'input');
    const runtime = await getRuntime();
    try {
      return { ok: true, value: await runtime.callDetailed(tool, input) };
    } finally {
      // The command that asked exits next: its execution is in the database when it does.
      await runtime.flush();
    }
  } catch (err) {
    return { ok: false, error: failure(err) };
  }
}

/** `dise tool add` of manifests the command read: judged and registered here, its lines kept for it to print. */
async function register(
  options: HandOffOptions,
  inputs: ManifestInput[],
  toolAdd: ToolAddOptions,
): Promise<HandOffAnswer<unknown>> {
  const lines: OutputLine[] = [];
  const out: Output = { info: (line) => lines.push(['info', line]), result: (text) => lines.push(['result', text]) };
  try {
    const { registerManifests } = await import('./register-manifests.js');
    const value = await registerManifests(
      options.store,
      inputs,
      { route: Boolean(toolAdd.route), json: Boolean(toolAdd.json), oneShot: false },
      options.config,
      out,
    );
    return { ok: true, value, lines };
  } catch (err) {
    return { ok: false, error: failure(err), lines };
  }
}

function failure(err: unknown): HandedOffFailure {
  const strip = (line: string) => line.replace(/^error: /, '');
  return {
    name: err instanceof Error ? err.name : 'Error',
    message: strip(describeError(err, false)),
    stack: strip(describeError(err, true)),
    exitCode: exitCodeFor(err),
  };
}

function authorised(header: string | undefined, key: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const expected = Buffer.from(key);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The monitor's signaler, connected to Temporal only when a handed-off call has something to report. */
function lazySignaler(options: HandOffOptions): { signaler: MonitorSignaler; close(): Promise<void> } {
  let connecting: Promise<{ signaler: MonitorSignaler | null; close(): Promise<void> }> | undefined;
  const connect = () =>
    (connecting ??= (async () => {
      try {
        const [{ connectTemporalClient }, { TemporalMonitorSignaler }] = await Promise.all([
          import('../client/connection.js'),
          import('../runtime/monitor-signaler.js'),
        ]);
        const temporal = await connectTemporalClient(options.temporal);
        return { signaler: new TemporalMonitorSignaler(temporal.client), close: temporal.close };
      } catch (err) {
        options.log(
          `note: not reporting to the health monitor (${(err as Error).message}); failures are still recorded`,
        );
        connecting = undefined; // try again at the next report
        return { signaler: null, close: async () => undefined };
      }
    })());
  return {
    signaler: {
      async failureReported(report: FailureReport): Promise<void> {
        await (await connect()).signaler?.failureReported(report);
      },
    },
    close: async () => {
      if (connecting) await (await connecting).close();
    },
  };
}
