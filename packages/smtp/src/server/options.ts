/**
 * Server options and their defaults. Limits and timeouts follow RFC 5321 §4.5.3; every
 * feature is on unless switched off.
 */
import type { SecureContextOptions } from 'node:tls';
import type { SaslMechanism } from './sasl/mechanism.js';
import type { ServerHooks } from './hooks.js';
import type { AdmissionOptions } from './admission/gate.js';
import type { CommandExtension } from './extensions.js';

export interface ServerLimits {
  /** Longest command line in octets, CRLF included (RFC 5321 says at least 512). */
  readonly commandLine: number;
  /** Largest message in octets, advertised with SIZE. */
  readonly messageSize: number;
  /** Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100). */
  readonly recipients: number;
  /** Unrecognised or invalid commands before the connection is dropped. */
  readonly badCommands: number;
  /** Commands other than MAIL/RCPT/DATA/BDAT between two transactions (stops NOOP floods). */
  readonly commandsWithoutMail: number;
}

export interface ServerTimeouts {
  /** Waiting for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes). */
  readonly command: number;
  /** Waiting for the next data block. */
  readonly data: number;
  /** TLS handshake. */
  readonly handshake: number;
}

export interface ServerFeatures {
  readonly pipelining: boolean;
  readonly eightBitMime: boolean;
  readonly smtputf8: boolean;
  readonly dsn: boolean;
  readonly chunking: boolean;
  readonly binaryMime: boolean;
  readonly requireTls: boolean;
  readonly enhancedStatusCodes: boolean;
}

export interface AuthOptions {
  /** Mechanisms offered, in order. Default PLAIN and LOGIN. */
  readonly mechanisms?: readonly SaslMechanism[];
  /** Offer AUTH on an unencrypted connection (local development only). */
  readonly allowInsecure?: boolean;
  /** Refuse MAIL until the client has authenticated (530 5.7.0). */
  readonly required?: boolean;
}

export interface ServerOptions {
  /** The name in the greeting and EHLO reply. */
  readonly hostname?: string;
  /** Speak LMTP (RFC 2033) instead of SMTP. */
  readonly lmtp?: boolean;
  /** Certificate and key; STARTTLS is offered when set. */
  readonly tls?: SecureContextOptions;
  /** Implicit TLS from the first byte (port 465 style); needs `tls`. */
  readonly secure?: boolean;
  /** Refuse everything but EHLO, STARTTLS, NOOP, RSET and QUIT until TLS is up. */
  readonly requireTls?: boolean;
  /** Offer AUTH; the onAuth hook decides. */
  readonly auth?: AuthOptions;
  /**
   * Line endings in DATA other than CRLF: 'reject' (default) answers 550 5.6.0 after the data,
   * 'accept' passes the octets through unchanged. Only CRLF.CRLF ever ends the data.
   */
  readonly bareLineEndings?: 'reject' | 'accept';
  /**
   * Command verbs and header names (`Host:`) that show a client speaking another protocol;
   * such a line is answered 554 5.7.0 once and the connection closed, with nothing else it
   * brought run. Default: HTTP methods and common HTTP request headers
   * (`defaultForbiddenCommands`); `[]` switches the check off.
   */
  readonly forbiddenCommands?: readonly string[];
  /** Wait this long before the greeting; a client that talks first is dropped. */
  readonly greetingDelay?: number;
  readonly limits?: Partial<ServerLimits>;
  readonly timeouts?: Partial<ServerTimeouts>;
  readonly features?: Partial<ServerFeatures>;
  readonly hooks?: ServerHooks;
  /** Commands beyond the server's own, answered by the application (see extensions.ts). */
  readonly commands?: readonly CommandExtension[];
  /**
   * Connection limits checked when a connection is accepted, before the greeting: a session cap
   * for the listener, concurrent sessions and new connections per minute per client, exempt
   * networks (see admission/gate.ts). None by default.
   */
  readonly admission?: AdmissionOptions;
  /** Called with errors the server cannot report to a peer (socket errors, hook bugs). */
  readonly onError?: (error: Error, session: { readonly id: string } | null) => void;
}

export const defaultLimits: ServerLimits = {
  commandLine: 2048,
  messageSize: 25 * 1024 * 1024,
  recipients: 100,
  badCommands: 10,
  commandsWithoutMail: 100,
};

export const defaultTimeouts: ServerTimeouts = {
  command: 5 * 60_000,
  data: 5 * 60_000,
  handshake: 30_000,
};

export const defaultFeatures: ServerFeatures = {
  pipelining: true,
  eightBitMime: true,
  smtputf8: true,
  dsn: true,
  chunking: true,
  binaryMime: true,
  requireTls: true,
  enhancedStatusCodes: true,
};
