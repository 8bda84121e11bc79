/**
 * The LMTP server's hooks (RFC 2033), so that any MTA can deliver into Mailway mailboxes.
 * RCPT: a local user or alias is accepted, anything else gets 550 5.1.1. End of data: a
 * message with more Received fields than the hop limit is refused for every recipient (554
 * 5.4.6, RFC 5321 §6.3) and not spooled; otherwise it is spooled once (one reference per
 * recipient), each recipient is delivered inline exactly as the queue worker would, and each
 * gets its own reply (outcome.ts): 250 2.0.0, 452 4.2.2 over quota, 550 5.1.1 unknown, 554
 * 5.4.6 a loop, 451 4.3.0 on any other failure. A recipient that was not delivered gives its
 * reference back at once (its client retries or bounces, not us). DSN is offered: a recipient
 * given NOTIFY=SUCCESS gets its success notice from here (the client, seeing DSN, sends none).
 * The MAIL FROM parameters (RET, ENVID, …) go with each recipient's job.
 */
import { DirectoryError } from '@mailway/directory';
import { intakeFailureOf, intakeOutcomes, originOf, readArrival, recipientsOf } from '@mailway/intake';
import { type DeliveryJob, deliveryJobId, newQueueId } from '@mailway/queue/jobs';
import type { Logger } from '@mailway/runtime';
import { joinHeaderBlock } from '@mailway/smtp/message';
import { type ServerHooks, type Verdict, accept, defer, reject } from '@mailway/smtp/server';
import type { Address } from '@mailway/smtp/address';
import { type DeliveryTargets, deliver } from './deliver.js';
import type { DeliveryMetrics } from './metrics.js';
import { LoopDetected, classify } from './outcome.js';
import { traceOutcome } from './trace.js';

const unknownUser = reject(550, '5.1.1', 'No such user here');
const notStored = defer(451, '4.3.0', 'Temporary failure, message not stored; try again later');

/** The hooks of the LMTP server. */
export function lmtpHooks(targets: DeliveryTargets, logger: Logger, metrics: DeliveryMetrics): ServerHooks {
  return {
    async onRcptTo(session, _transaction, recipient) {
      const address = mailbox(recipient.address);
      try {
        const resolution = await targets.directory.resolve(address);
        if (resolution.kind === 'user' || resolution.kind === 'alias') return accept();
        logger.info({ session: session.id, recipient: address, resolution: resolution.kind }, 'lmtp recipient refused');
        return unknownUser;
      } catch (error) {
        if (error instanceof DirectoryError) return unknownUser;
        throw error;
      }
    },

    async onData(session, transaction, body): Promise<readonly Verdict[]> {
      const queueId = newQueueId();
      const recipients = recipientsOf(transaction, transaction.recipients.map((r) => mailbox(r.address)));
      const log = { session: session.id, queueId, recipients: recipients.length };

      // Spool once, unless it has made too many hops; an expanded alias's transfer job will own
      // references, so claim it.
      let size: number;
      let hops: number;
      try {
        // LMTP delivers; it adds no Received field of its own.
        const arrival = await readArrival(body, false);
        hops = arrival.hops;
        if (hops > targets.hopCountLimit) {
          metrics.deliveries.inc({ outcome: 'loop', source: 'lmtp' }, recipients.length);
          logger.warn({ ...log, hops, limit: targets.hopCountLimit }, 'lmtp message refused: too many hops (routing loop)');
          return recipients.map(() => intakeOutcomes.too_many_hops.reply);
        }
        size = (await targets.spool.write(queueId, joinHeaderBlock(arrival), { refs: recipients.length })).size;
        await targets.spool.claim(queueId);
      } catch (error) {
        const failure = intakeFailureOf(error, body.errored !== null);
        if (failure === 'header_too_large') return recipients.map(() => intakeOutcomes.header_too_large.reply);
        if (failure === 'not_queued') logger.error({ ...log, err: error }, 'lmtp message not spooled');
        await targets.spool.remove(queueId).catch(() => {});
        return recipients.map(() => notStored);
      }

      // Deliver to each recipient, as the queue worker would.
      const from = transaction.from === null ? '' : mailbox(transaction.from);
      // RET and ENVID for the notices a recipient asks for, and for an alias to pass on.
      const { body: bodyType, smtputf8, ret, envid, requireTls } = transaction.mailParams;
      const mailParams: DeliveryJob['mailParams'] = { body: bodyType, smtputf8, ret, envid, requireTls };
      const origin = originOf(session, 'delivery', null, new Date());
      targets.trace?.record(queueId, { type: 'accepted', agent: 'delivery', client: session.remote.address, helo: session.helo?.name ?? null, tls: session.tls?.protocol ?? null, user: null, from, recipients: recipients.map((r) => r.address), size });
      return Promise.all(
        recipients.map(async (recipient) => {
          const jobId = deliveryJobId(queueId, recipient.address);
          const job: DeliveryJob = { queueId, spoolId: queueId, size, messageId: null, from, recipient, origin, hops, mailParams };
          const timer = metrics.seconds.startTimer({ source: 'lmtp' });
          const entry = { ...log, recipient: recipient.address };
          try {
            // A queue id of its own for every LMTP transaction: nothing can have run before.
            const result = await deliver(targets, job, jobId, false);
            // An alias's targets are a transfer job: the 250 waits until replicas hold it.
            if (result.kind === 'expanded') await targets.confirm?.();
            traceOutcome(targets, job, result);
            const outcome = result.kind === 'expanded' ? 'expanded' : 'delivered';
            metrics.deliveries.inc({ outcome, source: 'lmtp' });
            if (result.kind === 'delivered') metrics.bytes.inc(result.size);
            logger.info({ ...entry, outcome, file: result.kind === 'delivered' ? result.file : null, notice: result.notice }, 'lmtp delivered');
            return accept(`Ok: delivered as ${queueId}`, 250, '2.0.0');
          } catch (error) {
            const failure = classify(error, from);
            const path = error instanceof LoopDetected ? { path: error.path.join(' -> ') } : {};
            metrics.deliveries.inc({ outcome: failure.outcome, source: 'lmtp' });
            logger[failure.outcome === 'loop' ? 'error' : 'warn']({ ...entry, ...path, outcome: failure.outcome, file: null, err: error }, 'lmtp delivery failed');
            await targets.spool.releaseOnce(queueId, jobId).catch(() => {});
            // Refused at once: its client retries or bounces it.
            targets.trace?.record(queueId, { type: 'failed', agent: 'delivery', recipient: recipient.address, reply: `${failure.verdict.reply?.code ?? ''} ${failure.verdict.reply?.enhanced ?? ''} ${error instanceof Error ? error.message : String(error)}`.trim() });
            return failure.verdict;
          } finally {
            timer();
          }
        }),
      );
    },
  };
}

/** `local@domain` of a parsed path. */
function mailbox(address: Address): string {
  return `${address.local}@${address.domain}`;
}
