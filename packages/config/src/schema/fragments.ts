/**
 * Setting fragments every agent shares: Redis, logging, the HTTP endpoint (metrics and
 * health), TLS certificate files, the host name used in greetings and trace headers, the spool
 * and how long failed jobs are kept.
 * Agents compose them into their own schema, e.g. `z.object({ redis: redisSettings, … })`.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { setting } from './setting.js';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export const redisSettings = z.object({
  url: setting.string('REDIS_URL', 'redis://127.0.0.1:6379'),
  prefix: setting.string('MAILWAY_REDIS_PREFIX', 'mailway:'),
});

/** Where message content is stored: the same for every agent of one installation. */
export const spoolSettings = z.object({
  backend: setting.oneOf('MAILWAY_SPOOL', ['redis', 'fs'], 'redis'),
  directory: setting.string('MAILWAY_SPOOL_DIR', '/var/spool/mailway'),
  /** How often the filesystem spool's expired entries are deleted (Redis expires its own). */
  sweepEvery: setting.duration('MAILWAY_SPOOL_SWEEP_INTERVAL', 15 * 60_000, { min: '1s' }),
});

/**
 * How long a job that failed for good stays in its queue's failed set (for `mailway queue
 * show`/`retry` and bounces); its spooled content stays exactly as long.
 */
// At least a second: BullMQ keeps failed jobs by whole seconds.
export const failedRetentionSetting = setting.duration('MAILWAY_FAILED_RETENTION', 14 * 24 * 60 * 60_000, { min: '1s' });

export const logSettings = z.object({
  level: setting.oneOf('LOG_LEVEL', logLevels, 'info'),
});

/** The metrics and health endpoint of one agent; `agent` is the env prefix, e.g. `SUBMISSION`. */
export function httpSettings(agent: string, fallbackPort: number) {
  return z.object({
    host: setting.string(`${agent}_HTTP_HOST`, '127.0.0.1'),
    port: setting.port(`${agent}_HTTP_PORT`, fallbackPort),
  });
}

/** Certificate and key files (PEM) of one agent: both or neither. */
export function tlsSettings(agent: string) {
  const cert = `${agent}_TLS_CERT`;
  const key = `${agent}_TLS_KEY`;
  return z
    .object({ certFile: setting.optionalString(cert), keyFile: setting.optionalString(key) })
    .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
      message: `set both ${cert} and ${key} (certFile and keyFile), or neither`,
    });
}

/**
 * Failed-login limits of one agent that offers AUTH (`${agent}_AUTH_MAX_FAILURES_PER_IP` and so
 * on). The counters behind them are shared by every such agent; each applies its own thresholds.
 */
export function authFailureSettings(agent: string) {
  return z.object({
    /** Failed logins from one IP address within the window before AUTH is refused. */
    perIp: setting.int(`${agent}_AUTH_MAX_FAILURES_PER_IP`, 10, { min: 1 }),
    /** Failed logins for one user within the window before AUTH is refused. */
    perUser: setting.int(`${agent}_AUTH_MAX_FAILURES_PER_USER`, 5, { min: 1 }),
    window: setting.duration(`${agent}_AUTH_FAILURE_WINDOW`, 15 * 60_000),
    /** Pause before answering a failed login, slowing password guessing. */
    delay: setting.duration(`${agent}_AUTH_FAILURE_DELAY`, 1_000),
  });
}

/** The name this host gives itself in SMTP greetings and Received headers. */
export const hostnameSetting = setting.string('MAILWAY_HOSTNAME', hostname());

/**
 * Further authserv-ids (RFC 8601) of this site besides the host name, e.g. every MX's name or
 * the one id all of them share: Authentication-Results fields claiming any of them are removed
 * from mail that arrives from outside the trust boundary.
 */
export const authservIdsSetting = setting.list('MAILWAY_AUTHSERV_IDS', []);
