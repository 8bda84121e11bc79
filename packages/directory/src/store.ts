/**
 * Atomic Redis operations of the directory: the Lua scripts for writes that must check
 * before they change (a user only in a local domain, a domain removed only when empty), and
 * a MULTI read that answers several lookups in one round trip from one consistent state.
 *
 * Reads and writes the keys of keys.ts. Each script returns 'ok' or the name of the check
 * that refused; directory.ts turns that into a DirectoryError.
 */
import type { ChainableCommander, Redis } from 'ioredis';

/** Create or replace a user. KEYS: domains, user, users:{domain}, alias:{address}.
 *  ARGV: domain, address, hash ('' keeps the stored one), sendAs, quota, createdAt, mode ('create' | 'upsert'). */
export const putUserScript = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 'no-domain' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'is-alias' end
local exists = redis.call('EXISTS', KEYS[2]) == 1
if exists and ARGV[7] == 'create' then return 'exists' end
if not exists and ARGV[3] == '' then return 'no-hash' end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'hash', ARGV[3]) end
redis.call('HSET', KEYS[2], 'sendAs', ARGV[4], 'quota', ARGV[5])
redis.call('HSETNX', KEYS[2], 'createdAt', ARGV[6])
redis.call('SADD', KEYS[3], ARGV[2])
return 'ok'`;

/** Set fields of an existing user, optionally only while one field still holds an expected value.
 *  KEYS: user. ARGV: compared field ('' for none), expected value, then field/value pairs. */
export const updateUserScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no-user' end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 'conflict' end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 'ok'`;

/** Create or replace an alias. KEYS: domains, alias:{source}, aliases, user:{source}.
 *  ARGV: domain, source, targets JSON. */
export const putAliasScript = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 'no-domain' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'is-user' end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[2])
return 'ok'`;

/** Set a domain's catch-all. KEYS: domains, catchall. ARGV: domain, target. */
export const setCatchAllScript = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 'no-domain' end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 'ok'`;

/** Remove a domain that has no users or aliases left, with its catch-all.
 *  KEYS: domains, users:{domain}, aliases, catchall. ARGV: domain. */
export const removeDomainScript = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 'no-domain' end
if redis.call('SCARD', KEYS[2]) > 0 then return 'has-users' end
local suffix = '@' .. ARGV[1]
for _, source in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if string.sub(source, -#suffix) == suffix then return 'has-aliases' end
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[2])
return 'ok'`;

/**
 * Run a script by EVALSHA (defined on the client once, under `mailwayDirectory_${name}`);
 * resolves to its reply. The reads on the hot paths use scripts rather than MULTI: ioredis
 * builds each MULTI by copying every script defined on the client, which on a client shared
 * with BullMQ (dozens of scripts) costs more than the lookups themselves.
 */
export async function callScript(redis: Redis, name: string, lua: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  const command = `mailwayDirectory_${name}`;
  const commands = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  if (typeof commands[command] !== 'function') redis.defineCommand(command, { lua });
  return commands[command]!(keys.length, ...keys, ...args);
}

/** Run one of the scripts above; resolves to its verdict. */
export async function runScript(redis: Redis, script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<string> {
  return String(await redis.eval(script, keys.length, ...keys, ...args));
}

/** Execute a MULTI; resolves to the replies in order, rejecting on the first failed command. */
export async function execAll(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error('Redis transaction aborted');
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** A user's quota field ('' or absent for none) as bytes, or null. */
export function parseQuota(text: string | null | undefined): number | null {
  const quota = text ? Number(text) : null;
  return quota !== null && Number.isSafeInteger(quota) ? quota : null;
}

/** A JSON array of strings as stored in a user's sendAs or an alias; [] when damaged. */
export function parseList(json: string | null | undefined): string[] {
  if (!json) return [];
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
