/**
 * The Mailway server against nodemailer, an independent SMTP/LMTP client, on 127.0.0.1.
 *
 * Proves: STARTTLS and implicit TLS with AUTH PLAIN and AUTH LOGIN, the 535 5.7.8 answer to a
 * wrong password, byte-exact round trips of the text corpus and of a 50 MB message (by SHA-256,
 * streamed on both sides), several transactions over one pooled connection, and LMTP with a
 * recipient refused at RCPT and per-recipient replies after the data (RFC 2033 §4.2).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accept, defer, reject, type ServerOptions, type Session, type Verdict } from '../src/server/index.js';
import { largeMessage, textCorpus } from './corpus.js';
import { selfSignedCert, type TestCertificate } from './helpers/certs.js';
import { startServer, type TestServer } from './support/server.js';

const user = 'alice';
const password = 'correct horse battery staple';

let cert: TestCertificate;
const servers: TestServer[] = [];
const transports: Array<{ close(): void }> = [];

beforeAll(async () => {
  cert = await selfSignedCert();
});

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  for (const s of servers.splice(0)) await s.close();
});

/** What the server saw of each authenticated session, recorded by its hooks. */
interface Seen {
  mechanism: string;
  tlsProtocol: string | null;
  userAtMail: string | null;
}

/** A Mailway server on 127.0.0.1:0 that accepts `alice` with the right password only. */
async function start(options: ServerOptions = {}): Promise<{ server: TestServer; seen: Seen[] }> {
  const seen: Seen[] = [];
  const byId = new Map<string, Seen>();
  const server = await startServer({
    tls: { key: cert.key, cert: cert.cert },
    ...options,
    hooks: {
      onAuth(session, credentials) {
        if (credentials.username !== user || credentials.password !== password) return reject(535, '5.7.8', 'Authentication credentials invalid');
        const entry: Seen = { mechanism: credentials.mechanism, tlsProtocol: session.tls?.protocol ?? null, userAtMail: null };
        byId.set(session.id, entry);
        seen.push(entry);
        return accept();
      },
      onMailFrom(session: Session) {
        const entry = byId.get(session.id);
        if (entry) entry.userAtMail = session.user;
      },
      ...options.hooks,
    },
  });
  servers.push(server);
  return { server, seen };
}

/** Registers a transport so afterEach closes it. */
function track<T extends { close(): void }>(transport: T): T {
  transports.push(transport);
  return transport;
}

/** A transport to `server` on 127.0.0.1 that trusts its self-signed certificate; afterEach closes it. */
function transportTo(server: TestServer, options: Omit<SMTPTransport.Options, 'host' | 'port' | 'tls'> = {}) {
  return track(nodemailer.createTransport({ host: '127.0.0.1', port: server.port, tls: { rejectUnauthorized: false }, ...options }));
}

const envelope = { from: 'sender@example.org', to: ['rcpt@mx.test'] };
const simple = Buffer.from('From: sender@example.org\r\nTo: rcpt@mx.test\r\nSubject: hello\r\n\r\nHello.\r\n');

