/**
 * Counters and histograms for the per-request metrics, kept as plain numbers per label set and
 * turned into Prometheus values only when scraped. prom-client's own labelled children hash
 * their labels on every observation, which cost more than the rest of the request path;
 * these cost an array increment. They plug into a prom-client Registry (registerMetric).
 */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

abstract class LabelledMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  protected readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Record<string, string>; s: S }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series for these label values (in labelNames order); keep it and call it per request. */
  child(values: readonly string[]): S {
    const key = values.join('\u0000');
    let entry = this.series.get(key);
    if (!entry) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      entry = { labels, s: this.create() };
      this.series.set(key, entry);
    }
    return entry.s;
  }

  protected abstract create(): S;
}

export interface CounterSeries {
  inc(): void;
  value: number;
}

export class LabelledCounter extends LabelledMetric<CounterSeries> {
  readonly type = 'counter' as const;

  protected create(): CounterSeries {
    return { value: 0, inc() { this.value++; } };
  }

  async get() {
    const values: MetricValue[] = [...this.series.values()].map(({ labels, s }) => ({ value: s.value, labels }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export interface HistogramSeries {
  observe(value: number): void;
}

export class LabelledHistogram extends LabelledMetric<HistogramSeries & { counts: Float64Array; sum: number; count: number }> {
  readonly type = 'histogram' as const;
  private readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = buckets;
  }

  protected create() {
    const buckets = this.buckets;
    return {
      counts: new Float64Array(buckets.length),
      sum: 0,
      count: 0,
      observe(value: number) {
        let i = 0;
        while (i < buckets.length && value > buckets[i]!) i++;
        if (i < buckets.length) this.counts[i]!++;
        this.sum += value;
        this.count++;
      },
    };
  }

  async get() {
    const values: MetricValue[] = [];
    for (const { labels, s } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
