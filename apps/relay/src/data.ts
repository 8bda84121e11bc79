/**
 * The message data of one inbound transaction: read the header block, refuse a message that has
 * passed through too many hosts (RFC 5321 §6.3: 554 5.4.6), drop Authentication-Results
 * fields that claim this site's checks (unless the client is in the relay networks), put the
 * Received field (and, when verification is on, Authentication-Results) in front of the message,
 * then hand off to the transfer queue. The reply to end of data is 250 with the queue id only
 * once the spool write and the job are durable; 451 4.3.0 when Redis cannot take them.
 */
import type { TransferJob } from '@mailway/queue/jobs';
import { newQueueId } from '@mailway/queue/jobs';
import type { Logger } from '@mailway/runtime';
import { HeaderTooLargeError, hopCount, prependFields, readHeaderBlock, readHeaderFields, removeAuthResults } from '@mailway/smtp/message';
import { Enhanced } from '@mailway/smtp/reply';
import { unmappedAddress } from '@mailway/smtp/address';
import { type HookResult, accept, defer, reject } from '@mailway/smtp/server';
import type { MessageBody, Session, Transaction } from '@mailway/smtp/server';
import { envelopeAddress } from './address.js';
import { type HandoffTargets, handOff } from '@mailway/queue/queues';
import { relayReceived } from './message/trace.js';
import type { Verifier } from './message/verify.js';
import type { RelayMetrics } from './metrics.js';
import type { RelayNetworks } from './policy/networks.js';

export interface DataPolicy {
  readonly hostname: string;
  /** Most Received fields a message may carry, this hop's own included (MAILWAY_HOPCOUNT_LIMIT). */
  readonly hopCountLimit: number;
  /** This site's authserv-ids: the host name and MAILWAY_AUTHSERV_IDS. */
  readonly authservIds: readonly string[];
  /** The MTAs inside the trust boundary (RELAY_NETWORKS), whose Authentication-Results fields stay. */
  readonly networks: RelayNetworks;
  readonly targets: HandoffTargets;
  /** null when RELAY_VERIFY is off. */
  readonly verifier: Verifier | null;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
}

/** Largest header block accepted (the body may be as large as the size limit allows). */
const maxHeaderBytes = 1024 * 1024;

const notQueued = defer(451, '4.3.0', 'Temporary failure, message not queued; try again later');
const headerTooLarge = reject(552, '5.3.4', 'Message header too large');
const tooManyHops = reject(554, Enhanced.routingLoop, 'Routing loop detected: too many hops');

/** The onData hook. */
export function dataHook(policy: DataPolicy): (session: Session, transaction: Transaction, body: MessageBody) => Promise<HookResult> {
  const { hostname, logger, metrics } = policy;

  return async (session, transaction, body) => {
    const queueId = newQueueId();
    const date = new Date();
    const from = transaction.from === null ? '' : envelopeAddress(transaction.from, hostname);
    const recipients = transaction.recipients.map((r) => envelopeAddress(r.address, hostname));
    const log = { session: session.id, queueId, ip: session.remote.address, helo: session.helo?.name ?? null, user: session.user, from, recipients: recipients.length };

    try {
      // Read the header block; the body keeps streaming behind it.
      const { header, rest } = await readHeaderBlock(body, { maxHeaderBytes });
      const messageId = readHeaderFields(header).find((f) => f.name.toLowerCase() === 'message-id')?.value ?? null;

      // A loop: this hop's Received field would take the message past the limit.
      const hops = hopCount(header) + 1;
      if (hops > policy.hopCountLimit) {
        metrics.rejections.inc({ reason: 'too_many_hops' });
        logger.warn({ ...log, hops, limit: policy.hopCountLimit }, 'message refused: too many hops (routing loop)');
        return tooManyHops;
      }
      const received = relayReceived({ session, hostname, queueId, recipients, utf8: transaction.mailParams.smtputf8, date });

      // Fields claiming this site's checks are forged unless an MTA inside the trust boundary
      // passed them on; a login does not make a client such an MTA.
      const stripped = policy.networks.contains(session.remote.address) ? { header, removed: 0 } : removeAuthResults(header, policy.authservIds);

      // Verification needs the whole message as it came (a signature may cover any field); otherwise it streams through.
      let message: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = concat(stripped.header, rest);
      let verdicts: string | null = null;
      if (policy.verifier !== null) {
        const body = await collect(rest);
        verdicts = await verify(policy.verifier, Buffer.concat([header, body]), { ip: unmappedAddress(session.remote.address), helo: session.helo?.name ?? '', sender: from, hostname });
        message = [stripped.header, body];
      }
      const content = prependFields(verdicts === null ? [received] : [verdicts, received], message);

      // Hand off: spool, then the transfer job.
      const started = process.hrtime.bigint();
      const size = await handOff(policy.targets, { ...transferJob(session, transaction, { queueId, messageId, from, recipients, date }), hops }, content);
      metrics.handoffSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);

      // Account for it: one line per transaction.
      metrics.messages.inc();
      metrics.bytes.inc(size);
      if (stripped.removed > 0) logger.warn({ ...log, fields: stripped.removed }, 'removed Authentication-Results fields claiming this site from a client outside the trust boundary');
      logger.info({ ...log, size, messageId, tls: session.tls?.protocol ?? null, authResults: verdicts === null ? null : summary(verdicts) }, 'queued');
      return accept(`Ok: queued as ${queueId}`, 250, '2.0.0');
    } catch (error) {
      // The session already answers a broken or oversized message itself; only log the rest.
      if (body.errored !== null) return notQueued;
      if (error instanceof HeaderTooLargeError) {
        metrics.rejections.inc({ reason: 'message_invalid' });
        logger.info(log, 'message refused: header too large');
        return headerTooLarge;
      }
      metrics.rejections.inc({ reason: 'queue_unavailable' });
      logger.error({ ...log, err: error }, 'message not queued');
      return notQueued;
    }
  };

  /** The Authentication-Results field, or null when the checks could not be run. */
  async function verify(verifier: Verifier, message: Buffer, facts: Parameters<Verifier>[1]): Promise<string | null> {
    try {
      return await verifier(message, facts);
    } catch (error) {
      logger.warn({ err: error, ip: facts.ip }, 'sender authentication not checked');
      return null;
    }
  }
}

/** What the transaction needs beyond the session to make its job. */
interface Accepted {
  readonly queueId: string;
  readonly messageId: string | null;
  readonly from: string;
  readonly recipients: readonly string[];
  readonly date: Date;
}

/** The job for the transfer worker: the whole envelope, DSN parameters and where it came from. */
function transferJob(session: Session, transaction: Transaction, accepted: Accepted): Omit<TransferJob, 'spoolId' | 'size'> {
  const params = transaction.mailParams;
  return {
    queueId: accepted.queueId,
    messageId: accepted.messageId,
    envelope: {
      from: accepted.from,
      recipients: transaction.recipients.map((r, i) => ({
        address: accepted.recipients[i] ?? '',
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
      agent: 'relay',
      client: { address: session.remote.address, port: session.remote.port, helo: session.helo?.name ?? null },
      user: session.user,
      tls: session.tls === null ? null : { protocol: session.tls.protocol, cipher: session.tls.cipher },
      receivedAt: accepted.date.toISOString(),
    },
  };
}

/** `dkim=pass spf=pass dmarc=pass` from an Authentication-Results field, for the log. */
function summary(field: string): string {
  return [...field.matchAll(/\b(dkim|spf|dmarc)=(\w+)/g)].map((m) => `${m[1]}=${m[2]}`).join(' ');
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
