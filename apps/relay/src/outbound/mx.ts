/**
 * Where mail for a domain goes: the ordered list of addresses to try (RFC 5321 §5.1).
 *
 * Reads DNS through a resolver (node:dns's `Resolver`, pointed where the operator says); emits
 * either the next hops in the order to try them, or the reason there are none, as a permanent
 * or temporary failure with its enhanced status code:
 * - MX records by preference, equal preferences in random order (load sharing, §5.1);
 * - no MX records (the name exists) → the domain itself, its A/AAAA records (implicit MX);
 * - a null MX (RFC 7505: one MX `.` at preference 0) → 5.1.10, no connection at all;
 * - NXDOMAIN → 5.1.2; SERVFAIL, timeouts and refusals → 4.4.3 (try later);
 * - an MX host without addresses is skipped; if every one is, 5.4.4 (or 4.4.3 when a lookup
 *   failed only for now);
 * - this host's own names or addresses in the list: it and every less preferred MX is dropped
 *   (§5.1); when nothing more preferred is left, mail would loop back here: 5.4.6;
 * - an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) is its own next hop, no DNS.
 */
import { isIP } from 'node:net';

/** The part of node:dns's promise Resolver this module uses. */
export interface MxDns {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export type AddressOrder = 'ipv6-first' | 'ipv4-first' | 'ipv4-only' | 'ipv6-only';

export interface MxOptions {
  readonly dns: MxDns;
  /** This host's names (its hostname and any other it answers to), compared case-insensitively. */
  readonly ownNames: readonly string[];
  /** Addresses this host receives mail on; an MX host resolving to one of them is this host. */
  readonly ownAddresses: readonly string[];
  readonly addressOrder: AddressOrder;
  /** Random number in [0, 1), for ordering MX hosts of equal preference; Math.random by default. */
  readonly random?: () => number;
}

/** One address to connect to, and the MX host it belongs to (for logs, TLS names and DSNs). */
export interface NextHop {
  readonly host: string;
  readonly address: string;
  readonly preference: number;
  /** A UNIX-domain socket to connect to instead of the address and port (`lmtp:unix:/path`). */
  readonly path?: string;
}

export type MxResult =
  | { readonly kind: 'hops'; readonly hops: readonly NextHop[] }
  | { readonly kind: 'failed'; readonly permanent: boolean; readonly status: string; readonly detail: string };

/** DNS error codes (node:dns) that mean "the name does not exist" or "no records of that type". */
const notFound = new Set(['ENOTFOUND']);
const noData = new Set(['ENODATA']);

/** The next hops for mail to `domain` (lower-case, A-labels, or an address literal). */
export async function resolveNextHops(domain: string, options: MxOptions): Promise<MxResult> {
  // Sanity checks: an address literal needs no DNS.
  if (domain.startsWith('[')) return literalHop(domain, options);

  // The MX records, or the domain itself as an implicit MX.
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await options.dns.resolveMx(domain);
  } catch (error) {
    const code = errorCode(error);
    if (notFound.has(code)) return failed(true, '5.1.2', `domain ${domain} does not exist (${code})`);
    if (!noData.has(code)) return failed(false, '4.4.3', `MX lookup for ${domain} failed (${code})`);
    records = [];
  }
  if (records.length === 1 && isNullMx(records[0]?.exchange ?? '')) {
    return failed(true, '5.1.10', `domain ${domain} accepts no mail (null MX, RFC 7505)`);
  }
  const implicit = records.length === 0;
  const hosts = implicit ? [{ exchange: domain, priority: 0 }] : ordered(records.filter((r) => !isNullMx(r.exchange)), options.random ?? Math.random);

  // Addresses, host by host, until this host's own entry (it and every less preferred one go).
  const own = new Set(options.ownNames.map((name) => name.toLowerCase().replace(/\.$/, '')));
  const ownAddresses = new Set(options.ownAddresses);
  let hops: NextHop[] = [];
  let temporary: string | null = null;
  let loop = false;
  for (const record of hosts) {
    const host = record.exchange.toLowerCase().replace(/\.$/, '');
    const found = own.has(host) ? null : await addressesOf(host, options);
    if (found === null || (found.kind === 'found' && found.addresses.some((address) => ownAddresses.has(address)))) {
      // This host: it and every MX of equal or less preference are dropped.
      loop = true;
      hops = hops.filter((hop) => hop.preference < record.priority);
      break;
    }
    if (found.kind === 'temporary') {
      temporary ??= found.detail;
      continue;
    }
    for (const address of found.addresses) hops.push({ host, address, preference: record.priority });
  }

