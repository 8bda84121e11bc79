/**
 * Pull locks: one site pulls a domain at a time. An ODMR session (and an ETRN run) takes the
 * domain's lock in Redis, `<prefix>pull:lock:<domain>`, for as long as it works on the
 * domain's mail; a second ATRN for the domain is answered 450-class while it is held, and the
 * outbound worker leaves the domain's mail alone. A lock carries its holder's token and lapses
 * after `ttlMs` unless renewed, so a process that dies gives it back on its own.
 *
 * Reads and writes the lock keys (each deleted by its holder, or lapsing). Emits held locks.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface PullLock {
  /** The domains held. */
  readonly domains: readonly string[];
  /** Gives the locks back (only while still this holder's). */
  release(): Promise<void>;
}

export interface PullLocks {
  /** Locks every domain of `domains`, or none: null when one of them is held by another. */
  acquire(domains: readonly string[]): Promise<PullLock | null>;
  /** Whether someone pulls `domain` now. */
  held(domain: string): Promise<boolean>;
}

/** KEYS: the lock keys; ARGV: token, ttl ms. All or nothing: 1 when every key was taken. */
const acquireLua = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return 1`;

/** KEYS: the lock keys; ARGV: token, ttl ms (0: delete). Only keys still holding the token. */
const touchLua = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    if ARGV[2] == '0' then redis.call('DEL', KEYS[i]) else redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
  end
end
return 1`;

export function pullLocks(redis: Redis, prefix: string, ttlMs = 60_000): PullLocks {
  const key = (domain: string): string => `${prefix}pull:lock:${domain}`;
  return {
    async acquire(domains) {
      const keys = domains.map(key);
      const token = randomBytes(12).toString('hex');
      if (Number(await redis.eval(acquireLua, keys.length, ...keys, token, ttlMs)) !== 1) return null;
      // Renewed while held: a long session keeps its lock, a dead process loses it.
      const renewal = setInterval(() => void redis.eval(touchLua, keys.length, ...keys, token, ttlMs).catch(() => {}), Math.max(1_000, Math.floor(ttlMs / 3)));
      renewal.unref();
      let released = false;
      return {
        domains,
        async release() {
          if (released) return;
          released = true;
          clearInterval(renewal);
          await redis.eval(touchLua, keys.length, ...keys, token, 0);
        },
      };
    },
    async held(domain) {
      return (await redis.exists(key(domain))) === 1;
    },
  };
}
