/**
 * Toxiproxy for bench:storm's faults: a real TCP proxy between the workers and PostgreSQL and between
 * the workers and Temporal, which adds latency or cuts connections on request. The server is built
 * once from the Go module proxy into the tools directory (`go install`, about two minutes the first
 * time); the bench drives it through toxiproxy-node-client.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { freePort } from '../../src/infra/net.js';
import { ensureDir, toolsDir } from '../../src/infra/paths.js';
import { progress } from '../support.js';

/** The server's module and version: pinned so every machine builds the same server. */
const MODULE = 'github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0';

/** The built server, from the tools directory or built there now; a clear error without Go. */
export function toxiproxyServerPath(): string {
  const dir = path.join(toolsDir(), 'toxiproxy-v2.12.0');
  const binary = path.join(dir, 'server');
  if (existsSync(binary)) return binary;
  if (spawnSync('go', ['version']).status !== 0)
    throw new Error(
      `the storm's faults need Toxiproxy, built with Go (\`go install ${MODULE}\`); no \`go\` on PATH. Install Go, or run bench:storm without BENCH_FAULTS`,
    );
  progress(`building Toxiproxy into ${dir} (go install ${MODULE}; about two minutes the first time)…`);
  const built = spawnSync('go', ['install', MODULE], {
    env: { ...process.env, GOBIN: ensureDir(dir) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (built.status !== 0 || !existsSync(binary)) throw new Error(`go install ${MODULE} failed (exit ${built.status})`);
  return binary;
}

export interface FaultProxy {
  /** What the workers connect to instead of the server. */
  listen: string;
  /** Adds `ms` of latency both ways until the returned function is called. */
  slow(ms: number): Promise<() => Promise<void>>;
  /** Closes every connection through the proxy and refuses new ones until the returned function is called. */
  cut(): Promise<() => Promise<void>>;
}

export interface Toxiproxies {
  proxy(name: string, upstream: string): Promise<FaultProxy>;
  stop(): Promise<void>;
}

/** Starts a Toxiproxy server on a free loopback port. */
export async function startToxiproxy(): Promise<Toxiproxies> {
  const port = await freePort();
  const server: ChildProcess = spawn(toxiproxyServerPath(), ['-host', '127.0.0.1', '-port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const api = new Toxiproxy(`http://127.0.0.1:${port}`);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await api.getVersion();
      break;
    } catch (err) {
      if (Date.now() > deadline || server.exitCode !== null)
        throw new Error(`Toxiproxy did not answer on port ${port}: ${String(err)}\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    async proxy(name, upstream) {
      return faultProxy(await api.createProxy({ name, listen: '127.0.0.1:0', upstream }));
    },
    async stop() {
      server.kill('SIGTERM');
      await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)));
    },
  };
}

function faultProxy(proxy: Proxy): FaultProxy {
  // The proxy keeps the port it was given, so turning it off and on again serves the same address.
  const { listen, upstream } = proxy;
  return {
    listen,
    async slow(ms) {
      const toxics = await Promise.all(
        (['upstream', 'downstream'] as const).map((stream) =>
          proxy.addToxic({
            name: `latency_${stream}`,
            type: 'latency',
            stream,
            toxicity: 1,
            attributes: { latency: ms / 2, jitter: 0 },
          }),
        ),
      );
      return async () => void (await Promise.all(toxics.map((t) => t.remove())));
    },
    async cut() {
      await proxy.update({ enabled: false, listen, upstream });
      return async () => void (await proxy.update({ enabled: true, listen, upstream }));
    },
  };
}
