/**
 * Runs an application's command extension (extensions.ts): sequence checks, the handler, then
 * its verdict or the handover of the connection.
 */
import { reply } from '../../reply/reply.js';
import type { CommandExtension } from '../extensions.js';
import type { SessionControl } from '../session-control.js';

const ok = reply(250, '2.0.0', 'OK');

export async function extensionCommand(connection: SessionControl, extension: CommandExtension, argument: string): Promise<void> {
  // Sequence checks.
  if (connection.transaction !== null) return connection.protocolError(reply(503, '5.5.1', `${extension.verb} not allowed during a mail transaction`));

  const result = await connection.consult(() => extension.handle(connection.session, argument));
  if (result && result.kind === 'handover') return connection.handOver(result.reply, result.take);
  connection.answer(result, ok);
}
