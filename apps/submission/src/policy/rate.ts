/**
 * Messages per user per hour, counted in Redis in fixed one-hour windows so that every
 * submission instance shares the count.
 *
 * Off the hot path: accepted messages are counted locally and added to Redis in one batch every
 * `flushMs` (INCRBY answers with the shared total, which refreshes the local view), and a check
 * asks Redis only when the local view of that user is older than `staleMs`. A user can thus go
 * over the limit by at most what all instances accept within those intervals — a fraction of a
 * second of mail against an hourly allowance — for one Redis round trip per batch instead of two
 * per message.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const hour = 3600_000;

export interface RateLimiter {
  /** True when the user has used up this hour's allowance. */
  exceeded(user: string): Promise<boolean>;
  /** Count one accepted message. */
  count(user: string): void;
  /** Write the counts not yet in Redis. */
  flush(): Promise<void>;
}

export interface RateLimiterOptions {
  /** How often local counts go to Redis, in ms. */
  readonly flushMs?: number;
  /** How old the local view of a user may be before a check asks Redis, in ms. */
  readonly staleMs?: number;
  /** Called when a batch could not be written (it is retried with the next one). */
  readonly onError?: (error: unknown) => void;
}

interface UserCount {
  /** The hour window this count belongs to. */
  window: number;
  /** The shared total as Redis last reported it. */
  shared: number;
  /** Accepted here since then, not yet in Redis. */
  pending: number;
  /** When `shared` was read. */
  readAt: number;
}

/** A limiter allowing `perHour` messages per user (0 = unlimited), keys under `${prefix}submission:rate:`. */
export function createRateLimiter(redis: Redis, prefix: string, perHour: number, options: RateLimiterOptions = {}): RateLimiter {
  const { flushMs = 200, staleMs = 1_000, onError = () => {} } = options;
  if (perHour === 0) return { exceeded: async () => false, count: () => {}, flush: async () => {} };

  const counts = new Map<string, UserCount>();
  const key = (user: string, window: number): string => `${prefix}submission:rate:${createHash('sha256').update(user).digest('hex').slice(0, 32)}:${window}`;
  const windowNow = (): number => Math.floor(Date.now() / hour);
  let timer: NodeJS.Timeout | null = null;

  /** This user's count for the current window, starting a fresh one when the hour turned. */
  const entry = (user: string): UserCount => {
    const window = windowNow();
    let current = counts.get(user);
    if (current === undefined || current.window !== window) {
      current = { window, shared: 0, pending: 0, readAt: 0 };
      counts.set(user, current);
    }
    return current;
  };

  async function flush(): Promise<void> {
    timer = null;
    const batch = [...counts].filter(([, c]) => c.pending > 0);
    if (batch.length === 0) return;
    const multi = redis.multi();
    for (const [user, c] of batch) multi.incrby(key(user, c.window), c.pending).pexpire(key(user, c.window), 2 * hour);
    const sent = batch.map(([, c]) => c.pending);
    batch.forEach(([, c]) => (c.pending = 0));
    try {
      const results = (await multi.exec()) ?? [];
      batch.forEach(([, c], i) => {
        const [error, total] = results[i * 2] ?? [null, null];
        if (error === null && typeof total === 'number') {
          c.shared = total;
          c.readAt = Date.now();
        }
      });
    } catch (error) {
      // Put the counts back for the next batch.
      batch.forEach(([, c], i) => (c.pending += sent[i] ?? 0));
      onError(error);
      schedule();
    }
  }

  function schedule(): void {
    if (timer !== null) return;
    timer = setTimeout(() => void flush(), flushMs);
    timer.unref();
  }

  return {
    async exceeded(user) {
      const c = entry(user);
      if (Date.now() - c.readAt >= staleMs) {
        c.shared = Number((await redis.get(key(user, c.window))) ?? 0);
        c.readAt = Date.now();
      }
      return c.shared + c.pending >= perHour;
    },
    count(user) {
      entry(user).pending += 1;
      schedule();
    },
    flush,
  };
}
