/**
 * Delivery status notifications (RFC 3464 within RFC 6522's multipart/report; RFC 3461 for
 * what the sender asked; RFC 3834 Auto-Submitted; RFC 6533 when an address is UTF-8): the
 * message Mailway writes to a sender about what happened to some recipients — failed
 * (a bounce), delayed (still being retried), delivered, relayed or expanded.
 *
 * Reads: the report (who, what, where, why) and the original message's octets. Emits: the
 * notification as a complete RFC 5322 message with CRLF line endings, to be sent from the null
 * reverse-path `<>` so that it is never itself bounced.
 */
import { randomBytes } from 'node:crypto';
import { formatDate, generateMessageId, splitHeaderBlock } from '@mailway/smtp/message';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface DsnRecipient {
  /** The recipient as it was finally addressed. */
  readonly address: string;
  /** ORCPT as the client gave it (type and address), or null. */
  readonly orcpt: { readonly type: string; readonly address: string } | null;
  readonly action: DsnAction;
  /** RFC 3463 status. */
  readonly status: string;
  /** The host that answered, when one did. */
  readonly remoteMta: string | null;
  /** The remote server's reply (`550 5.1.1 No such user`), when it gave one. */
  readonly remoteReply: string | null;
  /** Mailway's own account, when no remote reply says it (DNS, timeouts, loops). */
  readonly detail: string;
  readonly lastAttempt: Date | null;
  /** For `delayed`: when Mailway gives up. */
  readonly willRetryUntil: Date | null;
}

export interface DsnReport {
  /** This host's name: Reporting-MTA, the From address's domain, the Message-ID domain. */
  readonly reportingMta: string;
  /** The envelope sender the notification goes to. */
  readonly to: string;
  readonly queueId: string;
  /** RFC 3461 ENVID, echoed as Original-Envelope-Id. */
  readonly envid: string | null;
  readonly arrivalDate: Date;
  readonly recipients: readonly DsnRecipient[];
  /** The original message. */
  readonly original: Buffer;
  /** RFC 3461 RET, for a failure notice: HDRS returns only the header; null lets Mailway choose. */
  readonly ret: 'FULL' | 'HDRS' | null;
  /** A larger original is returned as its header only. */
  readonly returnLimit: number;
  readonly now: Date;
}

const subjects: Record<'failure' | 'delay' | 'success', string> = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
};

