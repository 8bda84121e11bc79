/**
 * On-Demand Mail Relay (RFC 2645) with an independent peer: the site is a small ODMR client
 * written here on a plain Node socket (EHLO, AUTH, ATRN), which on the 250 hands the same socket
 * to nodemailer's smtp-server, an SMTP server implementation of its own, and from then on is
 * the server the relay delivers to.
 *
 * Proves: ATRN and AUTH are announced; ATRN before AUTH gets 530, for a domain not granted 450,
 * while another session pulls the domain 451, with nothing held 453; the granted site's ATRN gets
 * 250, the connection turns, the site's 220 comes first, and the held mail arrives over it; what
 * the site refuses for good is returned to its sender, what it defers waits for the next pull;
 * afterwards the queue holds only the deferred recipient, the spool holds nothing of the
 * delivered messages, and the pull lock is gone. The session runs in TLS by default, and the
 * port has the connection limits of port 25.
 */
import { type Socket, connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createQueueAdmin } from '@mailway/queue/admin';
import { waitFor } from '@mailway/testing/wait';
import { pullLocks } from '../src/pull/locks.js';
import { type Harness, bob, sendThrough, settled, startRelay } from './support/harness.js';

/** The site's side before the turn: one command line at a time, one (multi-line) reply back. */
class OdmrClient {
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(public socket: Socket) {
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(port: number): Promise<{ client: OdmrClient; greeting: string }> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new OdmrClient(socket);
    return { client, greeting: await client.reply() };
  }

