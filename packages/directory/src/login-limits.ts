/**
 * Failed-login limits, per client IP address and per username, kept in Redis so that every
 * agent that offers AUTH (submission on 587/465, the relay on 25) and every instance of it
 * counts against the same limits: a guesser gains nothing by switching ports or hosts. Each
 * counter is a fixed window that starts at the first failure; a successful login clears the
 * username's counter (not the IP's).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface AuthLimits {
  readonly perIp: number;
  readonly perUser: number;
  /** Window length in milliseconds. */
  readonly window: number;
}

export interface AuthLimiter {
  /** Which limit, if any, currently bars this attempt. */
  blocked(ip: string, username: string): Promise<'ip' | 'user' | null>;
  recordFailure(ip: string, username: string): Promise<void>;
  recordSuccess(username: string): Promise<void>;
}

/** A limiter over keys under `${prefix}authfail:`. */
export function createAuthLimiter(redis: Redis, prefix: string, limits: AuthLimits): AuthLimiter {
  const base = `${prefix}authfail:`;
  // Usernames come from the client: hash them so a key never holds arbitrary text.
  const userKey = (username: string): string => `${base}user:${createHash('sha256').update(username.toLowerCase()).digest('hex').slice(0, 32)}`;
  const ipKey = (ip: string): string => `${base}ip:${ip}`;

  return {
    async blocked(ip, username) {
      const [ipCount, userCount] = await redis.mget(ipKey(ip), userKey(username));
      if (Number(ipCount ?? 0) >= limits.perIp) return 'ip';
      if (Number(userCount ?? 0) >= limits.perUser) return 'user';
      return null;
    },
    async recordFailure(ip, username) {
      await redis
        .multi()
        .incr(ipKey(ip))
        .pexpire(ipKey(ip), limits.window, 'NX')
        .incr(userKey(username))
        .pexpire(userKey(username), limits.window, 'NX')
        .exec();
    },
    async recordSuccess(username) {
      await redis.del(userKey(username));
    },
  };
}
