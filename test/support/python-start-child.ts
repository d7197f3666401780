// A fresh process that loads the Python interpreters, runs one call and one analysis, waits for the
// snapshot to be written (when this process made it) and prints how its interpreters started.
import { defaultConfig } from '../../src/config/schema.js';
import { analyzePython, closePythonHost, pythonStats, warmPython } from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

await warmPython();
const sandbox = new Sandbox(defaultConfig().sandbox);
const answer = sandbox.run('one', 'def run(x):\n    return x * 2\n', 21, 'python');
const parsed = analyzePython('def run(x):\n    return x\n').ok;
const first = pythonStats();
// A second tool starts another interpreter (per tool): by then the snapshot this process made is kept.
sandbox.run('two', 'def run(x):\n    return -x\n', 1, 'python');
await new Promise((r) => setTimeout(r, 200));
sandbox.close();
await closePythonHost();
process.stdout.write(
  `${JSON.stringify({ answer, parsed, coldStartMs: first.coldStartMs, snapshotStartMs: first.snapshotStartMs })}\n`,
);
