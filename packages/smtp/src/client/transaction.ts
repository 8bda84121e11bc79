/**
 * The transaction half of the client: MAIL, RCPT, then DATA (dot-stuffed) or BDAT chunks,
 * and the per-recipient outcome (RFC 5321 §3.3, RFC 2920 pipelining, RFC 3030 chunking,
 * RFC 2033 LMTP replies).
 *
 * Reads: a `SendOptions` envelope and body (Buffer, Readable or async iterable of Buffers,
 * never decoded), the session's extensions and TLS state.
 * Emits: a `SendResult` with one `RecipientResult` per recipient when at least one was
 * delivered; otherwise throws `SmtpSendError`, which carries the same result. Leaves the
 * session ready for the next transaction (RSET after any transaction left open).
 */
import { utf8AddrEncode, xtextEncode } from '../address/xtext.js';
import type { Readable } from 'node:stream';
import type { Reply } from '../reply/reply.js';
import { describeReply, isPositive, isTransient } from '../reply/reply.js';
import { DotStuffer } from '../wire/dot-stuff.js';
import type { Connection } from './connection.js';
import { type ClientPhase, SmtpClientError, replyError, toClientError } from './errors.js';
import type { ResolvedClientOptions } from './options.js';
import { expectOpen, reset, type SessionState } from './session.js';

/** DSN notification conditions (RFC 3461 §4.1). */
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface Recipient {
  readonly address: string;
  /** NOTIFY= (sent only when the server offers DSN). */
  readonly notify?: readonly DsnNotify[];
  /** The original recipient for ORCPT= (an address, or `type;address`); sent only with DSN. */
  readonly orcpt?: string;
}

export type MessageBody = Buffer | Readable | AsyncIterable<Buffer | Uint8Array>;

export interface SendOptions {
  /** The reverse-path; null sends the null path `<>` (bounces, RFC 5321 §4.5.5). */
  readonly from: string | null;
  readonly to: readonly (string | Recipient)[];
  /** The message, headers and body, with CRLF line endings. Never decoded. */
  readonly body: MessageBody;
  /** Message size in octets for SIZE= (RFC 1870); taken from a Buffer body when omitted. */
  readonly size?: number;
  /** BODY= (RFC 6152, RFC 3030). BINARYMIME requires BDAT. Omit for 7-bit content. */
  readonly body8bit?: '8BITMIME' | 'BINARYMIME';
  /** Send SMTPUTF8 (RFC 6531); implied by a non-ASCII address. */
  readonly smtputf8?: boolean;
  /** RET= (RFC 3461); DSN only. */
  readonly ret?: 'FULL' | 'HDRS';
  /** ENVID= (RFC 3461); DSN only. */
  readonly envid?: string;
  /** REQUIRETLS (RFC 8689): refuse to send unless the server offers it over TLS. */
  readonly requireTls?: boolean;
}

/** How one recipient fared. */
export type RecipientStatus = 'delivered' | 'temporary' | 'permanent';

export interface RecipientResult {
  readonly address: string;
  /** The reply to its RCPT (or to MAIL, when MAIL was refused and RCPT never counted). */
  readonly rcpt: Reply;
  /** The reply that decided: the refusing reply, else the end-of-data reply (its own in LMTP). */
  readonly reply: Reply;
  readonly status: RecipientStatus;
}

export interface SendResult {
  /** 'delivered': every recipient; 'partial': some; 'failed': none (only seen on SmtpSendError). */
  readonly status: 'delivered' | 'partial' | 'failed';
  readonly mail: Reply;
  /** Every recipient in the order given. */
  readonly recipients: readonly RecipientResult[];
  readonly accepted: readonly RecipientResult[];
  readonly rejected: readonly RecipientResult[];
  /** The reply to the end of data; in LMTP the last per-recipient reply; null when no data was sent. */
  readonly data: Reply | null;
  /** LMTP: one reply per recipient accepted at RCPT, in order. SMTP: the data reply alone. */
  readonly dataReplies: readonly Reply[];
  /** How the content went: 'DATA', 'BDAT', or null when it was not sent. */
  readonly method: 'DATA' | 'BDAT' | null;
  /** Octets of message content sent (before dot-stuffing). */
  readonly size: number;
}

