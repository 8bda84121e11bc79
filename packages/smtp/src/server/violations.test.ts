/**
 * Violations that end a session: a bare LF or CR in a command line, and lines of another
 * protocol (HTTP). Each variant is sent pipelined in one write, with commands behind it; the
 * server must answer exactly once, close, and run none of the commands that came with it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RawClient } from '../../test/support/raw-client.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { selfSignedCert } from '../../test/helpers/certs.js';
import { type ProtocolViolation, type ServerOptions, defaultForbiddenCommands } from './index.js';

let current: TestServer | null = null;

afterEach(async () => {
  await current?.close();
  current = null;
});

/** What the hooks saw: every command that ran, and every violation reported. */
interface Seen {
  ran: string[];
  violations: ProtocolViolation[];
}

async function serve(options: ServerOptions = {}): Promise<{ server: TestServer; seen: Seen }> {
  const seen: Seen = { ran: [], violations: [] };
  const { key, cert } = await selfSignedCert();
  current = await startServer({
    tls: { key, cert },
    auth: { allowInsecure: true },
    ...options,
    hooks: {
      onHelo: (_s, name) => void seen.ran.push(`HELO ${name}`),
      onAuth: () => void seen.ran.push('AUTH'),
      onMailFrom: () => void seen.ran.push('MAIL'),
      onRcptTo: () => void seen.ran.push('RCPT'),
      onVrfy: () => void seen.ran.push('VRFY'),
      onData: async (_s, _t, body) => {
        seen.ran.push('DATA');
        for await (const _chunk of body);
      },
      onViolation: (_s, violation) => void seen.violations.push(violation),
    },
  });
  return { server: current, seen };
}

/** Every line the server sends until it closes. */
async function linesUntilClosed(client: RawClient): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = await client.line();
    if (line === null) return lines;
    lines.push(line);
  }
}

/** Greets and (optionally) says EHLO, then empties the hooks' record. */
async function greeted(server: TestServer, seen: Seen, options: { tls?: boolean; lmtp?: boolean; ehlo?: boolean } = {}): Promise<RawClient> {
  const client = await server.connect(options.tls ?? false);
  expect(await client.line()).toMatch(/^220 /);
  if (options.ehlo ?? true) {
    client.write(`${options.lmtp ? 'LHLO' : 'EHLO'} client.test\r\n`);
    const reply = await client.reply();
    expect(reply.at(-1)).toMatch(/^250 /);
  }
  seen.ran.length = 0;
  return client;
}

const bareLf = '500 5.5.2 Bare <LF> received; lines must end with <CR><LF>';
const bareCr = '500 5.5.2 Bare <CR> received; lines must end with <CR><LF>';

describe('a bare LF or CR in a command line', () => {
  const variants: Array<[string, string, string]> = [
    ['NOOP\\nNOOP\\r\\n', 'NOOP\nNOOP\r\n', bareLf],
    ['MAIL\\nRCPT', 'MAIL FROM:<a@example.org>\nRCPT TO:<c@example.org>\r\n', bareLf],
    ['RCPT\\nDATA after MAIL', 'RCPT TO:<c@example.org>\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n', bareLf],
    ['NO\\rOP', 'NO\rOP\r\nNOOP\r\n', bareCr],
    ['MAIL\\rRCPT', 'MAIL FROM:<a@example.org>\rRCPT TO:<c@example.org>\r\nNOOP\r\n', bareCr],
    ['a lone \\n', '\nMAIL FROM:<a@example.org>\r\n', bareLf],
  ];

  it.each(variants)('%s: one reply, a close, and nothing else run', async (_name, input, expected) => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen);
    client.write(input);
    expect(await linesUntilClosed(client)).toEqual([expected]);
    expect(seen.ran).toEqual([]);
    expect(seen.violations.map((v) => v.kind)).toEqual([expected === bareLf ? 'bare-lf' : 'bare-cr']);
  });

  it('commands before the broken line in the same write are answered; nothing after it runs', async () => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen);
    client.write('MAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.org>\nRCPT TO:<d@example.org>\r\nDATA\r\n');
    expect(await linesUntilClosed(client)).toEqual(['250 2.1.0 Sender OK', bareLf]);
    expect(seen.ran).toEqual(['MAIL']);
  });

  it('closes a session waiting for a SASL response', async () => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen);
    client.write('AUTH LOGIN\r\n');
    expect(await client.line()).toMatch(/^334 /);
    client.write('YWxpY2U=\nNOOP\r\n');
    expect(await linesUntilClosed(client)).toEqual([bareLf]);
    expect(seen.ran).toEqual([]);
  });

  it('does the same on implicit TLS (port 465 style)', async () => {
    const { key, cert } = await selfSignedCert();
    const { server, seen } = await serve({ tls: { key, cert }, secure: true });
    const client = await greeted(server, seen, { tls: true });
    client.write('NOOP\nMAIL FROM:<a@example.org>\r\n');
    expect(await linesUntilClosed(client)).toEqual([bareLf]);
    expect(seen.ran).toEqual([]);
  });

  it('does the same after STARTTLS', async () => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen);
    client.write('STARTTLS\r\n');
    expect(await client.line()).toBe('220 2.0.0 Ready to start TLS');
    await client.startTls();
    client.write('EHLO client.test\nMAIL FROM:<a@example.org>\r\n');
    expect(await linesUntilClosed(client)).toEqual([bareLf]);
    expect(seen.ran).toEqual([]);
  });

  it('does the same in LMTP', async () => {
    const { server, seen } = await serve({ lmtp: true });
    const client = await greeted(server, seen, { lmtp: true });
    client.write('MAIL FROM:<a@example.org>\nRCPT TO:<c@example.org>\r\n');
    expect(await linesUntilClosed(client)).toEqual([bareLf]);
    expect(seen.ran).toEqual([]);
  });
});

