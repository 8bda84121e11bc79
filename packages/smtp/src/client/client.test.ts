import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../../test/helpers/certs.js';
import { type FakeServer, type FakeServerScript, startFakeServer } from '../../test/helpers/fake-smtp-server.js';
import { smallCorpus } from '../../test/corpus.js';
import { connect, type SmtpClient, SmtpClientError, SmtpSendError, type ClientOptions } from './index.js';

const servers: FakeServer[] = [];
const clients: SmtpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(script: FakeServerScript, options: Partial<ClientOptions> = {}): Promise<{ server: FakeServer; client: SmtpClient }> {
  const server = await startFakeServer(script);
  servers.push(server);
  const client = await connect({ host: '127.0.0.1', port: server.port, name: 'client.example', startTls: 'never', ...options });
  clients.push(client);
  return { server, client };
}

async function failure(promise: Promise<unknown>): Promise<SmtpClientError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SmtpClientError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

const body = Buffer.from('Subject: t\r\n\r\nhello\r\n.dot\r\n');
const all = ['PIPELINING', 'SIZE 100000000', '8BITMIME', 'ENHANCEDSTATUSCODES'];

describe('SmtpClient against a scripted server', () => {
  it('pipelines MAIL and every RCPT in one write, then DATA after their replies', async () => {
    const { server, client } = await setup({ extensions: all });
    const result = await client.send({ from: 'a@example.org', to: ['b@example.net', 'c@example.net', { address: 'd@example.net' }], body });
    expect(result.status).toBe('delivered');
    expect(result.accepted.map((r) => r.address)).toEqual(['b@example.net', 'c@example.net', 'd@example.net']);
    expect(result.data).toEqual({ code: 250, enhanced: '2.0.0', lines: ['queued'] });
    expect(result.method).toBe('DATA');
    const cmds = server.commands.filter((c) => /^(MAIL|RCPT|DATA)/.test(c.line));
    expect(cmds.map((c) => c.line)).toEqual([`MAIL FROM:<a@example.org> SIZE=${body.length}`, 'RCPT TO:<b@example.net>', 'RCPT TO:<c@example.net>', 'RCPT TO:<d@example.net>', 'DATA']);
    const group = cmds.slice(0, 4).map((c) => c.read);
    expect(new Set(group).size).toBe(1);
    expect(cmds[4]?.read).toBeGreaterThan(group[0] ?? 0);
    expect(server.messages[0]?.body).toEqual(body);
  });

  it('waits for each reply without PIPELINING', async () => {
    const { server, client } = await setup({ extensions: [] });
    await client.send({ from: null, to: ['b@example.net', 'c@example.net'], body });
    const reads = server.commands.filter((c) => /^(MAIL|RCPT)/.test(c.line)).map((c) => c.read);
    expect(new Set(reads).size).toBe(3);
    expect(server.lines()).toContain('MAIL FROM:<>');
  });

  it('falls back to HELO on 502 but not on 4xx', async () => {
    const { server, client } = await setup({ ehloReply: '502 5.5.2 what' });
    expect(client.hello?.lines).toEqual(['fake.example']);
    expect(client.extensions.pipelining).toBe(false);
    expect(server.lines().slice(0, 2)).toEqual(['EHLO client.example', 'HELO client.example']);

    const soft = await startFakeServer({ ehloReply: '451 4.3.0 later' });
    servers.push(soft);
    const error = await failure(connect({ host: '127.0.0.1', port: soft.port, name: 'c.example' }));
    expect(error).toMatchObject({ phase: 'ehlo', temporary: true, reply: { code: 451 } });
  });

  it('treats a 554 greeting as permanent and a 421 greeting as temporary', async () => {
    for (const [greeting, temporary] of [['554 5.7.1 go away', false], ['421 4.3.2 busy', true]] as const) {
      const server = await startFakeServer({ greeting });
      servers.push(server);
      const error = await failure(connect({ host: '127.0.0.1', port: server.port }));
      expect(error).toMatchObject({ phase: 'greeting', temporary, kind: 'reply' });
      expect(error.reply?.code).toBe(Number(greeting.slice(0, 3)));
    }
  });

  it('reports per-recipient results and classifies 4xx vs 5xx', async () => {
    const { client } = await setup({
      extensions: all,
      reply: (line) => (line.includes('<gone@') ? '550 5.1.1 no such user' : line.includes('<full@') ? '452 4.2.2 mailbox full' : undefined),
    });
    const result = await client.send({ from: 'a@example.org', to: ['gone@example.net', 'ok@example.net', 'full@example.net'], body });
    expect(result.status).toBe('partial');
    expect(result.recipients.map((r) => [r.address, r.status])).toEqual([
      ['gone@example.net', 'permanent'],
      ['ok@example.net', 'delivered'],
      ['full@example.net', 'temporary'],
    ]);
    expect(result.rejected[0]?.reply).toEqual({ code: 550, enhanced: '5.1.1', lines: ['no such user'] });
    expect(result.accepted[0]?.reply.code).toBe(250);
  });

  it('sends no data and resets when every recipient is refused; stays usable', async () => {
    const { server, client } = await setup({
      extensions: all,
      reply: (line) => (line.startsWith('RCPT') && !line.includes('<ok@') ? (line.includes('<soft@') ? '450 4.2.0 busy' : '550 5.1.1 no') : undefined),
    });
    const error = await failure(client.send({ from: 'a@example.org', to: ['x@example.net', 'soft@example.net'], body }));
    expect(error).toBeInstanceOf(SmtpSendError);
    expect(error).toMatchObject({ phase: 'rcpt', temporary: true, reply: { code: 450 } });
    expect((error as SmtpSendError).result.recipients.map((r) => r.status)).toEqual(['permanent', 'temporary']);
    expect(server.lines()).not.toContain('DATA');
    expect(server.lines().at(-1)).toBe('RSET');
    const hard = await failure(client.send({ from: 'a@example.org', to: ['x@example.net'], body }));
    expect(hard).toMatchObject({ temporary: false, reply: { code: 550 } });
    const ok = await client.send({ from: 'a@example.org', to: ['ok@example.net'], body });
    expect(ok.status).toBe('delivered');
    expect(server.messages).toHaveLength(1);
  });

  it('turns a refused MAIL into a permanent or temporary error', async () => {
    const { server, client } = await setup({ extensions: all, reply: (line) => (line.startsWith('MAIL') ? '553 5.1.7 bad sender' : undefined) });
    const error = await failure(client.send({ from: 'bad@example.org', to: ['b@example.net'], body }));
    expect(error).toMatchObject({ phase: 'mail', temporary: false, reply: { code: 553, enhanced: '5.1.7' } });
    expect((error as SmtpSendError).result.recipients[0]?.status).toBe('permanent');
    expect(server.lines().filter((l) => l === 'DATA')).toHaveLength(0);
  });

  it('classifies the end-of-data reply and keeps the session for the next transaction', async () => {
    let n = 0;
    const { client } = await setup({ extensions: all, messageReply: () => [['451 4.3.0 try later'], ['554 5.6.0 bad content'], ['250 2.0.0 ok']][n++] });
    expect(await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body }))).toMatchObject({ phase: 'data', temporary: true });
    expect(await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body }))).toMatchObject({ phase: 'data', temporary: false });
    expect((await client.send({ from: 'a@x.org', to: ['b@y.org'], body })).status).toBe('delivered');
  });

  it('serialises concurrent sends on one connection', async () => {
    const { server, client } = await setup({ extensions: all });
    const results = await Promise.all([1, 2, 3].map((i) => client.send({ from: `s${i}@x.org`, to: [`r${i}@y.org`], body: Buffer.from(`Subject: ${i}\r\n\r\n${i}\r\n`) })));
    expect(results.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(server.messages.map((m) => [m.from, m.body.toString()])).toEqual([1, 2, 3].map((i) => [`s${i}@x.org`, `Subject: ${i}\r\n\r\n${i}\r\n`]));
    expect(await client.quit()).toMatchObject({ code: 221 });
    expect(client.closed).toBe(true);
  });

  it('streams a Readable body', async () => {
    const { server, client } = await setup({ extensions: all });
    const parts = ['Subject: s\r\n\r\n', '.lead\r', '\n.', '\r\nend\r\n'].map((p) => Buffer.from(p));
    await client.send({ from: 'a@x.org', to: ['b@y.org'], body: Readable.from(parts) });
    expect(server.messages[0]?.body).toEqual(Buffer.concat(parts));
    expect(server.messages[0]?.mailLine).toBe('MAIL FROM:<a@x.org>');
  });

  it('refuses before sending when an extension the message needs is missing', async () => {
    const { server, client } = await setup({ extensions: ['PIPELINING', 'SIZE 100'] });
    // Each with the enhanced status code a bounce for it would carry.
    const cases = [
      [{ from: 'jörg@example.org', to: ['b@y.org'], body }, '5.6.7'],
      [{ from: 'a@x.org', to: ['b@y.org'], body, smtputf8: true }, '5.6.7'],
      [{ from: 'a@x.org', to: ['b@y.org'], body: Buffer.alloc(10), body8bit: '8BITMIME' as const }, '5.6.3'],
      [{ from: 'a@x.org', to: ['b@y.org'], body: Buffer.alloc(10), body8bit: 'BINARYMIME' as const }, '5.6.3'],
      [{ from: 'a@x.org', to: ['b@y.org'], body: Buffer.alloc(10), requireTls: true }, '5.7.30'],
      [{ from: 'a@x.org', to: ['b@y.org'], body: Buffer.alloc(101) }, '5.3.4'],
      [{ from: 'a@x.org', to: ['b@y.org>\r\nRCPT TO:<evil@z.org'], body }, '5.1.3'],
    ] as const;
    for (const [message, status] of cases) {
      const error = await failure(client.send(message));
      expect(error).toMatchObject({ kind: 'policy', temporary: false, phase: 'mail', status });
    }
    expect(server.lines()).toEqual(['EHLO client.example']);
  });

  it('sends ESMTP parameters only when offered', async () => {
    const message = { from: 'jörg@exämple.org', to: [{ address: 'b@y.org', notify: ['FAILURE', 'DELAY'] as const, orcpt: 'b+x@y.org' }], body, body8bit: '8BITMIME' as const, ret: 'HDRS' as const, envid: 'id 1' };
    const rich = await setup({ extensions: ['8BITMIME', 'SMTPUTF8', 'DSN', 'SIZE'] });
    await rich.client.send(message);
    expect(rich.server.lines().slice(1, 3)).toEqual([
      `MAIL FROM:<jörg@exämple.org> SIZE=${body.length} BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+201`,
      'RCPT TO:<b@y.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b+2Bx@y.org',
    ]);
    const plain = await setup({ extensions: ['8BITMIME', 'SMTPUTF8'] });
    await plain.client.send(message);
    expect(plain.server.lines().slice(1, 3)).toEqual(['MAIL FROM:<jörg@exämple.org> BODY=8BITMIME SMTPUTF8', 'RCPT TO:<b@y.org>']);
  });

  it('uses BDAT when CHUNKING is offered, byte-exact, in chunks, with and without pipelining', async () => {
    const binary = smallCorpus.find((m) => m.binary);
    if (!binary?.bytes) throw new Error('corpus has no binary message');
    for (const extensions of [['CHUNKING', 'BINARYMIME', 'PIPELINING'], ['CHUNKING', 'BINARYMIME']]) {
      const { server, client } = await setup({ extensions }, { chunkSize: 30_000 });
      const result = await client.send({ from: 'a@x.org', to: ['b@y.org'], body: binary.chunks(7_000), body8bit: 'BINARYMIME' });
      expect(result.method).toBe('BDAT');
      expect(result.size).toBe(binary.size);
      expect(server.messages[0]?.body.equals(binary.bytes)).toBe(true);
      const bdats = server.lines().filter((l) => l.startsWith('BDAT'));
      expect(bdats.length).toBe(Math.ceil(binary.size / 28_000));
      expect(bdats.at(-1)).toMatch(/^BDAT \d+ LAST$/);
      expect(bdats.slice(0, -1).every((l) => !l.endsWith('LAST'))).toBe(true);
      expect(server.messages[0]?.mailLine).toBe('MAIL FROM:<a@x.org> BODY=BINARYMIME');
    }
  });

  it('sends an empty body as BDAT 0 LAST, and uses DATA when chunking is off', async () => {
    const { server, client } = await setup({ extensions: ['CHUNKING'] });
    await client.send({ from: 'a@x.org', to: ['b@y.org'], body: Buffer.alloc(0) });
    expect(server.lines()).toContain('BDAT 0 LAST');
    const off = await setup({ extensions: ['CHUNKING'] }, { chunking: 'never' });
    await off.client.send({ from: 'a@x.org', to: ['b@y.org'], body });
    expect(off.server.messages[0]?.method).toBe('DATA');
  });

  it('stops sending chunks after a refused BDAT and resets', async () => {
    let chunks = 0;
    const refusing = await setup(
      { extensions: ['CHUNKING'], reply: (line) => (line.startsWith('BDAT') && ++chunks === 2 ? '552 5.3.4 too big' : undefined) },
      { chunkSize: 1000 },
    );
    const error = await failure(refusing.client.send({ from: 'a@x.org', to: ['b@y.org'], body: Buffer.alloc(5000, 0x61) }));
    expect(error).toMatchObject({ phase: 'data', temporary: false, reply: { code: 552 } });
    expect(refusing.server.lines().filter((l) => l.startsWith('BDAT'))).toHaveLength(2);
    expect(refusing.server.lines().at(-1)).toBe('RSET');
  });

  it('speaks LMTP: LHLO, one reply per accepted recipient, DATA and BDAT', async () => {
    for (const extensions of [['PIPELINING', 'ENHANCEDSTATUSCODES'], ['PIPELINING', 'CHUNKING']]) {
      const { server, client } = await setup(
        {
          lmtp: true,
          extensions,
          reply: (line) => (line.includes('<nobody@') ? '550 5.1.1 unknown' : undefined),
          messageReply: (m) => m.to.map((to) => (to.startsWith('full') ? '452 4.2.2 over quota' : '250 2.0.0 stored')),
        },
        { lmtp: true },
      );
      const result = await client.send({ from: 'a@x.org', to: ['one@y.org', 'nobody@y.org', 'full@y.org', 'two@y.org'], body });
      expect(server.lines()[0]).toBe('LHLO client.example');
      expect(result.recipients.map((r) => [r.address, r.status, r.reply.code])).toEqual([
        ['one@y.org', 'delivered', 250],
        ['nobody@y.org', 'permanent', 550],
        ['full@y.org', 'temporary', 452],
        ['two@y.org', 'delivered', 250],
      ]);
      expect(result.dataReplies.map((r) => r.code)).toEqual([250, 452, 250]);
      expect(server.messages[0]?.body).toEqual(body);
    }
  });

  it('connects to a UNIX-domain socket by path, in place of host and port (LMTP on this host)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailway-client-'));
    try {
      const path = join(dir, 'lmtp.sock');
      const server = await startFakeServer({ lmtp: true, extensions: ['PIPELINING', 'ENHANCEDSTATUSCODES'] }, { path });
      servers.push(server);
      const client = await connect({ path, name: 'client.example', lmtp: true, startTls: 'never' });
      clients.push(client);
      const result = await client.send({ from: 'a@x.org', to: ['one@y.org', 'two@y.org'], body });
      expect(result.recipients.map((r) => [r.address, r.status])).toEqual([
        ['one@y.org', 'delivered'],
        ['two@y.org', 'delivered'],
      ]);
      expect(server.lines()[0]).toBe('LHLO client.example');
      expect(server.messages[0]?.body).toEqual(body);

      // Nothing listening there: a temporary failure to connect, naming the path.
      const error = await failure(connect({ path: join(dir, 'absent.sock'), lmtp: true }));
      expect(error).toMatchObject({ phase: 'connect', kind: 'network', temporary: true });
      expect(error.message).toContain(join(dir, 'absent.sock'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a host or a path, never both nor neither', async () => {
    await expect(connect({ port: 25 })).rejects.toThrow(/host or path is required/);
    await expect(connect({ host: '127.0.0.1', path: '/run/lmtp' })).rejects.toThrow(/exclude each other/);
  });

  it('LMTP: a connection lost after some recipients were answered keeps their replies; the rest are temporary', async () => {
    const { client } = await setup(
      {
        lmtp: true,
        extensions: ['PIPELINING', 'ENHANCEDSTATUSCODES'],
        messageReply: (_m, s) => {
          setTimeout(() => s.socket.destroy(), 50);
          return '250 2.0.0 stored for one';
        },
      },
      { lmtp: true },
    );
    const result = await client.send({ from: 'a@x.org', to: ['one@y.org', 'two@y.org'], body });
    expect(result.recipients.map((r) => [r.address, r.status, r.reply.code, r.reply.enhanced])).toEqual([
      ['one@y.org', 'delivered', 250, '2.0.0'],
      ['two@y.org', 'temporary', 451, '4.4.2'],
    ]);
    expect(result.recipients[1]?.reply.lines[0]).toMatch(/^no reply: /);
    expect(client.closed).toBe(true);
  });

  it('times out as a temporary error and closes', async () => {
    const { client } = await setup({ extensions: all, reply: (line) => (/^(MAIL|RCPT)/.test(line) ? 'silence' : undefined) }, { timeouts: { mail: 150 } });
    const started = Date.now();
    const error = await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body }));
    expect(error).toMatchObject({ phase: 'mail', kind: 'timeout', temporary: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(client.closed).toBe(true);
    expect(await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body }))).toMatchObject({ temporary: true });
  });

  it('a server that refuses and hangs up mid-body: its reply decides', async () => {
    const { client } = await setup({
      extensions: all,
      reply: (line, s) => {
        if (line !== 'DATA') return undefined;
        setTimeout(() => {
          s.raw('552 5.3.4 message too big\r\n');
          s.socket.destroy();
        }, 30);
        return '354 go';
      },
    });
    async function* slow(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i += 1) {
        yield Buffer.alloc(65536, 0x61);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const error = await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body: slow() }));
    expect(error).toMatchObject({ phase: 'data', temporary: false, reply: { code: 552 } });
    expect(client.closed).toBe(true);
  });

  it('a 421 at any point ends the session with a temporary error', async () => {
    const { client } = await setup({ extensions: all, reply: (line) => (line.startsWith('RCPT') ? '421 4.3.2 shutting down' : undefined) });
    const error = await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body }));
    expect(error).toMatchObject({ temporary: true, reply: { code: 421 } });
    expect(client.closed).toBe(true);
  });

  it('a malformed reply is a temporary protocol error', async () => {
    const { client } = await setup({ extensions: all, reply: (line) => (line.startsWith('MAIL') ? 'hello there' : undefined) });
    expect(await failure(client.send({ from: 'a@x.org', to: ['b@y.org'], body }))).toMatchObject({ kind: 'protocol', temporary: true });
  });

  it('STARTTLS discards bytes injected before the handshake and says EHLO again', async () => {
    const cert = await selfSignedCert();
    const { server, client } = await setup(
      {
        extensions: ['STARTTLS', 'PIPELINING'],
        tls: cert,
        reply: (line, s) => (line === 'STARTTLS' ? ['220 2.0.0 ready', '250 injected'] : line.startsWith('EHLO') && s.tls ? ['250-fake.example', '250 AUTH PLAIN'] : undefined),
      },
      { startTls: 'required', tls: { ca: cert.cert, servername: 'localhost' } },
    );
    expect(client.tls).toMatchObject({ authorized: true, authorizationError: null });
    expect(client.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(client.extensions.auth).toEqual(['PLAIN']);
    expect(server.lines()).toEqual(['EHLO client.example', 'STARTTLS', 'EHLO client.example']);
    const result = await client.send({ from: 'a@x.org', to: ['b@y.org'], body });
    expect(result.status).toBe('delivered');
  });

  it('STARTTLS required but not offered, or certificate not trusted: temporary errors', async () => {
    const server = await startFakeServer({ extensions: ['PIPELINING'] });
    servers.push(server);
    expect(await failure(connect({ host: '127.0.0.1', port: server.port, startTls: 'required' }))).toMatchObject({ phase: 'starttls', kind: 'policy', temporary: true });
    const opportunistic = await connect({ host: '127.0.0.1', port: server.port, startTls: 'opportunistic' });
    clients.push(opportunistic);
    expect(opportunistic.tls).toBeNull();

    const cert = await selfSignedCert();
    const tlsServer = await startFakeServer({ extensions: ['STARTTLS'], tls: cert });
    servers.push(tlsServer);
    expect(await failure(connect({ host: '127.0.0.1', port: tlsServer.port, startTls: 'opportunistic' }))).toMatchObject({ phase: 'starttls', kind: 'tls', temporary: true });
  });

  it('authenticates with PLAIN and LOGIN, refuses plaintext by default', async () => {
    const seen: string[] = [];
    const script: FakeServerScript = {
      extensions: ['AUTH PLAIN LOGIN'],
      reply: (line) => {
        if (line.startsWith('AUTH PLAIN')) {
          seen.push(Buffer.from(line.slice(11), 'base64').toString());
          return line.includes(Buffer.from('\0u\0bad').toString('base64')) ? '535 5.7.8 bad credentials' : '235 2.7.0 ok';
        }
        if (line === 'AUTH LOGIN') return `334 ${Buffer.from('Username:').toString('base64')}`;
        if (line === Buffer.from('u').toString('base64')) return `334 ${Buffer.from('Password:').toString('base64')}`;
        if (line === Buffer.from('p').toString('base64')) return '235 2.7.0 ok';
        return undefined;
      },
    };
    const server = await startFakeServer(script);
    servers.push(server);
    const base = { host: '127.0.0.1', port: server.port, startTls: 'never' as const };
    const refused = await failure(connect({ ...base, auth: { user: 'u', pass: 'p' } }));
    expect(refused).toMatchObject({ phase: 'auth', kind: 'policy', temporary: false });

    const plain = await connect({ ...base, allowPlaintextAuth: true, auth: { user: 'u', pass: 'p' } });
    clients.push(plain);
    expect(plain.user).toBe('u');
    expect(seen).toEqual(['\0u\0p']);
    const login = await connect({ ...base, allowPlaintextAuth: true, auth: { user: 'u', pass: 'p', mechanisms: ['LOGIN'] } });
    clients.push(login);
    expect(login.user).toBe('u');
    const bad = await failure(connect({ ...base, allowPlaintextAuth: true, auth: { user: 'u', pass: 'bad' } }));
    expect(bad).toMatchObject({ phase: 'auth', kind: 'reply', temporary: false, reply: { code: 535 } });
  });
});
