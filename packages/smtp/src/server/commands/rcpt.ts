/**
 * RCPT TO (RFC 5321 §4.1.1.3): adds a recipient to the open transaction, with the DSN
 * parameters NOTIFY and ORCPT (RFC 3461).
 */
import { parseForwardPath, parseParams, parseRcptParams, splitPathAndParams } from '../../address/index.js';
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';
import type { Recipient } from '../types.js';
import type { TransactionState } from '../state.js';
import type { HookResult } from '../verdict.js';

const recipientOk = reply(250, '2.1.5', 'Recipient OK');
const tooManyRecipients = reply(452, '4.5.3', 'Too many recipients');

export function rcpt(connection: SessionControl, argument: string): void | Promise<void> {
  const { session, config, transaction } = connection;

  // Sequence checks.
  if (transaction === null) return connection.protocolError(reply(503, '5.5.1', 'Need MAIL command'));
  if (connection.bdatInProgress) return connection.protocolError(reply(503, '5.5.1', 'RCPT not allowed during BDAT'));

  // Syntax: TO:<path> [params].
  if (!/^to:/i.test(argument)) return connection.protocolError(reply(501, '5.5.4', 'Syntax: RCPT TO:<address> [parameters]'));
  const split = splitPathAndParams(argument.slice(3));
  if (split.params.length > 0 && !session.extended) {
    return connection.protocolError(reply(555, '5.5.4', 'Parameters need EHLO'));
  }
  const { extensions } = connection;
  const params = parseParams(split.params, { utf8: extensions.smtputf8 });
  if (!params.ok) return connection.protocolError(params.reply);
  const rcptParams = parseRcptParams(params.value, extensions);
  if (!rcptParams.ok) return connection.protocolError(rcptParams.reply);
  const to = parseForwardPath(split.path, { smtputf8: transaction.mailParams.smtputf8 });
  if (!to.ok) return connection.protocolError(to.reply);
  if (to.value === null) return connection.protocolError(reply(501, '5.1.3', 'Null recipient not allowed'));

  // Limits (RFC 5321 §4.5.3.1.10: 452, and the client sends the rest later).
  if (transaction.recipients.length >= config.limits.recipients) return connection.send(tooManyRecipients);

  // Policy: synchronous unless a hook has a say.
  const recipient: Recipient = { address: to.value, params: rcptParams.value };
  const { onRcptTo } = config.hooks;
  if (!onRcptTo) return add(connection, transaction, recipient, undefined);
  return connection.consult(() => onRcptTo(session, transaction, recipient)).then((verdict) => add(connection, transaction, recipient, verdict));
}

/** Answers RCPT and, when accepted, adds the recipient to the transaction. */
function add(connection: SessionControl, transaction: TransactionState, recipient: Recipient, verdict: HookResult): void {
  if (connection.transaction !== transaction) return;
  if (connection.answer(verdict, recipientOk)) transaction.addRecipient(recipient);
}
