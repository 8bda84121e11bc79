/**
 * The SASL mechanism interface (RFC 4954 carries SASL, RFC 4422, over SMTP). A mechanism turns
 * client responses into server challenges until it yields credentials or fails.
 */
import type { Credentials } from '../types.js';

export type SaslStep =
  /** Send `334 <base64 challenge>` and wait for the next response. */
  | { readonly kind: 'challenge'; readonly challenge: Buffer }
  /** The exchange is complete; the onAuth hook checks the credentials. */
  | { readonly kind: 'done'; readonly credentials: Credentials }
  /** The client's response was malformed (answered 501 5.5.2). */
  | { readonly kind: 'malformed'; readonly reason: string };

export interface SaslExchange {
  /** Feeds the next decoded response; null means "no initial response was given". */
  step(response: Buffer | null): SaslStep;
}

export interface SaslMechanism {
  /** Upper-case name as advertised: PLAIN, LOGIN, … */
  readonly name: string;
  /** Whether it sends secrets in the clear (only offered over TLS unless allowed). */
  readonly plaintext: boolean;
  start(): SaslExchange;
}
