/**
 * What a CLI process does once its command has ended, successful or not: whatever the command
 * started registers here how to let go of it, so the process can exit. A light module on purpose:
 * the CLI's entry point loads it for every command.
 */
const hooks: (() => Promise<void>)[] = [];

export function atCommandEnd(hook: () => Promise<void>): void {
  hooks.push(hook);
}

export async function runCommandEndHooks(): Promise<void> {
  for (const hook of hooks.splice(0).reverse()) await hook().catch(() => undefined);
}
