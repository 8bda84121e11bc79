/**
 * The submission agent's part of end of data (the intake, `@mailway/intake`, does the rest:
 * header block, loop check, hand-off, reply): the user must be logged in; every From mailbox
 * must be one the user may send as; Authentication-Results fields that claim this site's checks
 * are dropped (RFC 8601 §5: a mail client is outside the trust boundary, logged in or not);
 * then the RFC 6409 fix-ups and the Received field go in front, and the message is signed with
 * DKIM when its From domain has a key.
 */
import type { Directory } from '@mailway/directory';
import { type HandoffTargets, type InflowGate, type Incoming, type Prepared, headerThenRest, queueIntake, readWhole } from '@mailway/intake';
import type { Logger } from '@mailway/runtime';
import { prependFields, removeAuthResults } from '@mailway/smtp/message';
import { type HookResult, reject } from '@mailway/smtp/server';
import type { MessageBody, Session, Transaction } from '@mailway/smtp/server';
import { mailboxesOf } from './message/address-list.js';
import type { DkimSigner } from './message/dkim.js';
import { fixupFields } from './message/fixups.js';
import type { RejectionReason, SubmissionMetrics } from './metrics.js';
import { mailbox, mayUseCached } from './policy/envelope.js';
import type { RateLimiter } from './policy/rate.js';
import { sessionUser } from './session-state.js';

export interface DataPolicy {
  readonly hostname: string;
  /** Most Received fields a message may carry, this hop's own included (MAILWAY_HOPCOUNT_LIMIT). */
  readonly hopCountLimit: number;
  /** This site's authserv-ids: the host name and MAILWAY_AUTHSERV_IDS. */
  readonly authservIds: readonly string[];
  readonly directory: Directory;
  readonly targets: HandoffTargets;
  /** Waits while delivery is behind (MAILWAY_IN_FLOW_DELAY); none: never. */
  readonly inflow?: InflowGate;
  readonly dkim: DkimSigner | null;
  readonly rate: RateLimiter;
  readonly logger: Logger;
  readonly metrics: SubmissionMetrics;
}

const badFrom = reject(550, '5.6.0', 'Message must have exactly one From header field with valid addresses');

/** The onData hook. */
export function dataHook(policy: DataPolicy): (session: Session, transaction: Transaction, body: MessageBody) => Promise<HookResult> {
  const { logger } = policy;
  const intake = queueIntake(
    { agent: 'submission', hopCountLimit: policy.hopCountLimit, targets: policy.targets, ...(policy.inflow === undefined ? {} : { inflow: policy.inflow }), logger, metrics: policy.metrics },
    {
      addresses: (_session, transaction) => ({ from: transaction.from === null ? '' : mailbox(transaction.from), recipients: transaction.recipients.map((r) => mailbox(r.address)) }),
      logFields: (session) => ({ user: sessionUser(session) }),
      prepare,
    },
  );

  return async (session, transaction, body) => {
    if (sessionUser(session) === null) return reject(530, '5.7.0', 'Authentication required');
    return intake(session, transaction, body);
  };

  async function prepare(message: Incoming): Promise<Prepared> {
    const { session, log } = message;
    const user = sessionUser(session) as string;
    const fields = message.fields();
    const fromFields = fields.filter((f) => f.name.toLowerCase() === 'from');

    // Who the message says it is from: every From mailbox must belong to the user.
    let fromDomain = message.from === '' ? null : message.from.slice(message.from.lastIndexOf('@') + 1);
    if (fromFields.length > 1) return refused('message_invalid', badFrom);
    if (fromFields[0] !== undefined) {
      const mailboxes = mailboxesOf(fromFields[0].value);
      if (mailboxes === null || mailboxes.length === 0) return refused('message_invalid', badFrom);
      for (const address of mailboxes) {
        if (!(await mayUseCached(policy.directory, session, user, address))) {
          logger.warn({ ...log, header: address }, 'message refused: From address not owned by user');
          return refused('from_not_owned', reject(553, '5.7.1', `From address rejected: not owned by user ${user}`));
        }
      }
      const first = mailboxes[0] as string;
      fromDomain = first.slice(first.lastIndexOf('@') + 1);
    } else if (message.from === '') {
      return refused('message_invalid', badFrom);
    }

    // RFC 6409 fix-ups and the trace field.
    const has = (name: string): boolean => fields.some((f) => f.name.toLowerCase() === name);
    const fixups = fixupFields({
      session,
      hostname: policy.hostname,
      queueId: message.queueId,
      recipients: message.recipients,
      utf8: message.transaction.mailParams.smtputf8,
      date: message.date,
      has: { date: has('date'), messageId: has('message-id'), from: fromFields.length > 0 },
      reversePath: message.from === '' ? null : message.from,
    });
    const stripped = removeAuthResults(message.header, policy.authservIds);
    if (stripped.removed > 0) logger.warn({ ...log, fields: stripped.removed }, 'removed Authentication-Results fields claiming this site from a submitted message');
    let content: Buffer | AsyncIterable<Uint8Array> = prependFields(fixups.fields, headerThenRest(stripped.header, message.rest));
    if (policy.dkim !== null && fromDomain !== null && policy.dkim.signs(fromDomain)) {
      const whole = await readWhole(content);
      content = Buffer.concat([Buffer.from(await policy.dkim.sign(whole, fromDomain), 'utf8'), whole]);
    }
    return { kind: 'queue', content, messageId: fixups.messageId ?? message.field('message-id'), user, queued: () => policy.rate.count(user) };
  }
}

function refused(reason: RejectionReason, reply: HookResult): Prepared {
  return { kind: 'refused', reason, reply };
}
