/**
 * Messages per user per hour, counted in Redis in fixed one-hour windows so that every
 * submission instance shares the count.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const hour = 3600_000;

export interface RateLimiter {
  /** True when the user has used up this hour's allowance. */
  exceeded(user: string): Promise<boolean>;
  /** Count one accepted message. */
  count(user: string): Promise<void>;
}

/** A limiter allowing `perHour` messages per user (0 = unlimited), keys under `${prefix}submission:rate:`. */
export function createRateLimiter(redis: Redis, prefix: string, perHour: number): RateLimiter {
  const key = (user: string): string => {
    const window = Math.floor(Date.now() / hour);
    return `${prefix}submission:rate:${createHash('sha256').update(user).digest('hex').slice(0, 32)}:${window}`;
  };

  if (perHour === 0) return { exceeded: async () => false, count: async () => {} };
  return {
    async exceeded(user) {
      return Number((await redis.get(key(user))) ?? 0) >= perHour;
    },
    async count(user) {
      const k = key(user);
      await redis.multi().incr(k).pexpire(k, 2 * hour).exec();
    },
  };
}
