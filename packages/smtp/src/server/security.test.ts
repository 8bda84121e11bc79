/**
 * TLS, AUTH and abuse: STARTTLS and its plaintext-injection defence, implicit TLS, AUTH
 * PLAIN/LOGIN rules, SMTP smuggling through a live session, early talkers, timeouts, and a
 * connection that breaks mid-data.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { play } from '../../test/support/transcript.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { selfSignedCert } from '../../test/helpers/certs.js';
import { ehloReply, greetedAfterEhlo } from '../../test/support/ehlo.js';
import { accept, reject, type ServerOptions } from './index.js';

let current: TestServer | null = null;

afterEach(async () => {
  await current?.close();
  current = null;
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const plain = (user: string, pass: string): string => b64(`\0${user}\0${pass}`);

/** Accepts alice/secret and nobody else. */
const authHooks: ServerOptions['hooks'] = {
  onAuth: (_s, c) => (c.username === 'alice' && c.password === 'secret' ? undefined : reject(535, '5.7.8', 'Authentication credentials invalid')),
};

async function tlsServer(options: ServerOptions = {}): Promise<TestServer> {
  const { key, cert } = await selfSignedCert();
  current = await startServer({ tls: { key, cert }, auth: {}, ...options, hooks: { ...authHooks, ...options.hooks } });
  return current;
}

describe('STARTTLS (RFC 3207)', () => {
  it('offers STARTTLS, not AUTH, before TLS; AUTH and REQUIRETLS after', async () => {
    const server = await tlsServer();
    const client = await server.connect();
    await play(
      client,
      `
      ${greetedAfterEhlo('STARTTLS')}
      C: AUTH PLAIN ${plain('alice', 'secret')}
      S: 538 5.7.11 Encryption required for requested authentication mechanism
      C: STARTTLS
      S: 220 2.0.0 Ready to start TLS
    `,
    );
    await client.startTls();
    await play(
      client,
      `
      C: MAIL FROM:<a@example.org>
      S: 503 5.5.1 Send EHLO/HELO first
      C: EHLO client.test
      ${ehloReply('AUTH PLAIN LOGIN', 'REQUIRETLS')}
      C: STARTTLS
      S: 503 5.5.1 TLS already active
    `,
    );
  });

  it('discards commands pipelined after STARTTLS in the same packet (no plaintext injection)', async () => {
    const server = await tlsServer();
    const client = await server.connect();
    await play(client, `S: 220 mx.test ESMTP ready\nC: EHLO client.test\nS: 250-mx.test...`);
    for (let i = 0; i < 9; i += 1) await client.line();
    client.write('STARTTLS\r\nRSET\r\nMAIL FROM:<injected@evil.example>\r\n');
    await play(client, `S: 220 2.0.0 Ready to start TLS`);
    await client.startTls();
    // Were the injected commands run, MAIL would now be "nested" or answered twice.
    await play(
      client,
      `
      C: EHLO client.test
      ${ehloReply('AUTH PLAIN LOGIN', 'REQUIRETLS')}
      C: NOOP
      S: 250 2.0.0 OK
    `,
    );
  });

  it('refuses everything but EHLO/STARTTLS/NOOP/RSET/QUIT before TLS when TLS is required', async () => {
    const server = await tlsServer({ requireTls: true });
    const client = await server.connect();
    await play(
      client,
      `
      S: 220 mx.test ESMTP ready
      C: HELO client.test
      S: 250 mx.test
      C: MAIL FROM:<a@example.org>
      S: 530 5.7.0 Must issue a STARTTLS command first
      C: NOOP
      S: 250 2.0.0 OK
    `,
    );
  });

  it('serves implicit TLS (port 465 style) and records the TLS version', async () => {
    let protocol: string | null | undefined;
    const server = await tlsServer({ secure: true, hooks: { onHelo: (s) => void (protocol = s.tls?.protocol) } });
    const client = await server.connect(true);
    await play(client, `S: 220 mx.test ESMTP ready\nC: EHLO client.test\nS: 250-mx.test Hello client.test`);
    expect(protocol).toMatch(/^TLSv1\.[23]$/);
  });
});

