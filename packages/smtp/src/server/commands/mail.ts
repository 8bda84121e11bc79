/**
 * MAIL FROM (RFC 5321 §4.1.1.2): opens a transaction with a reverse-path and its ESMTP
 * parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH, REQUIRETLS).
 */
import { parseMailParams, parseParams, parseReversePath, splitPathAndParams } from '../../address/index.js';
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';
import { TransactionState } from '../state.js';
import type { HookResult } from '../verdict.js';

const senderOk = reply(250, '2.1.0', 'Sender OK');

export function mail(connection: SessionControl, argument: string): void | Promise<void> {
  const { session, config } = connection;

  // Sequence checks.
  if (session.helo === null) return connection.protocolError(reply(503, '5.5.1', `Send ${config.lmtp ? 'LHLO' : 'EHLO/HELO'} first`));
  if (connection.transaction !== null) return connection.protocolError(reply(503, '5.5.1', 'Nested MAIL command'));
  if (config.auth.required && session.user === null) return connection.send(reply(530, '5.7.0', 'Authentication required'));

  // Syntax: FROM:<path> [params].
  if (!/^from:/i.test(argument)) return connection.protocolError(reply(501, '5.5.4', 'Syntax: MAIL FROM:<address> [parameters]'));
  const split = splitPathAndParams(argument.slice(5));
  if (split.params.length > 0 && !session.extended) {
    return connection.protocolError(reply(555, '5.5.4', 'Parameters need EHLO'));
  }
  const { extensions } = connection;
  const params = parseParams(split.params, { utf8: extensions.smtputf8 });
  if (!params.ok) return connection.protocolError(params.reply);
  const mailParams = parseMailParams(params.value, extensions);
  if (!mailParams.ok) return connection.protocolError(mailParams.reply);
  const from = parseReversePath(split.path, { smtputf8: mailParams.value.smtputf8 });
  if (!from.ok) return connection.protocolError(from.reply);

  // Policy: synchronous unless a hook has a say.
  const transaction = new TransactionState(from.value, mailParams.value);
  const { onMailFrom } = config.hooks;
  if (!onMailFrom) return open(connection, transaction, undefined);
  return connection.consult(() => onMailFrom(session, transaction, from.value)).then((verdict) => open(connection, transaction, verdict));
}

/** Answers MAIL and, when accepted, makes the transaction current. */
function open(connection: SessionControl, transaction: TransactionState, verdict: HookResult): void {
  if (!connection.answer(verdict, senderOk)) return;
  connection.openTransaction(transaction);
}
