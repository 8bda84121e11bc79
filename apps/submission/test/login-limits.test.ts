/**
 * Failed-login limits on the real submission agent with its default settings, each client a
 * loopback address of its own: strangers who guess alice's password are barred, alice keeps
 * logging in and sending from the client she used before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, alice, message, startSubmission } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startSubmission();
});
afterAll(async () => {
  await h.close();
});

/** A session on 465 from `from`, greeted and past EHLO. */
async function session(from: string): Promise<Dialog> {
  const { dialog } = await Dialog.open(h.agent.ports.implicitTls, { tls: true, localAddress: from });
  await dialog.command('EHLO client.example');
  return dialog;
}

/** Alice from `from`: her login's reply, and, once in, the reply to a whole message. */
async function aliceSends(from: string): Promise<{ login: string; queued: string | null }> {
  const dialog = await session(from);
  try {
    const login = (await dialog.authPlain(alice.user, alice.pass)).status;
    if (login !== '235 2.7.0') return { login, queued: null };
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).status).toBe('250 2.1.0');
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).status).toBe('250 2.1.5');
    return { login, queued: (await dialog.data(message({ subject: `from ${from}` }))).status };
  } finally {
    await dialog.close();
  }
}

describe("strangers guessing alice's password (defaults: 10 per client, 5 per user and client, 10 per user)", () => {
  it('is barred, while alice goes on logging in and sending from the client she used before', async () => {
    // Alice has logged in from 127.0.0.3 before.
    expect(await aliceSends('127.0.0.3')).toEqual({ login: '235 2.7.0', queued: '250 2.0.0' });

    // Five wrong passwords from 127.0.0.2; from then on it is refused unchecked, even with the right one.
    const stranger = await session('127.0.0.2');
    for (let i = 0; i < 5; i += 1) expect((await stranger.authPlain(alice.user, `guess-${i}`)).status).toBe('535 5.7.8');
    const barred = await stranger.authPlain(alice.user, alice.pass);
    expect(barred.status).toBe('454 4.7.0');
    expect(barred.text).toBe('Too many failed authentication attempts, try again later');
    await stranger.close();

    // Alice from 127.0.0.3: logged in and queued.
    const before = (await h.jobs()).length;
    expect(await aliceSends('127.0.0.3')).toEqual({ login: '235 2.7.0', queued: '250 2.0.0' });
    expect((await h.jobs()).length).toBe(before + 1);

    // One line for the bar, naming its kind and the client; one for each refused attempt.
    expect(h.logs.filter((l) => l.msg === 'authentication limit reached')).toEqual([
      expect.objectContaining({ level: 'warn', limit: 'user_ip', user: alice.user, ip: '127.0.0.2', client: '127.0.0.2' }),
    ]);
    expect(h.logs.filter((l) => l.msg === 'authentication refused: too many failures')).toEqual([expect.objectContaining({ limit: 'user_ip', ip: '127.0.0.2' })]);

    // Guesses spread over further clients reach the user limit: a client alice never used is
    // refused even with the right password; the one she used is not.
    for (let n = 10; n < 15; n += 1) {
      const other = await session(`127.0.0.${n}`);
      expect((await other.authPlain(alice.user, `guess-${n}`)).status).toBe('535 5.7.8');
      await other.close();
    }
    expect(await aliceSends('127.0.0.4')).toEqual({ login: '454 4.7.0', queued: null });
    expect(await aliceSends('127.0.0.3')).toEqual({ login: '235 2.7.0', queued: '250 2.0.0' });

    const text = await h.metrics.registry.metrics();
    expect(text).toMatch(/submission_auth_bars_total\{limit="user_ip"[^}]*\} 1$/m);
    expect(text).toMatch(/submission_auth_bars_total\{limit="user"[^}]*\} 1$/m);
    expect(text).toMatch(/submission_auth_failures_total\{reason="invalid"[^}]*\} 10$/m);
    expect(text).toMatch(/submission_auth_failures_total\{reason="limited_user_ip"[^}]*\} 1$/m);
    expect(text).toMatch(/submission_auth_failures_total\{reason="limited_user"[^}]*\} 1$/m);
  });

  it('a client that tries many users is barred for every one of them, alice elsewhere is not', async () => {
    const sprayer = await session('127.0.0.20');
    for (let i = 0; i < 10; i += 1) expect((await sprayer.authPlain(`user${i}@example.org`, 'guess')).status).toBe('535 5.7.8');
    expect((await sprayer.authPlain(alice.user, alice.pass)).status).toBe('454 4.7.0');
    await sprayer.close();
    expect(h.logs.some((l) => l.msg === 'authentication limit reached' && l.limit === 'ip' && l.client === '127.0.0.20')).toBe(true);
    expect(await aliceSends('127.0.0.3')).toEqual({ login: '235 2.7.0', queued: '250 2.0.0' });
  });
});
