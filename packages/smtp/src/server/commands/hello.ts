/**
 * EHLO, HELO (RFC 5321 §4.1.1.1) and LHLO (RFC 2033 §4.1). Each resets any transaction,
 * as RSET would, and answers with the extensions in force.
 */
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';

/** A client name: a domain or an address literal. Lenient, as real clients are untidy. */
const namePattern = /^(?:\[[^\]\s]+\]|[^\s[\]]+)$/;

function greet(connection: SessionControl, verb: 'EHLO' | 'HELO' | 'LHLO', argument: string): void | Promise<void> {
  const name = argument.trim();

  // Sanity checks.
  // RFC 5321 §4.5.3.1.2: a domain has at most 255 octets; the name is echoed in the reply.
  if (name.length > 255 || !namePattern.test(name)) {
    connection.protocolError(reply(501, '5.5.4', `Syntax: ${verb} hostname`));
    return;
  }

  // Policy: synchronous unless a hook has a say.
  const { onHelo } = connection.config.hooks;
  if (!onHelo) return welcome(connection, verb, name);
  return connection.consult(() => onHelo(connection.session, name)).then((verdict) => {
    if (verdict && verdict.kind !== 'accept') connection.answer(verdict, reply(250, null, connection.config.hostname));
    else welcome(connection, verb, name);
  });
}

/** Starts the session over with the new name and lists the extensions in force. */
function welcome(connection: SessionControl, verb: 'EHLO' | 'HELO' | 'LHLO', name: string): void {
  const { hostname } = connection.config;

  // A new greeting starts over: no transaction, no half-finished BDAT.
  connection.abandonBody();
  connection.endTransaction();
  connection.greeted({ verb, name });
  if (verb === 'HELO') {
    connection.send(reply(250, null, hostname));
    return;
  }
  const { ehloKeywords } = connection.config;
  const keywords = connection.session.tls ? ehloKeywords.secure : ehloKeywords.plain;
  connection.send(reply(250, null, [`${hostname} Hello ${name}`, ...keywords]));
}

export const ehlo = (c: SessionControl, argument: string): void | Promise<void> => greet(c, 'EHLO', argument);
export const helo = (c: SessionControl, argument: string): void | Promise<void> => greet(c, 'HELO', argument);
export const lhlo = (c: SessionControl, argument: string): void | Promise<void> => greet(c, 'LHLO', argument);
