/**
 * The relay agent's configuration: the shared fragments (Redis, log, HTTP endpoint, host name)
 * and its own section, each setting beside its environment variable and default.
 * Read once in main.ts; everything below receives the typed result.
 */
import { isIP } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { z } from 'zod';
import { agentConfigSchema, directorySeedSetting } from '@mailway/agent/config';
import { authFailureSettings, authservIdsSetting, connectionLimitSettings, inflowSettings, setting, spoolSettings, tlsSettings } from '@mailway/config/schema';
import { type LoadOptions, loadConfig } from '@mailway/config/load';
import { parseNextHop, parseTransports } from './outbound/routes.js';
import { authenticationSettings } from './policy/authentication/settings.js';
import { parseDestinationLimits } from './outbound/settings.js';
import { parseHoldDomains, parsePullGrants } from './pull/domains.js';
import { relayNetworks } from './policy/networks.js';
import { readCaFile } from './outbound/security/trust.js';
import { parseDestinationRates } from './outbound/rates.js';

/** A setting whose text must parse: the parser's own message says what is wrong. */
function parsed<T>(schema: z.ZodType<T>, parse: (value: T) => unknown): z.ZodType<T> {
  return schema.superRefine((value, context) => {
    try {
      parse(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });
}

/** Sending to other domains: routing, retries, notifications. */
const outboundSettings = z.object({
  /**
   * Outbound jobs this process works on at once, across destinations (as Postfix's
   * default_process_limit); more than a destination's limit, so that jobs waiting for a busy
   * destination's session leave room for the others.
   */
  concurrency: setting.int('RELAY_OUTBOUND_CONCURRENCY', 100, { min: 1, max: 1_000 }),
  /** Attempts at once per destination (a domain, or the smart host), as Postfix's default_destination_concurrency_limit. */
  destinationConcurrency: setting.int('RELAY_OUTBOUND_DESTINATION_CONCURRENCY', 20, { min: 1, max: 1_000 }),
  /** The same for named destinations: `example.com=5,[smarthost]=10`. */
  destinationLimits: parsed(setting.list('RELAY_OUTBOUND_DESTINATION_LIMITS', []), parseDestinationLimits),
  /**
   * A destination slot is a lease in Redis shared by every relay process; a process that dies
   * gives its slots back when their leases lapse, this long after their last renewal.
   */
  destinationLease: setting.duration('RELAY_OUTBOUND_DESTINATION_LEASE', 120_000, { min: '1s' }),
  /** Messages at most per destination: `example.com=30/min,[smarthost]=5/s` (s, min or h), shared by every relay process. */
  destinationRates: parsed(setting.list('RELAY_OUTBOUND_DESTINATION_RATES', []), parseDestinationRates),
  /**
   * Adaptive concurrency, as Postfix's initial_destination_concurrency: a destination starts with
   * this many attempts at once and gains more as its hosts take mail, up to its limit; a session
   * turned away as one too many lowers it. 0 uses the full limit from the start.
   */
  initialConcurrency: setting.int('RELAY_OUTBOUND_INITIAL_CONCURRENCY', 5, { min: 0, max: 1_000 }),
  /** After such a refusal, the destination stays below the level refused for this long. */
  congestionMemory: setting.duration('RELAY_OUTBOUND_CONGESTION_MEMORY', 60_000),
  /** How often held leases are renewed. */
  destinationLeaseRenew: setting.duration('RELAY_OUTBOUND_DESTINATION_LEASE_RENEW', 30_000, { min: '100ms' }),
  /** An open session with nothing to send is closed after this long; 0 opens a session per message. */
  sessionIdle: setting.duration('RELAY_OUTBOUND_SESSION_IDLE', 2_000),
  /** A session is not reused once this old, nor after this many messages. */
  sessionReuseTime: setting.duration('RELAY_OUTBOUND_SESSION_REUSE_TIME', 300_000, { min: '1s' }),
  sessionMessages: setting.int('RELAY_OUTBOUND_SESSION_MESSAGES', 100, { min: 1, max: 100_000 }),
  /** A host whose opportunistic STARTTLS failed gets plaintext at once for this long; 0 tries STARTTLS every time. */
  tlsFailureMemory: setting.duration('RELAY_OUTBOUND_TLS_FAILURE_MEMORY', 3_600_000),
  /** A destination none of whose hosts could be reached is not tried again for this long; 0 never marks one. */
  downTime: setting.duration('RELAY_OUTBOUND_DOWN_TIME', 60_000),
  /** Port of the remote mail exchangers (25; tests point it elsewhere). */
  port: setting.port('RELAY_OUTBOUND_PORT', 25),
  /** Source addresses for outbound connections, per family; the system's choice when unset. */
  bindAddress: parsed(setting.optionalString('RELAY_OUTBOUND_BIND_ADDRESS'), (value) => {
    if (value !== undefined && isIP(value) !== 4) throw new Error('expected an IPv4 address');
    return value;
  }),
  bindAddress6: parsed(setting.optionalString('RELAY_OUTBOUND_BIND_ADDRESS6'), (value) => {
    if (value !== undefined && isIP(value) !== 6) throw new Error('expected an IPv6 address');
    return value;
  }),
  /** The name sent in EHLO; the host name when unset. */
  helo: setting.optionalString('RELAY_OUTBOUND_HELO'),
  /** STARTTLS towards MX hosts: opportunistic (any certificate, plaintext when it fails), required, never. */
  tls: setting.oneOf('RELAY_OUTBOUND_TLS', ['opportunistic', 'required', 'never'], 'opportunistic'),
  /** A PEM file of further trusted roots for MX certificates (REQUIRETLS, MTA-STS) and MTA-STS policy servers; Node's bundled roots are trusted too. */
  tlsCa: parsed(setting.optionalString('RELAY_OUTBOUND_TLS_CA'), (path) => path === undefined || readCaFile(path)),
  /** Apply the MTA-STS policies (RFC 8461) receiving domains publish. */
  mtaSts: setting.bool('RELAY_OUTBOUND_MTA_STS', true),
  /** A policy fetch (connection to last byte) is given up after this long. */
  mtaStsTimeout: setting.duration('RELAY_OUTBOUND_MTA_STS_TIMEOUT', 15_000, { min: '100ms' }),
  /** How long a relay process reuses what it found of a domain's MTA-STS policy before it looks at its TXT record again; 0 looks for every message. */
  mtaStsRecheck: setting.duration('RELAY_OUTBOUND_MTA_STS_RECHECK', 60_000),
  /** Port of MTA-STS policy servers: always 443 (RFC 8461 §3.3) but in tests. */
  mtaStsTestHttpsPort: setting.port('RELAY_OUTBOUND_MTA_STS_TEST_HTTPS_PORT', 443),
  /** DANE (RFC 7672) for MX hosts with DNSSEC-secure TLSA records: `auto` (when the DNSSEC resolver validates) or `off`. */
  dane: setting.oneOf('RELAY_OUTBOUND_DANE', ['auto', 'off'], 'auto'),
  /** The DNSSEC-validating resolver asked for TLSA records (`ip` or `ip:port`); the first of RELAY_DNS_SERVERS, else the system's first, when unset. */
  dnssecResolver: parsed(setting.optionalString('RELAY_OUTBOUND_DNSSEC_RESOLVER'), (value) => value === undefined || new Resolver().setServers([value])),
  /** A name in a signed zone whose DNSKEY the DNSSEC resolver must validate for DANE to be on (the root by default). */
  daneProbe: setting.string('RELAY_OUTBOUND_DANE_PROBE', '.'),
  /** Count TLS sessions with DANE or MTA-STS domains and send them daily SMTP TLS reports (RFC 8460) where they ask for them. */
  tlsReports: setting.bool('RELAY_OUTBOUND_TLSRPT', false),
  /** The contact-info of TLS reports; postmaster@ the host name when unset. */
  tlsReportContact: setting.optionalString('RELAY_OUTBOUND_TLSRPT_CONTACT'),
  /** How long a day's TLS counts are kept after the day, for a report that could not be sent yet. */
  tlsReportRetention: setting.duration('RELAY_OUTBOUND_TLSRPT_RETENTION', 2 * 86_400_000, { min: '1h' }),
  /** Addresses tried in one attempt, across all MX hosts. */
  maxHosts: setting.int('RELAY_OUTBOUND_MAX_HOSTS', 5, { min: 1, max: 100 }),
  /** Which address family is tried first for each MX host. */
  addressOrder: setting.oneOf('RELAY_OUTBOUND_ADDRESS_ORDER', ['ipv6-first', 'ipv4-first', 'ipv4-only', 'ipv6-only'], 'ipv6-first'),
  /** DNS servers (`ip` or `ip:port`, `[ipv6]:port`); the system's when empty. */
  dnsServers: parsed(setting.list('RELAY_DNS_SERVERS', []), (servers) => new Resolver().setServers(servers)),
  /** Other names and the addresses of this host: an MX pointing at one of them is a mail loop. */
  ownNames: setting.list('RELAY_OWN_NAMES', []),
  ownAddresses: setting.list('RELAY_OWN_ADDRESSES', []),
  /** Send all remote mail to this next hop (`[mail.isp.example]:587`); unset: MX routing. */
  smarthost: parsed(setting.optionalString('RELAY_SMARTHOST'), (value) => value === undefined || parseNextHop(value)),
  smarthostUser: setting.optionalString('RELAY_SMARTHOST_USER'),
  smarthostPassword: setting.optionalString('RELAY_SMARTHOST_PASSWORD'),
  smarthostTls: setting.oneOf('RELAY_SMARTHOST_TLS', ['opportunistic', 'required', 'never'], 'opportunistic'),
  /** Per-domain next hops: `example.com=smtp:[10.1.2.3]:2525`, `lists.example.com=lmtp:[10.1.2.4]:24`. */
  transports: parsed(setting.list('RELAY_TRANSPORTS', []), parseTransports),
  /** Retries: the wait grows with the message's age, between these bounds. */
  backoffMin: setting.duration('RELAY_BACKOFF_MIN', 300_000),
  backoffMax: setting.duration('RELAY_BACKOFF_MAX', 4_000_000),
  /**
   * How long a message is tried before it is returned to its sender; its content is kept this
   * long, then as long as a failed job.
   */
  queueLifetime: setting.duration('RELAY_QUEUE_LIFETIME', 5 * 24 * 3_600_000, { min: '1s' }),
  /** The same for notifications (from the null sender), which are then dropped. */
  bounceLifetime: setting.duration('RELAY_BOUNCE_LIFETIME', 2 * 24 * 3_600_000),
  /** Tell the sender a message is delayed once it has waited this long; 0 never does. */
  delayWarning: setting.duration('RELAY_DELAY_WARNING', 4 * 3_600_000),
  /** A bounce returns the original whole up to this size, else its header only. */
  bounceReturnLimit: setting.bytes('RELAY_BOUNCE_RETURN_LIMIT', 100 * 1024),
  worker: z.object({
    /** How long an outbound job stays locked to a worker without renewal: a killed relay's jobs return after it. */
    lockDuration: setting.duration('RELAY_OUTBOUND_LOCK_DURATION', 30_000),
    /** How often workers look for outbound jobs whose worker died. */
    stalledInterval: setting.duration('RELAY_OUTBOUND_STALLED_INTERVAL', 30_000),
  }),
}).superRefine((outbound, context) => {
  // Settings that only work together: credentials that could never be used are a mistake, not a choice.
  const problem = (key: keyof typeof outbound, message: string): void => context.addIssue({ code: 'custom', path: [key], message });
  const user = outbound.smarthostUser !== undefined;
  const password = outbound.smarthostPassword !== undefined;
  if (user !== password) problem(user ? 'smarthostPassword' : 'smarthostUser', 'RELAY_SMARTHOST_USER and RELAY_SMARTHOST_PASSWORD go together: give both or neither');
  if ((user || password) && outbound.smarthost === undefined) problem('smarthostUser', 'smart host credentials are given but RELAY_SMARTHOST is not set');
  if (user && password && outbound.smarthost !== undefined && outbound.smarthostTls === 'never') problem('smarthostTls', 'smart host credentials are never sent without TLS: use opportunistic or required');
  if (outbound.backoffMax < outbound.backoffMin) problem('backoffMax', 'must be at least RELAY_BACKOFF_MIN');
  if (outbound.destinationLeaseRenew * 2 > outbound.destinationLease) problem('destinationLeaseRenew', 'must be at most half of RELAY_OUTBOUND_DESTINATION_LEASE');
});

export const relaySettings = z.object({
  /**
   * What this process does: `inbound` (port 25), `router` (the transfer worker) and `outbound`
   * (sending to other domains); run several processes with different roles to scale each.
   */
  roles: parsed(setting.list('RELAY_ROLES', ['inbound', 'router', 'outbound']), (roles) => {
    const known = ['inbound', 'router', 'outbound'];
    if (roles.length === 0) throw new Error('expected at least one of inbound, router, outbound');
    const unknown = roles.filter((role) => !known.includes(role));
    if (unknown.length > 0) throw new Error(`unknown role ${unknown.join(', ')} (expected inbound, router, outbound)`);
  }),
  /** Address the inbound listener binds to. */
  host: setting.string('RELAY_HOST', '0.0.0.0'),
  /** Inbound SMTP from other MTAs (RFC 5321). */
  port: setting.port('RELAY_PORT', 25),
  /** Certificate for STARTTLS; a self-signed one is generated when absent. */
  tls: tlsSettings('RELAY'),
  /** Client networks (CIDR, IPv4 or IPv6) allowed to relay to any domain. */
  networks: setting.list('RELAY_NETWORKS', []),
  /** Connection limits on port 25 (RELAY_NETWORKS are exempt from the per-client ones). */
  connections: connectionLimitSettings('RELAY', { perClient: 50, perMinute: 100 }),
  maxMessageSize: setting.bytes('RELAY_MAX_MESSAGE_SIZE', 25 * 1024 * 1024),
  maxRecipients: setting.int('RELAY_MAX_RECIPIENTS', 100, { min: 1, max: 10_000 }),
  greylist: z.object({
    /** Defer the first delivery attempt of an unknown (client network, sender, recipient). */
    enabled: setting.bool('RELAY_GREYLIST', false),
    /** How long a client must wait before its retry is accepted. */
    delay: setting.duration('RELAY_GREYLIST_DELAY', 5 * 60_000),
    /** How long a triplet is remembered, once seen and once passed. */
    ttl: setting.duration('RELAY_GREYLIST_TTL', 35 * 24 * 60 * 60_000),
  }),
  /** Check SPF, DKIM, ARC and DMARC for every client (trusted ones too) and record them in an Authentication-Results field. */
  verify: setting.bool('RELAY_VERIFY', false),
  /** Sender authentication on port 25: DMARC policy, SPF, ARC, DNS block lists. */
  authentication: authenticationSettings,
  /** Offer AUTH after STARTTLS; an authenticated client may relay. */
  auth: setting.bool('RELAY_AUTH', true),
  /** Failed logins, counted together with the submission agent's (the same Redis keys). */
  authFailures: authFailureSettings('RELAY'),
  /** Transfer jobs routed at once by this process. */
  transferConcurrency: setting.int('RELAY_TRANSFER_CONCURRENCY', 32, { min: 1, max: 1_000 }),
  transferWorker: z.object({
    /** How long a transfer job stays locked to a worker without renewal: a killed relay's jobs return after it. */
    lockDuration: setting.duration('RELAY_TRANSFER_LOCK_DURATION', 30_000),
    /** How often workers look for transfer jobs whose worker died. */
    stalledInterval: setting.duration('RELAY_TRANSFER_STALLED_INTERVAL', 30_000),
  }),
  directorySeed: directorySeedSetting,
  spool: spoolSettings,
  outbound: outboundSettings,
  pull: z.object({
    /**
     * Domains whose sites pull their mail (`example.com`, `.example.com` for every domain below
     * it): their mail is accepted from anyone on port 25, queued and held, and sent only when the
     * site asks by ETRN or ODMR (or when an operator releases it); held past the queue lifetime,
     * it is returned to its sender.
     */
    holdDomains: parsed(setting.list('RELAY_HOLD_DOMAINS', []), parseHoldDomains),
    /** Clients (CIDR) that may ask for held mail by ETRN, besides RELAY_NETWORKS and authenticated clients. */
    etrnNetworks: parsed(setting.list('RELAY_ETRN_NETWORKS', []), (blocks) => relayNetworks(blocks, 'RELAY_ETRN_NETWORKS')),
    /** On-Demand Mail Relay (RFC 2645): who may pull which held domains, `user=domain|domain`; the listener runs when set. */
    odmrUsers: setting.list('RELAY_ODMR_USERS', []),
    /** The ODMR listener's port (RFC 2645: 366). */
    odmrPort: setting.port('RELAY_ODMR_PORT', 366),
    /** Offer AUTH on the ODMR port before STARTTLS (local development only). */
    odmrAllowInsecureAuth: setting.bool('RELAY_ODMR_ALLOW_INSECURE_AUTH', false),
  }).superRefine((pull, context) => {
    // Grants only for held domains: a grant for mail that is never held could never be used.
    try {
      parsePullGrants(pull.odmrUsers, parseHoldDomains(pull.holdDomains));
    } catch (error) {
      context.addIssue({ code: 'custom', path: ['odmrUsers'], message: error instanceof Error ? error.message : String(error) });
    }
  }),
  /** How long shutdown waits for sessions in a transaction. */
  shutdownTimeout: setting.duration('RELAY_SHUTDOWN_TIMEOUT', 30_000),
});

export const relayConfigSchema = agentConfigSchema({ prefix: 'RELAY', httpPort: 9092, top: { authservIds: authservIdsSetting, inflow: inflowSettings }, own: { relay: relaySettings } });

export type RelayConfig = z.infer<typeof relayConfigSchema>;

/** Load and validate the configuration; throws ConfigError naming every bad key. */
export function loadRelayConfig(options?: LoadOptions): RelayConfig {
  return loadConfig(relayConfigSchema, options);
}
