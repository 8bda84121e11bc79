/**
 * Failed-login limits, kept in Redis so that every agent that offers AUTH (submission on
 * 587/465, the relay on 25) and every instance of it counts against the same limits: a guesser
 * gains nothing by switching ports or hosts. Three counts, each a fixed window that starts at
 * its first failure (the model, and what each limit stops, is in this package's README):
 *
 *   ip       failures from one client: an IPv4 address, or an IPv6 /64       hard bar
 *   user_ip  failures for one user from one client                          hard bar
 *   user     failures for one user from anywhere    bars only clients not known for the user
 *
 * A client becomes known for a user by logging in as that user, and stays known for
 * `knownFor` after its last success; so a stranger who fails on purpose can bar a user's new
 * clients for a while, but never the places the user logs in from.
 *
 * Reads and writes, under `${prefix}` (every key expires; usernames are hashed, clients are
 * addresses or /64 networks as the socket reports them, hashed where they sit beside a user):
 *   authfail:ip:{client}                      string  failures, expires with the window
 *   authfail:pair:{sha-256 of user, client}   string  failures, expires with the window
 *   authfail:user:{sha-256 of user}           string  failures, expires with the window
 *   authknown:{sha-256 of user}               zset    sha-256 of client → last success (ms);
 *                                                     expires `knownFor` after the last success
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { clientBlock } from '@mailway/smtp/address';
import type { Directory, User } from './directory.js';
import { normalizeAddress } from './address.js';
import { callScript } from './store.js';

/** The limit that bars an attempt; also the metric label and the log field. */
export type LimitKind = 'ip' | 'user_ip' | 'user';

export interface AuthLimits {
  /** Failures from one client (IPv4 address, IPv6 /64) before it is barred. */
  readonly perIp: number;
  /** Failures for one user from one client before that pair is barred. */
  readonly perUserIp: number;
  /** Failures for one user from anywhere before clients not known for the user are barred. */
  readonly perUser: number;
  /** Window length in milliseconds. */
  readonly window: number;
  /** How long a client stays known for a user after its last successful login, in milliseconds. */
  readonly knownFor: number;
}

export interface AuthLimiter {
  /** Which limit, if any, bars this client from trying this user now. */
  blocked(ip: string, username: string): Promise<LimitKind | null>;
  /** A failed attempt counts; resolves to the limits this very failure reached (each bar starts once). */
  failed(ip: string, username: string): Promise<LimitKind[]>;
  /** A login succeeded: the pair's count is cleared and the client becomes known for the user. */
  succeeded(ip: string, username: string): Promise<void>;
}

/** Known clients kept per user, most recent first: enough for every device a person uses. */
const knownClientsKept = 64;

/** KEYS: ip, pair, user counters, known set. ARGV: perIp, perUserIp, perUser, client, oldest known time. */
const blockedLua = `
local function count(key) return tonumber(redis.call('GET', key) or '0') end
if count(KEYS[1]) >= tonumber(ARGV[1]) then return 'ip' end
if count(KEYS[2]) >= tonumber(ARGV[2]) then return 'user_ip' end
if count(KEYS[3]) >= tonumber(ARGV[3]) then
  local seen = redis.call('ZSCORE', KEYS[4], ARGV[4])
  if not seen or tonumber(seen) < tonumber(ARGV[5]) then return 'user' end
end
return ''`;

/** KEYS: ip, pair, user counters. ARGV: window ms, then their limits in the same order.
 *  Counts in one step; returns the kinds whose count just reached its limit. */
const failedLua = `
local kinds = { 'ip', 'user_ip', 'user' }
local reached = {}
for i = 1, 3 do
  local n = redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1], 'NX')
  if n == tonumber(ARGV[i + 1]) then reached[#reached + 1] = kinds[i] end
end
return reached`;

/** KEYS: pair counter, known set. ARGV: client, now, oldest known time, knownFor ms, clients kept. */
const succeededLua = `
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return ''`;

/** A short SHA-256 of the parts, so that a key or member never holds client text. */
function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0'), 'utf8').digest('hex').slice(0, 32);
}

/** The counting name of a username: its canonical address, or the text itself when it is none. */
function account(username: string): string {
  try {
    return normalizeAddress(username);
  } catch {
    return username.trim().toLowerCase();
  }
}

/** A limiter over keys under `${prefix}authfail:` and `${prefix}authknown:`; `now` is the clock. */
export function createAuthLimiter(redis: Redis, prefix: string, limits: AuthLimits, now: () => number = Date.now): AuthLimiter {
  // Every spelling of one address counts as one user, every address of one /64 as one client.
  const keys = (ip: string, username: string) => {
    const client = clientBlock(ip);
    const user = digest(account(username));
    return {
      client: digest(client),
      ip: `${prefix}authfail:ip:${client}`,
      pair: `${prefix}authfail:pair:${digest(account(username), client)}`,
      user: `${prefix}authfail:user:${user}`,
      known: `${prefix}authknown:${user}`,
    };
  };

  return {
    async blocked(ip, username) {
      const k = keys(ip, username);
      const args = [limits.perIp, limits.perUserIp, limits.perUser, k.client, now() - limits.knownFor].map(String);
      const kind = await callScript(redis, 'loginBlocked', blockedLua, [k.ip, k.pair, k.user, k.known], args);
      return kind === '' ? null : (kind as LimitKind);
    },
    async failed(ip, username) {
      const k = keys(ip, username);
      const args = [limits.window, limits.perIp, limits.perUserIp, limits.perUser].map(String);
      return (await callScript(redis, 'loginFailed', failedLua, [k.ip, k.pair, k.user], args)) as LimitKind[];
    },
    async succeeded(ip, username) {
      const k = keys(ip, username);
      const at = now();
      const args = [k.client, at, at - limits.knownFor, limits.knownFor, knownClientsKept].map(String);
      await callScript(redis, 'loginSucceeded', succeededLua, [k.pair, k.known], args);
    },
  };
}

/** What one login attempt came to. */
export type LoginOutcome =
  | { readonly kind: 'accepted'; readonly user: User }
  /** Refused unchecked: a limit bars this client for this user. */
  | { readonly kind: 'limited'; readonly limit: LimitKind }
  /** Wrong credentials, or an authorization identity other than the user (not supported);
   *  `reached` names the limits this failure has just brought into force. */
  | { readonly kind: 'refused'; readonly reason: 'invalid' | 'authzid'; readonly reached: readonly LimitKind[] };

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
 * all; a failure counts against the client, the pair and the user; a success clears the pair's
 * count and makes the client known for the user (the user's count stays, so that the owner's
 * logins never hand a guesser elsewhere a fresh allowance). Only failures count, so a client
 * host with many sessions logging in at once (a webmail server) is never barred for its
 * successes. Errors (Redis unreachable) propagate.
 */
export async function checkLogin(directory: Directory, limiter: AuthLimiter, attempt: LoginAttempt): Promise<LoginOutcome> {
  const { ip, username } = attempt;
  const barred = await limiter.blocked(ip, username);
  if (barred !== null) return { kind: 'limited', limit: barred };
  // Acting as someone else (an authorization identity) is not supported.
  const proxy = attempt.authzid !== null && attempt.authzid !== '' && attempt.authzid.toLowerCase() !== username;
  const user = proxy ? null : await directory.authenticate(username, attempt.password);
  if (user === null) {
    const reached = await limiter.failed(ip, username);
    return { kind: 'refused', reason: proxy ? 'authzid' : 'invalid', reached };
  }
  await limiter.succeeded(ip, username);
  return { kind: 'accepted', user };
}
