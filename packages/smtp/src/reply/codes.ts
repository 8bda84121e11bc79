/**
 * Reply codes (RFC 5321 §4.2, with the 253, 458 and 459 of ETRN, RFC 1985, and the 453 of ATRN, RFC 2645) and enhanced status codes (RFC 3463), as typed data.
 *
 * A server reply can only be built from a code listed here, so no path in the server can
 * emit a reply code that does not exist.
 */

/** Every basic reply code a Mailway server may send. */
export const replyCodes = [
  211, 214, 220, 221, 235, 250, 251, 252, 253, 334, 354,
  421, 432, 450, 451, 452, 453, 454, 455, 458, 459,
  500, 501, 502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
] as const;
export type ReplyCode = (typeof replyCodes)[number];

/** An RFC 3463 enhanced status code: class.subject.detail, class 2, 4 or 5. */
export type EnhancedCode = `${2 | 4 | 5}.${number}.${number}`;

const enhancedPattern = /^[245]\.\d{1,3}\.\d{1,3}$/;

/** True when `text` is a syntactically valid enhanced status code. */
export function isEnhancedCode(text: string): text is EnhancedCode {
  return enhancedPattern.test(text);
}

/** The class digit of a reply: 2 success, 3 intermediate, 4 transient, 5 permanent. */
export type ReplyClass = 2 | 3 | 4 | 5;

export function replyClass(code: number): ReplyClass {
  const digit = Math.floor(code / 100);
  if (digit === 2 || digit === 3 || digit === 4 || digit === 5) return digit;
  // Anything outside 2xx–5xx is a protocol violation by the peer; treat it as transient.
  return 4;
}

/** Enhanced codes with a fixed meaning (RFC 3463 §3), named for readability at call sites. */
export const Enhanced = {
  ok: '2.0.0',
  senderOk: '2.1.0',
  recipientOk: '2.1.5',
  messageAccepted: '2.6.0',
  authOk: '2.7.0',
  otherTransient: '4.0.0',
  mailboxBusy: '4.2.0',
  systemTransient: '4.3.0',
  tooManyRecipientsTransient: '4.5.3',
  connectionTimeout: '4.4.2',
  tlsTemporarilyUnavailable: '4.7.0',
  badDestinationMailbox: '5.1.1',
  badDestinationSystem: '5.1.2',
  badDestinationSyntax: '5.1.3',
  badSenderSyntax: '5.1.7',
  messageTooBig: '5.3.4',
  routingLoop: '5.4.6',
  invalidCommand: '5.5.1',
  syntaxError: '5.5.2',
  tooManyRecipients: '5.5.3',
  invalidArguments: '5.5.4',
  wrongProtocolVersion: '5.5.5',
  contentError: '5.6.0',
  otherPermanent: '5.0.0',
  securityPolicy: '5.7.0',
  deliveryNotAuthorized: '5.7.1',
  authRequired: '5.7.0',
  authCredentialsInvalid: '5.7.8',
  authMechanismWeak: '5.7.9',
  encryptionRequiredForAuth: '5.7.11',
  smtputf8Required: '5.6.7',
} as const satisfies Record<string, EnhancedCode>;
