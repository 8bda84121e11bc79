/**
 * Greylisting in Redis: the first delivery attempt of an unknown triplet (client network,
 * reverse-path, recipient) is deferred; a retry after `delay` passes and the triplet is then
 * remembered for `ttl`, so later mail from the same source is not delayed again. Networks are
 * the client's /24 (IPv4) or /64 (IPv6), because large senders retry from a neighbouring host.
 *
 * Keys: `${prefix}greylist:${sha256 of the triplet}` holding the first-seen time in ms, or
 * `pass` once passed. Every key expires after `ttl`.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import type { GreylistOutcome } from '../metrics.js';
import { ipv6Groups, unmappedAddress } from '@mailway/smtp/address';

export interface GreylistSettings {
  readonly delay: number;
  readonly ttl: number;
}

export interface Greylist {
  /** Record an attempt and decide: `new` and `early` must be deferred, `passed` and `known` accepted. */
  check(client: string, sender: string, recipient: string): Promise<Exclude<GreylistOutcome, 'exempt'>>;
}

const passed = 'pass';

/** A greylist over `redis` under `prefix`. */
export function createGreylist(redis: Redis, prefix: string, settings: GreylistSettings, now: () => number = Date.now): Greylist {
  return {
    async check(client, sender, recipient) {
      const key = `${prefix}greylist:${digest(clientNetwork(client), sender.toLowerCase(), recipient.toLowerCase())}`;
      const seen = await redis.get(key);

      // Known: passed before; keep it for another ttl.
      if (seen === passed) {
        await redis.pexpire(key, settings.ttl);
        return 'known';
      }

      // First sighting (a concurrent one may win the NX; either way the client must retry).
      const firstSeen = seen === null ? Number.NaN : Number(seen);
      if (!Number.isFinite(firstSeen)) {
        await redis.set(key, String(now()), 'PX', settings.ttl, 'NX');
        return 'new';
      }

      // A retry: too soon, or late enough to pass.
      if (now() - firstSeen < settings.delay) return 'early';
      await redis.set(key, passed, 'PX', settings.ttl);
      return 'passed';
    },
  };
}

/** The client's /24 (IPv4) or /64 (IPv6), as text. */
export function clientNetwork(address: string): string {
  const plain = unmappedAddress(address);
  if (!isIPv6(plain)) return plain.split('.').slice(0, 3).join('.');
  return ipv6Groups(plain).slice(0, 4).join(':');
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0'), 'utf8').digest('hex').slice(0, 32);
}
