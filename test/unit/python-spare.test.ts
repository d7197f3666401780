import { afterAll, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import {
  closePythonHost,
  holdPythonSpare,
  pythonReady,
  pythonStats,
  pythonToolsReady,
  warmPythonTools,
} from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

// What a one-shot command loads: a call needs only the interpreter that runs tools (not the analysis
// one), and while the spare is held no interpreter loads in reserve for a next tool; a tool that comes
// all the same gets one, loaded when it asks.

const sandbox = new Sandbox({ ...defaultConfig().sandbox, python_isolation: 'per_tool' });

afterAll(async () => {
  sandbox.close();
  await closePythonHost();
});

/** Lets the host's deferred work run (it starts a spare off the call that took the last one). */
const settle = () => new Promise((r) => setTimeout(r, 200));

it('a call loads one interpreter and, held, keeps none in reserve; released, the next new tool leaves a spare loading', async () => {
  await closePythonHost();
  await warmPythonTools();
  expect(pythonToolsReady()).toBe(true);
  expect(pythonReady()).toBe(false); // the analysis interpreter is not loaded
  expect(pythonStats().interpreters).toBe(1);

  const release = holdPythonSpare();
  try {
    expect(sandbox.run('spare-a', 'def run(x):\n    return x * 2\n', 21, 'python')).toBe(42);
    await settle();
    expect(pythonStats().interpreters).toBe(1); // the tool's own, no spare
    // A second tool while held: an interpreter of its own, loaded when it asks.
    expect(sandbox.run('spare-b', 'def run(x):\n    return x + 1\n', 1, 'python')).toBe(2);
    await settle();
    expect(pythonStats().interpreters).toBe(2);
  } finally {
    release();
  }
  release(); // a second release changes nothing

  expect(sandbox.run('spare-c', 'def run(x):\n    return -x\n', 3, 'python')).toBe(-3);
  // Three tools and the spare, started once the third tool's interpreter is ready.
  for (let i = 0; i < 100 && pythonStats().interpreters < 4; i++) await settle();
  expect(pythonStats().interpreters).toBe(4);
}, 240_000);
