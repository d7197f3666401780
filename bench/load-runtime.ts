/**
 * One tool runtime process of `npm run bench:load`. Started by bench/load.bench.ts with an IPC
 * channel: says {ready} once connected, calls random tools from `go` until `stop`, yielding to the
 * event loop every few calls (so routing notifications and batched recording keep up), then closes
 * the runtime — which flushes every execution — and sends its counts.
 *
 * Environment: DATABASE_URL, LOAD_TOOLS (tools are load_0 … load_<n-1>), LOAD_SEED, LOAD_RATE (calls
 * per second to offer; 0, the default, means as fast as it can).
 */
import { ToolRuntime } from '../src/runtime/index.js';
import { rng, type LoadCounts } from './support.js';

const tools = Number(process.env.LOAD_TOOLS ?? 1000);
const rate = Number(process.env.LOAD_RATE ?? 0);
const random = rng(Number(process.env.LOAD_SEED ?? 1));
const send = (message: unknown) => process.send!(message);

const runtime = await ToolRuntime.create({
  databaseUrl: process.env.DATABASE_URL!,
  log: (l) => process.stderr.write(`[runtime ${process.pid}] ${l}\n`),
});
let running = false;
let stopped: () => void = () => undefined;
const done = new Promise<void>((r) => (stopped = r));
const counts: LoadCounts = { calls: 0, ok: 0, recorded: 0, errors: {}, healedAnswers: 0, ms: 0 };

const INPUTS = [
  'user@example.com',
  'a.b@c.io',
  'user@@domain.com',
  'no-at-sign',
  '@x.io',
  'x@y',
  'first.last@sub.domain.org',
];

async function loop(): Promise<void> {
  const started = performance.now();
  while (running) {
    for (let i = 0; i < 20 && running; i++) {
      const tool = `load_${Math.floor(random() * tools)}`;
      const input = INPUTS[Math.floor(random() * INPUTS.length)]!;
      counts.calls++;
      try {
        const r = await runtime.callDetailed(tool, input);
        counts.ok++;
        counts.recorded++;
        if (r.versionId.endsWith('.1')) counts.healedAnswers++;
      } catch (err) {
        const name = (err as Error).name || 'Error';
        counts.errors[name] = (counts.errors[name] ?? 0) + 1;
        if (name === 'ToolExecutionError') counts.recorded++;
      }
    }
    // At a set rate, sleep until the next call is due; otherwise just let the event loop turn.
    const ahead = rate > 0 ? (counts.calls / rate) * 1000 - (performance.now() - started) : 0;
    await new Promise((r) => (ahead > 1 ? setTimeout(r, ahead) : setImmediate(r)));
  }
  counts.ms = performance.now() - started;
  stopped();
}

process.on('message', (message) => {
  if (message === 'go' && !running) {
    running = true;
    void loop();
  } else if (message === 'stop') {
    if (!running) stopped(); // never started
    running = false;
    void (async () => {
      await done;
      await runtime.close();
      send({ counts });
      process.disconnect();
    })();
  }
});
await runtime.preload(Array.from({ length: tools }, (_, i) => `load_${i}`));
send({ ready: true });