/** No recipient was delivered; `result` says why for each. */
export class SmtpSendError extends SmtpClientError {
  override readonly name: string = 'SmtpSendError';
  readonly result: SendResult;

  constructor(message: string, phase: ClientPhase, reply: Reply, result: SendResult) {
    super(message, { phase, kind: 'reply', reply });
    this.result = result;
  }
}

/** Mutable bookkeeping while the transaction runs. */
interface Draft {
  readonly recipients: Recipient[];
  mail: Reply | null;
  rcpt: Reply[];
  size: number;
}

/** Run one transaction on an open session. */
export async function sendMessage(conn: Connection, options: ResolvedClientOptions, session: SessionState, message: SendOptions): Promise<SendResult> {
  // Sanity checks, before a byte is sent.
  const plan = planTransaction(options, session, message, conn.tls !== null);
  const { recipients } = plan;
  const draft: Draft = { recipients, mail: null, rcpt: [], size: 0 };
  const timeouts = options.timeouts;

  // Envelope: MAIL and every RCPT in one write when pipelining.
  if (plan.pipeline) {
    await conn.write([plan.mailLine, ...plan.rcptLines].map((l) => Buffer.from(`${l}\r\n`, 'utf8')), 'mail', timeouts.mail);
    draft.mail = expectOpen(conn, await conn.read('mail', timeouts.mail), 'mail');
    for (let i = 0; i < recipients.length; i += 1) draft.rcpt.push(expectOpen(conn, await conn.read('rcpt', timeouts.rcpt), 'rcpt'));
  } else {
    draft.mail = await line(conn, plan.mailLine, 'mail', timeouts.mail);
    if (isPositive(draft.mail)) {
      for (const rcptLine of plan.rcptLines) draft.rcpt.push(await line(conn, rcptLine, 'rcpt', timeouts.rcpt));
    }
  }
  const mail = draft.mail;
  if (!isPositive(mail)) {
    const result = finish(draft, mail, recipients.map(() => mail), null, [], null);
    throw new SmtpSendError(`MAIL FROM refused: ${describeReply(mail)}`, 'mail', mail, result);
  }

  // Recipients: none accepted → no data, close the transaction.
  const acceptedIdx = draft.rcpt.flatMap((r, i) => (isPositive(r) ? [i] : []));
  if (acceptedIdx.length === 0) {
    await quietReset(conn, options);
    const deciding = draft.rcpt.find(isTransient) ?? draft.rcpt[0] ?? mail;
    const result = finish(draft, mail, draft.rcpt, null, [], null);
    throw new SmtpSendError(`all recipients refused: ${describeReply(deciding)}`, 'rcpt', deciding, result);
  }

  // Content.
  const method = plan.bdat ? 'BDAT' : 'DATA';
  let outcome: { refusal: Reply | null; finals: Reply[] };
  try {
    outcome = plan.bdat
      ? await sendBdat(conn, options, message.body, acceptedIdx.length, draft, plan.pipeline)
      : await sendData(conn, options, message.body, acceptedIdx.length, draft);
  } catch (error) {
    // A body that failed half-sent cannot be withdrawn: drop the connection. A server that
    // refused and hung up mid-body may have said why: that reply decides.
    const said = conn.poll();
    conn.destroy();
    if (said && !isPositive(said) && !(error instanceof SmtpClientError && error.kind === 'body')) throw replyError('data', said, method);
    throw toClientError(error, 'data');
  }
  if (outcome.refusal) {
    await quietReset(conn, options);
    const refusal = outcome.refusal;
    const deciding = draft.rcpt.map((r) => (isPositive(r) ? refusal : r));
    const result = finish(draft, mail, deciding, refusal, [], method);
    throw new SmtpSendError(`${method} refused: ${describeReply(refusal)}`, 'data', refusal, result);
  }

  // Outcome: the data reply decides for every accepted recipient; in LMTP each has its own.
  const finals = outcome.finals;
  const deciding = draft.rcpt.map((r, i) => {
    if (!isPositive(r)) return r;
    const k = acceptedIdx.indexOf(i);
    return (options.lmtp ? finals[k] : finals[0]) ?? r;
  });
  const last = finals[finals.length - 1] ?? null;
  const result = finish(draft, mail, deciding, last, finals, method);
  if (result.status === 'failed') {
    const refusal = finals.find(isTransient) ?? last ?? mail;
    throw new SmtpSendError(`message refused: ${describeReply(refusal)}`, 'data', refusal, result);
  }
  return result;
}

