/**
 * Destination rate limits, shared by every relay process on one Redis: at most one message
 * every `interval` ms to a destination, as Postfix's destination_rate_delay (here set as
 * messages per second, minute or hour per destination).
 *
 * Each destination has a next free send time in Redis (`<prefix>outbound:rate:<destination>`).
 * An attempt reserves one with one script: the later of now and the next free time is its own,
 * and the next free time moves on by one interval. An attempt whose time is later steps aside
 * until then (its job delayed, holding no worker slot and no session), so that a slow
 * destination never holds up mail for others, and each waiting message has its own time: no
 * crowd of jobs wakes up together to race for the next one.
 *
 * Reads and writes the rate keys (each expires when its destination is idle again).
 */
import type { Redis } from 'ioredis';

export interface DestinationRates {
  /** The interval (ms) of `destination`, or undefined when it has no rate limit. */
  interval(destination: string): number | undefined;
  /** Reserves the destination's next send time; resolves to the ms to wait for it (0: now). */
  reserve(destination: string, interval: number): Promise<number>;
}

/** KEYS[1] the rate key; ARGV[1] the interval (ms). Returns ms until the send time reserved. */
const reserveLua = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(free, ms)
local nextFree = at + tonumber(ARGV[1])
redis.call('SET', KEYS[1], nextFree, 'PX', nextFree - ms + 1000)
return at - ms`;

type Scripted = Redis & { mailwayRateReserve(key: string, interval: number): Promise<number> };

/** Rates for the destinations in `intervals`, over `redis` (a general client). */
export function redisRates(redis: Redis, prefix: string, intervals: ReadonlyMap<string, number>): DestinationRates {
  const scripted = redis as Scripted;
  if (typeof scripted.mailwayRateReserve !== 'function') redis.defineCommand('mailwayRateReserve', { numberOfKeys: 1, lua: reserveLua });
  return {
    interval: (destination) => intervals.get(destination),
    reserve: (destination, interval) => scripted.mailwayRateReserve(`${prefix}outbound:rate:${destination}`, interval),
  };
}

const units: Readonly<Record<string, number>> = { s: 1_000, sec: 1_000, min: 60_000, h: 3_600_000, hour: 3_600_000 };

/** `example.com=30/min,[smarthost]=5/s`: the interval between messages (ms) per destination. */
export function parseDestinationRates(entries: readonly string[]): ReadonlyMap<string, number> {
  const intervals = new Map<string, number>();
  for (const entry of entries) {
    const match = /^(.+)=\s*(\d+)\s*\/\s*([a-z]+)$/i.exec(entry.trim());
    const destination = match?.[1]?.trim().toLowerCase() ?? '';
    const count = Number(match?.[2]);
    const unit = units[match?.[3]?.toLowerCase() ?? ''];
    if (destination === '' || unit === undefined || !Number.isInteger(count) || count < 1) throw new Error(`expected destination=count/unit (unit s, min or h), got "${entry}"`);
    if (unit / count < 1) throw new Error(`"${entry}" is faster than one message per millisecond`);
    intervals.set(destination, Math.ceil(unit / count));
  }
  return intervals;
}
