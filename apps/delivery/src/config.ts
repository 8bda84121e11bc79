/**
 * The delivery agent's configuration: the shared fragments (Redis, log, HTTP endpoint, host
 * name) and its own section, each setting beside its environment variable and default.
 * Read once in main.ts; everything below receives the typed result.
 */
import { z } from 'zod';
import { agentConfigSchema } from '@mailway/agent/config';
import { connectionLimitSettings, setting, spoolSettings } from '@mailway/config/schema';
import { type LoadOptions, loadConfig } from '@mailway/config/load';

export const deliverySettings = z.object({
  /** Mailboxes live under `${root}/${domain}/${local}/Maildir` (or `mbox`). */
  mailboxRoot: setting.string('DELIVERY_MAILBOX_ROOT', '/var/mail/mailway'),
  mailboxFormat: setting.oneOf('DELIVERY_MAILBOX_FORMAT', ['maildir', 'mbox'], 'maildir'),
  /** Deliveries in flight at once. */
  // Each delivery mostly waits on fsyncs (file, directory, Redis AOF); many in flight share them.
  concurrency: setting.int('DELIVERY_CONCURRENCY', 100, { min: 1, max: 1000 }),
  /** A failure notice returns the original whole up to this size, else its header only. */
  bounceReturnLimit: setting.bytes('DELIVERY_BOUNCE_RETURN_LIMIT', 100 * 1024),
  /** `user+tag@domain` goes into the folder `tag` (otherwise into the inbox). */
  subaddressFolders: setting.bool('DELIVERY_SUBADDRESS_FOLDERS', true),
  /** Where mail that its sending domain's DMARC policy quarantines goes (the relay marks it): a folder of the mailbox. */
  junkFolder: setting.string('DELIVERY_JUNK_FOLDER', 'Junk').refine((name) => /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(name) && !name.includes('..'), 'expected a folder name: letters, digits, ".", "_" and "-", not starting with "."'),
  /** fsync every mailbox file and directory; off only for throwaway mail. */
  fsync: setting.bool('DELIVERY_FSYNC', true),
  lmtp: z.object({
    host: setting.string('DELIVERY_LMTP_HOST', '127.0.0.1'),
    port: setting.port('DELIVERY_LMTP_PORT', 24),
    /** A UNIX socket path; when set, LMTP listens there instead of on host:port. */
    socket: setting.optionalString('DELIVERY_LMTP_SOCKET'),
    maxMessageSize: setting.bytes('DELIVERY_LMTP_MAX_MESSAGE_SIZE', 50 * 1024 * 1024),
    /** Connection limits of the LMTP listener (its clients are the site's own MTAs). */
    connections: connectionLimitSettings('DELIVERY_LMTP', { perClient: 50, perMinute: 100 }),
  }),
  worker: z.object({
    /** How long a job stays locked to a worker without renewal: a killed worker's jobs return after it. */
    lockDuration: setting.duration('DELIVERY_LOCK_DURATION', 30_000),
    /** How often workers look for jobs whose worker died. */
    stalledInterval: setting.duration('DELIVERY_STALLED_INTERVAL', 30_000),
    /** Times a job may be taken back from a dead worker before it fails; deliveries are idempotent. */
    maxStalledCount: setting.int('DELIVERY_MAX_STALLED_COUNT', 20, { min: 0 }),
  }),
  spool: spoolSettings,
  /** How long shutdown waits for LMTP sessions in a transaction. */
  shutdownTimeout: setting.duration('DELIVERY_SHUTDOWN_TIMEOUT', 30_000),
});

export const deliveryConfigSchema = agentConfigSchema({ prefix: 'DELIVERY', httpPort: 9093, own: { delivery: deliverySettings } });

export type DeliveryConfig = z.infer<typeof deliveryConfigSchema>;

/** Load and validate the configuration; throws ConfigError naming every bad key. */
export function loadDeliveryConfig(options?: LoadOptions): DeliveryConfig {
  return loadConfig(deliveryConfigSchema, options);
}
