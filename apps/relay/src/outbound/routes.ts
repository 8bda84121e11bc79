/**
 * Where mail for a remote domain is sent: a transport map entry for the domain, else the smart
 * host, else the domain's MX hosts (RFC 5321 §5.1). A next hop is written as Postfix writes it:
 * `smtp:mail.example.net:2525` (the name's MX records), `smtp:[mail.example.net]:2525` or
 * `[192.0.2.1]` (that host itself, no MX lookup), `lmtp:[10.1.2.3]:24` (handed over in LMTP),
 * `lmtp:unix:/run/dovecot/lmtp` (handed over in LMTP on a UNIX-domain socket of this host).
 *
 * Reads: the domain, the configured next hops, DNS. Emits: the addresses to try and how to
 * speak to them, or why there are none. A configured next hop that cannot be resolved defers
 * the mail (an operator's typo must not bounce everything); the domains of the world decide
 * for themselves through DNS.
 */
import { isIP } from 'node:net';
import { type MxOptions, type MxResult, type NextHop, resolveHost, resolveNextHops } from './mx.js';

export interface NextHopSpec {
  readonly protocol: 'smtp' | 'lmtp';
  readonly host: string;
  /** Null: the protocol's port (the outbound port for SMTP, 24 for LMTP). */
  readonly port: number | null;
  /** Look up the host's MX records (written without brackets). */
  readonly mx: boolean;
  /** A UNIX-domain socket on this host (`lmtp:unix:/path`): the one next hop, no DNS. */
  readonly path?: string;
}

/** Longest socket path a UNIX-domain address holds (sun_path, with its NUL). */
const maxSocketPath = 107;

/** Parses `[smtp:|lmtp:]host[:port]` with optional brackets, or `lmtp:unix:/path`; throws a message saying what is wrong. */
export function parseNextHop(text: string): NextHopSpec {
  const socket = /^(?:(smtp|lmtp):)?unix:(.*)$/i.exec(text.trim());
  if (socket) {
    const [, protocol = 'smtp', path = ''] = socket;
    if (protocol.toLowerCase() !== 'lmtp') throw new Error(`a UNIX-domain socket is for LMTP only: ${JSON.stringify(text)} (expected lmtp:unix:/path)`);
    if (!path.startsWith('/') || /\s/.test(path)) throw new Error(`not an absolute socket path: ${JSON.stringify(text)} (expected lmtp:unix:/path)`);
    if (Buffer.byteLength(path) > maxSocketPath) throw new Error(`socket path longer than ${maxSocketPath} bytes: ${JSON.stringify(text)}`);
    return { protocol: 'lmtp', host: 'localhost', port: null, mx: false, path };
  }
  const match = /^(?:(smtp|lmtp):)?(\[[^\]\s]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/i.exec(text.trim());
  if (!match) throw new Error(`not a next hop: ${JSON.stringify(text)} (expected [smtp:|lmtp:]host[:port], brackets for no MX lookup)`);
  const [, protocol = 'smtp', hostPart = '', portText] = match;
  const bracketed = hostPart.startsWith('[');
  const host = bracketed ? hostPart.slice(1, -1) : hostPart;
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > 65_535)) throw new Error(`port out of range in ${JSON.stringify(text)}`);
  if (!bracketed && isIP(host) !== 0) throw new Error(`an address must be written in brackets: ${JSON.stringify(text)}`);
  return { protocol: protocol.toLowerCase() as 'smtp' | 'lmtp', host: host.toLowerCase(), port, mx: !bracketed };
}

/** Parses transport map entries `domain=nexthop`; throws naming the bad entry. */
export function parseTransports(entries: readonly string[]): ReadonlyMap<string, NextHopSpec> {
  const map = new Map<string, NextHopSpec>();
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new Error(`not a transport entry: ${JSON.stringify(entry)} (expected domain=nexthop)`);
    map.set(entry.slice(0, equals).trim().toLowerCase(), parseNextHop(entry.slice(equals + 1)));
  }
  return map;
}

export interface RouterOptions extends MxOptions {
  readonly smarthost: NextHopSpec | null;
  readonly transports: ReadonlyMap<string, NextHopSpec>;
  /** Port for SMTP next hops without one of their own (25). */
  readonly port: number;
}

/** How to reach one destination. */
export type Route =
  | { readonly kind: 'hops'; readonly hops: readonly NextHop[]; readonly port: number; readonly lmtp: boolean; readonly configured: 'transport' | 'smarthost' | null }
  | Extract<MxResult, { kind: 'failed' }>;

/** The route for `domain`. */
export async function routeDomain(domain: string, options: RouterOptions): Promise<Route> {
  const spec = options.transports.get(domain) ?? options.smarthost;
  const configured = options.transports.has(domain) ? 'transport' : options.smarthost !== null ? 'smarthost' : null;
  if (spec === null) return withPort(await resolveNextHops(domain, options), options.port, false, null);

  const port = spec.port ?? (spec.protocol === 'lmtp' ? 24 : options.port);
  // A socket of this host: named as this host, as Postfix logs it (`relay=myhostname[/path]`).
  if (spec.path !== undefined) return { kind: 'hops', hops: [{ host: options.ownNames[0] ?? spec.host, address: spec.path, preference: 0, path: spec.path }], port, lmtp: true, configured };
  const resolved = spec.mx ? await resolveNextHops(spec.host, options) : await resolveHost(spec.host, options);
  if (resolved.kind === 'failed') return { ...resolved, permanent: false, status: '4.4.3', detail: `${resolved.detail} (the configured next hop for ${domain})` };
  return withPort(resolved, port, spec.protocol === 'lmtp', configured);
}

function withPort(result: MxResult, port: number, lmtp: boolean, configured: 'transport' | 'smarthost' | null): Route {
  return result.kind === 'failed' ? result : { kind: 'hops', hops: result.hops, port, lmtp, configured };
}
