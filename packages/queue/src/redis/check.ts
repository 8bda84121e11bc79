/**
 * checkRedis: the start-up check that Redis will keep queued mail. Reads INFO and, where
 * allowed, CONFIG GET; emits the facts and warnings, or throws RedisSetupError when Redis could
 * lose mail silently (evicting keys) or is too old for Mailway's scripts.
 */
import type { Redis } from 'ioredis';

/** What the check found. */
export interface RedisFacts {
  version: string;
  maxmemoryPolicy: string;
  /** AOF persistence is on. */
  aof: boolean;
  /** null when CONFIG is not available (managed Redis). */
  appendfsync: string | null;
  /** Durability risks worth a log line at start-up; the agent still runs. */
  warnings: string[];
}

/** Redis is set up so that Mailway could lose mail; the message names the problem and the fix. */
export class RedisSetupError extends Error {
  override name = 'RedisSetupError';
}

const minimumVersion = [6, 2] as const;

/** Checks version, eviction policy and persistence; throws RedisSetupError on a fatal problem. */
export async function checkRedis(redis: Redis): Promise<RedisFacts> {
  // Read the facts: INFO always works, CONFIG is often disabled on managed Redis.
  const info = parseInfo(await redis.info());
  const config = await readConfig(redis);
  const warnings: string[] = [];
  if (config instanceof Error) {
    warnings.push(
      `Redis CONFIG is not available (${config.message}); read maxmemory-policy and AOF from INFO instead, but could not verify appendfsync: make sure it is "always"`,
    );
  }
  const fromConfig = config instanceof Error ? null : config;
  const version = info.get('redis_version') ?? 'unknown';
  const maxmemoryPolicy = fromConfig?.maxmemoryPolicy ?? info.get('maxmemory_policy') ?? 'unknown';
  const aof = fromConfig ? fromConfig.appendonly === 'yes' : info.get('aof_enabled') === '1';
  const appendfsync = fromConfig?.appendfsync ?? null;

  // Fatal: Redis may drop queued mail, or lacks what the scripts use.
  const problems: string[] = [];
  if (!atLeast(version, minimumVersion)) {
    problems.push(`Redis version is ${version}; Mailway needs ${minimumVersion.join('.')} or later`);
  }
  if (maxmemoryPolicy !== 'noeviction') {
    problems.push(
      `Redis maxmemory-policy is ${maxmemoryPolicy}; Mailway needs noeviction (CONFIG SET maxmemory-policy noeviction) or it could silently lose queued mail`,
    );
  }
  if (problems.length > 0) throw new RedisSetupError(problems.join('; '));

  // Durability: a crash of Redis itself can lose recently accepted mail.
  if (!aof) {
    warnings.push(
      'Redis AOF is off (appendonly no): a Redis crash loses mail accepted since the last snapshot; set appendonly yes and appendfsync always',
    );
  } else if (appendfsync !== null && appendfsync !== 'always') {
    warnings.push(
      `Redis appendfsync is ${appendfsync}: a crash can lose up to a second of accepted mail; set appendfsync always (CONFIG SET appendfsync always)`,
    );
  }
  return { version, maxmemoryPolicy, aof, appendfsync, warnings };
}

/** The three CONFIG values, or the error that CONFIG GET gave. */
async function readConfig(redis: Redis): Promise<{ maxmemoryPolicy: string; appendonly: string; appendfsync: string } | Error> {
  const get = async (name: string): Promise<string> => {
    const reply = (await redis.config('GET', name)) as unknown;
    const value = Array.isArray(reply) ? reply[1] : undefined;
    if (typeof value !== 'string') throw new Error(`no value for ${name}`);
    return value;
  };
  try {
    // One parameter per call: several in one CONFIG GET needs Redis 7.
    const [maxmemoryPolicy, appendonly, appendfsync] = await Promise.all([get('maxmemory-policy'), get('appendonly'), get('appendfsync')]);
    return { maxmemoryPolicy, appendonly, appendfsync };
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** INFO text as a map of field to value. */
function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Whether a dotted version is at least major.minor. */
function atLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [a = Number.NaN, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}
