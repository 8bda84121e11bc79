/**
 * The Mailway client against the Mailway server on 127.0.0.1: the only pairing here where the
 * server offers CHUNKING and BINARYMIME, so BDAT and raw binary bodies are proved over real
 * sockets. Every corpus message arrives byte-exact, over DATA and over BDAT.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, SmtpSendError } from '../src/client/index.js';
import { accept, createServer, defer, reject, type ServerOptions, type SmtpServer } from '../src/server/index.js';
import { largeMessage, smallCorpus, textCorpus } from './corpus.js';
import { selfSignedCert } from './helpers/certs.js';
import type { AddressInfo } from 'node:net';

interface Delivery {
  from: string | null;
  to: string[];
  sha256: string;
  size: number;
  body: Buffer | null;
}

let server: SmtpServer | null = null;

afterEach(async () => {
  await server?.close({ timeout: 1_000 });
  server = null;
});

/** Starts a server that hashes (and, for small messages, keeps) every message it receives. */
async function start(options: ServerOptions = {}): Promise<{ port: number; deliveries: Delivery[] }> {
  const deliveries: Delivery[] = [];
  server = createServer({
    hostname: 'mx.test',
    limits: { messageSize: 64 * 1024 * 1024 },
    ...options,
    hooks: {
      async onData(_s, tx, body) {
        const hash = createHash('sha256');
        const kept: Buffer[] = [];
        let size = 0;
        for await (const chunk of body) {
          hash.update(chunk);
          size += chunk.length;
          if (size <= 1024 * 1024) kept.push(chunk);
        }
        deliveries.push({
          from: tx.from ? `${tx.from.local}@${tx.from.domain}` : null,
          to: tx.recipients.map((r) => `${r.address.local}@${r.address.domain}`),
          sha256: hash.digest('hex'),
          size,
          body: size <= 1024 * 1024 ? Buffer.concat(kept) : null,
        });
        return undefined;
      },
      ...options.hooks,
    },
  });
  const { port } = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
  return { port, deliveries };
}

