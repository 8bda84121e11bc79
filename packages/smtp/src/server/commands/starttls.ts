/**
 * STARTTLS (RFC 3207): answers 220, then the connection switches to TLS and the session
 * starts over (no HELO, no transaction, nothing buffered from before the switch).
 */
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';

export function starttls(connection: SessionControl, argument: string): void {
  // Sequence and syntax checks.
  if (connection.config.secureContext === null) return connection.protocolError(reply(502, '5.5.1', 'Command not implemented'));
  if (connection.session.tls !== null) return connection.protocolError(reply(503, '5.5.1', 'TLS already active'));
  if (argument.length > 0) return connection.protocolError(reply(501, '5.5.4', 'Syntax: STARTTLS (no parameters)'));
  if (connection.transaction !== null) return connection.protocolError(reply(503, '5.5.1', 'STARTTLS not allowed during a mail transaction'));

  connection.send(reply(220, '2.0.0', 'Ready to start TLS'));
  connection.upgradeToTls();
}