describe('AUTH (RFC 4954)', () => {
  async function authenticatedSession(options: ServerOptions = {}) {
    const server = await tlsServer({ secure: true, ...options });
    const client = await server.connect(true);
    await play(client, `S: 220 mx.test ESMTP ready\nC: EHLO client.test`);
    for (;;) if ((await client.line())?.startsWith('250 ')) break;
    return client;
  }

  it('PLAIN with an initial response', async () => {
    const client = await authenticatedSession();
    await play(client, `C: AUTH PLAIN ${plain('alice', 'secret')}\nS: 235 2.7.0 Authentication successful\nC: AUTH PLAIN ${plain('alice', 'secret')}\nS: 503 5.5.1 Already authenticated`);
  });

  it('PLAIN after an empty challenge, and LOGIN step by step', async () => {
    const client = await authenticatedSession();
    await play(client, `C: AUTH PLAIN\nS: 334 \nC: ${plain('alice', 'wrong')}\nS: 535 5.7.8 Authentication credentials invalid`);
    await play(
      client,
      `C: AUTH LOGIN\nS: 334 ${b64('Username:')}\nC: ${b64('alice')}\nS: 334 ${b64('Password:')}\nC: ${b64('secret')}\nS: 235 2.7.0 Authentication successful`,
    );
  });

  it.each([
    ['unknown mechanism', 'AUTH CRAM-MD5', '504 5.5.4 Unrecognized authentication type'],
    ['invalid base64', 'AUTH PLAIN %%%', '501 5.5.2 Invalid base64 in initial response'],
    ['malformed PLAIN message', `AUTH PLAIN ${b64('no-separators')}`, '501 5.5.2 Malformed PLAIN response'],
    ['no mechanism', 'AUTH', '501 5.5.4 Syntax: AUTH mechanism [initial-response]'],
  ])('%s', async (_name, command, expected) => {
    const client = await authenticatedSession();
    await play(client, `C: ${command}\nS: ${expected}`);
  });

  it('a client can cancel with "*"', async () => {
    const client = await authenticatedSession();
    await play(client, `C: AUTH LOGIN\nS: 334 ${b64('Username:')}\nC: *\nS: 501 5.7.0 Authentication canceled\nC: NOOP\nS: 250 2.0.0 OK`);
  });

  it('refuses MAIL before AUTH when auth is required, then accepts after', async () => {
    const client = await authenticatedSession({ auth: { required: true } });
    await play(
      client,
      `C: MAIL FROM:<alice@example.org>\nS: 530 5.7.0 Authentication required\nC: AUTH PLAIN ${plain('alice', 'secret')}\nS: 235 2.7.0 Authentication successful\nC: MAIL FROM:<alice@example.org>\nS: 250 2.1.0 Sender OK`,
    );
  });

  it('fails closed when no onAuth hook exists', async () => {
    const { key, cert } = await selfSignedCert();
    current = await startServer({ tls: { key, cert }, secure: true, auth: {} });
    const client = await current.connect(true);
    await play(client, `S: 220...\nC: EHLO c.test`);
    for (;;) if ((await client.line())?.startsWith('250 ')) break;
    await play(client, `C: AUTH PLAIN ${plain('alice', 'secret')}\nS: 535 5.7.8 Authentication credentials invalid`);
  });

  it('offers AUTH over plaintext only when explicitly allowed', async () => {
    current = await startServer({ auth: { allowInsecure: true }, hooks: authHooks });
    const client = await current.connect();
    await play(client, `S: 220...\nC: EHLO c.test`);
    const lines: string[] = [];
    for (;;) {
      const line = (await client.line()) ?? '';
      lines.push(line);
      if (line.startsWith('250 ')) break;
    }
    expect(lines).toContain('250 AUTH PLAIN LOGIN');
    await play(client, `C: AUTH PLAIN ${plain('alice', 'secret')}\nS: 235 2.7.0 Authentication successful`);
  });
});

