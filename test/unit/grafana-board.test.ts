import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { ALL_METRICS, HEAL_METRICS, TEMPORAL_METRICS } from '../../src/shared/metric-names.js';

// Grafana and Prometheus cannot run here as containers: the provisioned board is checked against the
// metrics the code exposes, and the Prometheus and Grafana files against docker-compose.yml.

const read = (file: string) => readFileSync(path.join(PACKAGE_ROOT, file), 'utf8');
const board = JSON.parse(read('deploy/grafana/dashboards/dise.json')) as {
  uid: string;
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
};
const compose = YAML.parse(read('docker-compose.yml'));

/** Every series name Prometheus can hold for our metrics: histograms as _bucket, _sum and _count. */
const series = new Set(
  [...ALL_METRICS, ...TEMPORAL_METRICS].flatMap((m) =>
    m.type === 'histogram' ? [`${m.exposed}_bucket`, `${m.exposed}_sum`, `${m.exposed}_count`] : [m.exposed],
  ),
);
const metricsOf = (expr: string) => [...expr.matchAll(/\b(?:dise|temporal)_[a-z0-9_]+/g)].map((m) => m[0]);

describe('the provisioned Grafana board (deploy/grafana/dashboards/dise.json)', () => {
  it('queries only metrics that exist, in every panel', () => {
    expect(board.panels.length).toBeGreaterThanOrEqual(5);
    for (const panel of board.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        const names = metricsOf(expr);
        expect(names.length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of names) expect(series.has(name), `${panel.title}: ${name}`).toBe(true);
      }
    }
  });

  it('shows heals over time, heal latency, wrong answers, canary verdicts and worker slots', () => {
    const exprs = (title: string) => {
      const panel = board.panels.find((p) => p.title === title);
      expect(panel, title).toBeDefined();
      return panel!.targets.flatMap((t) => metricsOf(t.expr));
    };
    expect(exprs('Heals over time')).toContain(HEAL_METRICS.healsEnded.exposed);
    expect(exprs('Heal latency')).toContain(`${HEAL_METRICS.healDuration.exposed}_bucket`);
    expect(exprs('Wrong answers')).toContain(HEAL_METRICS.wrongAnswersReported.exposed);
    expect(exprs('Canary verdicts')).toContain(HEAL_METRICS.canaryVerdicts.exposed);
    expect(exprs('Worker slots')).toEqual(
      expect.arrayContaining(['temporal_worker_task_slots_used', 'temporal_worker_task_slots_available']),
    );
  });

  it('reads the provisioned Prometheus data source, which points at the compose service', () => {
    const sources = YAML.parse(read('deploy/grafana/provisioning/datasources/prometheus.yml'));
    const source = sources.datasources[0];
    for (const panel of board.panels) expect(panel.datasource.uid).toBe(source.uid);
    const url = new URL(source.url);
    expect(compose.services[url.hostname]).toBeDefined();
    expect(compose.services.prometheus.ports).toContain(`${url.port}:${url.port}`);
    const providers = YAML.parse(read('deploy/grafana/provisioning/dashboards/dise.yml'));
    expect(compose.services.grafana.volumes).toContain(
      `./deploy/grafana/dashboards:${providers.providers[0].options.path}:ro`,
    );
  });
});

describe("the Docker stack's Prometheus (deploy/prometheus/prometheus.yml)", () => {
  it('scrapes the worker at its configured metrics address and the dashboard at its port', () => {
    const prometheus = YAML.parse(read('deploy/prometheus/prometheus.yml'));
    const targets = Object.fromEntries(
      prometheus.scrape_configs.map((s: { job_name: string; static_configs: { targets: string[] }[] }) => [
        s.job_name,
        s.static_configs[0]!.targets[0],
      ]),
    );
    const config = parseConfig(YAML.parse(read('deploy/dise-config.yaml')));
    const workerPort = config.observability.metrics.worker_address!.split(':')[1];
    expect(targets['dise-worker']).toBe(`dise-worker:${workerPort}`);
    expect(targets['dise-dashboard']).toBe(`dise-dashboard:${config.ui.port}`);
    expect(compose.services['dise-worker'].expose).toContain(workerPort);
    for (const service of ['dise-worker', 'dise-dashboard']) {
      expect(compose.services[service].environment.DISE_CONFIG).toBe('/etc/dise/config.yaml');
      expect(compose.services[service].volumes).toContain('./deploy/dise-config.yaml:/etc/dise/config.yaml:ro');
    }
    expect(compose.services.prometheus.volumes).toContain(
      './deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro',
    );
  });
});

describe('the metrics documented', () => {
  it("README's Observability table names every dise metric, docs/observability.md every metric with its type", () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Observability'), readme.indexOf('## Read more'));
    const doc = read('docs/observability.md');
    for (const m of ALL_METRICS) {
      expect(section, m.exposed).toContain(`| \`${m.exposed}\` |`);
      expect(doc, m.exposed).toContain(`| \`${m.exposed}\` | ${m.type} |`);
    }
    for (const m of TEMPORAL_METRICS) expect(doc, m.exposed).toContain(`| \`${m.exposed}\` | ${m.type} |`);
  });
});
