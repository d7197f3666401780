import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { DiseConfig } from '../config/schema.js';
import { readLiveDevState } from '../infra/dev-state.js';
import { stateDir } from '../infra/paths.js';
import type { Output } from './output.js';

/**
 * The hand-off: a quick command (`dise call` of a Python tool) asks the running `dise dev` to do the
 * Python work in its interpreter, which is already loaded, instead of loading one in a process that
 * lives for one call. `dise dev` listens on loopback only and answers only requests that carry the
 * key it wrote to `.dise/handoff.json` (readable by its user only: whoever can read it can already
 * reach the stack's database). The command hands off only to the stack it would otherwise work on
 * (the same database) with the same configuration, so the answer, the exit code and the stored rows
 * are the ones it would have made itself. DISE_CLI_HANDOFF=0 keeps the work in the command's process.
 */
export interface HandOffState {
  /** The `dise dev` process that listens. */
  pid: number;
  url: string;
  key: string;
}

/** A failure the stack answered with, as the command would have had it: its message and exit code. */
export interface HandedOffFailure {
  name: string;
  message: string;
  stack: string | null;
  exitCode: number;
}

/** A line the work printed there, in order: a message (stderr) or a result (stdout). */
export type OutputLine = ['info' | 'result', string];

/** What the stack answered, and the lines the command would have printed while doing the work. */
export type HandOffAnswer<T> = ({ ok: true; value: T } | { ok: false; error: HandedOffFailure }) & {
  lines?: OutputLine[];
};

/** Prints the lines the stack's work printed, as the command would have. */
export function replayLines(lines: OutputLine[] | undefined, out: Output): void {
  for (const [stream, text] of lines ?? []) {
    if (stream === 'result') out.result(text);
    else out.info(text);
  }
}

/** Header naming the digest of the command's configuration (the stack refuses a different one). */
export const CONFIG_HEADER = 'x-dise-config';

export function handOffFile(dir = stateDir()): string {
  return path.join(dir, 'handoff.json');
}

/** Written by `dise dev` once it listens; only its user may read it (it holds the key). */
export function writeHandOffState(state: HandOffState, dir = stateDir()): void {
  const file = handOffFile(dir);
  rmSync(file, { force: true });
  writeFileSync(file, JSON.stringify(state) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function removeHandOffState(dir = stateDir()): void {
  rmSync(handOffFile(dir), { force: true });
}

/** The digest of a configuration, as both sides compute it. */
export function configDigest(config: DiseConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}

/**
 * The running stack to hand work to: its `dise dev` is alive, listens for hand-offs and works on
 * `databaseUrl`; else undefined (DISE_CLI_HANDOFF=0, no stack, another database).
 */
export function handOffTarget(databaseUrl: string, env: NodeJS.ProcessEnv = process.env): HandOffState | undefined {
  if (env.DISE_CLI_HANDOFF === '0') return undefined;
  const dev = readLiveDevState();
  if (!dev || dev.database !== databaseUrl) return undefined;
  const file = handOffFile();
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as HandOffState;
    return state.pid === dev.pid && typeof state.url === 'string' && typeof state.key === 'string' ? state : undefined;
  } catch {
    return undefined;
  }
}

/** How long to wait for the stack to accept the connection before doing the work here. */
const CONNECT_TIMEOUT_MS = 2000;

/**
 * Posts `body` to the stack's `route`. Null when the stack did not take the request (it is gone, or
 * it refused the key or the configuration): nothing ran there, so the command does the work itself.
 * A stack that took the request and then failed is an error: the work may have run.
 */
export function handOff<T>(
  target: HandOffState,
  route: string,
  body: unknown,
  config: DiseConfig,
): Promise<HandOffAnswer<T> | null> {
  const payload = JSON.stringify(body);
  const url = new URL(route, target.url);
  return new Promise((resolve, reject) => {
    let connected = false;
    const req = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        authorization: `Bearer ${target.key}`,
        [CONFIG_HEADER]: configDigest(config),
      },
    });
    const connectTimer = setTimeout(
      () => req.destroy(new Error('the stack did not accept the connection')),
      CONNECT_TIMEOUT_MS,
    );
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        connected = true;
        clearTimeout(connectTimer);
      });
    });
    req.on('error', (err) => {
      clearTimeout(connectTimer);
      if (!connected) resolve(null);
      else reject(new Error(`the running stack stopped answering (${target.url}): ${err.message}`));
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) =>
        reject(new Error(`the running stack stopped answering (${target.url}): ${err.message}`)),
      );
      res.on('end', () => {
        // Refused before anything ran: another stack's key, another configuration, an older stack.
        if (res.statusCode === 401 || res.statusCode === 404 || res.statusCode === 409) return resolve(null);
        try {
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as HandOffAnswer<T>;
          if (res.statusCode === 200 && typeof answer === 'object' && answer !== null && 'ok' in answer)
            return resolve(answer);
        } catch {
          // not an answer: below
        }
        reject(new Error(`the running stack answered ${res.statusCode} (${target.url})`));
      });
    });
    req.end(payload);
  });
}
