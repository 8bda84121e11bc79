/**
 * End-to-end figures from what arrived in a Maildir: throughput from the first submission to the
 * last file, per-message latency from its MAIL FROM to its arrival in new/, and the loss and
 * duplication counts the bench refuses to pass.
 *
 * Reads arrivals (maildir.ts); emits an EndToEnd record. Stamped runs take their start and their
 * latencies from the stamps; unstamped ones (smtp-source) from a start time the caller noted.
 */
import type { Arrival } from '@mailway/bench-tools/maildir';
import { type RateFigures, rateFigures } from '@mailway/bench-tools/stats';

/** `seconds`: from the first submission to the last arrival; p50Ms and p99Ms are NaN for unstamped runs. */
export interface EndToEnd extends RateFigures {
  /** Files in new/. */
  readonly delivered: number;
  /** Stamps seen more than once: copies delivered twice. */
  readonly duplicates: number;
  /** Files without a stamp in a stamped run. */
  readonly unstamped: number;
}

/** Figures of a stamped run: every file should carry a distinct stamp. */
export function stampedRun(arrivals: readonly Arrival[]): EndToEnd {
  const seqs = new Set<number>();
  const latencies: number[] = [];
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let unstamped = 0;
  for (const { stamp, arrivedAtMs } of arrivals) {
    last = Math.max(last, arrivedAtMs);
    if (stamp === null) {
      unstamped += 1;
      continue;
    }
    seqs.add(stamp.seq);
    first = Math.min(first, stamp.sentAtMs);
    latencies.push(arrivedAtMs - stamp.sentAtMs);
  }
  return {
    delivered: arrivals.length,
    ...rateFigures(latencies, (last - first) / 1000, arrivals.length),
    duplicates: arrivals.length - unstamped - seqs.size,
    unstamped,
  };
}

/** Figures of an unstamped run that started at `startedAtMs` (wall clock): throughput only. */
export function unstampedRun(arrivals: readonly Arrival[], startedAtMs: number): EndToEnd {
  const last = arrivals.reduce((max, a) => Math.max(max, a.arrivedAtMs), Number.NEGATIVE_INFINITY);
  const seconds = (last - startedAtMs) / 1000;
  return { delivered: arrivals.length, seconds, rate: arrivals.length / seconds, p50Ms: Number.NaN, p99Ms: Number.NaN, duplicates: 0, unstamped: 0 };
}
