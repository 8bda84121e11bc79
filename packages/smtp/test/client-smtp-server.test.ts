/**
 * The client against nodemailer's smtp-server on 127.0.0.1: TLS (STARTTLS and implicit),
 * AUTH, pipelining, LMTP, several transactions per connection, refusals, and a byte-exact
 * round trip of the corpus (what smtp-server's onData stream receives equals what was sent).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ClientOptions, type SmtpClient, SmtpClientError, SmtpSendError } from '../src/client/index.js';
import { largeMessage, sha256, textCorpus } from './corpus.js';
import { selfSignedCert, type TestCertificate } from './helpers/certs.js';

interface Received {
  from: string;
  to: string[];
  sha256: string;
  size: number;
  body: Buffer | null;
  user: string | null;
}

interface Running {
  port: number;
  received: Received[];
  server: SMTPServer;
}

const servers: SMTPServer[] = [];
const clients: SmtpClient[] = [];
let cert: TestCertificate;

beforeAll(async () => {
  cert = await selfSignedCert();
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** smtp-server on 127.0.0.1:0 recording every message; refusals by recipient local part. */
async function startServer(options: Partial<SMTPServerOptions> = {}): Promise<Running> {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    key: cert.key,
    cert: cert.cert,
    authOptional: true,
    disableReverseLookup: true,
    onAuth(auth, _session, callback) {
      if (auth.username === 'user' && auth.password === 'secret') callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const local = address.address.split('@')[0] ?? '';
      if (local.startsWith('unknown')) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      if (local.startsWith('busy')) return callback(Object.assign(new Error('Mailbox busy'), { responseCode: 450 }));
      callback();
    },
    onData(stream, session, callback) {
      const hash = createHash('sha256');
      const keep: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
        if (size <= 1 << 20) keep.push(chunk);
      });
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          sha256: hash.digest('hex'),
          size,
          body: size <= 1 << 20 ? Buffer.concat(keep) : null,
          user: typeof session.user === 'string' ? session.user : null,
        });
        const subject = keep[0]?.toString('latin1') ?? '';
        if (subject.includes('Subject: reject-temp')) return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        if (subject.includes('Subject: reject-perm')) return callback(Object.assign(new Error('Content refused'), { responseCode: 554 }));
        callback();
      });
    },
    ...options,
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  return { port: (server.server.address() as AddressInfo).port, received, server };
}

async function client(running: Running, options: Partial<ClientOptions> = {}): Promise<SmtpClient> {
  const c = await connect({ host: '127.0.0.1', port: running.port, name: 'client.example', tls: { ca: cert.cert }, ...options });
  clients.push(c);
  return c;
}

const message = (subject: string) => Buffer.from(`Subject: ${subject}\r\nFrom: a@example.org\r\n\r\nBody of ${subject}.\r\n.\r\n..\r\n`);