/** Builds the notification message. */
export function buildDsn(report: DsnReport): Buffer {
  // Sanity checks.
  if (report.recipients.length === 0) throw new TypeError('a DSN reports on at least one recipient');

  const kind = report.recipients.some((r) => r.action === 'failed') ? 'failure' : report.recipients.some((r) => r.action === 'delayed') ? 'delay' : 'success';
  // RFC 6533: UTF-8 addresses need the "global" types, which may carry them unencoded.
  const global = [report.to, ...report.recipients.flatMap((r) => [r.address, r.orcpt?.address ?? ''])].some((text) => /[^\x00-\x7f]/.test(text));
  // Unique and short (RFC 2046: at most 70 characters): the queue id and 72 random bits.
  const boundary = `=_${report.queueId.slice(0, 40)}.${randomBytes(9).toString('base64url')}`;
  // RFC 3461 §4.3: RET chooses what a failure notice returns; a notice without a failure (a
  // delay, a success) returns the header only, whatever RET says: the message is on its way, or there.
  const headersOnly = kind !== 'failure' || report.ret === 'HDRS' || report.original.length > report.returnLimit;

  // The header.
  const header = [
    `From: Mail Delivery System <MAILER-DAEMON@${report.reportingMta}>`,
    `To: <${report.to}>`,
    `Subject: ${subjects[kind]}`,
    `Date: ${formatDate(report.now)}`,
    `Message-ID: ${generateMessageId(report.reportingMta)}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=${global ? 'global-delivery-status' : 'delivery-status'};`,
    `\tboundary="${boundary}"`,
  ];

  // The three parts: for people, for programs, and what the message was.
  const returned = headersOnly ? splitHeaderBlock(report.original).header : report.original;
  const human = humanText(kind, report);
  const parts = [
    [`Content-Type: text/plain; charset=utf-8`, 'Content-Description: Notification', `Content-Transfer-Encoding: ${encoding(human)}`, '', ...human].join('\r\n'),
    [`Content-Type: message/${global ? 'global-delivery-status' : 'delivery-status'}`, 'Content-Description: Delivery report', '', ...statusFields(report, global)].join('\r\n'),
    [
      `Content-Type: ${headersOnly ? (global ? 'message/global-headers' : 'text/rfc822-headers') : global ? 'message/global' : 'message/rfc822'}`,
      `Content-Description: ${kind === 'success' ? 'Delivered' : 'Undelivered'} Message${headersOnly ? ' Headers' : ''}`,
      '',
      '',
    ].join('\r\n'),
  ];
  // 7bit when it is: a notice labelled 8bit needs 8BITMIME at every hop on its way.
  const eightBit = encoding([...header, ...parts]) === '8bit' || returned.some((octet) => octet > 0x7f);
  header.push(`Content-Transfer-Encoding: ${eightBit ? '8bit' : '7bit'}`);
  return Buffer.concat([
    Buffer.from(`${header.join('\r\n')}\r\n\r\nThis is a MIME-encapsulated delivery status notification.\r\n\r\n`, 'utf8'),
    Buffer.from(`--${boundary}\r\n${parts[0]}\r\n\r\n--${boundary}\r\n${parts[1]}\r\n\r\n--${boundary}\r\n${parts[2]}`, 'utf8'),
    withFinalCrlf(returned),
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
}

/** The part for people: what happened, to whom, and why, in plain words. */
function humanText(kind: 'failure' | 'delay' | 'success', report: DsnReport): string[] {
  const intro = {
    failure: ['Your message could not be delivered to the recipients below. Mailway has given up on them;', 'the reason for each is given below.'],
    delay: ['Your message has not yet been delivered to the recipients below. Mailway keeps trying;', 'you need do nothing now, and will be told if it gives up.'],
    success: ['Your message was delivered as asked: the report below says where.'],
  }[kind];
  const lines = [`This is the mail system at ${report.reportingMta}.`, '', ...intro, '', `Queue ID: ${report.queueId}`, ''];
  for (const r of report.recipients) {
    lines.push(`<${r.address}>: ${r.action}`);
    if (r.remoteMta !== null && r.remoteReply !== null) lines.push(`    ${r.remoteMta} said: ${r.remoteReply}`);
    else lines.push(`    ${r.detail}`);
    if (r.willRetryUntil !== null) lines.push(`    Mailway will keep trying until ${formatDate(r.willRetryUntil)}.`);
  }
  return lines;
}

/** The message/delivery-status body: per-message fields, then one block per recipient. */
function statusFields(report: DsnReport, global: boolean): string[] {
  const addressType = global ? 'utf-8' : 'rfc822';
  const lines = [`Reporting-MTA: dns; ${report.reportingMta}`, `X-Mailway-Queue-ID: ${report.queueId}`];
  if (report.envid !== null) lines.push(`Original-Envelope-Id: ${report.envid}`);
  lines.push(`Arrival-Date: ${formatDate(report.arrivalDate)}`);
  for (const r of report.recipients) {
    lines.push('');
    lines.push(`Final-Recipient: ${addressType}; ${r.address}`);
    if (r.orcpt !== null) lines.push(`Original-Recipient: ${r.orcpt.type}; ${r.orcpt.address}`);
    lines.push(`Action: ${r.action}`, `Status: ${r.status}`);
    if (r.remoteMta !== null) lines.push(`Remote-MTA: dns; ${r.remoteMta}`);
    lines.push(r.remoteReply !== null ? `Diagnostic-Code: smtp; ${r.remoteReply}` : `Diagnostic-Code: X-Mailway; ${r.detail}`);
    if (r.lastAttempt !== null) lines.push(`Last-Attempt-Date: ${formatDate(r.lastAttempt)}`);
    if (r.willRetryUntil !== null) lines.push(`Will-Retry-Until: ${formatDate(r.willRetryUntil)}`);
  }
  return lines;
}

/** The transfer encoding that labels `lines` truly. */
function encoding(lines: readonly string[]): '7bit' | '8bit' {
  return lines.some((line) => /[^\x00-\x7f]/.test(line)) ? '8bit' : '7bit';
}

function withFinalCrlf(octets: Buffer): Buffer {
  return octets.length >= 2 && octets[octets.length - 2] === 0x0d && octets[octets.length - 1] === 0x0a ? octets : Buffer.concat([octets, Buffer.from('\r\n')]);
}
