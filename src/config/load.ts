import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { configSchema, type DiseConfig } from './schema.js';

/** The configuration could not be used; the message names the file and the key path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string | null,
    readonly keyPath: string | null,
    problem: string,
  ) {
    super(`${file ?? 'configuration'}${keyPath ? `: ${keyPath}` : ''}: ${problem}`);
    this.name = 'ConfigError';
  }
}

function describeIssue(issue: z.core.$ZodIssue): { keyPath: string; problem: string } {
  const keyPath = issue.path.map(String).join('.');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const where = keyPath ? `${keyPath}.` : '';
      return {
        keyPath: `${where}${issue.keys[0]}`,
        problem: `unknown key (allowed keys are listed in config.example.yaml)`,
      };
    }
    case 'invalid_type':
      return { keyPath, problem: `expected ${issue.expected}` };
    case 'too_small':
      return { keyPath, problem: `must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}` };
    case 'too_big':
      return { keyPath, problem: `must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}` };
    case 'invalid_value':
      return { keyPath, problem: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` };
    default:
      return { keyPath, problem: issue.message };
  }
}

/** Validates parsed config data; throws ConfigError naming the first bad key path. */
export function parseConfig(data: unknown, file: string | null = null): DiseConfig {
  const result = configSchema.safeParse(data ?? {});
  if (!result.success) {
    const { keyPath, problem } = describeIssue(result.error.issues[0]!);
    throw new ConfigError(file, keyPath || null, problem);
  }
  return result.data;
}

/** Which file to read: --config, then DISE_CONFIG, then ./config.yaml when present. */
export function configFilePath(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string | null {
  if (explicit) return path.resolve(cwd, explicit);
  if (env.DISE_CONFIG) return path.resolve(cwd, env.DISE_CONFIG);
  const local = path.join(cwd, 'config.yaml');
  return existsSync(local) ? local : null;
}

/** Reads and validates the configuration once, at an entry point. */
export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DiseConfig {
  const resolved = configFilePath(explicit, env, cwd);
  if (!resolved) return parseConfig({});
  // Messages name the file as the user gave it.
  const file = explicit ?? env.DISE_CONFIG ?? 'config.yaml';
  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (err) {
    throw new ConfigError(
      file,
      null,
      `cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(file, null, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseConfig(data, file);
}
