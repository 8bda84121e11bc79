/**
 * The whole stack as a newcomer runs it: `mailway start` (here against the test run's Redis,
 * with a key prefix of its own, on free ports), directory commands through the CLI, a message
 * submitted by nodemailer on the submission port, found byte-exact in the recipient's Maildir
 * behind the trace fields the agents add. Then SIGTERM stops everything cleanly.
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { type Stack, run, startStack } from './support/stack.js';

let s: Stack;
let home: string;
let env: Record<string, string>;
let stack: Stack['process'];
const mailway = (...args: string[]): Promise<string> => s.mailway(...args);
const waitFor = <T>(what: string, probe: () => Promise<T | null>, timeoutMs?: number): Promise<T> => s.waitFor(what, probe, timeoutMs);

beforeAll(async () => {
  s = await startStack();
  ({ home, env, process: stack } = s);
}, 90_000);

afterAll(async () => {
  await s.close();
});

/** Waits until a message whose text includes `text` is in `user`'s Maildir (new/). */
async function inMaildir(user: string, text: string): Promise<void> {
  const dir = join(home, 'mail', 'example.org', user, 'Maildir', 'new');
  await waitFor(`the message "${text}" for ${user}`, async () => {
    for (const name of await readdir(dir)) if ((await readFile(join(dir, name), 'utf8')).includes(text)) return true;
    return null;
  });
}

