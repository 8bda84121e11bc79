/**
 * The SMTP AUTH hook every Mailway agent that offers AUTH uses (submission on 587/465, the relay
 * on 25): the login is checked against the directory under the shared failure limits (see
 * login-limits.ts). Answers 535 5.7.8 for bad credentials, after a pause that slows password
 * guessing; 454 4.7.0 (RFC 4954: temporary failure) to a client a limit bars, without checking
 * its password, and when the directory cannot be reached. Each outcome is logged and counted;
 * a failure that brings a limit into force logs one more line and counts that bar by its kind.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type HookResult, accept, defer, reject } from '@mailway/smtp/server';
import type { Credentials, Session } from '@mailway/smtp/server';
import type { Directory, User } from '@mailway/directory';
import { clientHost } from '@mailway/smtp/address';
import { type AuthLimiter, type LimitKind, checkLogin } from './login-limits.js';

/** The log methods the hook writes with (a pino logger fits). */
export interface AuthLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A labelled counter (a prom-client Counter fits). */
export interface AuthCounter {
  inc(labels: { reason: string }): void;
}

/** A counter by limit kind (a prom-client Counter with a `limit` label fits). */
export interface LimitCounter {
  inc(labels: { limit: LimitKind }): void;
}

export interface AuthHookPolicy {
  readonly directory: Directory;
  readonly limiter: AuthLimiter;
  /** Pause before answering a failure, in milliseconds. */
  readonly failureDelay: number;
  readonly logger: AuthLog;
  /** Failed attempts by reason: invalid, authzid, limited_ip, limited_user_ip, limited_user, unavailable. */
  readonly failures: AuthCounter;
  /** Limits brought into force, by kind: ip, user_ip, user. */
  readonly bars: LimitCounter;
  /** Refusals by reason: auth_failed, auth_limited. */
  readonly rejections: AuthCounter;
  /** Called once a login succeeded, before the reply. */
  readonly onLogin?: (session: Session, user: User) => void;
}

const invalid = reject(535, '5.7.8', 'Authentication credentials invalid');
const tooMany = defer(454, '4.7.0', 'Too many failed authentication attempts, try again later');
const unavailable = defer(454, '4.7.0', 'Temporary authentication failure');

/** What each bar keeps out, for its log line. */
const barred = {
  ip: 'every login from this client refused for the window',
  user_ip: 'logins as this user from this client refused for the window',
  user: 'logins as this user refused for the window from clients it has not logged in from recently',
} as const satisfies Record<LimitKind, string>;

/** The onAuth hook for an SMTP server. */
export function smtpAuthHook(policy: AuthHookPolicy): (session: Session, credentials: Credentials) => Promise<HookResult> {
  const { directory, limiter, logger, failures, rejections, bars } = policy;

  return async (session, credentials) => {
    const ip = session.remote.address;
    const username = credentials.username.trim().toLowerCase();
    const log = { session: session.id, ip, user: username, mechanism: credentials.mechanism };
    try {
      const outcome = await checkLogin(directory, limiter, { ip, username, password: credentials.password, authzid: credentials.authzid });
      switch (outcome.kind) {
        case 'limited':
          failures.inc({ reason: `limited_${outcome.limit}` });
          rejections.inc({ reason: 'auth_limited' });
          logger.warn({ ...log, limit: outcome.limit, client: clientHost(ip) }, 'authentication refused: too many failures');
          return tooMany;
        case 'refused':
          failures.inc({ reason: outcome.reason });
          rejections.inc({ reason: 'auth_failed' });
          logger.warn(log, 'authentication failed');
          for (const limit of outcome.reached) {
            bars.inc({ limit });
            logger.warn({ ...log, limit, client: clientHost(ip), effect: barred[limit] }, 'authentication limit reached');
          }
          if (policy.failureDelay > 0) await sleep(policy.failureDelay);
          return invalid;
        case 'accepted':
          policy.onLogin?.(session, outcome.user);
          logger.info({ ...log, user: outcome.user.address }, 'authenticated');
          return accept();
      }
    } catch (error) {
      failures.inc({ reason: 'unavailable' });
      logger.error({ ...log, err: error }, 'authentication unavailable');
      return unavailable;
    }
  };
}
