/**
 * Test corpus: messages that stress byte-exact transfer, as Buffers.
 *
 * Reads: nothing; every message is generated deterministically.
 * Emits: `corpus`, a list of `CorpusMessage`s. Small ones are held as Buffers; the large
 * one is produced chunk by chunk (`chunks()`) with its size and SHA-256 known in advance
 * of sending, so no test needs it whole in memory.
 *
 * Flags say what a message needs: `eightBit` (BODY=8BITMIME), `binary` (bare CR/LF or NUL:
 * only BDAT with BODY=BINARYMIME carries it unchanged), `crlfEnded` (DATA receivers add a
 * final CRLF otherwise).
 */
import { createHash } from 'node:crypto';

export interface CorpusMessage {
  readonly name: string;
  /** Total octets. */
  readonly size: number;
  readonly eightBit: boolean;
  readonly binary: boolean;
  /** Ends with CRLF (every RFC 5322 message does; a raw binary body may not). */
  readonly crlfEnded: boolean;
  /** The bytes in chunks of the given size (default 64 KiB). */
  chunks(chunkSize?: number): AsyncGenerator<Buffer>;
  /** The whole message; only for the small ones. */
  readonly bytes: Buffer | null;
  /** Lowercase hex SHA-256 of the whole message. */
  sha256(): Promise<string>;
}

const CRLF = '\r\n';

/** A message held in memory. */
function small(name: string, bytes: Buffer, flags: { eightBit?: boolean; binary?: boolean } = {}): CorpusMessage {
  return {
    name,
    size: bytes.length,
    eightBit: flags.eightBit ?? false,
    binary: flags.binary ?? false,
    crlfEnded: bytes.length >= 2 && bytes[bytes.length - 2] === 0x0d && bytes[bytes.length - 1] === 0x0a,
    bytes,
    async *chunks(chunkSize = 64 * 1024) {
      for (let at = 0; at < bytes.length; at += chunkSize) yield bytes.subarray(at, at + chunkSize);
    },
    sha256: () => Promise.resolve(createHash('sha256').update(bytes).digest('hex')),
  };
}

function headers(subject: string, extra: string[] = []): string {
  return [
    'From: Alice <alice@example.org>',
    'To: Bob <bob@example.net>',
    `Subject: ${subject}`,
    'Date: Mon, 01 Jan 2024 00:00:00 +0000',
    `Message-ID: <${subject.replace(/\W+/g, '-')}@example.org>`,
    'MIME-Version: 1.0',
    ...extra,
  ].join(CRLF);
}

/** Lines starting with dots, including one that is just `.` and one that is `..`. */
const dots = small(
  'leading dots',
  Buffer.from(
    [headers('dots', ['Content-Type: text/plain; charset=us-ascii']), '', '.', '..', '.hidden', '...three', 'middle . dot', '.', ' .space-dot', '.\t', 'end', ''].join(CRLF),
  ),
);

