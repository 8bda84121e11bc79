/**
 * The submission agent's configuration: the shared fragments (Redis, log, HTTP endpoint,
 * host name) and its own section, each setting beside its environment variable and default.
 * Read once in main.ts; everything below receives the typed result.
 */
import { z } from 'zod';
import { agentConfigSchema, directorySeedSetting } from '@mailway/agent/config';
import { authFailureSettings, authservIdsSetting, connectionLimitSettings, inflowSettings, setting, spoolSettings, tlsSettings } from '@mailway/config/schema';
import { type LoadOptions, loadConfig } from '@mailway/config/load';

export const submissionSettings = z.object({
  /** Address the listeners bind to. */
  host: setting.string('SUBMISSION_HOST', '0.0.0.0'),
  /** Submission with STARTTLS (RFC 6409). */
  port: setting.port('SUBMISSION_PORT', 587),
  /** Submission over implicit TLS (RFC 8314). */
  tlsPort: setting.port('SUBMISSION_TLS_PORT', 465),
  tls: tlsSettings('SUBMISSION'),
  /** Offer AUTH before TLS: for local development only. */
  allowInsecureAuth: setting.bool('SUBMISSION_ALLOW_INSECURE_AUTH', false),
  maxMessageSize: setting.bytes('SUBMISSION_MAX_MESSAGE_SIZE', 25 * 1024 * 1024),
  /** Recipients per message, per user. */
  maxRecipients: setting.int('SUBMISSION_MAX_RECIPIENTS', 100, { min: 1, max: 10_000 }),
  /** Messages per user per hour; 0 for no limit. */
  messagesPerHour: setting.int('SUBMISSION_MESSAGES_PER_HOUR', 1000, { min: 0 }),
  authFailures: authFailureSettings('SUBMISSION'),
  /** Connection limits, applied by each of the two listeners on its own. */
  connections: connectionLimitSettings('SUBMISSION', { perClient: 20, perMinute: 100 }),
  dkim: z.object({
    /** Sign mail whose From domain is one of these; empty for no signing. */
    domains: setting.list('SUBMISSION_DKIM_DOMAINS', []),
    selector: setting.string('SUBMISSION_DKIM_SELECTOR', 'mailway'),
    /** PEM private key (RSA or Ed25519) used for every listed domain. */
    keyFile: setting.optionalString('SUBMISSION_DKIM_KEY_FILE'),
  }),
  directorySeed: directorySeedSetting,
  spool: spoolSettings,
  /** How long shutdown waits for sessions in a transaction. */
  shutdownTimeout: setting.duration('SUBMISSION_SHUTDOWN_TIMEOUT', 30_000),
});

export const submissionConfigSchema = agentConfigSchema({ prefix: 'SUBMISSION', httpPort: 9091, top: { authservIds: authservIdsSetting, inflow: inflowSettings }, own: { submission: submissionSettings } });

export type SubmissionConfig = z.infer<typeof submissionConfigSchema>;

/** Load and validate the configuration; throws ConfigError naming every bad key. */
export function loadSubmissionConfig(options?: LoadOptions): SubmissionConfig {
  return loadConfig(submissionConfigSchema, options);
}
