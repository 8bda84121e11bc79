/**
 * The Lua scripts of the Redis spool. Each changes one entry's keys atomically; all keys of an
 * entry share the `{id}` hash tag, so each script runs on one Cluster slot.
 *
 * Keys, in this order wherever used: meta (hash: size, refs, createdAt, claimed, expiresAt,
 * parked (references parked, in all), and one field 'p:'+token = 'count:until' per park), data
 * (list of chunks), released (set of
 * once-tokens: 'r:'+token for releaseOnce, 'a:'+token for retainOnce, so the two never
 * collide), then a temporary data key where noted.
 *
 * Every script that changes references ends in `settle`, which sets the expiry of all three keys
 * from the meta: an unclaimed entry keeps its write TTL; a claimed one expires at the latest
 * parked deadline once every reference is parked, and never while one is not.
 */
import type { Redis } from 'ioredis';

/**
 * The Lua functions the scripts share. settle() recomputes the entry's expiry from its meta (see
 * above) and expects the entry to exist; it is cheap in the common case (nothing parked, nothing
 * to change: one HMGET), and only an entry whose every reference is parked reads its parks to
 * find the latest deadline. setPark() changes one park and the sum of them.
 */
const shared = `
local function settle()
  local meta = redis.call('HMGET', KEYS[1], 'claimed', 'refs', 'parked', 'expiresAt')
  if meta[1] ~= '1' then
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
    return
  end
  local parked = tonumber(meta[3] or '0')
  if parked == 0 or parked < tonumber(meta[2]) then
    if meta[4] and meta[4] ~= '' then
      redis.call('HSET', KEYS[1], 'expiresAt', '')
      for k = 1, 3 do redis.call('PERSIST', KEYS[k]) end
    end
    return
  end
  local fields = redis.call('HGETALL', KEYS[1])
  local latest, latestText = -1, ''
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'p:' then
      local untilText = string.match(fields[i + 1], ':(%d+)$')
      if tonumber(untilText) > latest then latest, latestText = tonumber(untilText), untilText end
    end
  end
  redis.call('HSET', KEYS[1], 'expiresAt', latestText)
  for k = 1, 3 do redis.call('PEXPIREAT', KEYS[k], latestText) end
end

-- Sets the park field to count references (0 removes it), keeping 'parked' their sum.
local function setPark(field, count, untilText)
  local old = redis.call('HGET', KEYS[1], field)
  local before = old and tonumber(string.match(old, '^(%d+):')) or 0
  if count > 0 then redis.call('HSET', KEYS[1], field, count .. ':' .. untilText)
  elseif old then redis.call('HDEL', KEYS[1], field) end
  if count ~= before then redis.call('HINCRBY', KEYS[1], 'parked', count - before) end
end
`;

/** Drops ARGV-given references from KEYS[1]; deletes the entry at zero. Returns refs left. */
const drop = (count: string): string => `
local refs = redis.call('HINCRBY', KEYS[1], 'refs', -${count})
if refs <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 0
end
settle()
return refs`;

/** Sets the meta hash and the expiry of meta and data (ARGV size, refs, createdAt, ttlMs). */
const commitMeta = (at: number): string => `
redis.call('HSET', KEYS[1], 'size', ARGV[${at}], 'refs', ARGV[${at + 1}], 'createdAt', ARGV[${at + 2}], 'claimed', '0', 'expiresAt', tonumber(ARGV[${at + 2}]) + tonumber(ARGV[${at + 3}]))
redis.call('PEXPIRE', KEYS[1], ARGV[${at + 3}])
redis.call('PEXPIRE', KEYS[2], ARGV[${at + 3}])
return 1`;