/** 8-bit UTF-8 text in headers (SMTPUTF8-style) and body. */
const utf8 = small(
  '8-bit UTF-8',
  Buffer.from(
    [
      headers('utf8', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit']),
      '',
      'Grüße aus Köln — naïve café, 東京, Ελληνικά, emoji 📨.',
      '.Ünïcödé line starting with a dot',
      'Ä'.repeat(400),
      '',
    ].join(CRLF),
    'utf8',
  ),
  { eightBit: true },
);

/** Deterministic pseudo-random bytes (xorshift32), every octet value present. */
function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A MIME message with a base64 attachment of binary data. */
const attachment = (() => {
  const data = pseudoRandom(40_000, 7);
  const b64 = data.toString('base64').replace(/.{76}/g, `$&${CRLF}`);
  return small(
    'base64 attachment',
    Buffer.from(
      [
        headers('attachment', ['Content-Type: multipart/mixed; boundary="b1"']),
        '',
        '--b1',
        'Content-Type: text/plain',
        '',
        'See attached.',
        '--b1',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: base64',
        'Content-Disposition: attachment; filename="blob.bin"',
        '',
        b64.endsWith(CRLF) ? b64.slice(0, -2) : b64,
        '--b1--',
        '',
      ].join(CRLF),
    ),
  );
})();

/** Lines of exactly 998 octets (the RFC 5322 limit), one of them starting with a dot. */
const longLines = small(
  '998-octet lines',
  Buffer.from(
    [headers('long'), '', 'a'.repeat(998), `.${'b'.repeat(997)}`, 'c'.repeat(998), ''].join(CRLF),
  ),
);

/** A raw binary body: bare CR, bare LF, NUL, CRLF.CRLF sequences, no final CRLF. BDAT only. */
const binary = small(
  'raw binary',
  Buffer.concat([
    Buffer.from(`${headers('binary', ['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: binary'])}${CRLF}${CRLF}`),
    Buffer.from('\r\n.\r\n\n.\n\r.\r\0.\0'),
    pseudoRandom(100_000, 42),
    Buffer.from('\r\n.\r'),
  ]),
  { eightBit: true, binary: true },
);

/** An empty body after the headers. */
const headersOnly = small('headers only', Buffer.from(`${headers('headers only')}${CRLF}${CRLF}`));

/** ~50 MB, generated on demand: numbered lines, some led by one or two dots, some 8-bit, with CRLF. */
export function largeMessage(totalSize = 50 * 1024 * 1024): CorpusMessage {
  // One 64 KiB block of lines, repeated with a varying block number to stay non-periodic.
  const head = Buffer.from(`${headers('large', ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'])}${CRLF}${CRLF}`);
  const block = (n: number): Buffer => {
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 64 * 1024 - 200; i += 1) {
      const line = i % 13 === 0 ? `..${n}.${i}` : i % 7 === 0 ? `.block ${n} line ${i} .` : i % 11 === 0 ? `bloc ${n} ligne ${i} — éàü` : `block ${n} line ${i} ${'x'.repeat((i * 37) % 90)}`;
      lines.push(line);
      size += Buffer.byteLength(line) + 2;
    }
    return Buffer.from(lines.join(CRLF) + CRLF, 'utf8');
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    // Sizes: the head, then blocks, the last one trimmed to a line boundary below totalSize.
    yield head;
    let sent = head.length;
    for (let n = 0; ; n += 1) {
      const b = block(n);
      if (sent + b.length >= totalSize) {
        const room = totalSize - sent;
        const cut = b.lastIndexOf('\r\n', room - 2);
        const tail = cut === -1 ? Buffer.alloc(0) : b.subarray(0, cut + 2);
        if (tail.length > 0) yield tail;
        return;
      }
      yield b;
      sent += b.length;
    }
  }
  let size = -1;
  let digest: string | null = null;
  const measure = async (): Promise<void> => {
    const hash = createHash('sha256');
    let n = 0;
    for await (const c of chunks()) {
      hash.update(c);
      n += c.length;
    }
    size = n;
    digest = hash.digest('hex');
  };
  return {
    name: `large (${Math.round(totalSize / 1024 / 1024)} MB)`,
    get size() {
      if (size < 0) throw new Error('call sha256() first to measure the large message');
      return size;
    },
    eightBit: true,
    binary: false,
    crlfEnded: true,
    bytes: null,
    chunks: () => chunks(),
    async sha256() {
      if (digest === null) await measure();
      return digest ?? '';
    },
  };
}

/** The small messages, each held in memory. */
export const smallCorpus: readonly CorpusMessage[] = [dots, utf8, attachment, longLines, headersOnly, binary];

/** Small messages a DATA transfer carries unchanged (no bare CR/LF). */
export const textCorpus: readonly CorpusMessage[] = smallCorpus.filter((m) => !m.binary);

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
