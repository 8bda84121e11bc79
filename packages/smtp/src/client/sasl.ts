/**
 * SASL mechanisms for the client's AUTH command (RFC 4954): PLAIN (RFC 4616) and LOGIN.
 *
 * Reads: credentials, then each server challenge (already base64-decoded).
 * Emits: the initial response and each response, as raw bytes; the session base64-encodes
 * them. A new mechanism is one object implementing `SaslMechanism`.
 */

/** One authentication exchange. A fresh instance per attempt. */
export interface SaslMechanism {
  /** The IANA mechanism name, upper case, as the server lists it after AUTH. */
  readonly name: string;
  /** The response sent with the AUTH command itself, or null to wait for the first challenge. */
  initialResponse(): Buffer | null;
  /** The response to a 334 challenge; throw to abort the exchange (the client sends `*`). */
  respond(challenge: Buffer): Buffer;
}

export interface SaslCredentials {
  readonly user: string;
  readonly pass: string;
}

/** A factory per mechanism name, in the client's default order of preference. */
export const saslMechanisms = {
  PLAIN: (c: SaslCredentials): SaslMechanism => plain(c),
  LOGIN: (c: SaslCredentials): SaslMechanism => login(c),
} as const satisfies Record<string, (c: SaslCredentials) => SaslMechanism>;

export type SaslMechanismName = keyof typeof saslMechanisms;

/** PLAIN: `authzid NUL authcid NUL passwd` in one initial response. */
export function plain(credentials: SaslCredentials): SaslMechanism {
  return {
    name: 'PLAIN',
    initialResponse: () => Buffer.from(`\0${credentials.user}\0${credentials.pass}`, 'utf8'),
    respond: () => {
      throw new Error('PLAIN expects no challenge');
    },
  };
}

/** LOGIN: user name, then password, each in answer to a challenge. */
export function login(credentials: SaslCredentials): SaslMechanism {
  let step = 0;
  return {
    name: 'LOGIN',
    initialResponse: () => null,
    respond: () => {
      step += 1;
      if (step === 1) return Buffer.from(credentials.user, 'utf8');
      if (step === 2) return Buffer.from(credentials.pass, 'utf8');
      throw new Error('LOGIN expects two challenges');
    },
  };
}
