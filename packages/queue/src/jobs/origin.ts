/**
 * Where a message came from: the accepting agent, the SMTP client, the authenticated user and
 * the TLS session. Used for Received fields, logs and policy in later agents.
 */
import { z } from 'zod';

/** The agent and session that accepted a message. */
export const Origin = z.object({
  agent: z.enum(['submission', 'relay', 'delivery']),
  /** The SMTP client; null for mail Mailway generated itself (bounces, delay notices). */
  client: z.object({ address: z.string(), port: z.number().int(), helo: z.string().nullable() }).nullable(),
  /** The authenticated identity, null without AUTH. */
  user: z.string().nullable(),
  tls: z.object({ protocol: z.string().nullable(), cipher: z.string() }).nullable(),
  receivedAt: z.iso.datetime(),
  /**
   * The sending domain's DMARC policy asked for quarantine (RFC 7489 §6.3): the delivery agent
   * stores the message in the recipient's Junk folder. Absent otherwise.
   */
  quarantine: z.literal(true).optional(),
});
export type Origin = z.infer<typeof Origin>;
