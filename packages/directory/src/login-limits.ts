/**
 * Failed-login limits, per client IP address and per username, kept in Redis so that every
 * agent that offers AUTH (submission on 587/465, the relay on 25) and every instance of it
 * counts against the same limits: a guesser gains nothing by switching ports or hosts. Each
 * counter is a fixed window that starts at the first failure; a successful login clears the
 * username's counter (not the IP's).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { unmappedAddress } from '@mailway/smtp/address';
import type { Directory, User } from './directory.js';
import { callScript } from './store.js';

export interface AuthLimits {
  readonly perIp: number;
  readonly perUser: number;
  /** Window length in milliseconds. */
  readonly window: number;
}

export interface AuthLimiter {
  /** Which limit, if any, bars an attempt now. */
  blocked(ip: string, username: string): Promise<'ip' | 'user' | null>;
  /** A failed attempt counts against the IP address and the username. */
  failed(ip: string, username: string): Promise<void>;
  /** A login succeeded: the username's count is cleared (the IP's stays). */
  succeeded(username: string): Promise<void>;
}

/** KEYS: ip counter, user counter. ARGV: window ms. Both counted in one step. */
const failedLua = `
for i = 1, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1], 'NX')
end
return ''`;

/** A limiter over keys under `${prefix}authfail:`. */
export function createAuthLimiter(redis: Redis, prefix: string, limits: AuthLimits): AuthLimiter {
  const base = `${prefix}authfail:`;
  // Usernames come from the client: hash them so a key never holds arbitrary text.
  const userKey = (username: string): string => `${base}user:${createHash('sha256').update(username.toLowerCase()).digest('hex').slice(0, 32)}`;
  const ipKey = (ip: string): string => `${base}ip:${unmappedAddress(ip)}`;

  return {
    async blocked(ip, username) {
      const [ipCount, userCount] = await redis.mget(ipKey(ip), userKey(username));
      if (Number(ipCount ?? 0) >= limits.perIp) return 'ip';
      if (Number(userCount ?? 0) >= limits.perUser) return 'user';
      return null;
    },
    async failed(ip, username) {
      await callScript(redis, 'loginFailed', failedLua, [ipKey(ip), userKey(username)], [String(limits.window)]);
    },
    async succeeded(username) {
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
 * all; a failure counts against the IP address and the username; a success clears the
 * username's count. Only failures count, so a client host with many sessions logging in at once
 * (a webmail server) is never barred for its successes. Errors (Redis unreachable) propagate.
 */
export async function checkLogin(directory: Directory, limiter: AuthLimiter, attempt: LoginAttempt): Promise<LoginOutcome> {
  const { ip, username } = attempt;
  const barred = await limiter.blocked(ip, username);
  if (barred !== null) return { kind: 'limited', limit: barred };
  // Acting as someone else (an authorization identity) is not supported.
  const proxy = attempt.authzid !== null && attempt.authzid !== '' && attempt.authzid.toLowerCase() !== username;
  const user = proxy ? null : await directory.authenticate(username, attempt.password);
  if (user === null) {
    await limiter.failed(ip, username);
    return { kind: 'refused', reason: proxy ? 'authzid' : 'invalid' };
  }
  await limiter.succeeded(username);
  return { kind: 'accepted', user };
}