/** What will be sent, decided up front so that a refusal costs no round trip. */
interface Plan {
  readonly recipients: Recipient[];
  readonly mailLine: string;
  readonly rcptLines: string[];
  readonly bdat: boolean;
  readonly pipeline: boolean;
}

/** Check the message against the session and build the envelope commands. */
export function planTransaction(options: ResolvedClientOptions, session: SessionState, message: SendOptions, tls: boolean): Plan {
  const ext = session.extensions;
  // Each refusal carries the RFC 3463 code a delivery status notification would give it.
  const refuse = (text: string, status = '5.1.3'): never => {
    throw new SmtpClientError(text, { phase: 'mail', kind: 'policy', temporary: false, status });
  };

  // Addresses: nothing that could end or forge a command line.
  const recipients = message.to.map((r) => (typeof r === 'string' ? { address: r } : r));
  if (recipients.length === 0) refuse('no recipients');
  if (message.from !== null) checkPath(message.from, refuse);
  for (const r of recipients) {
    checkPath(r.address, refuse);
    if (r.address.length === 0) refuse('empty recipient address');
  }

  // Extensions the message needs.
  const utf8 = message.smtputf8 === true || !isAscii(message.from ?? '') || recipients.some((r) => !isAscii(r.address));
  if (utf8 && !ext.smtpUtf8) refuse('message needs SMTPUTF8 but the server does not offer it', '5.6.7');
  if (message.requireTls && !(tls && ext.requireTls)) refuse('REQUIRETLS requested but the server does not offer it over TLS', '5.7.30');
  const chunking = ext.chunking && options.chunking === 'auto';
  if (message.body8bit === '8BITMIME' && !ext.eightBitMime && !ext.binaryMime) refuse('message has 8-bit content but the server does not offer 8BITMIME', '5.6.3');
  if (message.body8bit === 'BINARYMIME' && !(ext.binaryMime && chunking)) refuse('message has binary content but the server does not offer BINARYMIME with CHUNKING', '5.6.3');
  const size = message.size ?? (Buffer.isBuffer(message.body) ? message.body.length : null);
  if (size !== null && ext.size !== null && ext.size > 0 && size > ext.size) refuse(`message of ${size} octets exceeds the server's SIZE limit of ${ext.size}`, '5.3.4');

  // MAIL FROM and its parameters, each only when offered.
  const params: string[] = [];
  if (size !== null && ext.size !== null) params.push(`SIZE=${size}`);
  if (message.body8bit === 'BINARYMIME') params.push('BODY=BINARYMIME');
  else if (message.body8bit === '8BITMIME') params.push('BODY=8BITMIME');
  if (utf8) params.push('SMTPUTF8');
  if (ext.dsn && message.ret) params.push(`RET=${message.ret}`);
  if (ext.dsn && message.envid) params.push(`ENVID=${xtextEncode(message.envid)}`);
  if (message.requireTls) params.push('REQUIRETLS');
  const mailLine = [`MAIL FROM:<${message.from ?? ''}>`, ...params].join(' ');

  // RCPT TO lines.
  const rcptLines = recipients.map((r) => {
    const p: string[] = [];
    if (ext.dsn && r.notify && r.notify.length > 0) p.push(`NOTIFY=${r.notify.join(',')}`);
    if (ext.dsn && r.orcpt) p.push(`ORCPT=${orcpt(r.orcpt)}`);
    return [`RCPT TO:<${r.address}>`, ...p].join(' ');
  });

  return { recipients, mailLine, rcptLines, bdat: chunking, pipeline: ext.pipelining && options.pipelining };
}

