/**
 * AUTH on the relay port (offered only after STARTTLS): a user of the directory may log in and
 * then relay to any domain. Answers 535 5.7.8 for bad credentials, after a pause that slows
 * password guessing, and 454 4.7.0 when the directory cannot be reached.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Directory } from '@mailway/directory';
import type { Logger } from '@mailway/runtime';
import { type HookResult, accept, defer, reject } from '@mailway/smtp/server';
import type { Credentials, Session } from '@mailway/smtp/server';
import type { RelayMetrics } from '../metrics.js';

export interface AuthPolicy {
  readonly directory: Directory;
  /** Pause before answering a failure, in milliseconds. */
  readonly failureDelay: number;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
}

const invalid = reject(535, '5.7.8', 'Authentication credentials invalid');
const unavailable = defer(454, '4.7.0', 'Temporary authentication failure');

/** The onAuth hook. */
export function authHook(policy: AuthPolicy): (session: Session, credentials: Credentials) => Promise<HookResult> {
  const { directory, logger, metrics } = policy;

  return async (session, credentials) => {
    const username = credentials.username.trim().toLowerCase();
    const log = { session: session.id, ip: session.remote.address, user: username, mechanism: credentials.mechanism };
    try {
      // Acting as someone else (an authorization identity) is not supported.
      const proxy = credentials.authzid !== null && credentials.authzid !== '' && credentials.authzid.toLowerCase() !== username;
      const user = proxy ? null : await directory.authenticate(username, credentials.password);
      if (user === null) {
        metrics.rejections.inc({ reason: 'auth_failed' });
        logger.warn(log, 'authentication failed');
        if (policy.failureDelay > 0) await sleep(policy.failureDelay);
        return invalid;
      }
      logger.info({ ...log, user: user.address }, 'authenticated');
      return accept();
    } catch (error) {
      logger.error({ ...log, err: error }, 'authentication unavailable');
      return unavailable;
    }
  };
}
