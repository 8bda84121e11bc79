/**
 * The small commands: RSET, NOOP, QUIT, HELP (RFC 5321 §4.1.1.5–10), VRFY (§3.5.3) and
 * ETRN (RFC 1985).
 */
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';

const ok = reply(250, '2.0.0', 'OK');
const cannotVerify = reply(252, '2.5.2', 'Cannot VRFY user, but will accept message and attempt delivery');
const helpText = reply(214, '2.0.0', ['Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH ETRN', 'See RFC 5321']);

export function rset(connection: SessionControl, argument: string): void {
  if (argument.length > 0) return connection.protocolError(reply(501, '5.5.4', 'Syntax: RSET (no parameters)'));
  connection.abandonBody();
  connection.endTransaction();
  connection.send(ok);
}

export function noop(connection: SessionControl): void {
  connection.send(ok);
}

export function quit(connection: SessionControl, argument: string): void {
  if (argument.length > 0) return connection.protocolError(reply(501, '5.5.4', 'Syntax: QUIT (no parameters)'));
  connection.shutdown(reply(221, '2.0.0', `${connection.config.hostname} closing connection`));
}

export function help(connection: SessionControl): void {
  connection.send(helpText);
}

export async function vrfy(connection: SessionControl, argument: string): Promise<void> {
  const subject = argument.trim();
  if (subject.length === 0) return connection.protocolError(reply(501, '5.5.4', 'Syntax: VRFY user'));
  const { onVrfy } = connection.config.hooks;
  if (!onVrfy) return connection.send(cannotVerify);
  const verdict = await connection.consult(() => onVrfy(connection.session, subject));
  connection.answer(verdict, cannotVerify);
}

export async function etrn(connection: SessionControl, argument: string): Promise<void> {
  const node = argument.trim();
  const { onEtrn } = connection.config.hooks;
  if (!onEtrn) return connection.protocolError(reply(502, '5.5.1', 'Command not implemented'));
  if (connection.session.helo === null) return connection.protocolError(reply(503, '5.5.1', 'Send EHLO/HELO first'));
  if (connection.transaction !== null) return connection.protocolError(reply(503, '5.5.1', 'ETRN not allowed during a mail transaction'));
  // RFC 1985 §5: a domain, @domain (subdomains too) or #queue-name.
  if (node.length > 255 || !/^[@#]?[A-Za-z0-9][A-Za-z0-9.\-_]*$/.test(node)) return connection.protocolError(reply(501, '5.5.4', 'Syntax: ETRN node'));
  const verdict = await connection.consult(() => onEtrn(connection.session, node));
  connection.answer(verdict, reply(250, '2.0.0', `Queuing for node ${node} started`));
}