describe('lines of another protocol (HTTP)', () => {
  const forbidden = '554 5.7.0 Not an SMTP command; closing connection';
  const post = [
    'POST / HTTP/1.1',
    'Host: mx.example.org:25',
    'Content-Type: application/x-www-form-urlencoded',
    'Content-Length: 120',
    '',
    'EHLO evil.example',
    'MAIL FROM:<spam@evil.example>',
    'RCPT TO:<victim@example.org>',
    'DATA',
    'Subject: forged',
    '',
    'forged',
    '.',
    'QUIT',
    '',
  ].join('\r\n');

  it('a POST whose body holds SMTP commands: one 554, a close, nothing run', async () => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen, { ehlo: false });
    client.write(post);
    expect(await linesUntilClosed(client)).toEqual([forbidden]);
    expect(seen.ran).toEqual([]);
    expect(server.received).toHaveLength(0);
    expect(seen.violations).toEqual([{ kind: 'forbidden-command', command: 'POST' }]);
  });

  it.each([
    ['GET / HTTP/1.1', 'GET'],
    ['get /index.html HTTP/1.0', 'GET'],
    ['CONNECT mx.example.org:25 HTTP/1.1', 'CONNECT'],
    ['OPTIONS * HTTP/1.1', 'OPTIONS'],
    ['Host: mx.example.org', 'Host:'],
    ['host:mx.example.org', 'Host:'],
    ['User-Agent: Mozilla/5.0', 'User-Agent:'],
    ['Content-Length: 0', 'Content-Length:'],
  ])('%s, after EHLO and with commands behind it, ends the session', async (line, entry) => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen);
    client.write(`${line}\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.org>\r\n`);
    expect(await linesUntilClosed(client)).toEqual([forbidden]);
    expect(seen.ran).toEqual([]);
    expect(seen.violations).toEqual([{ kind: 'forbidden-command', command: entry }]);
  });

  it('in LMTP too', async () => {
    const { server, seen } = await serve({ lmtp: true });
    const client = await greeted(server, seen, { ehlo: false });
    client.write(post);
    expect(await linesUntilClosed(client)).toEqual([forbidden]);
    expect(seen.ran).toEqual([]);
  });

  it('an unknown verb that is not on the list stays an ordinary bad command', async () => {
    const { server, seen } = await serve();
    const client = await greeted(server, seen);
    client.write('FETCH / HTTP/1.1\r\nX-Header: 1\r\nNOOP\r\n');
    expect(await client.line()).toBe('500 5.5.1 Command not recognized');
    expect(await client.line()).toBe('500 5.5.1 Command not recognized');
    expect(await client.line()).toBe('250 2.0.0 OK');
    expect(seen.violations).toEqual([]);
  });

  it('the list is configurable, and [] switches the check off', async () => {
    const { server, seen } = await serve({ forbiddenCommands: [] });
    const client = await greeted(server, seen);
    client.write('GET / HTTP/1.1\r\nNOOP\r\n');
    expect(await client.line()).toBe('500 5.5.1 Command not recognized');
    expect(await client.line()).toBe('250 2.0.0 OK');
    await current?.close();

    const custom = await serve({ forbiddenCommands: ['XHTTP', 'X-Forwarded-For:'] });
    const other = await greeted(custom.server, custom.seen);
    other.write('x-forwarded-for: 192.0.2.1\r\nNOOP\r\n');
    expect(await linesUntilClosed(other)).toEqual([forbidden]);
    expect(custom.seen.violations).toEqual([{ kind: 'forbidden-command', command: 'X-Forwarded-For:' }]);
  });

  it('the default list holds no SMTP or LMTP verb', () => {
    const verbs = ['HELO', 'EHLO', 'LHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'EXPN', 'HELP', 'STARTTLS', 'AUTH', 'ETRN'];
    for (const verb of verbs) expect(defaultForbiddenCommands.map((entry) => entry.toUpperCase())).not.toContain(verb);
  });
});

describe('input before the greeting', () => {
  it('is reported as a violation', async () => {
    const { server, seen } = await serve({ greetingDelay: 300 });
    const client = await server.connect();
    client.write('EHLO eager.example\r\n');
    expect(await linesUntilClosed(client)).toEqual(['554 5.5.1 mx.test Protocol error: input before greeting']);
    expect(seen.violations).toEqual([{ kind: 'early-talker', command: null }]);
  });
});
