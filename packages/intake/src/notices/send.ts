/**
 * Sending a delivery status notification (dsn.ts) to a message's sender: the notice is written
 * from the spooled original and handed to the intake (`handOffOnce`) as a new message from the
 * null reverse-path, routed like any other — into a local sender's mailbox or to a remote
 * sender's MX. Every agent that decides a recipient's fate (the relay's outbound worker, the
 * delivery agent) sends its notices this way.
 *
 * Reads: the original (its spool entry, or the copy its job carries) and its envelope. Emits: one transfer job under a queue id
 * chosen in advance, so that sending again after a crash adds nothing.
 */
import { createHash } from 'node:crypto';
import { type DsnNotify, type Envelope, type EnvelopeRecipient, type Origin, transferJobId } from '@mailway/queue/jobs';
import { type Spool, readContent } from '@mailway/queue/spool';
import { type HandoffTargets, handOffOnce } from '../handoff.js';
import { type DsnRecipient, buildDsn } from './dsn.js';

/** The message a notice is about. */
export interface NoticeSubject {
  readonly queueId: string;
  readonly spoolId: string;
  /** The message itself, when its job carries it rather than the spool (spool/carried.ts). */
  readonly content?: string | undefined;
  /** Its envelope as accepted: the sender the notice goes to, ENVID, RET. */
  readonly envelope: Pick<Envelope, 'from' | 'envid' | 'ret'>;
  readonly origin: Pick<Origin, 'receivedAt'>;
}

export interface NoticeContext {
  /** This host's name (Reporting-MTA). */
  readonly hostname: string;
  readonly spool: Spool;
  readonly targets: HandoffTargets;
  /** Returned whole up to this size; larger originals as their header only. */
  readonly returnLimit: number;
  /** The agent that writes the notice. */
  readonly agent: Origin['agent'];
}

/**
 * Writes a notice about `subject` for `recipients` and hands it to the intake under `queueId`
 * (safe to repeat); resolves false when that notice was queued already, which is then not
 * written again: by then the original may be gone, released after the notice went.
 */
export async function sendNotice(queueId: string, subject: NoticeSubject, recipients: readonly DsnRecipient[], context: NoticeContext): Promise<boolean> {
  if ((await context.targets.transfer.queue.getJob(transferJobId(queueId))) !== undefined) return false;

  // The original: whole when small enough, else what is needed for its header.
  const { octets, complete } = await readPrefix(readContent(context.spool, subject), context.returnLimit);
  const dsn = buildDsn({
    reportingMta: context.hostname,
    to: subject.envelope.from,
    queueId: subject.queueId,
    envid: subject.envelope.envid,
    arrivalDate: new Date(subject.origin.receivedAt),
    recipients,
    original: octets,
    ret: complete ? subject.envelope.ret : 'HDRS',
    returnLimit: context.returnLimit,
    now: new Date(),
  });

  const size = await handOffOnce(
    context.targets,
    {
      queueId,
      messageId: null,
      envelope: {
        from: '',
        recipients: [{ address: subject.envelope.from, notify: null, orcpt: null }],
        // 8BITMIME only when needed: a peer without it would refuse the notice, which, from <>, is then dropped.
        body: dsn.some((octet) => octet > 0x7f) ? '8BITMIME' : '7BIT',
        smtputf8: /[^\x00-\x7f]/.test(subject.envelope.from),
        ret: null,
        envid: null,
        requireTls: false,
      },
      origin: { agent: context.agent, client: null, user: null, tls: null, receivedAt: new Date().toISOString() },
    },
    dsn,
  );
  traceNotice(context, queueId, subject, recipients, size);
  return true;
}

/** The notice's own `accepted` event, and a `notice` event on the message it is about. */
function traceNotice(context: NoticeContext, queueId: string, subject: NoticeSubject, recipients: readonly DsnRecipient[], size: number): void {
  const trace = context.targets.trace;
  if (trace === undefined) return;
  const kind = recipients[0]?.action ?? 'failed';
  trace.record(queueId, { type: 'accepted', agent: context.agent, client: null, from: '', recipients: [subject.envelope.from], size, about: subject.queueId, kind });
  trace.record(subject.queueId, { type: 'notice', agent: context.agent, notice: queueId, kind, recipients: recipients.map((r) => r.address) });
}

/**
 * Whether `recipient` asked for (or by default gets) a notice of `kind` (RFC 3461 §4.1):
 * NOTIFY=NEVER wants nothing, an explicit list only what it names; without NOTIFY, failures and
 * delays are reported, successes are not.
 */
export function wantsNotice(recipient: Pick<EnvelopeRecipient, 'notify'>, kind: 'failure' | 'delay' | 'success'): boolean {
  const notify = recipient.notify;
  if (notify === 'NEVER') return false;
  if (notify === null) return kind !== 'success';
  return notify.includes(kind === 'failure' ? 'FAILURE' : kind === 'delay' ? 'DELAY' : 'SUCCESS');
}

/**
 * NOTIFY for the addresses an alias expands to when it is a list (RFC 3461 §6.2.7.3): the
 * "expanded" notice was the alias's success report, so SUCCESS goes no further; FAILURE and
 * DELAY do. A recipient that asked only for SUCCESS asks for nothing more (NEVER, not the default).
 */
export function notifyAfterExpansion(notify: DsnNotify): DsnNotify {
  if (notify === null || notify === 'NEVER') return notify;
  const rest = notify.filter((condition) => condition !== 'SUCCESS');
  return rest.length > 0 ? rest : 'NEVER';
}

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A queue id for a notice about `queueId`, derived from `token` (e.g. the job id that failed):
 * the original's time part and 50 bits of a digest, so a job that runs again after a crash
 * names, and so sends, the same notice.
 */
export function noticeQueueId(queueId: string, token: string): string {
  const digest = createHash('sha256').update(`notice|${token}`).digest();
  let tail = '';
  for (let i = 0; i < 10; i += 1) tail += alphabet[(digest[i] ?? 0) & 31];
  return `${queueId.slice(0, 10)}${tail}`;
}

/** The first `limit` octets of a message (one more, to know whether it is all of it). */
async function readPrefix(content: AsyncIterable<Buffer>, limit: number): Promise<{ octets: Buffer; complete: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of content) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) return { octets: Buffer.concat(chunks), complete: false };
  }
  return { octets: Buffer.concat(chunks), complete: true };
}
