/**
 * Every refusal of the submission agent, with its exact reply: what a mail administrator sees
 * in a client's transcript. Each test speaks SMTP line by line to a real agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forThisTest } from '@mailway/testing/agent';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, alice, bob, message, startSubmission } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startSubmission({
    env: {
      SUBMISSION_MAX_RECIPIENTS: '3',
      SUBMISSION_AUTH_MAX_FAILURES_PER_USER: '3',
      SUBMISSION_AUTH_MAX_FAILURES_PER_IP: '1000',
    },
  });
});
afterAll(async () => {
  await h.close();
});

/** A session on 587 with TLS up and logged in as `who`. */
async function loggedIn(who: { user: string; pass: string } = alice): Promise<Dialog> {
  const { dialog } = await Dialog.open(h.agent.ports.starttls);
  await dialog.startTls();
  expect((await dialog.authPlain(who.user, who.pass)).status).toBe('235 2.7.0');
  return dialog;
}

describe('before TLS on port 587', () => {
  it('does not offer AUTH, and refuses it with 538 5.7.11', async () => {
    const { dialog, greeting } = await Dialog.open(h.agent.ports.starttls);
    expect(greeting.code).toBe(220);
    const ehlo = await dialog.command('EHLO client.example');
    expect(ehlo.text).toContain('STARTTLS');
    expect(ehlo.text).not.toMatch(/^AUTH/m);
    expect((await dialog.authPlain(alice.user, alice.pass)).status).toBe('538 5.7.11');
    await dialog.close();
  });

  it('refuses MAIL with 530 5.7.0', async () => {
    const { dialog } = await Dialog.open(h.agent.ports.starttls);
    await dialog.command('EHLO client.example');
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).status).toBe('530 5.7.0');
    await dialog.close();
  });
});

describe('after TLS', () => {
  it('offers AUTH PLAIN LOGIN and refuses MAIL before AUTH with 530 5.7.0', async () => {
    const { dialog } = await Dialog.open(h.agent.ports.starttls);
    const ehlo = await dialog.startTls();
    expect(ehlo.text).toMatch(/^AUTH PLAIN LOGIN$/m);
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).status).toBe('530 5.7.0');
    await dialog.close();
  });

  it('answers a wrong password with 535 5.7.8 and logs it', async () => {
    const { dialog } = await Dialog.open(h.agent.ports.starttls);
    await dialog.startTls();
    expect((await dialog.authPlain(bob.user, 'wrong')).status).toBe('535 5.7.8');
    expect((await dialog.authPlain('nobody@example.org', 'whatever')).status).toBe('535 5.7.8');
    await dialog.close();
    expect(h.logs.some((l) => l.msg === 'authentication failed' && l.user === bob.user)).toBe(true);
  });

  it('refuses an authorization identity other than the user', async () => {
    const { dialog } = await Dialog.open(h.agent.ports.starttls);
    await dialog.startTls();
    const response = Buffer.from(`bob@example.org\0${alice.user}\0${alice.pass}`).toString('base64');
    expect((await dialog.command(`AUTH PLAIN ${response}`)).status).toBe('535 5.7.8');
    await dialog.close();
  });

  it('bars a user after too many failures with 454 4.7.0 at a client it never logged in from, even with the right password', async () => {
    const victim = 'carol@example.org';
    await h.agent.directory.addUser(victim, 'carol-secret');
    const { dialog } = await Dialog.open(h.agent.ports.starttls);
    await dialog.startTls();
    for (let i = 0; i < 3; i += 1) expect((await dialog.authPlain(victim, `guess-${i}`)).status).toBe('535 5.7.8');
    expect((await dialog.authPlain(victim, 'carol-secret')).status).toBe('454 4.7.0');
    await dialog.close();
    expect(h.logs.some((l) => l.msg === 'authentication refused: too many failures' && l.limit === 'user')).toBe(true);
  });

  it('refuses a reverse-path the user does not own with 553 5.7.1', async () => {
    const dialog = await loggedIn();
    expect((await dialog.command('MAIL FROM:<bob@example.org>')).status).toBe('553 5.7.1');
    expect((await dialog.command('MAIL FROM:<alice@elsewhere.example>')).status).toBe('553 5.7.1');
    // Own address, a sub-address and a send-as address are fine.
    for (const from of ['alice@example.org', 'Alice@EXAMPLE.org', 'alice+lists@example.org', 'sales@example.org']) {
      expect((await dialog.command(`MAIL FROM:<${from}>`)).status).toBe('250 2.1.0');
      expect((await dialog.command('RSET')).code).toBe(250);
    }
    await dialog.close();
  });

  it('refuses a From header the user does not own with 553 5.7.1 and queues nothing', async () => {
    const before = (await h.jobs()).length;
    const dialog = await loggedIn();
    await dialog.command('MAIL FROM:<alice@example.org>');
    await dialog.command('RCPT TO:<carol@remote.example>');
    const reply = await dialog.data(message({ from: 'Bob <bob@example.org>' }));
    expect(reply.status).toBe('553 5.7.1');
    // The session goes on: the next transaction is accepted.
    await dialog.command('MAIL FROM:<alice@example.org>');
    await dialog.command('RCPT TO:<carol@remote.example>');
    expect((await dialog.data(message({ from: '"Sales" <sales@example.org>' }))).status).toBe('250 2.0.0');
    await dialog.close();
    expect((await h.jobs()).length).toBe(before + 1);
  });

  it('refuses a message with two From fields or an unreadable one with 550 5.6.0', async () => {
    const dialog = await loggedIn();
    for (const extra of ['From: alice@example.org', 'From: <alice@example.org']) {
      await dialog.command('MAIL FROM:<alice@example.org>');
      await dialog.command('RCPT TO:<carol@remote.example>');
      const body = extra.startsWith('From: <') ? message({ from: '<alice@example.org' }) : message({ extraHeaders: extra });
      expect((await dialog.data(body)).status).toBe('550 5.6.0');
    }
    await dialog.close();
  });

  it('limits recipients per message with 452 4.5.3', async () => {
    const dialog = await loggedIn();
    await dialog.command('MAIL FROM:<alice@example.org>');
    for (let i = 0; i < 3; i += 1) expect((await dialog.command(`RCPT TO:<r${i}@remote.example>`)).status).toBe('250 2.1.5');
    expect((await dialog.command('RCPT TO:<r3@remote.example>')).status).toBe('452 4.5.3');
    // The three accepted recipients still make a message.
    expect((await dialog.data(message())).status).toBe('250 2.0.0');
    await dialog.close();
  });
});

