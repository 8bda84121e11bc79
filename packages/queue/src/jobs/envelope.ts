/**
 * The SMTP envelope as accepted: reverse-path, recipients with their DSN parameters (RFC 3461),
 * and the MAIL FROM parameters a later hop must honour (BODY, SMTPUTF8, RET, ENVID, REQUIRETLS).
 * Addresses are stored without the angle brackets.
 */
import { z } from 'zod';

/** RFC 3461 NOTIFY: NEVER, or a non-empty list of conditions; null when the client gave none. */
export const DsnNotify = z.union([z.literal('NEVER'), z.array(z.enum(['SUCCESS', 'FAILURE', 'DELAY'])).min(1)]).nullable();
export type DsnNotify = z.infer<typeof DsnNotify>;

/** One forward-path as the client addressed it, with its DSN parameters. */
export const EnvelopeRecipient = z.object({
  /** Forward-path without <>, e.g. "bob@example.org". */
  address: z.string().min(1),
  /** RFC 3461 NOTIFY, null when not given. */
  notify: DsnNotify,
  /** RFC 3461 ORCPT (address type and original address), null when not given. */
  orcpt: z.object({ type: z.string(), address: z.string() }).nullable(),
});
export type EnvelopeRecipient = z.infer<typeof EnvelopeRecipient>;

/** The envelope of one accepted message. */
export const Envelope = z.object({
  /** Reverse-path without <>; '' is the null sender (bounces), which is never bounced to. */
  from: z.string(),
  recipients: z.array(EnvelopeRecipient).min(1),
  /** MAIL FROM BODY=, null when not given. */
  body: z.enum(['7BIT', '8BITMIME', 'BINARYMIME']).nullable(),
  smtputf8: z.boolean(),
  /** RFC 3461 RET: what a DSN returns of the message. */
  ret: z.enum(['FULL', 'HDRS']).nullable(),
  /** RFC 3461 ENVID, as received (xtext decoded). */
  envid: z.string().nullable(),
  /** RFC 8689 REQUIRETLS: every later hop must use TLS. */
  requireTls: z.boolean(),
});
export type Envelope = z.infer<typeof Envelope>;
