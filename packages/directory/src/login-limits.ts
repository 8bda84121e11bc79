/**
 * Failed-login limits, per client IP address and per username, kept in Redis so that every
 * agent that offers AUTH (submission on 587/465, the relay on 25) and every instance of it
 * counts against the same limits: a guesser gains nothing by switching ports or hosts. Each
 * counter is a fixed window that starts at its first attempt; an attempt counts from before its
 * password check until it succeeds, so only failures (and attempts in flight) stay counted.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Directory, User } from './directory.js';
import { callScript } from './store.js';

export interface AuthLimits {
  readonly perIp: number;
  readonly perUser: number;
  /** Window length in milliseconds. */
  readonly window: number;
}

export interface AuthLimiter {
  /**
   * Counts an attempt before its password is checked, unless a limit already bars it (then
   * nothing is counted and the limit is named). Counting first, in one step, means parallel
   * attempts cannot all slip under a limit before the first failure is recorded.
   */
  begin(ip: string, username: string): Promise<'ip' | 'user' | null>;
  /** The attempt succeeded: it no longer counts against the IP, and the username's count is cleared. */
  succeeded(ip: string, username: string): Promise<void>;
}

/** KEYS: ip counter, user counter. ARGV: per-IP limit, per-user limit, window ms. */
const beginLua = `
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 'ip' end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then return 'user' end
for i = 1, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[3], 'NX')
end
return ''`;

/** KEYS: ip counter, user counter. */
const succeededLua = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[2])
return ''`;

/** A limiter over keys under `${prefix}authfail:`. */
export function createAuthLimiter(redis: Redis, prefix: string, limits: AuthLimits): AuthLimiter {
  const base = `${prefix}authfail:`;
  // Usernames come from the client: hash them so a key never holds arbitrary text.
  const userKey = (username: string): string => `${base}user:${createHash('sha256').update(username.toLowerCase()).digest('hex').slice(0, 32)}`;
  // An IPv4 client on a dual-stack listener shows up as ::ffff:a.b.c.d: count it as a.b.c.d.
  const ipKey = (ip: string): string => `${base}ip:${ip.replace(/^::ffff:(?=\d{1,3}(?:\.\d{1,3}){3}$)/i, '')}`;

  return {
    async begin(ip, username) {
      const barred = await callScript(redis, 'loginBegin', beginLua, [ipKey(ip), userKey(username)], [String(limits.perIp), String(limits.perUser), String(limits.window)]);
      return barred === 'ip' || barred === 'user' ? barred : null;
    },
    async succeeded(ip, username) {
      await callScript(redis, 'loginSucceeded', succeededLua, [ipKey(ip), userKey(username)], []);
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
 * all; every other attempt counts against the IP address and the username until it succeeds
 * (then it is taken back from the IP and the username's count is cleared). Errors (Redis
 * unreachable) propagate, and an attempt cut short by one stays counted.
 */
export async function checkLogin(directory: Directory, limiter: AuthLimiter, attempt: LoginAttempt): Promise<LoginOutcome> {
  const { ip, username } = attempt;
  const barred = await limiter.begin(ip, username);
  if (barred !== null) return { kind: 'limited', limit: barred };
  // Acting as someone else (an authorization identity) is not supported.
  const proxy = attempt.authzid !== null && attempt.authzid !== '' && attempt.authzid.toLowerCase() !== username;
  const user = proxy ? null : await directory.authenticate(username, attempt.password);
  if (user === null) return { kind: 'refused', reason: proxy ? 'authzid' : 'invalid' };
  await limiter.succeeded(ip, username);
  return { kind: 'accepted', user };
}
