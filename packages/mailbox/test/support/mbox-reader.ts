/**
 * An mboxrd reader for tests, written apart from the writer: split at From_ lines, drop the
 * blank separator line, unquote `>>*From ` lines by one '>'.
 */

export interface MboxMessage {
  readonly fromLine: string;
  readonly body: Buffer;
}

/** The messages of an mbox file's bytes. */
export function readMbox(bytes: Buffer): MboxMessage[] {
  const starts: number[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    if (bytes.subarray(pos, pos + 5).toString('latin1') === 'From ') starts.push(pos);
    const newline = bytes.indexOf(0x0a, pos);
    if (newline === -1) break;
    pos = newline + 1;
  }
  return starts.map((start, i) => {
    const end = starts[i + 1] ?? bytes.length;
    const lineEnd = bytes.indexOf(0x0a, start) + 1;
    // The separator: the one newline the writer added after the message.
    const raw = bytes.subarray(lineEnd, end - 1);
    return { fromLine: bytes.subarray(start, lineEnd - 1).toString('latin1'), body: unquote(raw) };
  });
}

function unquote(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let pos = 0; pos < raw.length; ) {
    const newline = raw.indexOf(0x0a, pos);
    const end = newline === -1 ? raw.length : newline + 1;
    const line = raw.subarray(pos, end);
    out.push(/^>+From /.test(line.subarray(0, 200).toString('latin1')) ? line.subarray(1) : line);
    pos = end;
  }
  return Buffer.concat(out);
}
