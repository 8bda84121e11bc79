/**
 * AUTH (RFC 4954): runs a SASL exchange and asks the onAuth hook to check the result. With no
 * onAuth hook nothing vouches for the client, so every attempt fails (fail closed).
 */
import { reply } from '../../reply/reply.js';
import type { SessionControl } from '../session-control.js';
import type { SaslExchange } from '../sasl/mechanism.js';

const authOk = reply(235, '2.7.0', 'Authentication successful');
const authFailed = reply(535, '5.7.8', 'Authentication credentials invalid');
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a base64 SASL response; `=` is the empty response (RFC 4954 §4). */
function decodeResponse(text: string): Buffer | null {
  if (text === '=') return Buffer.alloc(0);
  return base64Pattern.test(text) ? Buffer.from(text, 'base64') : null;
}

export async function auth(connection: SessionControl, argument: string): Promise<void> {
  const { session, config } = connection;

  // Sequence checks.
  if (!config.auth.enabled) return connection.protocolError(reply(502, '5.5.1', 'Command not implemented'));
  if (!session.extended) return connection.protocolError(reply(503, '5.5.1', `Send ${config.lmtp ? 'LHLO' : 'EHLO'} first`));
  if (session.user !== null) return connection.protocolError(reply(503, '5.5.1', 'Already authenticated'));
  if (connection.transaction !== null) return connection.protocolError(reply(503, '5.5.1', 'AUTH not allowed during a mail transaction'));

  // Syntax: mechanism [initial-response].
  const [name = '', initial, ...extra] = argument.split(' ');
  if (name.length === 0 || extra.length > 0) return connection.protocolError(reply(501, '5.5.4', 'Syntax: AUTH mechanism [initial-response]'));
  const mechanism = config.auth.mechanisms.get(name.toUpperCase());
  if (!mechanism) return connection.protocolError(reply(504, '5.5.4', 'Unrecognized authentication type'));
  if (mechanism.plaintext && session.tls === null && !config.auth.allowInsecure) {
    return connection.send(reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'));
  }
  let response: Buffer | null = null;
  if (initial !== undefined) {
    response = decodeResponse(initial);
    if (response === null) return connection.protocolError(reply(501, '5.5.2', 'Invalid base64 in initial response'));
  }

  await advance(connection, mechanism.name, mechanism.start(), response);
}

/** A line answering a 334 challenge. */
export async function saslResponse(connection: SessionControl, text: string): Promise<void> {
  const current = connection.takeSasl();
  if (current === null) return;
  // RFC 4954 §4: a lone "*" cancels the exchange.
  if (text === '*') return connection.send(reply(501, '5.7.0', 'Authentication canceled'));
  const response = decodeResponse(text);
  if (response === null) return connection.protocolError(reply(501, '5.5.2', 'Invalid base64 in response'));
  await advance(connection, current.mechanism, current.exchange, response);
}

/** Feeds one response to the exchange: challenge again, report a malformed response, or check credentials. */
async function advance(connection: SessionControl, mechanism: string, exchange: SaslExchange, response: Buffer | null): Promise<void> {
  const step = exchange.step(response);
  if (step.kind === 'malformed') return connection.protocolError(reply(501, '5.5.2', `Malformed ${mechanism} response`));
  if (step.kind === 'challenge') {
    connection.send(reply(334, null, step.challenge.toString('base64')));
    connection.beginSasl(exchange, mechanism);
    return;
  }

  // Credentials complete: only the hook can vouch for them.
  const { onAuth } = connection.config.hooks;
  if (!onAuth) return connection.send(authFailed);
  const verdict = await connection.consult(() => onAuth(connection.session, step.credentials));
  if (connection.answer(verdict, authOk)) connection.authenticated(step.credentials.username);
}
