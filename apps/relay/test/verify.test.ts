/**
 * Sender authentication (RELAY_VERIFY): a message DKIM-signed here for sender.example, whose
 * key, SPF and DMARC records the injected resolver serves, arrives with an
 * Authentication-Results field naming this host and the passes; a message from a domain whose
 * SPF does not list the client gets spf=fail. Without RELAY_VERIFY, a stranger's mail still gets the
 * field when RELAY_DMARC (the default) checks it; with both off no field is added. Either
 * way, Authentication-Results fields that claim this site arrive only from RELAY_NETWORKS.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, bob, message, queueIdOf, startRelay } from './support/harness.js';

const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The test's DNS: TXT records only; every other name does not exist. */
const txt: Record<string, string> = {
  'mw2026._domainkey.sender.example': `v=DKIM1; k=rsa; p=${publicKey}`,
  'sender.example': 'v=spf1 ip4:127.0.0.0/8 -all',
  '_dmarc.sender.example': 'v=DMARC1; p=reject',
  'forged.example': 'v=spf1 ip4:192.0.2.0/24 -all',
};
const lookups: string[] = [];
async function resolver(name: string, rrtype: string): Promise<string[][]> {
  lookups.push(`${rrtype} ${name}`);
  const record = rrtype === 'TXT' ? txt[name.toLowerCase()] : undefined;
  if (record === undefined) throw Object.assign(new Error(`${name} ${rrtype}: not found`), { code: 'ENOTFOUND' });
  return [[record]];
}

/** Send `raw` from `from` to bob; the stored message as text with folds undone. */
async function send(h: Harness, from: string, raw: string): Promise<string> {
  const { dialog } = await Dialog.open(h.agent.port);
  await dialog.command('EHLO mail.sender.example');
  await dialog.command(`MAIL FROM:<${from}>`);
  await dialog.command('RCPT TO:<bob@local.example>');
  const reply = await dialog.data(raw);
  expect(reply.status).toBe('250 2.0.0');
  await dialog.close();
  return (await h.stored(queueIdOf(reply.text))).toString('utf8').replace(/\r\n[ \t]+/g, ' ');
}

describe('RELAY_VERIFY on', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRelay({ env: { RELAY_VERIFY: 'true' }, resolver });
  });
  afterAll(async () => {
    await h.close();
  });

  it('records dkim=pass, spf=pass and dmarc=pass for a signed message from sender.example', async () => {
    const raw = message({ from: 'Sam <sam@sender.example>', extraHeaders: 'Message-ID: <signed.1@sender.example>' });
    const signature = { signingDomain: 'sender.example', selector: 'mw2026', privateKey, canonicalization: 'relaxed/relaxed' };
    // One signing time: mailauth otherwise reads the clock twice for t= (see the submission signer).
    const signed = await dkimSign(raw, { ...signature, signatureData: [signature], signTime: new Date() });
    expect(signed.errors).toEqual([]);
    expect(signed.signatures).toMatch(/^DKIM-Signature: /);
    const original = signed.signatures + raw;

    const stored = await send(h, 'sam@sender.example', original);
    const [results, received, ...rest] = stored.split('\r\n');
    expect(results).toMatch(/^Authentication-Results: mx\.local\.example; dkim=pass header\.i=@sender\.example/);
    expect(results).toMatch(/; spf=pass \(.*\) smtp\.mailfrom=sam@sender\.example/);
    expect(results).toMatch(/; dmarc=pass /);
    expect(received).toMatch(/^Received: from mail\.sender\.example /);
    expect(rest.join('\r\n')).toBe(original.replace(/\r\n[ \t]+/g, ' '));
    expect(lookups).toContain('TXT mw2026._domainkey.sender.example');
    expect(h.logs.find((l) => l.msg === 'queued' && l.messageId === '<signed.1@sender.example>')?.authResults).toBe('dkim=pass spf=pass dmarc=pass');
  });

  it('records spf=fail for a sender whose domain does not list the client, and dkim=none unsigned', async () => {
    const stored = await send(h, 'boss@forged.example', message({ from: 'boss@forged.example' }));
    const [results] = stored.split('\r\n');
    expect(results).toMatch(/^Authentication-Results: mx\.local\.example; dkim=none/);
    expect(results).toMatch(/; spf=fail \(.*\) smtp\.mailfrom=boss@forged\.example/);
  });
});