describe('implicit TLS on port 465', () => {
  it('offers AUTH at once and refuses MAIL before AUTH with 530 5.7.0', async () => {
    const { dialog, greeting } = await Dialog.open(h.agent.ports.implicitTls, { tls: true });
    expect(greeting.code).toBe(220);
    const ehlo = await dialog.command('EHLO client.example');
    expect(ehlo.text).toMatch(/^AUTH PLAIN LOGIN$/m);
    expect(ehlo.text).not.toContain('STARTTLS');
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).status).toBe('530 5.7.0');
    await dialog.close();
  });
});

describe('hourly message limit', () => {
  it('answers 450 4.7.1 at MAIL once the allowance is used', async () => {
    const dialog = await ownAgentSession({ SUBMISSION_MESSAGES_PER_HOUR: '2' });
    await dialog.authPlain(alice.user, alice.pass);
    for (let i = 0; i < 2; i += 1) {
      expect((await dialog.command('MAIL FROM:<alice@example.org>')).status).toBe('250 2.1.0');
      await dialog.command('RCPT TO:<carol@remote.example>');
      expect((await dialog.data(message())).status).toBe('250 2.0.0');
    }
    // The counter is updated just after the reply; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).status).toBe('450 4.7.1');
    await dialog.close();
  });
});

describe('failed logins per IP', () => {
  it('bars the address after too many failures with 454 4.7.0', async () => {
    const dialog = await ownAgentSession({ SUBMISSION_AUTH_MAX_FAILURES_PER_IP: '2' });
    expect((await dialog.authPlain('x1@example.org', 'a')).status).toBe('535 5.7.8');
    expect((await dialog.authPlain('x2@example.org', 'b')).status).toBe('535 5.7.8');
    expect((await dialog.authPlain(alice.user, alice.pass)).status).toBe('454 4.7.0');
    await dialog.close();
  });
});

/** A session over 465, after EHLO, to an agent of the test's own started with `env`. */
async function ownAgentSession(env: Record<string, string>): Promise<Dialog> {
  const own = await forThisTest(startSubmission({ env }));
  const { dialog } = await Dialog.open(own.agent.ports.implicitTls, { tls: true });
  await dialog.command('EHLO client.example');
  return dialog;
}