/** DATA, the dot-stuffed body and its terminator; reads the final reply (one per recipient in LMTP). */
async function sendData(conn: Connection, options: ResolvedClientOptions, body: MessageBody, accepted: number, draft: Draft): Promise<{ refusal: Reply | null; finals: Reply[] }> {
  const t = options.timeouts;

  // DATA initiation.
  const start = await line(conn, 'DATA', 'data', t.dataInit);
  if (start.code !== 354) return { refusal: start, finals: [] };

  // Body, stuffed chunk by chunk, with backpressure; the last chunk goes out with the
  // terminating dot in one segment (a small message is then one write).
  const stuffer = new DotStuffer();
  let held: Buffer | null = null;
  for await (const chunk of chunks(body, 256 * 1024)) {
    draft.size += chunk.length;
    if (held !== null) await conn.write(held, 'data', t.dataBlock);
    held = stuffer.push(chunk);
  }
  const end = stuffer.end();
  await conn.write(held === null ? end : [held, end], 'data', t.dataBlock);

  // Final replies.
  return { refusal: null, finals: await readFinals(conn, options, accepted) };
}

/**
 * BDAT chunks (RFC 3030), the last marked LAST. A chunk is sent only once the next piece of
 * the body is in hand (or the body ended), so a streamed body is never held whole. With
 * PIPELINING a few chunks may be in flight; a refused chunk stops the sending.
 */
async function sendBdat(conn: Connection, options: ResolvedClientOptions, body: MessageBody, accepted: number, draft: Draft, pipeline: boolean): Promise<{ refusal: Reply | null; finals: Reply[] }> {
  const t = options.timeouts;
  const window = pipeline ? 2 : 0;
  let inFlight = 0;
  let refusal: Reply | null = null;

  // Collect an answered chunk; remember the first refusal.
  const collect = (reply: Reply): void => {
    inFlight -= 1;
    expectOpen(conn, reply, 'data');
    if (reply.code !== 250) refusal ??= reply;
  };
  const send = async (held: Buffer[], size: number, last: boolean): Promise<void> => {
    await conn.write([Buffer.from(`BDAT ${size}${last ? ' LAST' : ''}\r\n`), ...held], 'data', t.dataBlock);
    if (last) return;
    inFlight += 1;
    for (let r = conn.poll(); r; r = conn.poll()) collect(r);
    while (inFlight > window && !refusal) collect(await conn.read('data', t.dataInit));
  };

  // Chunks: coalesce small pieces up to chunkSize; send when the next piece arrives.
  let held: Buffer[] = [];
  let heldSize = 0;
  for await (const chunk of chunks(body, options.chunkSize)) {
    if (heldSize > 0 && heldSize + chunk.length > options.chunkSize) {
      await send(held, heldSize, false);
      held = [];
      heldSize = 0;
      if (refusal) break;
    }
    held.push(chunk);
    heldSize += chunk.length;
    draft.size += chunk.length;
  }

  // Answers to the chunks still in flight, then LAST (unless a chunk was refused).
  while (inFlight > 0) collect(await conn.read('data', t.dataInit));
  if (refusal) return { refusal, finals: [] };
  await send(held, heldSize, true);
  return { refusal: null, finals: await readFinals(conn, options, accepted) };
}

/**
 * The end-of-data reply, or in LMTP one per accepted recipient. In LMTP a connection lost (or
 * silent) after some replies keeps them, since those recipients have their copy; the rest get
 * a temporary `451 4.4.2 no reply` in place of the reply they never had.
 */
