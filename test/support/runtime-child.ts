/**
 * A tool runtime in its own process, for tests of cross-process behaviour. Calls `tool` every
 * `intervalMs` and prints one JSON line per call: {at, input, version, output} or {at, input, error}.
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
while (!stopping) {
  const at = Date.now();
  const input = n++;
  try {
    const r = await runtime.callDetailed(tool!, input);
    process.stdout.write(JSON.stringify({ at, input, version: r.versionId, output: r.output }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ at, input, error: (err as Error).name }) + '\n');
  }
  await new Promise((r) => setTimeout(r, Number(intervalMs)));
}
await runtime.close();
process.exit(0);
