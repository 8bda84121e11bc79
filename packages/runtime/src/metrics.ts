/**
 * Prometheus metrics of one agent: a registry of its own (not prom-client's global one, so a
 * process or a test can hold several), the default process metrics, and the constant label
 * `agent` on every series. Metric names get the `mailway_` prefix.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// The kinds of metric `Metrics` hands out, so that an agent can name them (or let them be inferred) without prom-client.
export type { Counter, Gauge, Histogram };

export interface Metrics {
  readonly registry: Registry;
  /** A counter named `mailway_<name>`; asking twice for one name returns the same counter. */
  counter<L extends string>(name: string, help: string, labels?: readonly L[]): Counter<L>;
  /** A gauge named `mailway_<name>`. */
  gauge<L extends string>(name: string, help: string, labels?: readonly L[]): Gauge<L>;
  /** A histogram named `mailway_<name>`; buckets default to prom-client's. */
  histogram<L extends string>(name: string, help: string, labels?: readonly L[], buckets?: readonly number[]): Histogram<L>;
}

/** Creates the metrics registry of one agent. */
export function createMetrics(agent: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ agent });
  collectDefaultMetrics({ register: registry });

  // Two modules may declare the same metric; the second gets the first's instance.
  const existing = <M>(name: string, type: abstract new (...args: never[]) => M): M | null => {
    const metric = registry.getSingleMetric(name);
    return metric instanceof type ? metric : null;
  };

  return {
    registry,
    counter: <L extends string>(name: string, help: string, labels: readonly L[] = []) => {
      const full = `mailway_${name}`;
      return (existing(full, Counter) as Counter<L> | null) ?? new Counter<L>({ name: full, help, labelNames: labels, registers: [registry] });
    },
    gauge: <L extends string>(name: string, help: string, labels: readonly L[] = []) => {
      const full = `mailway_${name}`;
      return (existing(full, Gauge) as Gauge<L> | null) ?? new Gauge<L>({ name: full, help, labelNames: labels, registers: [registry] });
    },
    histogram: <L extends string>(name: string, help: string, labels: readonly L[] = [], buckets?: readonly number[]) => {
      const full = `mailway_${name}`;
      const options = { name: full, help, labelNames: labels, registers: [registry], ...(buckets ? { buckets: [...buckets] } : {}) };
      return (existing(full, Histogram) as Histogram<L> | null) ?? new Histogram<L>(options);
    },
  };
}
