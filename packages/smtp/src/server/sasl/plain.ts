/**
 * SASL PLAIN (RFC 4616): one message, `authzid NUL authcid NUL passwd`, UTF-8.
 */
import type { SaslMechanism, SaslStep } from './mechanism.js';

/** Splits a PLAIN message into its three fields. */
function parsePlain(message: Buffer): SaslStep {
  const first = message.indexOf(0);
  const second = first === -1 ? -1 : message.indexOf(0, first + 1);
  if (first === -1 || second === -1 || message.indexOf(0, second + 1) !== -1) {
    return { kind: 'malformed', reason: 'PLAIN message must have exactly three fields' };
  }
  const authzid = message.subarray(0, first).toString('utf8');
  const username = message.subarray(first + 1, second).toString('utf8');
  const password = message.subarray(second + 1).toString('utf8');
  if (username.length === 0) return { kind: 'malformed', reason: 'empty authentication identity' };
  return { kind: 'done', credentials: { mechanism: 'PLAIN', username, password, authzid: authzid || null } };
}

export const plainMechanism: SaslMechanism = {
  name: 'PLAIN',
  plaintext: true,
  start() {
    return {
      step(response) {
        // No initial response: an empty challenge asks for the message.
        return response === null ? { kind: 'challenge', challenge: Buffer.alloc(0) } : parsePlain(response);
      },
    };
  },
};