  /** STARTTLS, then the rest over TLS (any certificate: the relay's is self-signed here). */
  async startTls(): Promise<string> {
    const ready = await this.command('STARTTLS');
    if (!ready.startsWith('220 ')) return ready;
    this.socket.off('data', this.onData);
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.attach(secure);
    return ready;
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** The reply's lines joined by newlines (`250-…\n250 …`). */
  async reply(): Promise<string> {
    for (;;) {
      const text = this.buffer.toString('latin1');
      const lines = text.split('\r\n');
      const last = lines.findIndex((l) => /^\d{3} /.test(l) || /^\d{3}$/.test(l));
      if (last !== -1) {
        const used = lines.slice(0, last + 1).join('\r\n').length + 2;
        this.buffer = this.buffer.subarray(used);
        return lines.slice(0, last + 1).join('\n');
      }
      if (this.closed) throw new Error(`closed; unread ${JSON.stringify(text)}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Stops reading: the socket, and whatever arrived unread, go to their new owner. */
  turn(): { socket: Socket; unread: Buffer } {
    this.socket.off('data', this.onData);
    return { socket: this.socket, unread: this.buffer };
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const wake = this.wake;
    this.wake = null;
    wake?.();
  };
}

interface Received {
  readonly from: string;
  readonly to: string[];
  readonly text: string;
}

/** smtp-server as the site's own mail server, on the turned socket: takes mail for site.test; `refusing`: gone@ for good and later@ for now. */
function siteServer(turned: { socket: Socket; unread: Buffer }, refusing = true): { received: Received[]; greeted: Promise<void> } {
  const received: Received[] = [];
  let greeted!: () => void;
  const server = new SMTPServer({
    name: 'mail.site.test',
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onConnect: (_session, callback) => {
      greeted();
      callback();
    },
    onRcptTo: (address, _session, callback) => {
      if (refusing && address.address === 'gone@site.test') return callback(Object.assign(new Error('5.1.1 no such user here'), { responseCode: 550 }));
      if (refusing && address.address === 'later@site.test') return callback(Object.assign(new Error('4.2.1 mailbox busy'), { responseCode: 450 }));
      callback();
    },
    onData: (stream, session: SMTPServerSession, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address), text: Buffer.concat(chunks).toString() });
        callback();
      });
    },
  });
  if (turned.unread.length > 0) turned.socket.unshift(turned.unread);
  server.connect(turned.socket, { id: 'turned' });
  return { received, greeted: new Promise<void>((resolve) => (greeted = resolve)) };
}

async function relay(env: Record<string, string> = { RELAY_ODMR_ALLOW_INSECURE_AUTH: 'true' }): Promise<Harness> {
  const h = await startRelay({
    env: {
      RELAY_NETWORKS: '127.0.0.0/8',
      RELAY_HOLD_DOMAINS: 'site.test,other.test',
      RELAY_ODMR_USERS: `${bob.user}=site.test, dave@second.example=other.test`,
      RELAY_ODMR_PORT: '0',
      ...env,
    },
  });
  onTestFinished(() => h.close());
  return h;
}

const plain = (user: string, pass: string): string => `AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}`;

/** The BullMQ states of a message's outbound jobs, as `mailway queue show` gives them. */
async function outboundStates(h: Harness, queueId: string): Promise<string[]> {
  const admin = createQueueAdmin(h.redis, { prefix: h.prefix });
  try {
    return ((await admin.show(queueId))?.jobs ?? []).filter((j) => j.queue === 'outbound').map((j) => j.bullState);
  } finally {
    await admin.close();
  }
}

/** Recipients as `mailway queue list` shows them. */
async function queued(h: Harness): Promise<{ address: string; state: string }[]> {
  const admin = createQueueAdmin(h.redis, { prefix: h.prefix });
  try {
    return (await admin.list()).flatMap((m) => m.recipients.map((r) => ({ address: r.address, state: r.state })));
  } finally {
    await admin.close();
  }
}

describe('ODMR (RFC 2645)', () => {
  it('refuses what it must: no AUTH, a domain not granted, a domain being pulled, nothing held', async () => {
    const h = await relay();
    const port = h.agent.odmrPort ?? 0;
    const { client, greeting } = await OdmrClient.open(port);
    expect(greeting).toMatch(/^220 mx\.local\.example ESMTP/);
    const ehlo = await client.command('EHLO site.test');
    expect(ehlo.split('\n').map((l) => l.slice(4))).toEqual(expect.arrayContaining(['ATRN', 'AUTH PLAIN LOGIN']));
    expect(await client.command('ATRN site.test')).toBe('530 5.7.0 Authentication required');
    expect(await client.command(plain(bob.user, bob.pass))).toBe('235 2.7.0 Authentication successful');
    expect(await client.command('ATRN other.test')).toBe('450 4.7.1 Access denied to other.test');
    expect(await client.command('MAIL FROM:<bob@local.example>')).toBe('502 5.5.1 Mail is not accepted on the ODMR port: use ATRN');
    expect(await client.command('ATRN site.test')).toBe('453 4.3.0 You have no mail');

    const lock = await pullLocks(h.redis, h.prefix).acquire(['site.test']);
    expect(await client.command('ATRN')).toBe('451 4.3.0 Unable to process ATRN request now');
    await lock?.release();
    expect(await client.command('QUIT')).toMatch(/^221 /);
    expect(await h.metric(/^mailway_relay_odmr_sessions_total\{.*outcome="refused"/)).toBe(2);
    expect(await h.metric(/^mailway_relay_odmr_sessions_total\{.*outcome="no_mail"/)).toBe(1);
    expect(await h.metric(/^mailway_relay_odmr_sessions_total\{.*outcome="locked"/)).toBe(1);
  });

  it('turns the connection around and delivers the held mail over it; refused mail is returned, deferred mail waits', async () => {
    const h = await relay();
    const first = await sendThrough(h, 'carol@remote.example', ['x@site.test', 'y@site.test'], { subject: 'first' });
    const second = await sendThrough(h, bob.user, ['z@site.test', 'gone@site.test', 'later@site.test'], { subject: 'second' });
    await waitFor('the mail to be held', async () => {
      const found = await queued(h);
      return found.length === 5 && found.every((r) => r.state === 'held');
    });

    // Before the turn.
    const pull = async (refusing: boolean): Promise<Received[]> => {
      const sessions = h.logs.filter((l) => l.msg === 'odmr session done').length;
      const { client } = await OdmrClient.open(h.agent.odmrPort ?? 0);
      await client.command('EHLO site.test');
      expect(await client.command(plain(bob.user, bob.pass))).toMatch(/^235 /);
      expect(await client.command('ATRN site.test')).toBe('250 2.0.0 OK now reversing the connection');
      // The turn: the site's server speaks first, on the same connection.
      const site = siteServer(client.turn(), refusing);
      await site.greeted;
      await waitFor('the session to end', () => h.logs.filter((l) => l.msg === 'odmr session done').length > sessions);
      return site.received;
    };
    const received = await pull(true);
    expect(received.map((m) => [m.from, m.to, /Subject: (\w+)/.exec(m.text)?.[1]])).toEqual([
      ['carol@remote.example', ['x@site.test', 'y@site.test'], 'first'],
      ['bob@local.example', ['z@site.test'], 'second'],
    ]);
    expect(received[0]?.text).toMatch(/^Received: from .* by mx\.local\.example\b/);
    expect(h.logs.filter((l) => l.msg === 'delivered').map((l) => [l.to, l.remote])).toEqual([
      ['x@site.test', 'site.test'],
      ['y@site.test', 'site.test'],
      ['z@site.test', 'site.test'],
    ]);

    // What the site refused for good goes back to its sender; what it deferred waits for the next pull.
    await waitFor('the first message to leave the spool', settled(h, first));
    await waitFor('its outbound job to complete', async () => (await outboundStates(h, first)).join() === 'completed');
    const notices = await h.waitForJobs('delivery', 1);
    expect(notices.map((j) => [j.data.from, j.data.recipient.address])).toEqual([['', bob.user]]);
    expect((await h.spool.readAll(notices[0]?.data.spoolId ?? '')).toString()).toMatch(/Final-Recipient: rfc822; gone@site\.test[\s\S]*Status: 5\.1\.1/);
    expect((await queued(h)).filter((r) => r.address.endsWith('@site.test'))).toEqual([{ address: 'later@site.test', state: 'held' }]);
    expect(await h.redis.exists(`${h.prefix}pull:lock:site.test`)).toBe(0);
    expect(await h.metric(/^mailway_relay_odmr_messages_total\{.*outcome="finished"/)).toBe(1);
    expect(await h.metric(/^mailway_relay_odmr_messages_total\{.*outcome="deferred"/)).toBe(1);

    // The next pull takes the rest; then nothing of the site's mail is left, queued or spooled.
    expect((await pull(false)).map((m) => m.to)).toEqual([['later@site.test']]);
    await waitFor('the second message to leave the spool', settled(h, second));
    await waitFor('the queue to empty', async () => (await queued(h)).filter((r) => r.address.endsWith('@site.test')).length === 0);
    await waitFor('its outbound job to complete', async () => (await outboundStates(h, second)).join() === 'completed');
    expect(await h.redis.exists(`${h.prefix}pull:lock:site.test`)).toBe(0);
  });

  it('over TLS, as by default: AUTH only after STARTTLS, and the turned session stays in TLS', async () => {
    const h = await relay({});
    const queueId = await sendThrough(h, 'carol@remote.example', ['x@site.test'], { subject: 'secret' });
    await waitFor('the mail to be held', async () => (await queued(h)).some((r) => r.state === 'held'));

    const { client } = await OdmrClient.open(h.agent.odmrPort ?? 0);
    const plainEhlo = await client.command('EHLO site.test');
    expect(plainEhlo).toMatch(/STARTTLS/);
    expect(plainEhlo).not.toMatch(/AUTH/);
    expect(await client.startTls()).toMatch(/^220 /);
    expect(await client.command('EHLO site.test')).toMatch(/250-AUTH PLAIN LOGIN/);
    expect(await client.command(plain(bob.user, bob.pass))).toMatch(/^235 /);
    expect(await client.command('ATRN')).toBe('250 2.0.0 OK now reversing the connection');
    const turned = client.turn();
    expect(turned.socket.constructor.name).toBe('TLSSocket');
    const site = siteServer(turned);
    await site.greeted;
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(site.received.map((m) => m.to)).toEqual([['x@site.test']]);
    expect(h.logs.find((l) => l.msg === 'delivered')).toMatchObject({ to: 'x@site.test', remote: 'site.test', tls: expect.stringMatching(/^TLSv1\.[23]$/) });
  });

  it('is under the connection limits of port 25: one session too many from a client gets 421', async () => {
    const h = await relay({ RELAY_ODMR_ALLOW_INSECURE_AUTH: 'true', RELAY_CLIENT_CONNECTIONS: '1', RELAY_NETWORKS: '10.0.0.0/8' });
    const { client, greeting } = await OdmrClient.open(h.agent.odmrPort ?? 0);
    expect(greeting).toMatch(/^220 /);
    const second = connect({ host: '127.0.0.1', port: h.agent.odmrPort ?? 0 });
    const refused = await new Promise<string>((resolve) => {
      let text = '';
      second.on('data', (chunk: Buffer) => (text += chunk.toString()));
      second.on('close', () => resolve(text));
    });
    expect(refused).toBe('421 4.7.0 mx.local.example Too many connections from your host\r\n');
    expect(await client.command('QUIT')).toMatch(/^221 /);
  });
});
