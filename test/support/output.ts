import type { Output } from '../../src/cli/context.js';

/** Captures what a command prints: results (stdout) and messages (stderr). */
export function captureOutput(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    info: (line) => stderr.push(line),
    result: (text) => stdout.push(text),
  };
}
