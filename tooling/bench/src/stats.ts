/**
 * Figures of a load run from its messages' latencies: the rate over the measuring window and
 * nearest-rank quantiles. Every bench reports these the same way, so that tables compare.
 */

/** The value at quantile `q` of sorted values (nearest rank); NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

export interface RateFigures {
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** What a load generator reports of a run: the messages measured, their figures, and the sessions that failed. */
export interface LoadFigures extends RateFigures {
  readonly messages: number;
  readonly errors: number;
  readonly firstError: string | null;
}

/** `count` messages (by default one per latency) over `seconds`, with the median and 99th percentile of `latencies`. */
export function rateFigures(latencies: readonly number[], seconds: number, count = latencies.length): RateFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { seconds, rate: count / seconds, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
}
