/**
 * An agent's connection limits, from its settings to the admission options of its SMTP or
 * LMTP listeners: the per-client limits and exempt networks as configured, and a session cap
 * that fits under the process's open-file limit, kept below it by a reserve for the agent's own
 * descriptors (Redis, spool and mailbox files, logs, the HTTP endpoint).
 *
 * Reads: the settings (connectionLimitSettings), RLIMIT_NOFILE. Emits: one log line with the
 * limit and the cap at start-up; a ConfigError naming the key when the configured cap cannot fit
 * or an exempt network is not one; on refusals, a count per kind and one log line per refused
 * client per minute.
 */
import { ConfigError } from '@mailway/config';
import { connectionLimitEnv } from '@mailway/config/schema';
import { networkList } from '@mailway/smtp/address';
import type { AdmissionOptions, Refusal, RefusalKind } from '@mailway/smtp/server';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { type OpenFileLimit, readOpenFileLimit } from './open-files.js';

export interface ConnectionLimitSettings {
  readonly perClient: number;
  readonly perMinute: number;
  readonly maxSessions: number;
  readonly exempt: readonly string[];
}

export interface ConnectionLimitInput {
  /** The settings' environment prefix (`RELAY`) and key path (`relay.connections`), for errors. */
  readonly prefix: string;
  readonly path: string;
  readonly settings: ConnectionLimitSettings;
  /** Networks exempt besides the configured ones (the relay's trusted networks). */
  readonly alsoExempt?: readonly string[];
  /** Listeners sharing the process's descriptors, each with its own cap. */
  readonly listeners: number;
  /** Descriptors one session may hold at once (2 when it writes a spool file). */
  readonly perSession: number;
  /** Descriptors kept for the agent's own work. */
  readonly reserve: number;
  /** The counter of refusals, labelled `limit`. */
  readonly refused: ReturnType<Metrics['counter']>;
  readonly logger: Logger;
  /** The open-file limit; read from the process when not given. */
  readonly openFiles?: OpenFileLimit | null;
}

/** Metric label of each kind of refusal. */
const labels: Record<RefusalKind, string> = {
  'server-sessions': 'server_sessions',
  'client-sessions': 'client_sessions',
  'client-rate': 'client_rate',
};

/** What each kind of refusal means, for the log. */
const reasons: Record<RefusalKind, string> = {
  'server-sessions': 'session cap reached',
  'client-sessions': 'too many sessions from one client',
  'client-rate': 'too many new connections from one client',
};

/** The admission options for each of the agent's listeners; throws ConfigError on a cap that cannot fit. */
export function connectionLimits(input: ConnectionLimitInput): AdmissionOptions {
  const { settings, logger, refused } = input;
  const env = connectionLimitEnv(input.prefix);

  // Exempt networks: the configured ones must parse.
  try {
    networkList(settings.exempt);
  } catch (error) {
    throw configError(`${input.path}.exempt`, env.exempt, settings.exempt.join(','), error instanceof Error ? error.message : String(error));
  }

  // The session cap: what fits under the open-file limit, or the configured one if it fits.
  const openFiles = input.openFiles === undefined ? readOpenFileLimit() : input.openFiles;
  const fits = openFiles === null ? Infinity : Math.floor((openFiles.soft - input.reserve) / (input.listeners * input.perSession));
  if (settings.maxSessions > 0 && settings.maxSessions > fits) {
    const room = `${input.listeners} listener(s) × ${settings.maxSessions} sessions × ${input.perSession} descriptor(s) do not fit under the open-file limit ${openFiles?.soft} less ${input.reserve} kept for the agent's own files`;
    throw configError(`${input.path}.maxSessions`, env.maxSessions, String(settings.maxSessions), `${room}; at most ${Math.max(0, fits)} (or raise the limit: ulimit -n, compose ulimits.nofile)`);
  }
  if (fits < 1) {
    throw configError(`${input.path}.maxSessions`, env.maxSessions, String(settings.maxSessions), `the open-file limit ${openFiles?.soft} leaves no room for sessions after the ${input.reserve} descriptors kept for the agent's own files; raise it (ulimit -n, compose ulimits.nofile)`);
  }
  const maxSessions = settings.maxSessions > 0 ? settings.maxSessions : fits;
  logger.info(
    { openFiles: openFiles === null ? null : { soft: finite(openFiles.soft), hard: finite(openFiles.hard) }, maxSessions: finite(maxSessions), listeners: input.listeners, perClient: settings.perClient, perMinute: settings.perMinute },
    openFiles === null ? 'open-file limit unknown; no session cap unless configured' : 'open-file limit read; session cap set below it',
  );

  return {
    ...(Number.isFinite(maxSessions) ? { maxSessions } : {}),
    ...(settings.perClient > 0 ? { perClient: settings.perClient } : {}),
    ...(settings.perMinute > 0 ? { perClientPerMinute: settings.perMinute } : {}),
    exempt: [...settings.exempt, ...(input.alsoExempt ?? [])],
    onRefuse: (refusal: Refusal) => {
      refused.inc({ limit: labels[refusal.kind] });
      // Every refusal is counted; only a client's first in each minute is logged.
      if (refusal.repeat === 1) {
        logger.warn({ ip: refusal.address, client: refusal.client, limit: labels[refusal.kind], max: refusal.limit }, `connection refused: ${reasons[refusal.kind]} (logged once per client per minute)`);
      }
    },
  };
}

/** A ConfigError for one setting whose value the environment may or may not have given. */
function configError(key: string, env: string, value: string, message: string): ConfigError {
  const fromEnv = process.env[env] !== undefined;
  return new ConfigError([{ key, env, source: fromEnv ? 'env' : 'default', message, ...(fromEnv ? { value } : {}) }]);
}

/** JSON has no Infinity: an unlimited value is logged as null. */
function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
