/**
 * The reply flusher: replies queued during a batch of I/O are written once the batch is done,
 * each connection once and in queue order, and at once when enough input arrives meanwhile.
 */
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Flushable, ReplyFlusher } from './reply-flush.js';
import { createServer } from './server.js';

const nextBatch = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A connection stand-in that records when it was flushed. */
function recorder(log: string[], name: string): Flushable {
  return { flush: () => log.push(name) };
}

describe('ReplyFlusher', () => {
  it('writes after the current batch, not at once', async () => {
    const flusher = new ReplyFlusher();
    const log: string[] = [];
    flusher.later(recorder(log, 'a'));
    expect(log).toEqual([]);
    expect(flusher.pending).toBe(1);
    await nextBatch();
    expect(log).toEqual(['a']);
    expect(flusher.pending).toBe(0);
  });

  it('flushes each connection once per batch, in the order queued', async () => {
    const flusher = new ReplyFlusher();
    const log: string[] = [];
    const a = recorder(log, 'a');
    const b = recorder(log, 'b');
    flusher.later(b);
    flusher.later(a);
    flusher.later(b);
    await nextBatch();
    expect(log).toEqual(['b', 'a']);
    // Queued again in a later batch, it is flushed again.
    flusher.later(b);
    await nextBatch();
    expect(log).toEqual(['b', 'a', 'b']);
  });

  it('writes at once when more input than the cap is read while replies wait', async () => {
    const flusher = new ReplyFlusher(1000);
    const log: string[] = [];
    flusher.later(recorder(log, 'a'));
    flusher.noteInput(600);
    expect(log).toEqual([]);
    flusher.noteInput(401);
    expect(log).toEqual(['a']);
    // Queued after that flush in the same batch: written at the end of the batch, once.
    flusher.later(recorder(log, 'b'));
    await nextBatch();
    expect(log).toEqual(['a', 'b']);
  });

  it('flushes the others when one flush throws, then throws that error', async () => {
    const flusher = new ReplyFlusher(10);
    const log: string[] = [];
    const broken: Flushable = {
      flush: () => {
        throw new Error('broken socket');
      },
    };
    flusher.later(recorder(log, 'a'));
    flusher.later(broken);
    flusher.later(recorder(log, 'b'));
    expect(() => flusher.noteInput(11)).toThrow('broken socket');
    expect(log).toEqual(['a', 'b']);
    expect(flusher.pending).toBe(0);
    // Nothing stays marked as queued: each can be queued again.
    flusher.later(broken);
    flusher.later(recorder(log, 'c'));
    expect(flusher.pending).toBe(2);
    expect(() => flusher.noteInput(11)).toThrow('broken socket');
    expect(log).toEqual(['a', 'b', 'c']);
    await nextBatch();
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('counts only input read while replies wait', async () => {
    const flusher = new ReplyFlusher(1000);
    const log: string[] = [];
    flusher.noteInput(5000);
    flusher.later(recorder(log, 'a'));
    flusher.noteInput(999);
    expect(log).toEqual([]);
    await nextBatch();
    expect(log).toEqual(['a']);
    flusher.later(recorder(log, 'b'));
    flusher.noteInput(999);
    expect(log).toEqual(['a']);
  });
});

describe('replies of many sessions served in one batch', () => {
  it('reach every client, each as one write per pipelined group', async () => {
    const server = createServer({ hostname: 'mx.test' });
    const address = await server.listen({ port: 0, host: '127.0.0.1' });
    if (typeof address === 'string') throw new Error('expected a TCP address');
    const clients = 20;
    const envelope = 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n';

    const session = async (): Promise<string[]> => {
      const socket = net.connect(address.port, '127.0.0.1');
      const chunks: string[] = [];
      let text = '';
      let wake = (): void => {};
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk.toString('latin1'));
        text += chunk.toString('latin1');
        wake();
      });
      const until = async (pattern: RegExp): Promise<void> => {
        while (!pattern.test(text)) await new Promise<void>((resolve) => (wake = resolve));
      };
      await until(/^220 /m);
      socket.write('EHLO client.test\r\n');
      await until(/^250 [^\r]*\r\n$/m);
      chunks.length = 0;
      socket.write(envelope);
      await until(/^354 /m);
      socket.write('Subject: hi\r\n\r\nbody\r\n.\r\n');
      await until(/^250 2\.0\.0[^\r]*\r\n$/m);
      const transaction = [...chunks];
      socket.end('QUIT\r\n');
      await once(socket, 'close');
      return transaction;
    };

    try {
      const results = await Promise.all(Array.from({ length: clients }, session));
      for (const chunks of results) {
        // 250 250 354 arrive as one segment (one write), then the 250 after end of data.
        expect(chunks).toHaveLength(2);
        expect(chunks[0]).toMatch(/^250 2\.1\.0 [^\r]*\r\n250 2\.1\.5 [^\r]*\r\n354 [^\r]*\r\n$/);
        expect(chunks[1]).toMatch(/^250 2\.0\.0 [^\r]*\r\n$/);
      }
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
});

/**
 * Greets, says EHLO, then sends `payload` and closes the client's side at once (FIN); resolves
 * with everything the server wrote after the EHLO reply, once the server has closed too.
 */
async function sendThenHalfClose(port: number, payload: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let stage = 0;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    if (stage === 0 && /^220 /m.test(text)) {
      stage = 1;
      socket.write('EHLO client.test\r\n');
    } else if (stage === 1 && /^250 [^\r]*\r\n$/m.test(text)) {
      stage = 2;
      text = '';
      socket.end(payload);
    }
  });
  socket.on('error', () => {});
  await once(socket, 'close');
  return text;
}

