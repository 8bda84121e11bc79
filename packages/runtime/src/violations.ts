/**
 * The agents' account of SMTP protocol violations that ended a session (a bare LF or CR in a
 * command, an HTTP request on a mail port, input before the greeting): a warning line naming
 * the client and a count by kind in `mailway_protocol_violations_total`. The protocol
 * package has already answered and closed; this only tells the operator.
 *
 * Reads: the session and violation the server's onViolation hook passes (typed here by shape,
 * so the runtime does not depend on the protocol package).
 */
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

interface ViolatingSession {
  readonly id: string;
  readonly remote: { readonly address: string };
}

interface Violation {
  readonly kind: string;
  readonly command: string | null;
}

/** An onViolation hook that logs and counts. */
export function violationReporter(logger: Logger, metrics: Metrics): (session: ViolatingSession, violation: Violation) => void {
  const count = metrics.counter('protocol_violations_total', 'Sessions closed for a protocol violation, by kind', ['kind']);
  return (session, violation) => {
    count.inc({ kind: violation.kind });
    logger.warn({ session: session.id, ip: session.remote.address, violation: violation.kind, command: violation.command }, 'protocol violation; connection closed');
  };
}
