/**
 * Client options, their defaults, and the RFC 5321 §4.5.3.2 timeouts.
 *
 * Reads: what the caller passes to `connect()`.
 * Emits: a fully resolved `ResolvedClientOptions`, so no other module handles `undefined`.
 */
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import type { SaslMechanism } from './sasl.js';

/** Time limits in milliseconds, one per wait. */
export interface ClientTimeouts {
  /** TCP (and implicit TLS) connection establishment. Not in RFC 5321; 1 minute. */
  readonly connect: number;
  /** Initial 220 greeting: 5 minutes. */
  readonly greeting: number;
  /** EHLO/HELO/LHLO, STARTTLS, AUTH, RSET, NOOP, QUIT replies: 5 minutes. */
  readonly command: number;
  /** MAIL reply: 5 minutes. */
  readonly mail: number;
  /** RCPT reply: 5 minutes. */
  readonly rcpt: number;
  /** DATA initiation (the 354) and each non-final BDAT reply: 2 minutes. */
  readonly dataInit: number;
  /** Each data block written (waiting for the socket to drain): 3 minutes. */
  readonly dataBlock: number;
  /** Reply to the end of data (`.` or `BDAT … LAST`): 10 minutes. */
  readonly dataEnd: number;
}

export const defaultTimeouts: ClientTimeouts = {
  connect: 60_000,
  greeting: 5 * 60_000,
  command: 5 * 60_000,
  mail: 5 * 60_000,
  rcpt: 5 * 60_000,
  dataInit: 2 * 60_000,
  dataBlock: 3 * 60_000,
  dataEnd: 10 * 60_000,
};

/** When to use STARTTLS (RFC 3207). */
export type StartTlsPolicy =
  /** Never upgrade. */
  | 'never'
  /** Upgrade when offered; continue in plaintext when not offered or refused with a reply. */
  | 'opportunistic'
  /** Upgrade or fail (a temporary error, as a missing STARTTLS may be an attack in progress). */
  | 'required';

/** TLS settings for implicit TLS and STARTTLS. */
export interface ClientTlsOptions {
  /** SNI and the name the certificate must match; defaults to `host` when it is a name. */
  readonly servername?: string;
  /** Trusted CA certificates, replacing Node's default store. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Refuse a certificate that does not verify (default true). */
  readonly rejectUnauthorized?: boolean;
  /** Lowest protocol version accepted (default TLSv1.2). */
  readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

/** Credentials for AUTH (RFC 4954). */
export interface ClientAuth {
  readonly user: string;
  readonly pass: string;
  /** Mechanisms to try, in order of preference; the first one the server offers is used. Default PLAIN, LOGIN. */
  readonly mechanisms?: readonly (string | SaslMechanism)[];
}

export interface ClientOptions {
  /** The server's name or address; give either this or `path`. */
  readonly host?: string;
  /** Default 25 (24 in LMTP mode, 465 with `secure`). */
  readonly port?: number;
  /** A UNIX-domain socket to connect to instead of `host` and `port` (an LMTP server on this host). */
  readonly path?: string;
  /**
   * A connection already open (ODMR, RFC 2645: a server turned client on the connection its
   * peer opened), used instead of connecting; `host` then only names the peer (for TLS).
   * `unread`: octets already read from it, which come first.
   */
  readonly socket?: { readonly socket: Socket; readonly unread?: Buffer | null };
  /** Implicit TLS from the first byte (port 465, RFC 8314). */
  readonly secure?: boolean;
  /** STARTTLS policy on a plaintext connection (default 'opportunistic'). */
  readonly startTls?: StartTlsPolicy;
  readonly tls?: ClientTlsOptions;
  /** The name sent in EHLO/HELO/LHLO: a FQDN or an address literal. Defaults to the host name when it is
   *  fully qualified, else the local address as a literal. */
  readonly name?: string;
  /** Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the data. */
  readonly lmtp?: boolean;
  /** Use BDAT when the server offers CHUNKING (default 'auto'). */
  readonly chunking?: 'auto' | 'never';
  /** Bytes per BDAT chunk (default 1 MiB). */
  readonly chunkSize?: number;
  /** Send MAIL and RCPT commands in one write when PIPELINING is offered (default true). */
  readonly pipelining?: boolean;
  /** Authenticate after EHLO (and after STARTTLS). */
  readonly auth?: ClientAuth;
  /** Allow AUTH over a connection without TLS (default false: credentials would travel in clear). */
  readonly allowPlaintextAuth?: boolean;
  readonly timeouts?: Partial<ClientTimeouts>;
  /** Local address to bind the socket to. */
  readonly localAddress?: string;
}

export interface ResolvedClientOptions {
  /** Null when connecting to `path`. */
  readonly host: string | null;
  readonly port: number;
  readonly path: string | null;
  readonly socket: { readonly socket: Socket; readonly unread: Buffer | null } | null;
  readonly secure: boolean;
  readonly startTls: StartTlsPolicy;
  readonly tls: ClientTlsOptions;
  readonly name: string | null;
  readonly lmtp: boolean;
  readonly chunking: 'auto' | 'never';
  readonly chunkSize: number;
  readonly pipelining: boolean;
  readonly auth: ClientAuth | null;
  readonly allowPlaintextAuth: boolean;
  readonly timeouts: ClientTimeouts;
  readonly localAddress: string | null;
}

/** Fill in defaults and check what cannot be right. */
export function resolveOptions(options: ClientOptions): ResolvedClientOptions {
  // Sanity checks.
  if (!options.host && !options.path && !options.socket) throw new TypeError('host or path is required (or an open socket)');
  if (options.host && options.path) throw new TypeError('host and path exclude each other');
  if (options.socket && (options.path || options.secure)) throw new TypeError('socket excludes path and secure');
  const chunkSize = options.chunkSize ?? 1024 * 1024;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new TypeError('chunkSize must be a positive integer');
  if (options.name !== undefined && !/^[\x21-\x7e]+$/.test(options.name)) throw new TypeError('name must be a domain or an address literal');

  const secure = options.secure ?? false;
  const lmtp = options.lmtp ?? false;
  return {
    host: options.host || null,
    path: options.path || null,
    socket: options.socket ? { socket: options.socket.socket, unread: options.socket.unread ?? null } : null,
    port: options.port ?? (secure ? 465 : lmtp ? 24 : 25),
    secure,
    startTls: secure ? 'never' : options.startTls ?? 'opportunistic',
    tls: options.tls ?? {},
    name: options.name ?? localName(),
    lmtp,
    chunking: options.chunking ?? 'auto',
    chunkSize,
    pipelining: options.pipelining ?? true,
    auth: options.auth ?? null,
    allowPlaintextAuth: options.allowPlaintextAuth ?? false,
    timeouts: { ...defaultTimeouts, ...options.timeouts },
    localAddress: options.localAddress ?? null,
  };
}

/** The host name when it is a fully qualified domain, else null (an address literal is used). */
function localName(): string | null {
  const name = hostname();
  return /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(name) ? name : null;
}
