/**
 * Greylisting (RELAY_GREYLIST): an unknown (client network, sender, recipient) is deferred at
 * RCPT with 451 4.7.1, also when it retries too soon; after the delay it is accepted and
 * remembered. Authenticated clients and RELAY_NETWORKS are never greylisted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, bob, startRelay } from './support/harness.js';

const delayMs = 200;

/** One MAIL + RCPT on a fresh connection; the RCPT reply. */
async function attempt(h: Harness, from: string, to: string, login?: typeof bob): Promise<string> {
  const { dialog } = await Dialog.open(h.agent.port);
  if (login) {
    await dialog.startTls();
    expect((await dialog.authPlain(login.user, login.pass)).code).toBe(235);
  } else {
    await dialog.command('EHLO sender.remote.example');
  }
  await dialog.command(`MAIL FROM:<${from}>`);
  const reply = await dialog.command(`RCPT TO:<${to}>`);
  await dialog.close();
  return reply.code === 451 ? `${reply.status} ${reply.text}` : reply.status;
}

describe('greylisting on', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRelay({ env: { RELAY_GREYLIST: 'true', RELAY_GREYLIST_DELAY: `${delayMs}ms`, RELAY_GREYLIST_TTL: '1h' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('defers the first attempt and an early retry, then accepts and remembers the triplet', async () => {
    const greylisted = '451 4.7.1 Greylisted, please try again later';
    expect(await attempt(h, 'carol@remote.example', 'bob@local.example')).toBe(greylisted);
    expect(await attempt(h, 'carol@remote.example', 'bob@local.example')).toBe(greylisted);
    await sleep(delayMs + 50);
    expect(await attempt(h, 'carol@remote.example', 'bob@local.example')).toBe('250 2.1.5');
    expect(await attempt(h, 'carol@remote.example', 'bob@local.example')).toBe('250 2.1.5');

    // Another sender is a new triplet.
    expect(await attempt(h, 'erin@remote.example', 'bob@local.example')).toBe(greylisted);
    for (const [outcome, count] of [['new', 2], ['early', 1], ['passed', 1], ['known', 1]] as const) {
      expect(await h.metric(new RegExp(`^mailway_relay_greylist_total\\{.*outcome="${outcome}"`))).toBe(count);
    }
    const keys = await h.redis.keys(`${h.prefix}greylist:*`);
    expect(keys).toHaveLength(2);
    expect(await h.redis.pttl(keys[0] ?? '')).toBeGreaterThan(60_000);
  });

  it('never greylists an authenticated client', async () => {
    expect(await attempt(h, 'bob@local.example', 'dave@second.example', bob)).toBe('250 2.1.5');
  });

  it('refuses unknown users without greylisting them', async () => {
    expect(await attempt(h, 'mallory@remote.example', 'nobody@local.example')).toBe('550 5.1.1');
  });
});

describe('greylisting on, client in RELAY_NETWORKS', () => {
  it('is never greylisted', async () => {
    const h = await startRelay({ env: { RELAY_GREYLIST: 'true', RELAY_NETWORKS: '127.0.0.0/8' } });
    try {
      expect(await attempt(h, 'app@remote.example', 'bob@local.example')).toBe('250 2.1.5');
      expect(await h.metric(/^mailway_relay_greylist_total\{.*outcome="exempt"/)).toBe(1);
    } finally {
      await h.close();
    }
  });
});
