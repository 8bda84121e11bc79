/**
 * Failed-login limits, per client IP address and per username, kept in Redis so that every
 * agent that offers AUTH (submission on 587/465, the relay on 25) and every instance of it
 * counts against the same limits: a guesser gains nothing by switching ports or hosts. Each
 * counter is a fixed window that starts at the first failure; a successful login clears the
 * username's counter (not the IP's).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Directory, User } from './directory.js';

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

/** What one login attempt came to. */
export type LoginOutcome =
  | { readonly kind: 'accepted'; readonly user: User }
  /** Refused unchecked: the IP address or the username failed too often. */
  | { readonly kind: 'limited'; readonly limit: 'ip' | 'user' }
  /** Wrong credentials, or an authorization identity other than the user (not supported). */
  | { readonly kind: 'refused'; readonly reason: 'invalid' | 'authzid' };

/** A login as an SMTP AUTH exchange delivers it. */
export interface LoginAttempt {
  readonly ip: string;
  /** Lower-cased and trimmed by the caller. */
  readonly username: string;
  readonly password: string;
  readonly authzid: string | null;
}

/**
 * One login against the directory under the limits: a barred client gets no password check at
 * all; a failure counts against the IP address and the username, a success clears the
 * username's count. Errors (Redis unreachable) propagate.
 */
export async function checkLogin(directory: Directory, limiter: AuthLimiter, attempt: LoginAttempt): Promise<LoginOutcome> {
  const { ip, username } = attempt;
  const barred = await limiter.blocked(ip, username);
  if (barred !== null) return { kind: 'limited', limit: barred };
  // Acting as someone else (an authorization identity) is not supported.
  const proxy = attempt.authzid !== null && attempt.authzid !== '' && attempt.authzid.toLowerCase() !== username;
  const user = proxy ? null : await directory.authenticate(username, attempt.password);
  if (user === null) {
    await limiter.recordFailure(ip, username);
    return { kind: 'refused', reason: proxy ? 'authzid' : 'invalid' };
  }
  await limiter.recordSuccess(username);
  return { kind: 'accepted', user };
}
