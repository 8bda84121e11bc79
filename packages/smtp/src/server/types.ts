/**
 * The session and transaction as the application sees them (RFC 5321 §3.3 keeps the two
 * apart: RSET and a new MAIL replace the transaction and never touch the session).
 */
import type { Address, MailParams, RcptParams } from '../address/index.js';

export interface TlsInfo {
  readonly protocol: string | null;
  readonly cipher: string;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** One connection: who is talking, over what, as whom. */
export interface Session {
  readonly id: string;
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly lmtp: boolean;
  /** Set once TLS is up (implicit TLS or after STARTTLS). */
  readonly tls: TlsInfo | null;
  /** The HELO/EHLO/LHLO the client gave; null until then, and again after STARTTLS. */
  readonly helo: { readonly verb: 'HELO' | 'EHLO' | 'LHLO'; readonly name: string } | null;
  /** The authenticated identity, once AUTH succeeded. */
  readonly user: string | null;
  /** Transactions completed on this connection. */
  readonly transactions: number;
  /** Free space for the application (its own ids, policy state). */
  readonly locals: Record<string, unknown>;
}

/** A recipient the server accepted (the raw text is kept for logs and ORCPT defaults). */
export interface Recipient {
  readonly address: Address;
  readonly params: RcptParams;
}

/** One mail transaction, from MAIL to the end of the data (or RSET). */
export interface Transaction {
  /** The reverse-path; null for the null sender `<>`. */
  readonly from: Address | null;
  readonly mailParams: MailParams;
  readonly recipients: readonly Recipient[];
  /** Free space for the application (queue id, spool handle). */
  readonly locals: Record<string, unknown>;
}

/** A SASL exchange's outcome, handed to the onAuth hook. */
export interface Credentials {
  readonly mechanism: string;
  /** Authentication identity (authcid). */
  readonly username: string;
  readonly password: string;
  /** Authorization identity, when the client asked to act as someone else. */
  readonly authzid: string | null;
}