const scripts = {
  /** One-chunk message in one step. ARGV chunk, size, refs, createdAt, ttlMs. 0 = exists. */
  write: {
    keys: 3,
    // Stale data or tokens can outlive an expired meta by a moment: start clean.
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('RPUSH', KEYS[2], ARGV[1])
${commitMeta(2)}`,
  },
  /** One more chunk into the temporary key. ARGV chunk, ttlMs of the temporary key. */
  append: {
    keys: 1,
    lua: `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  },
  /** Temporary key (KEYS[4]) becomes the data. ARGV size, refs, createdAt, ttlMs. 0 = exists, -1 = temporary key gone. */
  commit: {
    keys: 4,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[4])
  return 0
end
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
redis.call('DEL', KEYS[3])
redis.call('RENAME', KEYS[4], KEYS[2])
${commitMeta(1)}`,
  },
  /** Owned by a job from now on: expiry by parked references only. 0 = absent. */
  claim: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'claimed', '1')
settle()
return 1`,
  },
  /** ARGV count. Returns the new count, -1 = absent. */
  retain: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local refs = redis.call('HINCRBY', KEYS[1], 'refs', ARGV[1])
settle()
return refs`,
  },
  /** ARGV count. Returns refs left, 0 = deleted or absent. */
  release: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
${drop('tonumber(ARGV[1])')}`,
  },
  /**
   * ARGV namespaced token, park field ('p:'+token). Drops one reference unless the token was
   * seen, and one parked under the same token. Returns refs left.
   */
  releaseOnce: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then
  return tonumber(redis.call('HGET', KEYS[1], 'refs'))
end
local park = redis.call('HGET', KEYS[1], ARGV[2])
if park then
  local count, untilText = string.match(park, '^(%d+):(%d+)$')
  setPark(ARGV[2], tonumber(count) - 1, untilText)
end
${drop('1')}`,
  },
  /** ARGV token (namespaced), count. Adds references unless the token was seen. Returns the count, -1 = absent. */
  retainOnce: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then
  local refs = redis.call('HINCRBY', KEYS[1], 'refs', ARGV[2])
  settle()
  return refs
end
return tonumber(redis.call('HGET', KEYS[1], 'refs'))`,
  },
  /** ARGV park field ('p:'+token), count, until (ms). Claims. Returns refs, 0 = absent. */
  park: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
setPark(ARGV[1], tonumber(ARGV[2]), ARGV[3])
redis.call('HSET', KEYS[1], 'claimed', '1')
settle()
return tonumber(redis.call('HGET', KEYS[1], 'refs') or '0')`,
  },
  /** ARGV park field ('p:'+token). Returns refs, 0 = absent. */
  unpark: {
    keys: 3,
    lua: `${shared}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  setPark(ARGV[1], 0, '')
  settle()
end
return tonumber(redis.call('HGET', KEYS[1], 'refs') or '0')`,
  },
  /** The entry's size, chunk count and first chunk ('' when none), so that a one-chunk message is read in one round trip. Nil = absent. */
  head: {
    keys: 2,
    lua: `
local size = redis.call('HGET', KEYS[1], 'size')
if not size then return nil end
return {size, redis.call('LLEN', KEYS[2]), redis.call('LINDEX', KEYS[2], 0) or ''}`,
  },
} as const satisfies Record<string, { keys: number; lua: string }>;

type ScriptName = Exclude<keyof typeof scripts, 'head'>;
type Script = (...keysAndArgs: (string | number | Buffer)[]) => Promise<number>;
/** head's reply with every string as a Buffer (ioredis's Buffer variant of the command). */
type HeadScript = (meta: string, data: string) => Promise<[size: Buffer, count: number, first: Buffer] | null>;

/** The scripts bound to `redis`, defined on it once (EVALSHA with EVAL fallback by ioredis). */
export function spoolScripts(redis: Redis): Record<ScriptName, Script> & { head: HeadScript } {
  const commands = redis as unknown as Record<string, Script>;
  const bound = {} as Record<ScriptName, Script>;
  for (const [name, { keys, lua }] of Object.entries(scripts) as [ScriptName | 'head', { keys: number; lua: string }][]) {
    const command = `mailwaySpool_${name}`;
    if (typeof commands[command] !== 'function') redis.defineCommand(command, { numberOfKeys: keys, lua });
    if (name !== 'head') bound[name] = (...keysAndArgs) => commands[command]!(...keysAndArgs);
  }
  const head = commands['mailwaySpool_headBuffer'] as unknown as HeadScript;
  return { ...bound, head: (meta, data) => head.call(redis, meta, data) };
}
