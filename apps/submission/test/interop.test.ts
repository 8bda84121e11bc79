/**
 * Independent clients submit through the agent: nodemailer over 587 with STARTTLS and over 465,
 * Python's smtplib over 587. Each message must arrive in the spool byte-exact behind the
 * fields the agent adds, and its transfer job must carry the whole envelope.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { agentForTests } from '@mailway/testing/agent';
import { splitHeaderBlock, readHeaderFields } from '@mailway/smtp/message';
import { alice, bob, message, startSubmission } from './support/harness.js';

const run = promisify(execFile);
const submission = agentForTests(() => startSubmission());

/** The queued job whose Received field names `queueId`. */
async function job(queueId: string) {
  const found = (await submission.current.jobs()).find((j) => j.queueId === queueId);
  if (!found) throw new Error(`no transfer job ${queueId}`);
  return found;
}

/** The queue id in a "250 2.0.0 Ok: queued as ID" reply. */
function queueIdOf(response: string): string {
  const match = /queued as ([0-9A-Z]+)/.exec(response);
  if (!match?.[1]) throw new Error(`no queue id in ${response}`);
  return match[1];
}

/** What the agent put in front of `original`, checking the rest is unchanged. */
async function addedFields(queueId: string, original: Buffer): Promise<string[]> {
  const stored = await submission.current.spool.readAll(queueId);
  expect(stored.subarray(stored.length - original.length).equals(original)).toBe(true);
  return readHeaderFields(stored.subarray(0, stored.length - original.length)).map((f) => f.raw.toString('utf8'));
}

describe('nodemailer', () => {
  it('submits over 587 with STARTTLS and AUTH PLAIN; the job and the spool are exact', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submission.current.agent.ports.starttls,
      secure: false,
      requireTLS: true,
      auth: { user: alice.user, pass: alice.pass, method: 'PLAIN' },
      tls: { rejectUnauthorized: false },
    });
    const raw = Buffer.from(message({ to: 'carol@remote.example, dave@example.org', extraHeaders: 'Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <fixed.1@example.org>', body: '.leading dot\r\n8-bit: caf\u00e9\r\n' }), 'utf8');
    const info = await transport.sendMail({ envelope: { from: alice.user, to: ['carol@remote.example', 'dave@example.org'] }, raw, dsn: { id: 'env-42', return: 'headers', notify: ['failure', 'delay'], recipient: alice.user } });
    transport.close();

    const queueId = queueIdOf(info.response);
    expect(info.response).toMatch(/^250 2\.0\.0 /);
    const j = await job(queueId);
    expect(j.envelope.from).toBe(alice.user);
    expect(j.envelope.recipients.map((r) => r.address)).toEqual(['carol@remote.example', 'dave@example.org']);
    expect(j.envelope.recipients[0]?.notify).toEqual(['FAILURE', 'DELAY']);
    expect(j.envelope.envid).toBe('env-42');
    expect(j.envelope.ret).toBe('HDRS');
    expect(j.origin).toMatchObject({ agent: 'submission', user: alice.user, tls: { protocol: 'TLSv1.3' } });
    expect(j.messageId).toBe('<fixed.1@example.org>');

    // Only a Received field was added: Date and Message-ID were there.
    const added = await addedFields(queueId, raw);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^Received: from client|^Received: from \[127\.0\.0\.1\]|^Received: from /);
    expect(added[0]).toContain('with ESMTPSA');
    expect(added[0]).toContain(`id ${queueId}`);
    expect(added[0]).toContain('(using TLSv1.3 with cipher');
    expect(j.size).toBe((await submission.current.spool.readAll(queueId)).length);
    const stat = await submission.current.spool.stat(queueId);
    expect(stat?.refs).toBe(2);
  });

  it('submits over 465 (implicit TLS) with AUTH LOGIN, a binary attachment intact', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submission.current.agent.ports.implicitTls,
      secure: true,
      auth: { user: bob.user, pass: bob.pass, method: 'LOGIN' },
      tls: { rejectUnauthorized: false },
    });
    const attachment = randomBytes(300_000);
    const info = await transport.sendMail({ from: bob.user, to: 'carol@remote.example', subject: 'binary', text: 'see attached', attachments: [{ filename: 'blob.bin', content: attachment }] });
    transport.close();

    const queueId = queueIdOf(info.response);
    const stored = await submission.current.spool.readAll(queueId);
    const { body } = splitHeaderBlock(stored);
    const b64 = /Content-Disposition: attachment; filename=blob\.bin\r\n\r\n([A-Za-z0-9+/=\r\n]+)\r\n--/.exec(body.toString('latin1'));
    expect(b64?.[1]).toBeDefined();
    expect(Buffer.from((b64?.[1] ?? '').replace(/\r\n/g, ''), 'base64').equals(attachment)).toBe(true);
    expect((await job(queueId)).origin.user).toBe(bob.user);
  });

  it('gets the fix-ups: Date and Message-ID added when missing', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: submission.current.agent.ports.implicitTls, secure: true, auth: { user: alice.user, pass: alice.pass }, tls: { rejectUnauthorized: false } });
    const raw = Buffer.from('From: alice@example.org\r\nTo: carol@remote.example\r\nSubject: bare\r\n\r\nno date, no id\r\n');
    const info = await transport.sendMail({ envelope: { from: alice.user, to: ['carol@remote.example'] }, raw });
    transport.close();
    const queueId = queueIdOf(info.response);
    const added = await addedFields(queueId, raw);
    expect(added.map((f) => f.split(':')[0])).toEqual(['Received', 'Date', 'Message-ID']);
    expect(added[1]).toMatch(/^Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n$/);
    expect(added[2]).toMatch(/^Message-ID: <[^@\s]+@msa\.test\.example>\r\n$/);
    expect(added[0]).toContain('for <carol@remote.example>');
    expect((await job(queueId)).messageId).toBe(added[2]?.slice('Message-ID: '.length).trim());
  });
});

