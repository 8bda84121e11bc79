/**
 * @module @mailway/smtp/client
 *
 * SMTP and LMTP client: connect (TCP or implicit TLS), EHLO with HELO fallback, STARTTLS,
 * AUTH, pipelined MAIL/RCPT, DATA with dot-stuffing or BDAT chunks, per-recipient results,
 * RFC 5321 timeouts, several transactions per connection.
 */
export { connect, SmtpClient } from './client.js';
export { SmtpClientError, type ClientPhase, type ClientErrorKind } from './errors.js';
export {
  SmtpSendError,
  type SendOptions,
  type SendResult,
  type Recipient,
  type RecipientResult,
  type RecipientStatus,
  type MessageBody,
  type DsnNotify,
} from './transaction.js';
export {
  defaultTimeouts,
  type ClientOptions,
  type ClientTimeouts,
  type ClientTlsOptions,
  type ClientAuth,
  type StartTlsPolicy,
} from './options.js';
export type { TlsInfo } from './connection.js';
export { type Extensions, parseExtensions } from './extensions.js';
export { type SaslMechanism, type SaslCredentials, plain, login } from './sasl.js';
