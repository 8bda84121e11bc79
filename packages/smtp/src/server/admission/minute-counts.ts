/**
 * Events per key per minute, kept as two fixed one-minute windows (this one and the one
 * before), with no timer: the windows move on when an event arrives after the current one ended.
 *
 * Reads: a key and the time of each event. Emits: the count in the current window, and a sliding
 * estimate over the last minute (the previous window's count weighted by how much of it the last
 * minute still covers). Memory holds the keys seen in at most two minutes.
 */
export const minute = 60_000;

export class MinuteCounts {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private start: number;

  constructor(now: number) {
    this.start = now;
  }

  /** Counts one event of `key` at `now`; returns the count in the current window, this one included. */
  add(key: string, now: number): number {
    this.advance(now);
    const count = (this.current.get(key) ?? 0) + 1;
    this.current.set(key, count);
    return count;
  }

  /** Counts one event of `key` at `now`; returns the events of the minute up to `now`, estimated from the two windows. */
  addSliding(key: string, now: number): number {
    const current = this.add(key, now);
    const previous = this.previous.get(key);
    if (previous === undefined) return current;
    return current + previous * (1 - (now - this.start) / minute);
  }

  /** Moves the windows on once the current one has ended. */
  private advance(now: number): void {
    const elapsed = now - this.start;
    if (elapsed < minute) return;
    // A window just ended: it becomes the previous one. Longer quiet: nothing carries over.
    this.previous = elapsed < 2 * minute ? this.current : new Map();
    this.current = new Map();
    this.start = now - (elapsed % minute);
  }
}