describe('TLS and AUTH with nodemailer', () => {
  it.each([
    ['STARTTLS', 'PLAIN', false],
    ['STARTTLS', 'LOGIN', false],
    ['implicit TLS', 'PLAIN', true],
    ['implicit TLS', 'LOGIN', true],
  ] as const)('%s with AUTH %s delivers one message', async (_name, method, secure) => {
    const { server, seen } = await start({ secure, auth: { required: true } });
    const transport = transportTo(server, { secure, requireTLS: !secure, name: 'client.test', auth: { user, pass: password, method } });

    const info = await transport.sendMail({ envelope, raw: simple });

    expect(info.accepted).toEqual(['rcpt@mx.test']);
    expect(info.rejected).toEqual([]);
    expect(info.response).toBe('250 2.0.0 Message accepted');
    expect(seen).toEqual([{ mechanism: method, tlsProtocol: expect.stringMatching(/^TLSv1\.[23]$/), userAtMail: user }]);
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.body.equals(simple)).toBe(true);
  });

  it.each([
    ['PLAIN', false],
    ['LOGIN', false],
    ['PLAIN', true],
  ] as const)('a wrong password with AUTH %s (implicit TLS: %s) gets 535 5.7.8 and no mail goes through', async (method, secure) => {
    const { server, seen } = await start({ secure, auth: { required: true } });
    const transport = transportTo(server, { secure, requireTLS: !secure, auth: { user, pass: 'wrong', method } });

    const error = await transport.sendMail({ envelope, raw: simple }).then(
      () => null,
      (e: unknown) => e as { code?: string; responseCode?: number; response?: string },
    );

    expect(error?.code).toBe('EAUTH');
    expect(error?.responseCode).toBe(535);
    expect(error?.response).toBe('535 5.7.8 Authentication credentials invalid');
    expect(seen).toEqual([]);
    expect(server.received).toEqual([]);
  });

  it('a client that skips AUTH is refused at MAIL with 530 5.7.0', async () => {
    const { server } = await start({ auth: { required: true } });
    const transport = transportTo(server, { requireTLS: true });

    const error = await transport.sendMail({ envelope, raw: simple }).then(
      () => null,
      (e: unknown) => e as { responseCode?: number; response?: string },
    );

    expect(error?.responseCode).toBe(530);
    expect(error?.response).toBe('530 5.7.0 Authentication required');
    expect(server.received).toEqual([]);
  });
});

describe('byte-exact transfer with nodemailer', () => {
  // DATA carries a message unchanged only when it ends in CRLF and has no bare CR or LF: textCorpus.
  it.each(textCorpus.map((m) => [m.name, m] as const))('%s arrives byte for byte', async (_name, message) => {
    const { server } = await start({ secure: true });
    const transport = transportTo(server, { secure: true });
    const bytes = message.bytes ?? Buffer.alloc(0);
    expect([message.crlfEnded, message.binary]).toEqual([true, false]);

    const info = await transport.sendMail({ envelope, raw: bytes });

    expect(info.response).toBe('250 2.0.0 Message accepted');
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.from).toBe('sender@example.org');
    expect(server.received[0]?.to).toEqual(['rcpt@mx.test']);
    expect(server.received[0]?.body.length).toBe(bytes.length);
    expect(server.received[0]?.body.equals(bytes)).toBe(true);
  });

  it('a 50 MB message streams through unchanged (SHA-256 and size)', { timeout: 180_000 }, async () => {
    const large = largeMessage();
    const expectedDigest = await large.sha256();
    const digests: Array<{ sha256: string; size: number }> = [];
    const { server } = await start({
      limits: { messageSize: 64 * 1024 * 1024 },
      hooks: {
        async onData(_session, _tx, body) {
          const hash = createHash('sha256');
          let size = 0;
          for await (const chunk of body) {
            hash.update(chunk);
            size += chunk.length;
          }
          digests.push({ sha256: hash.digest('hex'), size });
        },
      },
    });
    const transport = transportTo(server, { requireTLS: true });

    const info = await transport.sendMail({ envelope, raw: Readable.from(large.chunks()) });

    expect(info.response).toBe('250 2.0.0 Message accepted');
    expect(digests).toEqual([{ sha256: expectedDigest, size: large.size }]);
  });
});