describe('abuse', () => {
  const envelope = `
    S: 220 mx.test ESMTP ready
    C: HELO client.test
    S: 250 mx.test
    C: MAIL FROM:<a@example.org>
    S: 250 2.1.0 Sender OK
    C: RCPT TO:<b@mx.test>
    S: 250 2.1.5 Recipient OK
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>`;

  it.each([
    ['\\n.\\n', '\n.\n'],
    ['\\r.\\r', '\r.\r'],
    ['\\n.\\r\\n', '\n.\r\n'],
    ['\\r\\n.\\n', '\r\n.\n'],
    ['\\r\\n.\\r', '\r\n.\r'],
    ['\\r.\\r\\n', '\r.\r\n'],
    ['\\n.\\r', '\n.\r'],
  ])('smuggling with %s neither ends the data nor runs the smuggled commands', async (_name, marker) => {
    current = await startServer();
    const client = await current.connect();
    await play(client, envelope);
    client.write(`Subject: one\r\n\r\nbody${marker}MAIL FROM:<smuggled@evil.example>\r\nRCPT TO:<victim@mx.test>\r\nDATA\r\nforged\r\n.\r\n`);
    await play(client, `S: 554 5.6.0 Message contains bare <CR> or <LF>; lines must end with <CR><LF>\nC: NOOP\nS: 250 2.0.0 OK`);
    expect(current.received).toHaveLength(0);
  });

  it('with bareLineEndings "accept", smuggled text stays inside the one message', async () => {
    current = await startServer({ bareLineEndings: 'accept' });
    const client = await current.connect();
    await play(client, envelope);
    client.write('body\n.\nMAIL FROM:<smuggled@evil.example>\r\n.\r\n');
    await play(client, `S: 250 2.0.0 Message accepted`);
    expect(current.received.map((m) => m.body.toString())).toEqual(['body\n.\nMAIL FROM:<smuggled@evil.example>\r\n']);
  });

  it('drops an early talker that sends before the greeting', async () => {
    current = await startServer({ greetingDelay: 300 });
    const client = await current.connect();
    client.write('EHLO eager.example\r\n');
    await play(client, `S: 554 5.5.1 mx.test Protocol error: input before greeting\nS: <closed>`);
  });

  it('closes an idle connection with 421 4.4.2 when the command timeout expires', async () => {
    current = await startServer({ timeouts: { command: 200 } });
    const client = await current.connect();
    await play(client, `S: 220 mx.test ESMTP ready\nS: 421 4.4.2 mx.test Timeout exceeded, closing connection\nS: <closed>`);
  });

  it('times out only after the full command timeout, counted from the last command', async () => {
    current = await startServer({ timeouts: { command: 300 } });
    const client = await current.connect();
    await play(client, `S: 220 mx.test ESMTP ready`);
    // Activity every 150 ms for 600 ms keeps the session open past its 300 ms timeout.
    for (let i = 0; i < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await play(client, `C: NOOP\nS: 250 2.0.0 OK`);
    }
    const lastCommandAt = performance.now();
    await play(client, `S: 421 4.4.2 mx.test Timeout exceeded, closing connection\nS: <closed>`);
    expect(performance.now() - lastCommandAt).toBeGreaterThanOrEqual(300);
  });

  it('drops a STARTTLS client that never starts its handshake once the handshake timeout expires', async () => {
    const server = await tlsServer({ timeouts: { handshake: 200 } });
    const client = await server.connect();
    await play(client, `S: 220 mx.test ESMTP ready`);
    client.write('EHLO client.test\r\n');
    await client.reply();
    const startedAt = performance.now();
    await play(client, `C: STARTTLS\nS: 220 2.0.0 Ready to start TLS`);
    await client.waitClosed(5_000);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(200);
  });

  it('closes a slow client that trickles a command byte by byte past the command timeout', async () => {
    current = await startServer({ timeouts: { command: 400 } });
    const client = await current.connect();
    await play(client, `S: 220 mx.test ESMTP ready`);
    const trickle = setInterval(() => client.write('x'), 50);
    try {
      await play(client, `S: 421 4.4.2 mx.test Timeout exceeded, closing connection\nS: <closed>`);
    } finally {
      clearInterval(trickle);
    }
  });

  it('times out a stalled DATA phase and never accepts the partial message', async () => {
    const outcomes: string[] = [];
    current = await startServer({
      timeouts: { data: 200 },
      hooks: {
        async onData(_s, _t, body) {
          try {
            for await (const _ of body);
            outcomes.push('complete');
          } catch {
            outcomes.push('aborted');
          }
        },
      },
    });
    const client = await current.connect();
    await play(client, envelope);
    client.write('partial line\r\n');
    await play(client, `S: 421 4.4.2 mx.test Timeout exceeded, closing connection\nS: <closed>`);
    await new Promise((r) => setTimeout(r, 50));
    expect(outcomes).toEqual(['aborted']);
  });

  it('a connection that breaks mid-data never half-accepts a message', async () => {
    let aborted = false;
    current = await startServer({
      hooks: {
        async onData(_s, _t, body) {
          try {
            for await (const _ of body);
          } catch {
            aborted = true;
            throw new Error('incomplete');
          }
          return accept('stored');
        },
      },
    });
    const client = await current.connect();
    await play(client, envelope);
    client.write('Subject: cut\r\n\r\nhalf a mess');
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    for (let i = 0; i < 50 && !aborted; i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(aborted).toBe(true);
  });

  it('survives pipelined garbage and keeps answering in order', async () => {
    current = await startServer({ limits: { badCommands: 100 } });
    const client = await current.connect();
    await play(client, `S: 220 mx.test ESMTP ready`);
    client.write(Buffer.concat([Buffer.from('\x00\x01\x02\r\n\xff\xfe\r\nMAIL\r\nRCPT TO\r\n', 'latin1'), Buffer.from('DATA\r\n.\r\nNOOP\r\n')]));
    await play(
      client,
      `
      S: 500 5.5.1 Command not recognized
      S: 500 5.5.2 Command is not valid UTF-8
      S: 503 5.5.1 Send EHLO/HELO first
      S: 503 5.5.1 Need MAIL command
      S: 503 5.5.1 Need MAIL command
      S: 500 5.5.1 Command not recognized
      S: 250 2.0.0 OK
    `,
    );
  });

  it('says 421 to idle sessions when the server shuts down', async () => {
    current = await startServer();
    const client = await current.connect();
    await play(client, `S: 220 mx.test ESMTP ready`);
    const closing = current.server.close({ timeout: 2_000 });
    await play(client, `S: 421 4.3.2 mx.test Service shutting down\nS: <closed>`);
    await closing;
    current = null;
  });
});
