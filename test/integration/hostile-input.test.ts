import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { LineageError } from '../../src/lineage/errors.js';
import { ManifestError, readManifestFile } from '../../src/cli/manifest.js';
import { useTestStore } from '../support/database.js';
import { tableCounts } from '../support/fixtures.js';

// Fuzzing manifests and config files, random and mutated from valid ones: each is rejected with an
// error that names the problem, or accepted intact — never a crash, never a half write.

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-fuzz-'));
const h = useTestStore();
let n = 0;

beforeAll(async () => {
  await h.store.registerVersion({ name: 'fuzz_base', version: '1.0.0', code: 'function run(x) { return x; }' });
});

const VALID_MANIFEST = {
  name: 'fuzz_tool',
  version: '1.1.0',
  parents: ['fuzz_base@1.0.0'],
  description: 'fuzzed',
  category: 'test',
  code: 'function run(input) { return input; }',
  mutation: { type: 'refactor', description: 'x', fitness_before: 0.5, fitness_after: 0.6 },
  tests: [{ name: 't', input: 1, expect: 1, critical: true }],
};

const VALID_CONFIG = {
  self_healing: {
    enabled: true,
    thresholds: { failure_count_trigger: 3, error_rate_threshold: 0.05 },
    propagation: { default_scope: 'descendants' },
  },
  sandbox: { timeout_ms: 500 },
  llm: { model: 'm' },
};

/** Mutates a JSON document at a random path: delete, replace with junk, or add an unknown key. */
const junk = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
);
function mutated(doc: object) {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(), fc.nat(3), junk, fc.string({ minLength: 1, maxLength: 8 })), {
        minLength: 1,
        maxLength: 4,
      }),
    )
    .map(([edits]) => {
      const copy = structuredClone(doc) as Record<string, unknown>;
      for (const [pick, op, value, key] of edits) {
        const paths: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
        const walk = (node: unknown) => {
          if (node && typeof node === 'object') {
            for (const [k, v] of Object.entries(node)) {
              paths.push({ parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(k) : k });
              walk(v);
            }
          }
        };
        walk(copy);
        const target = paths[pick % Math.max(1, paths.length)];
        if (!target) continue;
        const parent = target.parent as Record<string | number, unknown>;
        if (op === 0) delete parent[target.key];
        else if (op === 1 || op === 2) parent[target.key] = value;
        else if (!Array.isArray(parent)) parent[`x_${key}`] = value;
      }
      return copy;
    });
}

function write(text: string): string {
  const f = path.join(dir, `f${++n}.yaml`);
  writeFileSync(f, text);
  return f;
}

describe('hostile manifests', () => {
  it('are rejected naming the file and problem, or registered intact; never a crash or a half write', async () => {
    const documents = fc.oneof(
      mutated(VALID_MANIFEST).map((d) => YAML.stringify(d)),
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(documents, async (text) => {
        const file = write(text);
        let inputs;
        try {
          inputs = readManifestFile(file);
        } catch (err) {
          expect(err).toBeInstanceOf(ManifestError);
          expect((err as Error).message.startsWith(file)).toBe(true);
          return;
        }
        const before = await tableCounts(h.db);
        // Unique versions per run, so an accepted manifest never collides with an earlier one.
        const renamed = inputs.map((i, k) => ({ ...i, version: `1.${n}.${k}` }));
        try {
          const registered = await h.store.registerMany(renamed);
          expect(registered.map((r) => r.id)).toEqual(renamed.map((i) => `${i.name}@${i.version}`));
          const stored = await h.store.getLineage(registered[0]!.id);
          expect(stored.code).toBe(renamed[0]!.code);
          expect(stored.parents).toEqual(renamed[0]!.parents ?? []);
        } catch (err) {
          expect(err).toBeInstanceOf(LineageError);
          expect(await tableCounts(h.db)).toEqual(before);
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  }, 120_000);
});

describe('hostile config files', () => {
  it('are rejected naming the key path, or accepted; never a crash', () => {
    const documents = fc.oneof(
      mutated(VALID_CONFIG).map((d) => YAML.stringify(d)),
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(documents, (text) => {
        const file = write(text);
        try {
          const config = loadConfig(file);
          expect(typeof config.sandbox.timeout_ms).toBe('number');
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as Error).message.startsWith(file)).toBe(true);
        }
      }),
      { numRuns: 400, seed: 11 },
    );
  });
});