describe('pooled connection with nodemailer', () => {
  it('carries several transactions over one connection, each arriving intact', async () => {
    const sessions: Array<{ id: string; transactions: number }> = [];
    const bodies: Buffer[] = [];
    const connects: string[] = [];
    const { server } = await start({
      hooks: {
        onConnect(session) {
          connects.push(session.id);
        },
        async onData(session, _tx, body) {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk);
          sessions.push({ id: session.id, transactions: session.transactions });
          bodies.push(Buffer.concat(chunks));
        },
      },
    });
    const transport = track(
      nodemailer.createTransport({
        pool: true,
        maxConnections: 1,
        maxMessages: 100,
        host: '127.0.0.1',
        port: server.port,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
      }),
    );
    const messages = Array.from({ length: 6 }, (_, i) => Buffer.from(`Subject: pooled ${i}\r\n\r\n.line ${i}\r\n..two dots\r\n`));

    const infos = await Promise.all(messages.map((raw, i) => transport.sendMail({ envelope: { from: `s${i}@example.org`, to: [`r${i}@mx.test`] }, raw })));

    expect(infos.map((info) => info.response)).toEqual(messages.map(() => '250 2.0.0 Message accepted'));
    expect(connects).toHaveLength(1);
    expect(new Set(sessions.map((s) => s.id))).toEqual(new Set(connects));
    expect(sessions.map((s) => s.transactions)).toEqual([0, 1, 2, 3, 4, 5]);
    // The pool may reorder sends; match each body to its own message.
    expect([...bodies].sort(Buffer.compare)).toEqual([...messages].sort(Buffer.compare));
  });
});

describe('LMTP with nodemailer', () => {
  it('refuses one recipient at RCPT and answers once per accepted recipient after the data', async () => {
    const bodies: Buffer[] = [];
    const { server } = await start({
      lmtp: true,
      hooks: {
        onRcptTo(_session, _tx, recipient) {
          if (recipient.address.local === 'nobody') return reject(550, '5.1.1', 'No such user here');
          return undefined;
        },
        async onData(_session, tx, body): Promise<Verdict[]> {
          const chunks: Buffer[] = [];
          for await (const chunk of body) chunks.push(chunk);
          bodies.push(Buffer.concat(chunks));
          return tx.recipients.map((r) => (r.address.local === 'full' ? defer(452, '4.2.2', 'Mailbox full') : accept('Delivered to mailbox', 250, '2.1.5')));
        },
      },
    });
    const transport = transportTo(server, { lmtp: true, requireTLS: true });

    const info = await transport.sendMail({
      envelope: { from: 'sender@example.org', to: ['alice@mx.test', 'nobody@mx.test', 'full@mx.test', 'bob@mx.test'] },
      raw: simple,
    });

    expect(info.accepted).toEqual(['alice@mx.test', 'bob@mx.test']);
    expect([...info.rejected].sort()).toEqual(['full@mx.test', 'nobody@mx.test']);
    const errors = (info.rejectedErrors ?? []).map((e) => ({ recipient: (e as { recipient?: string }).recipient, response: (e as { response?: string }).response }));
    expect(errors).toEqual([
      { recipient: 'nobody@mx.test', response: '550 5.1.1 No such user here' },
      { recipient: 'full@mx.test', response: '452 4.2.2 Mailbox full' },
    ]);
    // The final reply nodemailer reports is the last recipient's (bob).
    expect(info.response).toBe('250 2.1.5 Delivered to mailbox');
    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.equals(simple)).toBe(true);
  });

  // Server defect (RFC 2033 §4.2): a message refused for its size after the data is answered
  // once, not once per accepted recipient, so nodemailer waits for the second reply in vain.
  it('a message over the size limit is refused once per accepted recipient', async () => {
    const { server } = await start({ lmtp: true, limits: { messageSize: 100 } });
    const transport = transportTo(server, { lmtp: true, requireTLS: true, socketTimeout: 1_500 });

    // A stream, so nodemailer cannot declare SIZE= in MAIL and the refusal comes after the data.
    const info = await transport.sendMail({
      envelope: { from: 'sender@example.org', to: ['alice@mx.test', 'bob@mx.test'] },
      raw: Readable.from([Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(200)}\r\n`)]),
    });

    expect(info.accepted).toEqual([]);
    expect(info.rejected).toEqual(['alice@mx.test', 'bob@mx.test']);
    expect((info.rejectedErrors ?? []).map((e) => (e as { response?: string }).response)).toEqual([
      '552 5.3.4 Message size exceeds fixed maximum message size',
      '552 5.3.4 Message size exceeds fixed maximum message size',
    ]);
  });
});