async function readFinals(conn: Connection, options: ResolvedClientOptions, accepted: number): Promise<Reply[]> {
  const count = options.lmtp ? accepted : 1;
  const finals: Reply[] = [];
  for (let i = 0; i < count; i += 1) {
    let reply: Reply;
    try {
      reply = await conn.read('data', options.timeouts.dataEnd);
    } catch (error) {
      if (finals.length === 0) throw error;
      const lost: Reply = { code: 451, enhanced: '4.4.2', lines: [`no reply: ${error instanceof Error ? error.message : String(error)}`] };
      while (finals.length < count) finals.push(lost);
      conn.destroy();
      break;
    }
    finals.push(reply);
    if (reply.code === 421) {
      // The server is going away; the remaining recipients are answered by this reply.
      while (finals.length < count) finals.push(reply);
      conn.destroy();
      break;
    }
  }
  return finals;
}

/** The body as Buffers of at most `max` octets (slices, never copies of a Buffer body). */
async function* chunks(body: MessageBody, max: number): AsyncGenerator<Buffer> {
  const source: AsyncIterable<unknown> | Iterable<unknown> = Buffer.isBuffer(body) ? [body] : body;
  for await (const piece of source) {
    let buf: Buffer;
    if (Buffer.isBuffer(piece)) buf = piece;
    else if (piece instanceof Uint8Array) buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    else throw new SmtpClientError('message body must yield Buffers (strings would need decoding)', { phase: 'data', kind: 'body', temporary: false });
    for (let at = 0; at < buf.length; at += max) yield buf.subarray(at, Math.min(at + max, buf.length));
  }
}

/** One command, one reply; a 421 ends the session. */
async function line(conn: Connection, text: string, phase: ClientPhase, timeout: number): Promise<Reply> {
  await conn.write(Buffer.from(`${text}\r\n`, 'utf8'), phase, timeout);
  return expectOpen(conn, await conn.read(phase, timeout), phase);
}

/** RSET after a transaction left open; a failure here closes the connection instead. */
async function quietReset(conn: Connection, options: ResolvedClientOptions): Promise<void> {
  if (conn.closed) return;
  try {
    await reset(conn, options);
  } catch {
    conn.destroy();
  }
}

/** Assemble the result from the replies gathered. */
function finish(draft: Draft, mail: Reply, deciding: readonly Reply[], data: Reply | null, finals: readonly Reply[], method: 'DATA' | 'BDAT' | null): SendResult {
  const recipients = draft.recipients.map((r, i): RecipientResult => {
    const reply = deciding[i] ?? mail;
    const status: RecipientStatus = isPositive(reply) ? 'delivered' : isTransient(reply) || reply.code < 400 ? 'temporary' : 'permanent';
    return { address: r.address, rcpt: draft.rcpt[i] ?? mail, reply, status };
  });
  const accepted = recipients.filter((r) => r.status === 'delivered');
  const rejected = recipients.filter((r) => r.status !== 'delivered');
  const status = rejected.length === 0 ? 'delivered' : accepted.length === 0 ? 'failed' : 'partial';
  return { status, mail, recipients, accepted, rejected, data, dataReplies: finals, method, size: draft.size };
}

/** A path must not carry line breaks, NUL or angle brackets that would end it early. */
function checkPath(address: string, refuse: (text: string, status?: string) => never): void {
  if (/[\0-\x1f\x7f<>]/.test(address)) refuse(`invalid address ${JSON.stringify(address)}`);
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

/**
 * ORCPT value: `rfc822;` + xtext(address) unless the caller gave a type already. Type `utf-8`
 * takes RFC 6533's utf-8-addr-xtext (`\x{HEX}` escapes) instead: its receivers refuse `+XX`.
 */
function orcpt(value: string): string {
  const semi = value.indexOf(';');
  if (semi <= 0) return `rfc822;${xtextEncode(value)}`;
  const type = value.slice(0, semi);
  const address = value.slice(semi + 1);
  return `${type};${type.toLowerCase() === 'utf-8' ? utf8AddrEncode(address) : xtextEncode(address)}`;
}
