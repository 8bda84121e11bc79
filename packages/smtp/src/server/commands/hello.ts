/**
 * EHLO, HELO (RFC 5321 §4.1.1.1) and LHLO (RFC 2033 §4.1). Each resets any transaction,
 * as RSET would, and answers with the extensions in force.
 */
import { reply } from '../../reply/reply.js';
import type { Connection } from '../connection.js';

/** A client name: a domain or an address literal. Lenient, as real clients are untidy. */
const namePattern = /^(?:\[[^\]\s]+\]|[^\s[\]]+)$/;

async function greet(connection: Connection, verb: 'EHLO' | 'HELO' | 'LHLO', argument: string): Promise<void> {
  const name = argument.trim();

  // Sanity checks.
  if (!namePattern.test(name)) {
    connection.protocolError(reply(501, '5.5.4', `Syntax: ${verb} hostname`));
    return;
  }

  // Policy.
  const { hooks, hostname } = connection.config;
  if (hooks.onHelo) {
    const verdict = await connection.consult(() => hooks.onHelo?.(connection.session, name));
    if (verdict && verdict.kind !== 'accept') {
      connection.answer(verdict, reply(250, null, hostname));
      return;
    }
  }

  // A new greeting starts over: no transaction, no half-finished BDAT.
  connection.abandonBody();
  connection.endTransaction();
  connection.session.helo = { verb, name };
  if (verb === 'HELO') {
    connection.send(reply(250, null, hostname));
    return;
  }
  const { ehloKeywords } = connection.config;
  const keywords = connection.session.tls ? ehloKeywords.secure : ehloKeywords.plain;
  connection.send(reply(250, null, [`${hostname} Hello ${name}`, ...keywords]));
}

export const ehlo = (c: Connection, argument: string): Promise<void> => greet(c, 'EHLO', argument);
export const helo = (c: Connection, argument: string): Promise<void> => greet(c, 'HELO', argument);
export const lhlo = (c: Connection, argument: string): Promise<void> => greet(c, 'LHLO', argument);