describe('Authentication-Results', () => {
  it('fields claiming this host are removed from a submitted message (RFC 8601 §5); others stay', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: submission.current.agent.ports.implicitTls, secure: true, auth: { user: alice.user, pass: alice.pass }, tls: { rejectUnauthorized: false } });
    const forged = 'Authentication-Results: msa.test.example; dkim=pass header.d=bank.example\r\n';
    const rest = Buffer.from('Authentication-Results: mx.elsewhere.example; spf=none\r\nFrom: alice@example.org\r\nTo: carol@remote.example\r\nDate: Thu, 3 Dec 2026 08:00:00 +0000\r\nMessage-ID: <ar.1@example.org>\r\n\r\nbody\r\n');
    const info = await transport.sendMail({ envelope: { from: alice.user, to: ['carol@remote.example'] }, raw: Buffer.concat([Buffer.from(forged), rest]) });
    transport.close();
    const queueId = queueIdOf(info.response);
    expect((await addedFields(queueId, rest)).map((f) => f.split(':')[0])).toEqual(['Received']);
    expect(submission.current.logs.find((l) => l.queueId === queueId && String(l.msg).startsWith('removed Authentication-Results'))).toMatchObject({ fields: 1 });
  });
});

describe("Python's smtplib", () => {
  it('submits over 587 with starttls() and login(); bytes arrive exact', async () => {
    const raw = message({ subject: 'from python', body: 'Lines\r\n.with a dot\r\n..and two\r\nend' });
    const script = `
import smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port, local_hostname='py.client.example')
s.starttls(context=ctx)
s.login(sys.argv[2], sys.argv[3])
msg = sys.stdin.buffer.read()
s.mail(sys.argv[2])
s.rcpt('carol@remote.example')
code, text = s.data(msg)
print(code, text.decode())
s.quit()
`;
    const child = run('python3', ['-c', script, String(submission.current.agent.ports.starttls), alice.user, alice.pass]);
    child.child.stdin?.end(raw);
    const { stdout } = await child;
    expect(stdout).toMatch(/^250 /);
    const queueId = queueIdOf(stdout);
    const added = await addedFields(queueId, Buffer.from(raw));
    expect(added[0]).toContain('from py.client.example');
    expect((await job(queueId)).envelope.recipients).toEqual([{ address: 'carol@remote.example', notify: null, orcpt: null }]);
  });
});

describe('logs and metrics', () => {
  it('logs one line per queued message with its queue id, and counts it', async () => {
    const queued = submission.current.logs.filter((l) => l.msg === 'queued');
    expect(queued.length).toBeGreaterThanOrEqual(4);
    for (const line of queued) expect(line.queueId).toMatch(/^[0-9A-Z]+$/);
    const text = await submission.current.metrics.registry.metrics();
    expect(text).toMatch(/mailway_submission_messages_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/mailway_submission_bytes_total\{[^}]*\} [1-9]/);
  });
});
