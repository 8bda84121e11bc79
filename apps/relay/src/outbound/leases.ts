/**
 * Destination slots shared by every relay process on one Redis, as leased semaphores.
 *
 * A destination's slots are a sorted set, `<prefix>outbound:slots:<destination>`: one member per
 * slot held (a lease id unique to the process and slot), scored with the time it lapses (Redis's
 * clock). Taking a slot is one script that first drops lapsed leases and then adds one if fewer
 * than the limit are held; giving it back removes the member. A process renews the leases it holds
 * every `renewMs`, so that a lease lapses only when its process has died or lost Redis: the slot
 * of a killed worker comes back after `leaseMs` at most.
 *
 * Reads and writes the slot sets (each expires with its last lease). Emits lease ids.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LeaseOptions {
  /** A lease not renewed for this long (ms) lapses and its slot is free again. */
  readonly leaseMs: number;
  /** Held leases are renewed this often (ms); well under `leaseMs`. */
  readonly renewMs: number;
}

export interface DestinationLeases {
  /** A lease on one of `limit` slots of `destination`, or null when all are held. */
  acquire(destination: string, limit: number): Promise<string | null>;
  /** Whether `lease` is still held: not given back, and not found lapsed when it was renewed. */
  holds(destination: string, lease: string): boolean;
  /** Gives back a lease taken by `acquire`. */
  release(destination: string, lease: string): Promise<void>;
  /** Stops renewing; leases still held lapse in Redis. */
  close(): void;
}

/**
 * KEYS[1] the slot set; ARGV: lease id, limit, lease ms. Drops lapsed leases, then takes a slot
 * if one is free; 1 when taken, else 0.
 */
const acquireLua = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * KEYS[1] the slot set; ARGV: lease ms, then lease ids. Pushes back the expiry of those still
 * held and returns the others: a lapsed lease is not taken again, its slot may be another's.
 */
const renewLua = `
local now = redis.call('TIME')
local expiry = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('ZADD', KEYS[1], expiry, ARGV[i]) else lost[#lost + 1] = ARGV[i] end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return lost`;

type Scripted = Redis & {
  mailwaySlotAcquire(key: string, lease: string, limit: number, leaseMs: number): Promise<number>;
  mailwaySlotRenew(key: string, leaseMs: number, ...leases: string[]): Promise<string[]>;
};

/** Leases over `redis` (a general client, not a blocking one); `onLost` hears of leases that lapsed while held. */
export function redisLeases(redis: Redis, prefix: string, options: LeaseOptions, onLost?: (destination: string, count: number) => void): DestinationLeases {
  const scripted = redis as Scripted;
  if (typeof scripted.mailwaySlotAcquire !== 'function') {
    redis.defineCommand('mailwaySlotAcquire', { numberOfKeys: 1, lua: acquireLua });
    redis.defineCommand('mailwaySlotRenew', { numberOfKeys: 1, lua: renewLua });
  }
  const owner = randomBytes(6).toString('hex');
  let next = 0;
  /** Leases held now, by destination. */
  const held = new Map<string, Set<string>>();
  const key = (destination: string): string => `${prefix}outbound:slots:${destination}`;

  // Renewal: one script per destination with leases held.
  const timer = setInterval(() => {
    for (const [destination, leases] of held) {
      const ids = [...leases];
      scripted.mailwaySlotRenew(key(destination), options.leaseMs, ...ids).then(
        (lapsed) => {
          // Leases given back meanwhile are not lost; the others the script did not find are.
          const lost = lapsed.filter((id) => leases.delete(id));
          if (leases.size === 0 && held.get(destination) === leases) held.delete(destination);
          if (lost.length > 0) onLost?.(destination, lost.length);
        },
        // Redis away: the leases lapse unless a later renewal gets through.
        () => {},
      );
    }
  }, options.renewMs);
  timer.unref();

  return {
    async acquire(destination, limit) {
      next += 1;
      const lease = `${owner}:${next}`;
      const taken = await scripted.mailwaySlotAcquire(key(destination), lease, limit, options.leaseMs);
      if (taken !== 1) return null;
      const leases = held.get(destination) ?? new Set<string>();
      leases.add(lease);
      held.set(destination, leases);
      return lease;
    },
    holds(destination, lease) {
      return held.get(destination)?.has(lease) ?? false;
    },
    async release(destination, lease) {
      const leases = held.get(destination);
      leases?.delete(lease);
      if (leases?.size === 0) held.delete(destination);
      await redis.zrem(key(destination), lease);
    },
    close() {
      clearInterval(timer);
    },
  };
}
