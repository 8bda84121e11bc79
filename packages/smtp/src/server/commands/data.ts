/**
 * DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030): start the message-data phase. The octets
 * themselves are read by the connection's body phase.
 */
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';

const startInput = reply(354, null, 'End data with <CR><LF>.<CR><LF>');
const bdatSyntax = /^(\d{1,15})(?: +(LAST))? *$/i;

export function data(connection: SessionControl, argument: string): void {
  const { transaction } = connection;

  // Sequence and syntax checks.
  if (argument.length > 0) return connection.protocolError(reply(501, '5.5.4', 'Syntax: DATA (no parameters)'));
  if (transaction === null) return connection.protocolError(reply(503, '5.5.1', 'Need MAIL command'));
  if (connection.bdatInProgress) return connection.protocolError(reply(503, '5.5.1', 'DATA not allowed during BDAT'));
  // RFC 2920 §3.1: with no valid recipient, DATA fails with 503 or 554.
  if (transaction.recipients.length === 0) return connection.send(reply(554, '5.5.1', 'No valid recipients'));
  // RFC 3030 §3: BINARYMIME content can only travel in BDAT chunks.
  if (transaction.mailParams.body === 'BINARYMIME') return connection.protocolError(reply(503, '5.5.1', 'BODY=BINARYMIME requires BDAT'));

  connection.send(startInput);
  connection.beginData(transaction);
}

export function bdat(connection: SessionControl, argument: string): void {
  const { transaction, config } = connection;

  // Syntax: the chunk size must be read even when the command fails, to stay in step.
  const match = bdatSyntax.exec(argument);
  if (!config.features.chunking) return connection.protocolError(reply(500, '5.5.1', 'Command not recognized'));
  if (!match) {
    // Without a valid size the stream cannot be followed any more.
    connection.shutdown(reply(501, '5.5.4', 'Syntax: BDAT chunk-size [LAST]; closing connection'));
    return;
  }
  const length = Number(match[1]);
  const last = match[2] !== undefined;

  // Sequence checks: the chunk is still consumed, then refused.
  if (transaction === null || transaction.recipients.length === 0) {
    const refusal = transaction === null ? reply(503, '5.5.1', 'Need MAIL command') : reply(554, '5.5.1', 'No valid recipients');
    connection.discardChunk(length, refusal);
    return;
  }
  connection.beginChunk(transaction, length, last);
}
