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
 * An attempt from a client not known for the user is counted before its password is checked
 * and given back if it succeeds: sessions that try at the same moment cannot all pass the check
 * before any of them has failed. A known client's attempt is counted only if it fails, so the
 * user's own devices logging in at once are never barred for their successes.
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
import { clientHost } from '@mailway/smtp/address';
import { type Directory, type User, normalizeAddress } from '@mailway/directory';

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

/** What the limits make of an attempt before its password is checked. */
export type Admission =
  | { readonly kind: 'barred'; readonly limit: LimitKind }
  | {
      readonly kind: 'admitted';
      readonly ip: string;
      readonly username: string;
      /** The ip, user_ip and user counts with this attempt counted in advance (a client not
       *  known for the user); null for a known client, counted only if it fails. */
      readonly counted: readonly [number, number, number] | null;
    };

export interface AuthLimiter {
  /**
   * Bars the attempt, or admits it. An attempt from a client not known for the user is counted
   * as a failure at once, so sessions trying at the same moment cannot all slip under a limit;
   * its success gives the count back.
   */
  admit(ip: string, username: string): Promise<Admission>;
  /** The admitted attempt failed; resolves to the limits this very failure reached (each bar starts once). */
  failed(attempt: Admission & { kind: 'admitted' }): Promise<LimitKind[]>;
  /** The admitted attempt succeeded: its advance count is given back, the pair's count cleared, the client known for the user. */
  succeeded(attempt: Admission & { kind: 'admitted' }): Promise<void>;
}

/** Known clients kept per user, most recent first: enough for every device a person uses. */
const knownClientsKept = 64;

/** The kinds in the order of the counter keys the scripts take. */
const kinds = ['ip', 'user_ip', 'user'] as const satisfies readonly LimitKind[];

/** Lua counting a failure on the counters KEYS[1..3] (each expiring `window` after its first) into `counts`. */
const countFailure = (window: string) => `local counts = {}
for i = 1, 3 do
  counts[i] = redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ${window}, 'NX')
end`;

/**
 * KEYS: ip, pair, user counters, known set. ARGV: perIp, perUserIp, perUser, client, oldest
 * known time, window ms. Returns the barring kind; or, admitted, the three counts after
 * counting the attempt in advance, or an empty array for a known client (nothing counted).
 */
const admitLua = `
local function count(key) return tonumber(redis.call('GET', key) or '0') end
if count(KEYS[1]) >= tonumber(ARGV[1]) then return 'ip' end
if count(KEYS[2]) >= tonumber(ARGV[2]) then return 'user_ip' end
local seen = redis.call('ZSCORE', KEYS[4], ARGV[4])
if seen and tonumber(seen) >= tonumber(ARGV[5]) then return {} end
if count(KEYS[3]) >= tonumber(ARGV[3]) then return 'user' end
${countFailure('ARGV[6]')}
return counts`;

/** KEYS: ip, pair, user counters. ARGV: window ms. Counts a known client's failure; returns the counts. */
const failedLua = `
${countFailure('ARGV[1]')}
return counts`;

/**
 * KEYS: ip, pair, user counters, known set. ARGV: client, now, oldest known time, knownFor ms,
 * clients kept, '1' when the attempt was counted in advance (its ip and user counts are given
 * back; a count that has since expired is left alone).
 */
const succeededLua = `
if ARGV[6] == '1' then
  for _, i in ipairs({ 1, 3 }) do
    local n = tonumber(redis.call('GET', KEYS[i]) or '0')
    if n > 1 then redis.call('DECR', KEYS[i]) elseif n == 1 then redis.call('DEL', KEYS[i]) end
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -1 - tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[4], ARGV[4])
return ''`;

/** Runs a Lua script as a command defined once on the connection (EVALSHA, EVAL when Redis lacks it). */
async function callScript(redis: Redis, name: string, lua: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  const command = `mailwayLogin_${name}`;
  const commands = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  if (typeof commands[command] !== 'function') redis.defineCommand(command, { lua });
  return commands[command]!(keys.length, ...keys, ...args);
}

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
    const client = clientHost(ip);
    const user = digest(account(username));
    return {
      client: digest(client),
      counters: [`${prefix}authfail:ip:${client}`, `${prefix}authfail:pair:${digest(account(username), client)}`, `${prefix}authfail:user:${user}`],
      known: `${prefix}authknown:${user}`,
    };
  };
  const bounds = [limits.perIp, limits.perUserIp, limits.perUser];
  // The limits a count has just reached: each is reached by exactly one attempt.
  const reached = (counts: readonly number[]): LimitKind[] => kinds.filter((_, i) => counts[i] === bounds[i]);

  return {
    async admit(ip, username) {
      const k = keys(ip, username);
      const args = [...bounds, k.client, now() - limits.knownFor, limits.window].map(String);
      const answer = await callScript(redis, 'loginAdmit', admitLua, [...k.counters, k.known], args);
      if (typeof answer === 'string') return { kind: 'barred', limit: answer as LimitKind };
      const counts = (answer as number[]).map(Number);
      return { kind: 'admitted', ip, username, counted: counts.length === 3 ? [counts[0]!, counts[1]!, counts[2]!] : null };
    },
    async failed(attempt) {
      if (attempt.counted !== null) return reached(attempt.counted);
      const k = keys(attempt.ip, attempt.username);
      const counts = (await callScript(redis, 'loginFailed', failedLua, k.counters, [String(limits.window)])) as number[];
      return reached(counts.map(Number));
    },
    async succeeded(attempt) {
      const k = keys(attempt.ip, attempt.username);
      const at = now();
      const args = [k.client, at, at - limits.knownFor, limits.knownFor, knownClientsKept, attempt.counted === null ? 0 : 1].map(String);
      await callScript(redis, 'loginSucceeded', succeededLua, [...k.counters, k.known], args);
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
 * all; an attempt from a client not known for the user counts as a failure from before its
 * check until it succeeds; a success makes the client known for the user and clears the pair's
 * count (the client's and the user's keep their failures, so that the owner's logins never hand
 * a guesser elsewhere a fresh allowance). Errors (Redis unreachable) propagate; an attempt that
 * ends in one stays counted.
 */
export async function checkLogin(directory: Directory, limiter: AuthLimiter, attempt: LoginAttempt): Promise<LoginOutcome> {
  const admission = await limiter.admit(attempt.ip, attempt.username);
  if (admission.kind === 'barred') return { kind: 'limited', limit: admission.limit };
  // Acting as someone else (an authorization identity) is not supported.
  const proxy = attempt.authzid !== null && attempt.authzid !== '' && attempt.authzid.toLowerCase() !== attempt.username;
  const user = proxy ? null : await directory.authenticate(attempt.username, attempt.password);
  if (user === null) {
    const reached = await limiter.failed(admission);
    return { kind: 'refused', reason: proxy ? 'authzid' : 'invalid', reached };
  }
  await limiter.succeeded(admission);
  return { kind: 'accepted', user };
}
