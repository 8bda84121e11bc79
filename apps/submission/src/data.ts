/**
 * The message data of one submission: refuse a message that has passed through too many hosts
 * (RFC 5321 §6.3: 554 5.4.6), check the From header against the user, drop
 * Authentication-Results fields that claim this site's checks (RFC 8601 §5: a mail client is
 * outside the trust boundary, logged in or not), apply the RFC 6409 fix-ups and the Received
 * field, sign with DKIM when configured, then hand off to the transfer queue. The reply to end of data is 250 with the queue id only once the
 * hand-off is durable; 451 4.3.0 when Redis cannot take it.
 */
import type { Directory } from '@mailway/directory';
import type { TransferJob } from '@mailway/queue/jobs';
import { newQueueId } from '@mailway/queue/jobs';
import type { Logger } from '@mailway/runtime';
import { HeaderTooLargeError, hopCount, prependFields, readHeaderBlock, readHeaderFields, removeAuthResults } from '@mailway/smtp/message';
import { Enhanced } from '@mailway/smtp/reply';
import { type HookResult, accept, defer, reject } from '@mailway/smtp/server';
import type { MessageBody, Session, Transaction } from '@mailway/smtp/server';
import { type HandoffTargets, handOff } from '@mailway/queue/queues';
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
  readonly dkim: DkimSigner | null;
  readonly rate: RateLimiter;
  readonly logger: Logger;
  readonly metrics: SubmissionMetrics;
}

/** Largest header block accepted (the body may be as large as the size limit allows). */
const maxHeaderBytes = 1024 * 1024;

const notQueued = defer(451, '4.3.0', 'Temporary failure, message not queued; try again later');
const headerTooLarge = reject(552, '5.3.4', 'Message header too large');
const tooManyHops = reject(554, Enhanced.routingLoop, 'Routing loop detected: too many hops');
const badFrom = reject(550, '5.6.0', 'Message must have exactly one From header field with valid addresses');

/** The onData hook. */
export function dataHook(policy: DataPolicy): (session: Session, transaction: Transaction, body: MessageBody) => Promise<HookResult> {
  const { logger, metrics } = policy;

  return async (session, transaction, body) => {
    const user = sessionUser(session);
    if (user === null) return reject(530, '5.7.0', 'Authentication required');
    const queueId = newQueueId();
    const date = new Date();
    const from = transaction.from === null ? null : mailbox(transaction.from);
    const recipients = transaction.recipients.map((r) => mailbox(r.address));
    const log = { session: session.id, queueId, user, from, recipients: recipients.length };

    try {
      // Read the header block; the body keeps streaming behind it.
      const { header, rest } = await readHeaderBlock(body, { maxHeaderBytes });
      const fields = readHeaderFields(header);

      // A loop: this hop's Received field would take the message past the limit.
      const hops = hopCount(header) + 1;
      if (hops > policy.hopCountLimit) {
        logger.warn({ ...log, hops, limit: policy.hopCountLimit }, 'message refused: too many hops (routing loop)');
        return refuse('too_many_hops', tooManyHops);
      }
      const fromFields = fields.filter((f) => f.name.toLowerCase() === 'from');

      // Who the message says it is from: every From mailbox must belong to the user.
      let fromDomain = from?.slice(from.lastIndexOf('@') + 1) ?? null;
      if (fromFields.length > 1) return refuse('message_invalid', badFrom);
      if (fromFields[0] !== undefined) {
        const mailboxes = mailboxesOf(fromFields[0].value);
        if (mailboxes === null || mailboxes.length === 0) return refuse('message_invalid', badFrom);
        for (const address of mailboxes) {
          if (!(await mayUseCached(policy.directory, session, user, address))) {
            logger.warn({ ...log, header: address }, 'message refused: From address not owned by user');
            return refuse('from_not_owned', reject(553, '5.7.1', `From address rejected: not owned by user ${user}`));
          }
        }
        const first = mailboxes[0] as string;
        fromDomain = first.slice(first.lastIndexOf('@') + 1);
      } else if (from === null) {
        return refuse('message_invalid', badFrom);
      }

      // RFC 6409 fix-ups and the trace field.
      const has = (name: string): boolean => fields.some((f) => f.name.toLowerCase() === name);
      const fixups = fixupFields({
        session,
        hostname: policy.hostname,
        queueId,
        recipients,
        utf8: transaction.mailParams.smtputf8,
        date,
        has: { date: has('date'), messageId: has('message-id'), from: fromFields.length > 0 },
        reversePath: from,
      });
      const stripped = removeAuthResults(header, policy.authservIds);
      if (stripped.removed > 0) logger.warn({ ...log, fields: stripped.removed }, 'removed Authentication-Results fields claiming this site from a submitted message');
      let content: Buffer | AsyncIterable<Uint8Array> = prependFields(fixups.fields, concat(stripped.header, rest));
      if (policy.dkim !== null && fromDomain !== null && policy.dkim.signs(fromDomain)) {
        const whole = await collect(content);
        content = Buffer.concat([Buffer.from(await policy.dkim.sign(whole, fromDomain), 'utf8'), whole]);
      }

      // Hand off: spool, then the transfer job.
      const started = process.hrtime.bigint();
      const messageId = fixups.messageId ?? fields.find((f) => f.name.toLowerCase() === 'message-id')?.value ?? null;
      const size = await handOff(policy.targets, { ...transferJob(session, transaction, user, queueId, messageId, date), hops }, content);
      metrics.handoffSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);

      // Account for it.
      metrics.messages.inc();
      metrics.bytes.inc(size);
      policy.rate.count(user);
      logger.info({ ...log, size, messageId, tls: session.tls?.protocol ?? null }, 'queued');
      return accept(`Ok: queued as ${queueId}`, 250, '2.0.0');
    } catch (error) {
      // The session already answers a broken or oversized message itself; only log the rest.
      if (body.errored !== null) return notQueued;
      if (error instanceof HeaderTooLargeError) return refuse('message_invalid', headerTooLarge);
      metrics.rejections.inc({ reason: 'queue_unavailable' });
      logger.error({ ...log, err: error }, 'message not queued');
      return notQueued;
    }
  };

  function refuse(reason: RejectionReason, verdict: HookResult): HookResult {
    metrics.rejections.inc({ reason });
    return verdict;
  }
}

/** The job for the relay agent: the whole envelope, DSN parameters and who submitted it. */
function transferJob(session: Session, transaction: Transaction, user: string, queueId: string, messageId: string | null, date: Date): Omit<TransferJob, 'spoolId' | 'size'> {
  const params = transaction.mailParams;
  return {
    queueId,
    messageId,
    envelope: {
      from: transaction.from === null ? '' : mailbox(transaction.from),
      recipients: transaction.recipients.map((r) => ({
        address: mailbox(r.address),
        notify: r.params.notify === null ? null : r.params.notify === 'NEVER' ? 'NEVER' : [...r.params.notify],
        orcpt: r.params.orcpt === null ? null : { type: r.params.orcpt.type, address: r.params.orcpt.address },
      })),
      body: params.body,
      smtputf8: params.smtputf8,
      ret: params.ret,
      envid: params.envid,
      requireTls: params.requireTls,
    },
    origin: {
      agent: 'submission',
      client: { address: session.remote.address, port: session.remote.port, helo: session.helo?.name ?? null },
      user,
      tls: session.tls === null ? null : { protocol: session.tls.protocol, cipher: session.tls.cipher },
      receivedAt: date.toISOString(),
    },
  };
}

/** The header block followed by the rest of the body. */
async function* concat(header: Buffer, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  yield header;
  yield* rest;
}

/** A stream read whole. */
async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}
