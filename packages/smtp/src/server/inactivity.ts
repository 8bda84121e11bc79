/**
 * Inactivity timeouts for all of a server's connections on one coarse clock, instead of one Node
 * timer per socket. Node re-arms a socket's timer on every read and every write, and that costs
 * more per message than parsing the commands; here a connection only notes the clock's tick when
 * it reads or writes, and one sweep per period asks each connection whether it has been quiet
 * for too long.
 *
 * Reads: the timeouts (ms). Emits: a `check` call per watched connection per period.
 * A timeout never fires early; it fires at most one period (an eighth of the shortest timeout,
 * 10 ms to 1 s) late.
 */

/** What the clock sweeps: a connection that compares its marks with the clock. */
export interface Watched {
  check(clock: InactivityClock): void;
}

const minPeriodMs = 10;
const maxPeriodMs = 1000;

export class InactivityClock {
  /** Periods since the clock started; connections store it as their last-activity mark. */
  tick = 0;
  readonly periodMs: number;
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | null = null;

  /** A clock fine enough for the shortest of `timeoutsMs`. */
  constructor(timeoutsMs: readonly number[]) {
    const shortest = Math.min(...timeoutsMs.filter((ms) => ms > 0), maxPeriodMs * 8);
    this.periodMs = Math.min(maxPeriodMs, Math.max(minPeriodMs, Math.floor(shortest / 8)));
  }

  /**
   * The time known to have passed since tick `mark`, in ms: the mark was taken somewhere inside
   * its period, so only the whole periods after it count.
   */
  since(mark: number): number {
    return (this.tick - mark - 1) * this.periodMs;
  }

  watch(connection: Watched): void {
    this.watched.add(connection);
    if (this.timer === null) {
      this.timer = setInterval(this.sweep, this.periodMs);
      // Open connections keep the process alive through their sockets, not through this timer.
      this.timer.unref();
    }
  }

  unwatch(connection: Watched): void {
    this.watched.delete(connection);
    if (this.watched.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private readonly sweep = (): void => {
    this.tick += 1;
    for (const connection of this.watched) connection.check(this);
  };
}
