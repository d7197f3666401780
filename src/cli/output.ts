/** Where a command writes: kept apart from context.ts so the program starts without the database code. */
export interface Output {
  /** Messages and progress: stderr, so stdout stays parseable. */
  info(line: string): void;
  /** Results: stdout. */
  result(text: string): void;
}

export const consoleOutput: Output = {
  info: (line) => process.stderr.write(line + '\n'),
  result: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
};
