/**
 * The relay agent's configuration: the shared fragments (Redis, log, HTTP endpoint, host name)
 * and its own section, each setting beside its environment variable and default.
 * Read once in main.ts; everything below receives the typed result.
 */
import { z } from 'zod';
import { authFailureSettings, authservIdsSetting, hostnameSetting, httpSettings, logSettings, failedRetentionSetting, redisSettings, setting, spoolSettings, tlsSettings } from '@mailway/config/schema';
import { type LoadOptions, loadConfig } from '@mailway/config/load';

export const relaySettings = z.object({
  /** Address the inbound listener binds to. */
  host: setting.string('RELAY_HOST', '0.0.0.0'),
  /** Inbound SMTP from other MTAs (RFC 5321). */
  port: setting.port('RELAY_PORT', 25),
  /** Certificate for STARTTLS; a self-signed one is generated when absent. */
  tls: tlsSettings('RELAY'),
  /** Client networks (CIDR, IPv4 or IPv6) allowed to relay to any domain. */
  networks: setting.list('RELAY_NETWORKS', []),
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
  /** Check SPF, DKIM and DMARC and record them in an Authentication-Results field. */
  verify: setting.bool('RELAY_VERIFY', false),
  /** Offer AUTH after STARTTLS; an authenticated client may relay. */
  auth: setting.bool('RELAY_AUTH', true),
  /** Failed logins, counted together with the submission agent's (the same Redis keys). */
  authFailures: authFailureSettings('RELAY'),
  /**
   * How long mail for a remote domain may wait to be sent before it is bounced (the queue
   * lifetime); its content is kept this long, then as long as a failed job.
   */
  queueLifetime: setting.duration('RELAY_QUEUE_LIFETIME', 5 * 24 * 60 * 60_000, { min: '1s' }),
  /** Transfer jobs routed at once by this process. */
  transferConcurrency: setting.int('RELAY_TRANSFER_CONCURRENCY', 32, { min: 1, max: 1_000 }),
  /** Directory seed (JSON) applied at start-up, for config-as-code setups. */
  directorySeed: setting.optionalString('MAILWAY_DIRECTORY_SEED'),
  spool: spoolSettings,
  /** How long shutdown waits for sessions in a transaction. */
  shutdownTimeout: setting.duration('RELAY_SHUTDOWN_TIMEOUT', 30_000),
});

export const relayConfigSchema = z.object({
  hostname: hostnameSetting,
  authservIds: authservIdsSetting,
  redis: redisSettings,
  failedRetention: failedRetentionSetting,
  log: logSettings,
  http: httpSettings('RELAY', 9092),
  relay: relaySettings,
});

export type RelayConfig = z.infer<typeof relayConfigSchema>;

/** Load and validate the configuration; throws ConfigError naming every bad key. */
export function loadRelayConfig(options?: LoadOptions): RelayConfig {
  return loadConfig(relayConfigSchema, options);
}