describe('Mailway client → Mailway server', () => {
  it.each([
    ['DATA', 'never'],
    ['BDAT', 'auto'],
  ] as const)('carries every text corpus message byte-exact over %s on one connection', async (method, chunking) => {
    const { port, deliveries } = await start();
    const client = await connect({ host: '127.0.0.1', port, name: 'client.test', startTls: 'never', chunking });
    for (const message of textCorpus) {
      const result = await client.send({ from: 'a@example.org', to: ['b@mx.test'], body: message.bytes ?? Buffer.alloc(0), body8bit: message.eightBit ? '8BITMIME' : undefined });
      expect(result.method).toBe(method);
    }
    await client.quit();
    expect(deliveries.map((d) => d.body?.toString('latin1'))).toEqual(textCorpus.map((m) => m.bytes?.toString('latin1')));
  });

  it('carries a raw binary body (bare CR, LF, NUL, dots) unchanged with BDAT and BODY=BINARYMIME', async () => {
    const binary = smallCorpus.find((m) => m.binary);
    expect(binary?.bytes).toBeTruthy();
    const { port, deliveries } = await start();
    const client = await connect({ host: '127.0.0.1', port, name: 'client.test', startTls: 'never', chunkSize: 4096 });
    const result = await client.send({ from: 'a@example.org', to: ['b@mx.test'], body: binary?.bytes ?? Buffer.alloc(0), body8bit: 'BINARYMIME' });
    await client.quit();
    expect(result.method).toBe('BDAT');
    expect(deliveries[0]?.body?.equals(binary?.bytes ?? Buffer.alloc(0))).toBe(true);
  });

  it.each(['never', 'auto'] as const)('streams the 50 MB message through STARTTLS and AUTH intact (chunking %s)', async (chunking) => {
    const { key, cert } = await selfSignedCert();
    const { port, deliveries } = await start({
      tls: { key, cert },
      auth: { required: true },
      hooks: { onAuth: (_s, c) => (c.password === 'pw' ? undefined : reject(535, '5.7.8', 'Authentication credentials invalid')) },
    });
    const large = largeMessage();
    const expected = await large.sha256();
    const client = await connect({ host: '127.0.0.1', port, name: 'client.test', startTls: 'required', tls: { ca: cert }, chunking, auth: { user: 'alice', pass: 'pw' } });
    expect(client.tls?.authorized).toBe(true);
    const result = await client.send({ from: 'alice@example.org', to: ['b@mx.test'], body: Readable.from(large.chunks()), body8bit: '8BITMIME' });
    await client.quit();
    expect(result.status).toBe('delivered');
    expect(deliveries[0]?.size).toBe(large.size);
    expect(deliveries[0]?.sha256).toBe(expected);
  });

  it('reports per-recipient results and classifies 4xx against 5xx', async () => {
    const { port } = await start({
      hooks: {
        onRcptTo: (_s, _t, r) => (r.address.local === 'gone' ? reject(550, '5.1.1', 'No such user') : r.address.local === 'later' ? defer(450, '4.2.1', 'Try later') : undefined),
      },
    });
    const client = await connect({ host: '127.0.0.1', port, name: 'client.test', startTls: 'never' });
    const result = await client.send({ from: 'a@example.org', to: ['ok@mx.test', 'gone@mx.test', 'later@mx.test'], body: Buffer.from('x\r\n') });
    expect(result.status).toBe('partial');
    expect(result.recipients.map((r) => [r.address, r.status, r.reply.code, r.reply.enhanced])).toEqual([
      ['ok@mx.test', 'delivered', 250, '2.0.0'],
      ['gone@mx.test', 'permanent', 550, '5.1.1'],
      ['later@mx.test', 'temporary', 450, '4.2.1'],
    ]);
    const failure = await client.send({ from: 'a@example.org', to: ['gone@mx.test'], body: Buffer.from('x\r\n') }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SmtpSendError);
    expect((failure as SmtpSendError).permanent).toBe(true);
    await client.quit();
  });

  it('LMTP: one reply per recipient after the data, over DATA and over BDAT', async () => {
    const { port } = await start({
      lmtp: true,
      hooks: {
        async onData(_s, tx, body) {
          for await (const _ of body);
          return tx.recipients.map((r) => (r.address.local === 'full' ? defer(452, '4.2.2', 'Mailbox full') : accept(`Delivered to ${r.address.local}`)));
        },
      },
    });
    for (const chunking of ['never', 'auto'] as const) {
      const client = await connect({ host: '127.0.0.1', port, name: 'client.test', lmtp: true, startTls: 'never', chunking });
      const result = await client.send({ from: 'a@example.org', to: ['bob@mx.test', 'full@mx.test'], body: Buffer.from('Subject: x\r\n\r\nhi\r\n') });
      expect(result.dataReplies.map((r) => `${r.code} ${r.enhanced} ${r.lines[0]}`)).toEqual(['250 2.0.0 Delivered to bob', '452 4.2.2 Mailbox full']);
      expect(result.recipients.map((r) => r.status)).toEqual(['delivered', 'temporary']);
      await client.quit();
    }
  });

  it('carries SMTPUTF8 addresses and DSN parameters to the server', async () => {
    const seen: unknown[] = [];
    const { port } = await start({
      hooks: {
        onRcptTo: (_s, tx, r) => void seen.push({ smtputf8: tx.mailParams.smtputf8, ret: tx.mailParams.ret, envid: tx.mailParams.envid, to: r.address.local, notify: r.params.notify, orcpt: r.params.orcpt }),
      },
    });
    const client = await connect({ host: '127.0.0.1', port, name: 'client.test', startTls: 'never' });
    await client.send({
      from: 'jörg@exämple.org',
      to: [{ address: 'δοκιμή@mx.test', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;b+x@mx.test' }],
      body: Buffer.from('Subject: utf8\r\n\r\nx\r\n'),
      smtputf8: true,
      ret: 'HDRS',
      envid: 'id=1+2',
    });
    await client.quit();
    expect(seen).toEqual([{ smtputf8: true, ret: 'HDRS', envid: 'id=1+2', to: 'δοκιμή', notify: ['SUCCESS', 'FAILURE'], orcpt: { type: 'rfc822', address: 'b+x@mx.test' } }]);
  });

  it('passes on an ORCPT of type utf-8 in the RFC 6533 encoding, with or without SMTPUTF8', async () => {
    const seen: unknown[] = [];
    const { port } = await start({ hooks: { onRcptTo: (_s, _tx, r) => void seen.push(r.params.orcpt) } });
    const client = await connect({ host: '127.0.0.1', port, name: 'client.test', startTls: 'never' });
    for (const address of ['jörg+tag@exämple.test', 'plain+tag@example.test']) {
      const result = await client.send({ from: 'a@example.org', to: [{ address: 'bob@mx.test', notify: ['FAILURE'], orcpt: `utf-8;${address}` }], body: Buffer.from('Subject: x\r\n\r\nx\r\n'), smtputf8: address === 'plain+tag@example.test' });
      expect(result.status).toBe('delivered');
    }
    await client.quit();
    expect(seen).toEqual([
      { type: 'utf-8', address: 'jörg+tag@exämple.test' },
      { type: 'utf-8', address: 'plain+tag@example.test' },
    ]);
  });
});
