import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFilePath, loadConfig, parseConfig } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { temporalSettingsFromEnv } from '../../src/infra/temporal-connection.js';
import { llmSettingsFrom } from '../../src/llm/client.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-config-'));
function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}
function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config.yaml', () => {
  it('defaults to the documented values', () => {
    const c = defaultConfig();
    expect(c.self_healing.thresholds).toEqual({
      failure_count_trigger: 3,
      error_rate_threshold: 0.05,
      performance_degradation: 0.3,
      execution_window: 100,
    });
    expect(c.self_healing.monitoring).toEqual({ health_check_interval_seconds: 300, continuous_monitoring: true });
    expect(c.self_healing.regeneration.max_regeneration_attempts).toBe(3);
    expect(c.self_healing.propagation).toMatchObject({ default_scope: 'descendants', critical_failures_global: true });
    expect(c.lineage_tracking).toEqual({
      enabled: true,
      storage_path: 'lineage/',
      max_history_depth: 100,
      compress_old_lineage: true,
    });
  });

  it('config.example.yaml documents every key, with the defaults as values', () => {
    const example = YAML.parse(readFileSync(path.join(PACKAGE_ROOT, 'config.example.yaml'), 'utf8'));
    expect(parseConfig(example)).toEqual(defaultConfig());
    const keys = (o: object, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
      );
    expect(keys(example).sort()).toEqual(keys(defaultConfig()).sort());
  });

  it('names the key path of an unknown key', () => {
    const err = errorOf(() =>
      loadConfig(file('unknown.yaml', 'self_healing:\n  thresholds:\n    failure_count_triger: 3\n')),
    );
    expect(err.keyPath).toBe('self_healing.thresholds.failure_count_triger');
    expect(err.message).toMatch(/unknown\.yaml: self_healing\.thresholds\.failure_count_triger: unknown key/);
  });

  it('names the key path and the expected type of a wrong type', () => {
    const err = errorOf(() => loadConfig(file('type.yaml', 'sandbox:\n  timeout_ms: fast\n')));
    expect(err.message).toMatch(/type\.yaml: sandbox\.timeout_ms: expected number/);
    expect(errorOf(() => parseConfig({ self_healing: { enabled: 'yes' } })).message).toMatch(
      /self_healing\.enabled: expected boolean/,
    );
  });

  it('names the key path and the allowed range or values of an out-of-range value', () => {
    expect(errorOf(() => parseConfig({ self_healing: { thresholds: { error_rate_threshold: 1.5 } } })).message).toMatch(
      /self_healing\.thresholds\.error_rate_threshold: must be < 1/,
    );
    expect(errorOf(() => parseConfig({ sandbox: { memory_limit_mb: 2 } })).message).toMatch(
      /sandbox\.memory_limit_mb: must be >= 8/,
    );
    expect(
      errorOf(() => parseConfig({ self_healing: { regeneration: { max_regeneration_attempts: 2.5 } } })).message,
    ).toMatch(/max_regeneration_attempts/);
    expect(
      errorOf(() => parseConfig({ self_healing: { propagation: { default_scope: 'everywhere' } } })).message,
    ).toMatch(/self_healing\.propagation\.default_scope: must be one of "descendants", "all_similar", "global"/);
  });

  it('says when the file cannot be read or parsed', () => {
    expect(errorOf(() => loadConfig(path.join(dir, 'missing.yaml'))).message).toMatch(
      /missing\.yaml: cannot read file \(ENOENT\)/,
    );
    const locked = file('locked.yaml', 'sandbox: {}\n');
    chmodSync(locked, 0o000);
    if (process.getuid?.() !== 0)
      expect(errorOf(() => loadConfig(locked)).message).toMatch(/cannot read file \(EACCES\)/);
    expect(errorOf(() => loadConfig(file('bad.yaml', 'sandbox: [unclosed\n'))).message).toMatch(
      /bad\.yaml: not valid YAML/,
    );
  });

  it('finds the file: --config, then DISE_CONFIG, then ./config.yaml', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'dise-cwd-'));
    expect(configFilePath(undefined, {}, cwd)).toBeNull();
    writeFileSync(path.join(cwd, 'config.yaml'), 'sandbox:\n  timeout_ms: 10\n');
    expect(configFilePath(undefined, {}, cwd)).toBe(path.join(cwd, 'config.yaml'));
    expect(configFilePath(undefined, { DISE_CONFIG: 'other.yaml' }, cwd)).toBe(path.join(cwd, 'other.yaml'));
    expect(configFilePath('given.yaml', { DISE_CONFIG: 'other.yaml' }, cwd)).toBe(path.join(cwd, 'given.yaml'));
    expect(loadConfig(undefined, {}, cwd).sandbox.timeout_ms).toBe(10);
  });

  it('lets environment variables override the file for connection settings', () => {
    const c = parseConfig({
      temporal: { address: 'file-host:7233', namespace: 'from-file' },
      llm: { base_url: 'http://file-llm/v1' },
    });
    expect(temporalSettingsFromEnv({}, c.temporal)).toMatchObject({
      address: 'file-host:7233',
      namespace: 'from-file',
      tls: false,
    });
    expect(
      temporalSettingsFromEnv({ TEMPORAL_ADDRESS: 'env-host:7233', TEMPORAL_NAMESPACE: 'from-env' }, c.temporal),
    ).toMatchObject({ address: 'env-host:7233', namespace: 'from-env' });
    expect(
      temporalSettingsFromEnv({ TEMPORAL_ADDRESS: 'cloud:7233', TEMPORAL_API_KEY: 'k' }, c.temporal),
    ).toMatchObject({ apiKey: 'k', tls: true });
    expect(temporalSettingsFromEnv({}, defaultConfig().temporal)).toBeUndefined();
    expect(llmSettingsFrom(c, {})).toMatchObject({ baseURL: 'http://file-llm/v1' });
    expect(llmSettingsFrom(c, { OPENAI_BASE_URL: 'http://env-llm/v1', OPENAI_API_KEY: 'sk' })).toMatchObject({
      baseURL: 'http://env-llm/v1',
      apiKey: 'sk',
    });
    expect(llmSettingsFrom(defaultConfig(), {})).toBeUndefined();
  });
});