describe('a client that half-closes right after its pipelined commands', () => {
  // With the peer's FIN read in the same batch as its commands, Node ends our side before the
  // end of the batch: the replies must be written before that, not lost.
  it.each([64 * 1024, 128 * 1024, 192 * 1024])('still gets every reply (%i octets sent, then FIN)', async (total) => {
    const server = createServer({ hostname: 'mx.test' });
    const address = await server.listen({ port: 0, host: '127.0.0.1' });
    if (typeof address === 'string') throw new Error('expected a TCP address');
    const head = 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n';
    const tail = '\r\n.\r\nNOOP\r\n';
    const line = `${'x'.repeat(76)}\r\n`;
    let body = line.repeat(Math.floor((total - head.length - tail.length) / line.length));
    body += 'y'.repeat(total - head.length - tail.length - body.length);
    const payload = head + body + tail;
    expect(payload.length).toBe(total);

    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const text = await sendThenHalfClose(address.port, payload);
        expect(text).toMatch(/^250 2\.1\.0 [^\r]*\r\n250 2\.1\.5 [^\r]*\r\n354 [^\r]*\r\n250 2\.0\.0 [^\r]*\r\n250 2\.0\.0 [^\r]*\r\n$/);
      }
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
});

describe('a client that half-closes while a hook is still deciding', () => {
  it('gets the reply to end of data and to QUIT, then the server closes its side', async () => {
    const server = createServer({
      hostname: 'mx.test',
      hooks: {
        async onData(_session, _tx, body) {
          body.resume();
          await once(body, 'end');
          // Answer well after the client's FIN has been read.
          await new Promise((resolve) => setTimeout(resolve, 50));
          return undefined;
        },
      },
    });
    const address = await server.listen({ port: 0, host: '127.0.0.1' });
    if (typeof address === 'string') throw new Error('expected a TCP address');
    try {
      const text = await sendThenHalfClose(
        address.port,
        'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n',
      );
      expect(text).toMatch(/^250 2\.1\.0 [^\r]*\r\n250 2\.1\.5 [^\r]*\r\n354 [^\r]*\r\n250 2\.0\.0 [^\r]*\r\n221 [^\r]*\r\n$/);
    } finally {
      await server.close({ timeout: 1000 });
    }
  });
});
