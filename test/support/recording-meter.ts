import type {
  MetricCounter,
  MetricGauge,
  MetricHistogram,
  MetricMeter,
  MetricTags,
  NumericMetricValueType,
} from '@temporalio/common';

/** One value a metric was given, with its tags. */
export interface RecordedPoint {
  name: string;
  kind: 'counter' | 'histogram' | 'gauge';
  value: number;
  tags: MetricTags;
}

/**
 * A Temporal MetricMeter that keeps every value in memory, so a test reads what the worker's
 * activities counted without a Prometheus exporter (the test process's runtime has none).
 */
export class RecordingMeter implements MetricMeter {
  constructor(
    private readonly baseTags: MetricTags = {},
    readonly points: RecordedPoint[] = [],
  ) {}

  private metric(name: string, kind: RecordedPoint['kind'], unit?: string, description?: string) {
    const record = (value: number, tags: MetricTags = {}) =>
      this.points.push({ name, kind, value, tags: { ...this.baseTags, ...tags } });
    return { name, unit, description, record };
  }

  createCounter(name: string, unit?: string, description?: string): MetricCounter {
    const { record, ...m } = this.metric(name, 'counter', unit, description);
    const counter: MetricCounter = {
      ...m,
      kind: 'counter',
      valueType: 'int',
      add: (value, tags) => void record(value, tags),
      withTags: () => counter,
    };
    return counter;
  }

  createHistogram(
    name: string,
    valueType: NumericMetricValueType = 'int',
    unit?: string,
    description?: string,
  ): MetricHistogram {
    const { record, ...m } = this.metric(name, 'histogram', unit, description);
    const histogram: MetricHistogram = {
      ...m,
      kind: 'histogram',
      valueType,
      record: (value, tags) => void record(value, tags),
      withTags: () => histogram,
    };
    return histogram;
  }

  createGauge(
    name: string,
    valueType: NumericMetricValueType = 'int',
    unit?: string,
    description?: string,
  ): MetricGauge {
    const { record, ...m } = this.metric(name, 'gauge', unit, description);
    const gauge: MetricGauge = {
      ...m,
      kind: 'gauge',
      valueType,
      set: (value, tags) => void record(value, tags),
      withTags: () => gauge,
    };
    return gauge;
  }

  withTags(tags: MetricTags): MetricMeter {
    return new RecordingMeter({ ...this.baseTags, ...tags }, this.points);
  }

  /** The sum of a counter's values whose tags include `tags`. */
  sum(name: string, tags: MetricTags = {}): number {
    return this.points
      .filter((p) => p.name === name && Object.entries(tags).every(([k, v]) => p.tags[k] === v))
      .reduce((n, p) => n + p.value, 0);
  }
}
