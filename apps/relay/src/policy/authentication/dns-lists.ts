/**
 * DNS block and allow lists (RFC 5782) asked about a client when it connects: the client's
 * address, reversed (IPv4 octets, IPv6 nibbles), under each zone; an A record in 127.0.0.0/8
 * lists it. Allow lists (RELAY_DNSWL_ZONES) are asked first: a client on one is not looked up
 * in the block lists (RELAY_DNSBL_ZONES). A client on a block list gets
 * `554 5.7.1 Service unavailable; client [ip] blocked using <zone>` and the connection closes.
 *
 * A list that cannot be asked (timeout, SERVFAIL) counts as not listing the client, as Postfix
 * does: a block list's outage must not stop the mail. `127.255.255.x` answers are a list's
 * own error codes (a refused query), never a listing. Answers are kept in this process for
 * RELAY_DNSBL_CACHE_TIME (a bounded number of clients), so a busy client is asked about once.
 */
import { unmappedAddress, ipv6Groups } from '@mailway/smtp/address';
import type { Logger } from '@mailway/runtime';
import { type HookResult, disconnect } from '@mailway/smtp/server';
import type { Session } from '@mailway/smtp/server';
import type { RelayNetworks } from '../networks.js';
import type { AuthenticationMetrics } from './metrics.js';
import { type DnsResolver, isAbsent } from './resolver.js';

export interface DnsListSettings {
  readonly blockZones: readonly string[];
  readonly allowZones: readonly string[];
  /** How long an answer about a client is kept (ms); 0 keeps none. */
  readonly cacheTime: number;
}

/** What the lists say about a client. */
export type ListStanding = { readonly kind: 'allowed' | 'blocked'; readonly zone: string } | { readonly kind: 'clear' };

/** Clients whose standing is kept at once; the oldest go first. */
const cacheLimit = 10_000;

/** The lists, asked through `resolver`. */
export function createDnsLists(settings: DnsListSettings, resolver: DnsResolver, metrics: AuthenticationMetrics, logger: Logger, now: () => number = Date.now) {
  const cache = new Map<string, { standing: ListStanding; until: number }>();

  /** The first zone of `zones` that lists `name`'s address, or null. */
  async function firstListing(zones: readonly string[], reversed: string, ip: string): Promise<string | null> {
    const answers = await Promise.all(zones.map((zone) => listed(`${reversed}.${zone}`).then((outcome) => {
      metrics.dnsLists.inc({ zone, outcome });
      if (outcome === 'error') logger.warn({ ip, zone }, 'DNS list not answering: client taken as not listed');
      return outcome === 'listed';
    })));
    return zones[answers.indexOf(true)] ?? null;
  }

  async function listed(name: string): Promise<'listed' | 'clear' | 'error'> {
    try {
      const addresses = (await resolver(name, 'A')) as string[];
      return addresses.some((a) => a.startsWith('127.') && !a.startsWith('127.255.255.')) ? 'listed' : 'clear';
    } catch (error) {
      return isAbsent(error) ? 'clear' : 'error';
    }
  }

  return {
    /** The client's standing, from the cache or the lists. */
    async check(address: string): Promise<ListStanding> {
      const ip = unmappedAddress(address);
      const cached = cache.get(ip);
      if (cached !== undefined && cached.until > now()) {
        metrics.dnsLists.inc({ zone: 'cache', outcome: cached.standing.kind === 'blocked' ? 'listed' : 'clear' });
        return cached.standing;
      }
      const reversed = reversedName(ip);
      const allowedBy = await firstListing(settings.allowZones, reversed, ip);
      const blockedBy = allowedBy === null ? await firstListing(settings.blockZones, reversed, ip) : null;
      const standing: ListStanding = allowedBy !== null ? { kind: 'allowed', zone: allowedBy } : blockedBy !== null ? { kind: 'blocked', zone: blockedBy } : { kind: 'clear' };
      if (settings.cacheTime > 0) {
        cache.delete(ip);
        cache.set(ip, { standing, until: now() + settings.cacheTime });
        if (cache.size > cacheLimit) cache.delete(cache.keys().next().value as string);
      }
      return standing;
    },
  };
}

export type DnsLists = ReturnType<typeof createDnsLists>;

/** The onConnect part: a client on a block list is turned away; RELAY_NETWORKS are not asked about. */
export function dnsListHook(lists: DnsLists, networks: RelayNetworks, logger: Logger): (session: Session) => Promise<HookResult> {
  return async (session) => {
    if (networks.contains(session.remote.address)) return undefined;
    const ip = unmappedAddress(session.remote.address);
    const standing = await lists.check(ip);
    if (standing.kind === 'allowed') logger.debug({ session: session.id, ip, zone: standing.zone }, 'client on an allow list: block lists not asked');
    if (standing.kind !== 'blocked') return undefined;
    logger.info({ session: session.id, ip, zone: standing.zone }, 'client refused: on a block list');
    return disconnect(554, '5.7.1', `Service unavailable; client [${ip}] blocked using ${standing.zone}`);
  };
}

/** `192.0.2.1` → `1.2.0.192`; an IPv6 address → its 32 nibbles, last first (RFC 5782 §2.4). */
export function reversedName(ip: string): string {
  const groups = ipv6Groups(ip);
  if (groups === null) return ip.split('.').reverse().join('.');
  return groups.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.');
}