describe('mailway start', () => {
  it('prints where everything listens and where mail is stored', () => {
    expect(s.output()).toContain(`smtp://127.0.0.1:${env.SUBMISSION_PORT}`);
    expect(s.output()).toContain(join(home, 'mail'));
  });

  it('delivers a message submitted by nodemailer into the Maildir, byte-exact', async () => {
    await mailway('domain', 'add', 'example.org');
    await mailway('user', 'add', 'alice@example.org', 'alice-secret');
    await mailway('user', 'add', 'bob@example.org', 'bob-secret');
    expect(await mailway('user', 'list')).toContain('bob@example.org');

    const raw = Buffer.from(['From: Alice <alice@example.org>', 'To: bob@example.org', 'Subject: stack test', 'Date: Wed, 25 Nov 2026 10:00:00 +0000', 'Message-ID: <stack.1@example.org>', '', '.a line with a dot', 'caf\u00e9 8-bit', ''].join('\r\n'), 'utf8');
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(env.SUBMISSION_PORT), secure: false, requireTLS: true, auth: { user: 'alice@example.org', pass: 'alice-secret' }, tls: { rejectUnauthorized: false } });
    const info = await transport.sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.org'] }, raw });
    transport.close();
    expect(info.response).toMatch(/^250 2\.0\.0 .*queued as/);

    const newDir = join(home, 'mail', 'example.org', 'bob', 'Maildir', 'new');
    const file = await waitFor('the message in the Maildir', async () => (await readdir(newDir))[0] ?? null);
    const stored = await readFile(join(newDir, file));
    expect(stored.subarray(stored.length - raw.length).equals(raw)).toBe(true);
    const added = stored.subarray(0, stored.length - raw.length).toString('latin1');
    expect(added).toMatch(/^Return-Path: <alice@example\.org>\r\nDelivered-To: bob@example\.org\r\n/);
    expect(added).toContain('with ESMTPSA');
  });

  it('sends a message with `mailway send`', async () => {
    const out = await mailway('send', '--user', 'bob@example.org', '--pass', 'bob-secret', '--to', 'alice@example.org', '--port', env.SUBMISSION_PORT ?? '');
    expect(out).toMatch(/^250 2\.0\.0 /);
    const newDir = join(home, 'mail', 'example.org', 'alice', 'Maildir', 'new');
    await waitFor('alice\'s message', async () => ((await readdir(newDir)).length > 0 ? true : null));
  });

  it('takes mail for a local user on the relay port from Python\'s smtplib into the Maildir', async () => {
    const raw = 'From: someone@remote.example\r\nTo: bob@example.org\r\nSubject: inbound\r\n\r\nfrom another MTA\r\n';
    const script = [
      'import smtplib, sys',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mx.remote.example")',
      's.sendmail("someone@remote.example", ["bob@example.org"], sys.stdin.buffer.read())',
      's.quit()',
    ].join('\n');
    const bobNew = join(home, 'mail', 'example.org', 'bob', 'Maildir', 'new');
    const before = (await readdir(bobNew)).length;
    const child = run('python3', ['-c', script, env.RELAY_PORT ?? '']);
    child.child.stdin?.end(raw);
    await child;
    const files = await waitFor('the relayed message', async () => {
      const names = await readdir(bobNew);
      return names.length > before ? names : null;
    });
    const contents = await Promise.all(files.map((f) => readFile(join(bobNew, f), 'latin1')));
    const relayed = contents.find((c) => c.includes('Subject: inbound'));
    expect(relayed?.endsWith(raw)).toBe(true);
    // Port 25 checks a stranger's sender (DMARC is on by default) and records it above its Received field.
    expect(relayed).toMatch(/^Return-Path: <someone@remote\.example>\r\nDelivered-To: bob@example\.org\r\nAuthentication-Results: localhost;\r\n dkim=none [^\r]*\r\n spf=none [^\r]*\r\n dmarc=none header\.from=remote\.example\r\nReceived: from mx\.remote\.example/);
  });

  it('fans an alias out to every target mailbox', async () => {
    await mailway('alias', 'add', 'team@example.org', 'alice@example.org', 'bob@example.org');
    expect(await mailway('alias', 'list')).toContain('team@example.org -> alice@example.org, bob@example.org');
    const subject = `team ${randomUUID()}`;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(env.SUBMISSION_PORT), secure: false, requireTLS: true, auth: { user: 'alice@example.org', pass: 'alice-secret' }, tls: { rejectUnauthorized: false } });
    await transport.sendMail({ from: 'alice@example.org', to: 'team@example.org', subject, text: 'to the whole team' });
    transport.close();
    for (const user of ['alice', 'bob']) await inMaildir(user, subject);
  });

  it('answers NOTIFY=SUCCESS with a notice from <> in the sender\'s Maildir: "delivered" for a user, one "expanded" for a list', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(env.SUBMISSION_PORT), secure: false, requireTLS: true, auth: { user: 'alice@example.org', pass: 'alice-secret' }, tls: { rejectUnauthorized: false } });
    const aliceNew = join(home, 'mail', 'example.org', 'alice', 'Maildir', 'new');
    /** The notices in alice's Maildir that echo `envid`, parsed. */
    const notices = async (envid: string): Promise<Awaited<ReturnType<typeof parseDsn>>[]> => {
      const found = [];
      for (const name of await readdir(aliceNew)) {
        const content = await readFile(join(aliceNew, name));
        if (content.includes(`Original-Envelope-Id: ${envid}\r\n`)) found.push(await parseDsn(content));
      }
      return found;
    };

    const envid = `env-${randomUUID()}`;
    await transport.sendMail({ from: 'alice@example.org', to: 'bob@example.org', subject: 'tell me when', text: 'Let me know it arrived.', dsn: { id: envid, return: 'full', notify: ['success', 'failure'] } });
    const [delivered] = await waitFor('the "delivered" notice', async () => ((await notices(envid)).length > 0 ? notices(envid) : null));
    expect(delivered?.headers).toMatchObject({ 'Return-Path': '<>', 'Delivered-To': 'alice@example.org', Subject: 'Successful Mail Delivery Report' });
    expect(delivered?.perRecipient).toEqual([expect.objectContaining({ 'Final-Recipient': 'rfc822; bob@example.org', Action: 'delivered', Status: '2.0.0' })]);
    expect(delivered?.returned).toContain('Subject: tell me when');
    expect(delivered?.returned).not.toContain('Let me know it arrived.');

    const listEnvid = `env-${randomUUID()}`;
    const subject = `team ${randomUUID()}`;
    await transport.sendMail({ from: 'alice@example.org', to: 'team@example.org', subject, text: 'to the whole team', dsn: { id: listEnvid, notify: ['success'] } });
    transport.close();
    for (const user of ['alice', 'bob']) await inMaildir(user, subject);
    await waitFor('the "expanded" notice', async () => ((await notices(listEnvid)).length > 0 ? true : null));
    // Time for a "delivered" notice from a member to arrive, were one sent.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const all = await notices(listEnvid);
    expect(all.map((n) => n.perRecipient.map((r) => `${r.Action} ${r['Final-Recipient']}`))).toEqual([['expanded rfc822; team@example.org']]);
  });

  it('restarts an agent that dies, and mail keeps flowing', async () => {
    // The delivery agent: the child of `mailway start` running apps/delivery.
    const { stdout } = await run('ps', ['-o', 'pid=,args=', '--ppid', String(stack.pid)]);
    const delivery = stdout.split('\n').find((line) => line.includes('delivery'));
    const pid = Number(delivery?.trim().split(/\s+/)[0]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await waitFor('the restart notice', async () => (s.output().includes('delivery exited (signal SIGKILL); restarting') ? true : null));

    const out = await mailway('send', '--user', 'alice@example.org', '--pass', 'alice-secret', '--to', 'bob@example.org', '--subject', 'after the restart', '--port', env.SUBMISSION_PORT ?? '');
    expect(out).toMatch(/^250 /);
    const dir = join(home, 'mail', 'example.org', 'bob', 'Maildir', 'new');
    await waitFor('mail delivered by the restarted agent', async () => {
      for (const name of await readdir(dir)) if ((await readFile(join(dir, name), 'utf8')).includes('Subject: after the restart')) return true;
      return null;
    });
  });

  it('stops on SIGTERM, agents first', async () => {
    const exited = new Promise<number | null>((resolve) => stack.once('exit', (code) => resolve(code)));
    stack.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(s.output()).toContain('mailway: stopped');
  });
});