describe('client → smtp-server', () => {
  let plain: Running;
  let starttls: Running;
  beforeAll(async () => {
    plain = await startServer({ hideSTARTTLS: true });
    starttls = await startServer({ hideREQUIRETLS: false });
  });

  it('delivers in plaintext, pipelined, with several transactions on one connection', async () => {
    const c = await client(plain, { startTls: 'never' });
    expect(c.extensions.pipelining).toBe(true);
    expect(c.tls).toBeNull();
    for (let i = 0; i < 3; i += 1) {
      const r = await c.send({ from: `s${i}@example.org`, to: [`r${i}@example.net`, `q${i}@example.net`], body: message(`m${i}`) });
      expect(r.status).toBe('delivered');
      expect(r.data?.code).toBe(250);
    }
    expect(await c.quit()).toMatchObject({ code: 221 });
    const last3 = plain.received.slice(-3);
    expect(last3.map((m) => m.from)).toEqual(['s0@example.org', 's1@example.org', 's2@example.org']);
    expect(last3[2]?.to).toEqual(['r2@example.net', 'q2@example.net']);
    expect(last3[1]?.body).toEqual(message('m1'));
  });

  it('upgrades with STARTTLS, verifies the certificate, and says EHLO again', async () => {
    const c = await client(starttls, { startTls: 'required', tls: { ca: cert.cert, servername: 'localhost' } });
    expect(c.tls).toMatchObject({ authorized: true, authorizationError: null });
    expect(c.extensions.startTls).toBe(false);
    expect(c.extensions.requireTls).toBe(true);
    const r = await c.send({ from: 'a@example.org', to: ['b@example.net'], body: message('tls'), requireTls: true });
    expect(r.status).toBe('delivered');
    await c.quit();
  });

  it('reports an untrusted certificate, or accepts it with authorized=false when told to', async () => {
    const error = await connect({ host: '127.0.0.1', port: starttls.port, startTls: 'opportunistic' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmtpClientError);
    expect(error).toMatchObject({ phase: 'starttls', kind: 'tls', temporary: true });
    const c = await client(starttls, { tls: { rejectUnauthorized: false } });
    expect(c.tls?.authorized).toBe(false);
    expect(c.tls?.authorizationError).toBeTruthy();
    await c.quit();
  });

  it('connects with implicit TLS', async () => {
    const implicit = await startServer({ secure: true });
    const c = await client(implicit, { secure: true, tls: { ca: cert.cert } });
    expect(c.tls?.authorized).toBe(true);
    expect((await c.send({ from: 'a@example.org', to: ['b@example.net'], body: message('implicit') })).status).toBe('delivered');
    await c.quit();
  });

  it('authenticates with PLAIN and LOGIN over TLS; a bad password is a permanent AUTH error', async () => {
    for (const mechanism of ['PLAIN', 'LOGIN']) {
      const c = await client(starttls, { auth: { user: 'user', pass: 'secret', mechanisms: [mechanism] } });
      expect(c.user).toBe('user');
      await c.send({ from: 'a@example.org', to: ['b@example.net'], body: message(`auth ${mechanism}`) });
      expect(starttls.received.at(-1)?.user).toBe('user');
      await c.quit();
    }
    const error = await client(starttls, { auth: { user: 'user', pass: 'wrong' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ phase: 'auth', temporary: false, reply: { code: 535 } });
  });

  it('authenticates in plaintext only when allowed', async () => {
    const insecure = await startServer({ hideSTARTTLS: true, allowInsecureAuth: true });
    const refused = await client(insecure, { auth: { user: 'user', pass: 'secret' } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ phase: 'auth', kind: 'policy' });
    const c = await client(insecure, { auth: { user: 'user', pass: 'secret' }, allowPlaintextAuth: true });
    expect(c.user).toBe('user');
    await c.quit();
  });

  it('maps refused recipients and classifies 4xx vs 5xx', async () => {
    const c = await client(plain, { startTls: 'never' });
    const r = await c.send({ from: 'a@example.org', to: ['unknown1@example.net', 'ok@example.net', 'busy@example.net'], body: message('partial') });
    expect(r.status).toBe('partial');
    expect(r.recipients.map((x) => [x.address, x.status, x.reply.code])).toEqual([
      ['unknown1@example.net', 'permanent', 550],
      ['ok@example.net', 'delivered', 250],
      ['busy@example.net', 'temporary', 450],
    ]);
    expect(plain.received.at(-1)?.to).toEqual(['ok@example.net']);

    const none = await c.send({ from: 'a@example.org', to: ['unknown@example.net'], body: message('none') }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(SmtpSendError);
    expect(none).toMatchObject({ phase: 'rcpt', temporary: false });
    const soft = await c.send({ from: 'a@example.org', to: ['busy@example.net'], body: message('none') }).catch((e: unknown) => e);
    expect(soft).toMatchObject({ phase: 'rcpt', temporary: true, reply: { code: 450 } });

    for (const [subject, temporary, code] of [['reject-temp', true, 451], ['reject-perm', false, 554]] as const) {
      const e = await c.send({ from: 'a@example.org', to: ['ok@example.net'], body: message(subject) }).catch((x: unknown) => x);
      expect(e).toMatchObject({ phase: 'data', temporary, reply: { code } });
    }
    expect((await c.send({ from: 'a@example.org', to: ['ok@example.net'], body: message('after') })).status).toBe('delivered');
    await c.quit();
  });

  it('speaks LMTP', async () => {
    const lmtp = await startServer({ lmtp: true, hideSTARTTLS: true });
    const c = await client(lmtp, { lmtp: true, startTls: 'never' });
    const r = await c.send({ from: 'a@example.org', to: ['one@example.net', 'unknown@example.net', 'two@example.net'], body: message('lmtp') });
    expect(r.recipients.map((x) => x.status)).toEqual(['delivered', 'permanent', 'delivered']);
    expect(r.dataReplies).toHaveLength(2);
    expect(lmtp.received.at(-1)?.body).toEqual(message('lmtp'));
    await c.quit();
  });

  it.each(textCorpus.map((m) => [m.name, m] as const))('round-trips %s byte for byte', async (_name, m) => {
    const c = await client(plain, { startTls: 'never' });
    const r = await c.send({ from: 'a@example.org', to: ['b@example.net'], body: m.chunks(4099), size: m.size, body8bit: m.eightBit ? '8BITMIME' : undefined });
    expect(r.size).toBe(m.size);
    const got = plain.received.at(-1);
    expect(got?.body?.equals(m.bytes ?? Buffer.alloc(0))).toBe(true);
    expect(got?.sha256).toBe(sha256(m.bytes ?? Buffer.alloc(0)));
    await c.quit();
  });

  it('round-trips a 50 MB message byte for byte', { timeout: 120_000 }, async () => {
    const large = largeMessage();
    const digest = await large.sha256();
    const c = await client(starttls, { tls: { ca: cert.cert } });
    const r = await c.send({ from: 'a@example.org', to: ['b@example.net'], body: large.chunks(), size: large.size, body8bit: '8BITMIME' });
    expect(r.size).toBe(large.size);
    const got = starttls.received.at(-1);
    expect(got?.size).toBe(large.size);
    expect(got?.sha256).toBe(digest);
    await c.quit();
  });
});
