/**
 * A tool runtime in its own process, for tests of cross-process behaviour. Calls `tool` every
 * `intervalMs` and prints one JSON line per call: {at, input, version, output} or {at, input, error},
 * `at` being when the answer came back.
 * Stops on SIGTERM.
 */
import { ToolRuntime } from '../../src/runtime/index.js';

const [databaseUrl, tool, intervalMs = '20'] = process.argv.slice(2);
const runtime = await ToolRuntime.create({ databaseUrl: databaseUrl!, log: (l) => process.stderr.write(l + '\n') });
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
let n = 0;
// Stamped when the answer came back: an answer from a route that changed at T is stamped after T,
// however early its call began (a canary's end is decided before its route change commits).
while (!stopping) {
  const input = n++;
  try {
    const r = await runtime.callDetailed(tool!, input);
    process.stdout.write(JSON.stringify({ at: Date.now(), input, version: r.versionId, output: r.output }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ at: Date.now(), input, error: (err as Error).name }) + '\n');
  }
  await new Promise((r) => setTimeout(r, Number(intervalMs)));
}
await runtime.close();
process.exit(0);
