/**
 * The DNS resolver of sender authentication: mailauth asks it for TXT, A, AAAA, MX and PTR
 * records in node:dns's shapes. It asks RELAY_DNS_SERVERS (the system's resolvers when unset),
 * each query timed out after RELAY_AUTH_DNS_TIMEOUT and tried twice.
 *
 * Errors keep node's codes: ENOTFOUND and ENODATA mean "no such record"; anything else
 * (ETIMEOUT, ESERVFAIL, EREFUSED) is trouble on the way, which every check here treats as a
 * temporary failure.
 */
import { Resolver } from 'node:dns/promises';
import type { DNSResolver } from 'mailauth';

export type DnsResolver = DNSResolver;

/** Codes of an answer that says a name or record does not exist. */
const absent = new Set(['ENOTFOUND', 'ENODATA']);

/** Is `error` a definite "does not exist" (not a timeout or server failure)? */
export function isAbsent(error: unknown): boolean {
  return absent.has((error as NodeJS.ErrnoException | null)?.code ?? '');
}

/** A resolver over `servers` (the system's when empty). */
export function authenticationResolver(servers: readonly string[], timeout: number): DnsResolver {
  const resolver = new Resolver({ timeout, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>;
}
