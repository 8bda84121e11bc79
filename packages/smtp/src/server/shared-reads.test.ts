/**
 * Shared reads: accepted sockets read into one buffer and lend each read to their session,
 * which copies what it keeps. The tests make later reads overwrite the buffer while a session
 * still holds input: a partial line, pipelined commands behind a slow hook, message octets the
 * hook keeps.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawClient } from '../../test/support/raw-client.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { lendReadsTo, withSharedReads } from './shared-reads.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('withSharedReads', () => {
  it('lends each read to the reader and leaves the accepted socket behind', async () => {
    const reads: string[] = [];
    const served: net.Socket[] = [];
    const listener = net.createServer({ pauseOnConnect: true }, (accepted) => {
      const socket = withSharedReads(accepted);
      expect(socket).not.toBe(accepted);
      expect(lendReadsTo(socket, (chunk) => reads.push(chunk.toString('latin1')))).toBe(true);
      served.push(socket);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    const connections = (): Promise<number> => new Promise((resolve, reject) => listener.getConnections((error, n) => (error ? reject(error) : resolve(n))));

    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.write('first');
    while (reads.length < 1) await pause(5);
    client.write('second');
    while (reads.length < 2) await pause(5);
    expect(reads).toEqual(['first', 'second']);
    expect(served[0]?.remotePort).toBe(client.localPort);
    // The accepted socket is gone at once (it would cost memory for the connection's life).
    expect(await connections()).toBe(0);

    client.end();
    await once(served[0]!, 'close');
    await new Promise<void>((resolve, reject) => listener.close((error) => (error ? reject(error) : resolve())));
  });

  it('leaves a socket without a handle as it is, with its input as data events', () => {
    const socket = new net.Socket();
    expect(withSharedReads(socket)).toBe(socket);
    expect(lendReadsTo(socket, () => {})).toBe(false);
  });
});

describe('a session keeps what later reads would overwrite', () => {
  let server: TestServer;
  afterEach(async () => server?.close());

  /** A client past the greeting and EHLO. */
  async function greeted(): Promise<RawClient> {
    const client = await server.connect();
    await client.reply();
    client.write('EHLO client.test\r\n');
    await client.reply();
    return client;
  }

  it('a command line split across reads', async () => {
    server = await startServer();
    const client = await greeted();
    // The second read lands where the first one's line begins.
    client.write('MAIL FROM:<sender@exa');
    await pause(30);
    client.write('mple.org>\r\n');
    expect(await client.reply()).toEqual(['250 2.1.0 Sender OK']);
  });

  it('pipelined commands waiting behind a slow hook while another session reads', async () => {
    server = await startServer({
      hooks: {
        async onMailFrom() {
          await pause(50);
          return undefined;
        },
      },
    });
    const slow = await greeted();
    const other = await greeted();
    slow.write('MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n');
    await pause(10);
    // Read while the MAIL hook runs: these octets land where the pipelined RCPTs were read.
    other.write(`NOOP ${'z'.repeat(60)}\r\n`);
    expect(await other.reply()).toEqual(['250 2.0.0 OK']);
    expect(await slow.reply()).toEqual(['250 2.1.0 Sender OK']);
    expect(await slow.reply()).toEqual(['250 2.1.5 Recipient OK']);
    expect(await slow.reply()).toEqual(['250 2.1.5 Recipient OK']);
  });

  it('message octets the hook keeps, sent in pieces', async () => {
    server = await startServer();
    const client = await greeted();
    client.write('MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n');
    await client.reply();
    await client.reply();
    expect((await client.reply())[0]).toMatch(/^354 /);
    const pieces = ['Subject: one\r\n\r\n', 'first piece of the body\r\n', 'second piece, longer than the first one\r\n', 'third\r\n'];
    for (const piece of pieces) {
      client.write(piece);
      await pause(15);
    }
    client.write('.\r\n');
    expect((await client.reply())[0]).toMatch(/^250 2\.0\.0 /);
    expect(server.received[0]?.body.toString('latin1')).toBe(pieces.join(''));
  });
});
