/**
 * Resolves ServerOptions once per server into the immutable ServerConfig every connection
 * reads: defaults applied, TLS context built, EHLO keyword lists precomputed.
 */
import { type SecureContext, createSecureContext } from 'node:tls';
import { hostname as osHostname } from 'node:os';
import type { ServerHooks } from './hooks.js';
import {
  type ServerFeatures,
  type ServerLimits,
  type ServerOptions,
  type ServerTimeouts,
  defaultFeatures,
  defaultLimits,
  defaultTimeouts,
} from './options.js';
import type { SaslMechanism } from './sasl/mechanism.js';
import type { CommandExtension } from './extensions.js';
import { loginMechanism } from './sasl/login.js';
import { plainMechanism } from './sasl/plain.js';
import { ForbiddenCommands, defaultForbiddenCommands } from './violations.js';

export interface ServerConfig {
  readonly hostname: string;
  readonly lmtp: boolean;
  readonly secureContext: SecureContext | null;
  readonly implicitTls: boolean;
  readonly requireTls: boolean;
  readonly auth: {
    readonly enabled: boolean;
    readonly mechanisms: ReadonlyMap<string, SaslMechanism>;
    readonly allowInsecure: boolean;
    readonly required: boolean;
  };
  readonly strictLineEndings: boolean;
  readonly forbiddenCommands: ForbiddenCommands;
  readonly greetingDelay: number;
  readonly limits: ServerLimits;
  readonly timeouts: ServerTimeouts;
  readonly features: ServerFeatures;
  readonly hooks: ServerHooks;
  /** The application's command extensions, by upper-case verb. */
  readonly extensions: ReadonlyMap<string, CommandExtension>;
  readonly onError: (error: Error, session: { readonly id: string } | null) => void;
  /** EHLO keywords, before and after TLS. */
  readonly ehloKeywords: { readonly plain: readonly string[]; readonly secure: readonly string[] };
}

/** Applies defaults and validates option combinations. */
export function resolveConfig(options: ServerOptions): ServerConfig {
  const limits = { ...defaultLimits, ...options.limits };
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const features = { ...defaultFeatures, ...options.features };
  const hooks = options.hooks ?? {};

  // Sanity checks.
  if (options.secure && !options.tls) throw new TypeError('secure: true needs tls options (key and cert)');
  if (options.requireTls && !options.tls) throw new TypeError('requireTls: true needs tls options (key and cert)');
  if (limits.commandLine < 512) throw new RangeError('limits.commandLine must be at least 512 (RFC 5321 §4.5.3.1.4)');
  if (limits.recipients < 1) throw new RangeError('limits.recipients must be at least 1');
  const extensions = new Map((options.commands ?? []).map((c) => [c.verb.toUpperCase(), c]));
  for (const verb of extensions.keys()) if (!/^[A-Z][A-Z0-9]{2,}$/.test(verb)) throw new TypeError(`not a command verb: ${verb}`);

  const mechanismList = options.auth?.mechanisms ?? [plainMechanism, loginMechanism];
  const auth = {
    enabled: options.auth !== undefined,
    mechanisms: new Map(mechanismList.map((m) => [m.name.toUpperCase(), m])),
    allowInsecure: options.auth?.allowInsecure ?? false,
    required: options.auth?.required ?? false,
  };

  const config = {
    hostname: options.hostname ?? osHostname(),
    lmtp: options.lmtp ?? false,
    secureContext: options.tls ? createSecureContext(options.tls) : null,
    implicitTls: options.secure ?? false,
    requireTls: options.requireTls ?? false,
    auth,
    strictLineEndings: (options.bareLineEndings ?? 'reject') === 'reject',
    forbiddenCommands: new ForbiddenCommands(options.forbiddenCommands ?? defaultForbiddenCommands),
    greetingDelay: options.greetingDelay ?? 0,
    limits,
    timeouts,
    features,
    hooks,
    extensions,
    onError: options.onError ?? (() => {}),
  };
  return { ...config, ehloKeywords: { plain: ehloKeywords(config, false), secure: ehloKeywords(config, true) } };
}

/** The extensions advertised in the EHLO/LHLO reply (RFC 5321 §4.1.1.1). */
function ehloKeywords(config: Omit<ServerConfig, 'ehloKeywords'>, secure: boolean): string[] {
  const { features, auth } = config;
  const keywords: string[] = [];
  if (features.pipelining) keywords.push('PIPELINING');
  keywords.push(`SIZE ${config.limits.messageSize}`);
  if (features.eightBitMime) keywords.push('8BITMIME');
  if (features.smtputf8) keywords.push('SMTPUTF8');
  if (features.enhancedStatusCodes) keywords.push('ENHANCEDSTATUSCODES');
  if (features.dsn) keywords.push('DSN');
  if (features.chunking) keywords.push('CHUNKING');
  if (features.chunking && features.binaryMime) keywords.push('BINARYMIME');
  if (config.secureContext && !secure) keywords.push('STARTTLS');
  if (auth.enabled && (secure || auth.allowInsecure)) {
    const offered = [...auth.mechanisms.values()].filter((m) => secure || auth.allowInsecure || !m.plaintext);
    if (offered.length > 0) keywords.push(`AUTH ${offered.map((m) => m.name).join(' ')}`);
  }
  // RFC 8689 §4.1: REQUIRETLS is offered only on a TLS-protected session.
  if (features.requireTls && secure) keywords.push('REQUIRETLS');
  if (config.hooks.onEtrn) keywords.push('ETRN');
  for (const extension of config.extensions.values()) if (extension.keyword !== undefined && (secure || extension.afterTls !== true)) keywords.push(extension.keyword);
  return keywords;
}
