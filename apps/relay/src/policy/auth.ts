/**
 * AUTH on the relay port (offered only after STARTTLS): a user of the directory may log in and
 * then relay to any domain. Failed logins count against the same per-IP and per-user limits as
 * on the submission ports. Answers 535 5.7.8 for bad credentials, after a pause that slows
 * password guessing; 454 4.7.0 once the IP address or the username has failed too often, and
 * when the directory cannot be reached.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthLimiter, Directory } from '@mailway/directory';
import type { Logger } from '@mailway/runtime';
import { type HookResult, accept, defer, reject } from '@mailway/smtp/server';
import type { Credentials, Session } from '@mailway/smtp/server';
import type { RelayMetrics } from '../metrics.js';

export interface AuthPolicy {
  readonly directory: Directory;
  readonly limiter: AuthLimiter;
  /** Pause before answering a failure, in milliseconds. */
  readonly failureDelay: number;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
}

const invalid = reject(535, '5.7.8', 'Authentication credentials invalid');
const tooMany = defer(454, '4.7.0', 'Too many failed authentication attempts, try again later');
const unavailable = defer(454, '4.7.0', 'Temporary authentication failure');

/** The onAuth hook. */
export function authHook(policy: AuthPolicy): (session: Session, credentials: Credentials) => Promise<HookResult> {
  const { directory, limiter, logger, metrics } = policy;

  return async (session, credentials) => {
    const ip = session.remote.address;
    const username = credentials.username.trim().toLowerCase();
    const log = { session: session.id, ip, user: username, mechanism: credentials.mechanism };
    try {
      // Limits first: a barred client gets no password check at all.
      const barred = await limiter.blocked(ip, username);
      if (barred !== null) {
        metrics.authFailures.inc({ reason: `limited_${barred}` });
        metrics.rejections.inc({ reason: 'auth_limited' });
        logger.warn({ ...log, limit: barred }, 'authentication refused: too many failures');
        return tooMany;
      }

      // Acting as someone else (an authorization identity) is not supported.
      const proxy = credentials.authzid !== null && credentials.authzid !== '' && credentials.authzid.toLowerCase() !== username;
      const user = proxy ? null : await directory.authenticate(username, credentials.password);
      if (user === null) {
        await limiter.recordFailure(ip, username);
        metrics.authFailures.inc({ reason: proxy ? 'authzid' : 'invalid' });
        metrics.rejections.inc({ reason: 'auth_failed' });
        logger.warn(log, 'authentication failed');
        if (policy.failureDelay > 0) await sleep(policy.failureDelay);
        return invalid;
      }
      await limiter.recordSuccess(username);
      logger.info({ ...log, user: user.address }, 'authenticated');
      return accept();
    } catch (error) {
      metrics.authFailures.inc({ reason: 'unavailable' });
      logger.error({ ...log, err: error }, 'authentication unavailable');
      return unavailable;
    }
  };
}
