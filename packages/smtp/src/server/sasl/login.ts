/**
 * SASL LOGIN (draft-murchison-sasl-login): asks for the user name, then the password. Not
 * standardised but used by many clients, so offered beside PLAIN.
 */
import type { SaslMechanism, SaslStep } from './mechanism.js';

const usernamePrompt = Buffer.from('Username:');
const passwordPrompt = Buffer.from('Password:');

export const loginMechanism: SaslMechanism = {
  name: 'LOGIN',
  plaintext: true,
  start() {
    let username: string | null = null;
    return {
      step(response): SaslStep {
        // An initial response carries the user name (RFC 4954 allows it for any mechanism).
        if (username === null) {
          if (response === null) return { kind: 'challenge', challenge: usernamePrompt };
          username = response.toString('utf8');
          if (username.length === 0) return { kind: 'malformed', reason: 'empty user name' };
          return { kind: 'challenge', challenge: passwordPrompt };
        }
        if (response === null) return { kind: 'challenge', challenge: passwordPrompt };
        return { kind: 'done', credentials: { mechanism: 'LOGIN', username, password: response.toString('utf8'), authzid: null } };
      },
    };
  },
};
