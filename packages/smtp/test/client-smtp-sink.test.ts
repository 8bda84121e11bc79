/**
 * The client against Postfix's smtp-sink on 127.0.0.1: the dumped message bytes (smtp-sink's
 * records and Received header removed, its LF line endings turned back into CRLF) equal the
 * bytes sent, for the whole text corpus and a 50 MB message; plus LMTP, pipelining, several
 * transactions per connection and soft/hard refusals.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ClientOptions, type SmtpClient } from '../src/client/index.js';
import { largeMessage, textCorpus } from './corpus.js';
import { hasSmtpSink, lfToCrlf, parseDump, type SmtpSink, type SmtpSinkOptions, startSmtpSink } from './helpers/smtp-sink.js';

const sinks: SmtpSink[] = [];
const clients: SmtpClient[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(sinks.map((s) => s.stop()));
});

async function sink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(options);
  sinks.push(s);
  return s;
}

async function client(s: SmtpSink, options: Partial<ClientOptions> = {}): Promise<SmtpClient> {
  const c = await connect({ host: s.host, port: s.port, name: 'client.example', startTls: 'never', ...options });
  clients.push(c);
  return c;
}

describe.skipIf(!hasSmtpSink)('client → Postfix smtp-sink', () => {
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await sink();
  });

  it('delivers the text corpus byte for byte, several transactions on one connection', async () => {
    const c = await client(smtp);
    expect(c.extensions).toMatchObject({ pipelining: true, eightBitMime: true, dsn: true });
    for (const m of textCorpus) {
      const r = await c.send({ from: 'a@example.org', to: ['b@example.net', 'c@example.net'], body: m.chunks(1000), body8bit: m.eightBit ? '8BITMIME' : undefined });
      expect(r.status).toBe('delivered');
      const [dump] = await smtp.takeMessages(1);
      expect(dump?.body.equals(m.bytes ?? Buffer.alloc(0)), m.name).toBe(true);
      expect(dump?.records.filter(([k]) => k === 'X-Rcpt-Args').map(([, v]) => v)).toEqual(['<b@example.net>', '<c@example.net>']);
      expect(dump?.records.find(([k]) => k === 'X-Mail-Args')?.[1]).toBe(`<a@example.org>${m.eightBit ? ' BODY=8BITMIME' : ''}`);
    }
    await c.quit();
  });

  it('delivers a 50 MB message byte for byte', { timeout: 120_000 }, async () => {
    const large = largeMessage();
    const c = await client(smtp);
    await c.send({ from: 'a@example.org', to: ['b@example.net'], body: large.chunks(), body8bit: '8BITMIME' });
    const [dump] = await smtp.takeMessages(1, 20_000);
    if (!dump) throw new Error('no dump');
    // Compare digests; the dump is parsed from the file (CRLF restored) in one pass.
    const parsed = parseDump(dump.file, await readFile(join(smtp.dir, dump.file)));
    expect(parsed.body.length).toBe(await large.sha256().then(() => large.size));
    expect(createHash('sha256').update(parsed.body).digest('hex')).toBe(await large.sha256());
    await c.quit();
  });

  it('works without pipelining', async () => {
    const s = await sink({ noPipelining: true });
    const c = await client(s);
    expect(c.extensions.pipelining).toBe(false);
    const m = textCorpus[0];
    if (!m?.bytes) throw new Error('empty corpus');
    await c.send({ from: 'a@example.org', to: ['b@example.net'], body: m.bytes });
    expect((await s.takeMessages(1))[0]?.body.equals(m.bytes)).toBe(true);
    await c.quit();
  });

  it('classifies soft and hard refusals', async () => {
    const soft = await sink({ softReject: ['RCPT'] });
    const c1 = await client(soft);
    const e1 = await c1.send({ from: 'a@example.org', to: ['b@example.net'], body: Buffer.from('x\r\n') }).catch((e: unknown) => e);
    expect(e1).toMatchObject({ phase: 'rcpt', temporary: true, reply: { code: 450 } });
    const hard = await sink({ hardReject: ['.'] });
    const c2 = await client(hard);
    const e2 = await c2.send({ from: 'a@example.org', to: ['b@example.net'], body: Buffer.from('x\r\n') }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ phase: 'data', temporary: false });
  });

  it('speaks LMTP with one reply per recipient', async () => {
    const s = await sink({ lmtp: true });
    const c = await client(s, { lmtp: true });
    const m = textCorpus[1];
    if (!m?.bytes) throw new Error('empty corpus');
    const r = await c.send({ from: 'a@example.org', to: ['one@example.net', 'two@example.net'], body: m.bytes, body8bit: '8BITMIME' });
    expect(r.dataReplies).toHaveLength(2);
    expect(r.accepted).toHaveLength(2);
    const [dump] = await s.takeMessages(1);
    expect(dump?.records.find(([k]) => k === 'X-Client-Proto')?.[1]).toBe('LMTP');
    expect(dump?.body.equals(m.bytes)).toBe(true);
    await c.quit();
  });

  it('parses the dump format exactly', () => {
    const dump = Buffer.from('X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Mail-Args: <a@b>\nX-Rcpt-Args: <c@d>\nReceived: from x ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id 1;\n\tMon, 1 Jan 2024 00:00:00 +0000 (UTC)\nSubject: s\n\nbody\n\n');
    const parsed = parseDump('f', dump);
    expect(parsed.body.toString()).toBe('Subject: s\r\n\r\nbody\r\n');
    expect(parsed.records.map(([k]) => k)).toEqual(['X-Client-Addr', 'X-Client-Proto', 'X-Mail-Args', 'X-Rcpt-Args', 'Received']);
    expect(lfToCrlf(Buffer.from('a\nb')).toString()).toBe('a\r\nb');
  });
});