  // The verdict.
  if (hops.length > 0) return { kind: 'hops', hops };
  if (temporary !== null) return failed(false, '4.4.3', temporary);
  if (loop) return failed(true, '5.4.6', `mail for ${domain} loops back to this host (its MX is this host)`);
  if (implicit) return failed(true, '5.4.4', `domain ${domain} has no MX and no address records`);
  return failed(true, '5.4.4', `no MX host of ${domain} has an address`);
}

/** RFC 7505: the exchange of a null MX is the root, `.`, which node:dns reports as ''. */
function isNullMx(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

/** By preference; equal preferences shuffled (Fisher–Yates within each group). */
function ordered(records: Array<{ exchange: string; priority: number }>, random: () => number): Array<{ exchange: string; priority: number }> {
  const shuffled = [...records];
  for (let i = shuffled.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as (typeof shuffled)[number], shuffled[i] as (typeof shuffled)[number]];
  }
  // Array.prototype.sort is stable: the shuffle survives within a preference.
  return shuffled.sort((a, b) => a.priority - b.priority);
}

type Addresses = { readonly kind: 'found'; readonly addresses: readonly string[] } | { readonly kind: 'temporary'; readonly detail: string };

/**
 * The next hops of one named host, without MX lookup (a smart host or transport written in
 * brackets, `[mail.example.net]`): its addresses in the configured order.
 */
export async function resolveHost(host: string, options: MxOptions): Promise<MxResult> {
  if (isIP(host) !== 0) return { kind: 'hops', hops: [{ host, address: host, preference: 0 }] };
  const found = await addressesOf(host, options);
  if (found.kind === 'temporary') return failed(false, '4.4.3', found.detail);
  if (found.addresses.length === 0) return failed(true, '5.4.4', `host ${host} has no address records`);
  return { kind: 'hops', hops: found.addresses.map((address) => ({ host, address, preference: 0 })) };
}

/** A host's addresses in the configured order; none when it has no records; temporary when DNS failed. */
async function addressesOf(host: string, options: MxOptions): Promise<Addresses> {
  const order = options.addressOrder;
  const types: Array<'AAAA' | 'A'> = order === 'ipv4-only' ? ['A'] : order === 'ipv6-only' ? ['AAAA'] : order === 'ipv4-first' ? ['A', 'AAAA'] : ['AAAA', 'A'];
  // Both families at once; allSettled, so that neither rejection goes unhandled while the other waits.
  const answers = await Promise.allSettled(types.map((type) => (type === 'A' ? options.dns.resolve4(host) : options.dns.resolve6(host))));

  const addresses: string[] = [];
  let failure: string | null = null;
  for (const [i, answer] of answers.entries()) {
    if (answer.status === 'fulfilled') {
      addresses.push(...answer.value);
      continue;
    }
    const code = errorCode(answer.reason);
    if (!notFound.has(code) && !noData.has(code)) failure ??= `${types[i]} lookup for ${host} failed (${code})`;
  }
  // One family's answer is enough to try; a failed lookup matters only when nothing was found.
  if (addresses.length === 0 && failure !== null) return { kind: 'temporary', detail: failure };
  return { kind: 'found', addresses };
}

/** `[192.0.2.1]` or `[IPv6:2001:db8::1]` as its one next hop. */
function literalHop(domain: string, options: MxOptions): MxResult {
  const inner = domain.slice(1, -1);
  const address = /^ipv6:/i.test(inner) ? inner.slice(5) : inner;
  if (!domain.endsWith(']') || isIP(address) === 0) return failed(true, '5.1.2', `invalid address literal ${domain}`);
  if (options.ownAddresses.includes(address)) return failed(true, '5.4.6', `mail for ${domain} loops back to this host`);
  return { kind: 'hops', hops: [{ host: domain, address, preference: 0 }] };
}

function failed(permanent: boolean, status: string, detail: string): MxResult {
  return { kind: 'failed', permanent, status, detail };
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}