describe('forged Authentication-Results (RFC 8601 §5)', () => {
  const forged = 'Authentication-Results: MX.Local.Example;\r\n\tdkim=pass header.i=@bank.example\r\n';
  const commented = 'Authentication-Results: (checked) mx.local.example 1; spf=pass\r\n';
  const foreign = 'Authentication-Results: mx.elsewhere.example; spf=fail smtp.mailfrom=sam@sender.example\r\n';
  const raw = (): string => forged + foreign + commented + message({ from: 'sam@sender.example' });

  it('are removed from an untrusted client\'s message, with or without checks of this site\'s own; other hosts\' fields stay', async () => {
    for (const env of [{ RELAY_DMARC: 'false' }, { RELAY_VERIFY: 'true' }] as Record<string, string>[]) {
      const h = await startRelay({ env, resolver });
      try {
        const stored = await send(h, 'sam@sender.example', raw());
        // With RELAY_VERIFY, this host's own field comes first; what follows is what arrived.
        const verified = 'RELAY_VERIFY' in env;
        const arrived = verified ? stored.slice(stored.indexOf('\r\n') + 2) : stored;
        expect(arrived).not.toMatch(/Authentication-Results: (\(checked\) )?mx\.local\.example[ ;]/i);
        expect(arrived).toContain(foreign.replace(/\r\n[ \t]+/g, ' '));
        expect(stored.endsWith(message({ from: 'sam@sender.example' }).slice(-40))).toBe(true);
        expect(h.logs.find((l) => String(l.msg).startsWith('removed Authentication-Results'))).toMatchObject({ fields: 2 });
        if (verified) expect(stored).toMatch(/^Authentication-Results: mx\.local\.example; dkim=none/);
      } finally {
        await h.close();
      }
    }
  });

  it('are removed for a logged-in client too, and for every id in MAILWAY_AUTHSERV_IDS', async () => {
    const h = await startRelay({ env: { MAILWAY_AUTHSERV_IDS: 'mx2.local.example' }, resolver });
    try {
      const { dialog } = await Dialog.open(h.agent.port);
      await dialog.startTls();
      expect((await dialog.authPlain(bob.user, bob.pass)).status).toBe('235 2.7.0');
      await dialog.command(`MAIL FROM:<${bob.user}>`);
      await dialog.command('RCPT TO:<bob@local.example>');
      const other = 'Authentication-Results: mx2.local.example; dmarc=pass\r\n';
      const reply = await dialog.data(forged + other + message({ from: bob.user }));
      expect(reply.status).toBe('250 2.0.0');
      await dialog.close();
      const stored = (await h.stored(queueIdOf(reply.text))).toString('latin1');
      expect(stored).not.toContain('Authentication-Results');
    } finally {
      await h.close();
    }
  });

  it('stay when the client is in the relay networks', async () => {
    const h = await startRelay({ env: { RELAY_NETWORKS: '127.0.0.0/8' }, resolver });
    try {
      const stored = await send(h, 'sam@sender.example', raw());
      expect(stored).toContain(forged.replace(/\r\n[ \t]+/g, ' '));
      expect(stored).toContain(commented);
    } finally {
      await h.close();
    }
  });
});

describe('RELAY_VERIFY off (the default)', () => {
  it('records the checks for a stranger\'s mail, as RELAY_DMARC (on by default) runs them', async () => {
    const h = await startRelay({ resolver });
    try {
      const stored = await send(h, 'sam@sender.example', message({ from: 'sam@sender.example' }));
      expect(stored).toMatch(/^Authentication-Results: mx\.local\.example; dkim=none.*; spf=pass .*; dmarc=pass /);
    } finally {
      await h.close();
    }
  });

  it('adds no Authentication-Results field with RELAY_DMARC off too', async () => {
    const h = await startRelay({ env: { RELAY_DMARC: 'false' }, resolver });
    try {
      const stored = await send(h, 'sam@sender.example', message({ from: 'sam@sender.example' }));
      expect(stored).toMatch(/^Received: /);
      expect(stored).not.toContain('Authentication-Results');
    } finally {
      await h.close();
    }
  });
});
