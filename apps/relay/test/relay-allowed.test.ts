/**
 * Who may relay: a client in RELAY_NETWORKS, and a client that authenticated after STARTTLS
 * (nodemailer). Their mail to other domains is accepted and routed by the transfer worker into
 * one outbound job per destination domain. A failed login does not open the relay, and failed
 * logins are limited as on the submission ports.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboundJobId } from '@mailway/queue/jobs';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, bob, message, queueIdOf, sendThrough, startRelay } from './support/harness.js';

describe('a client in RELAY_NETWORKS', () => {
  let h: Harness;
  beforeAll(async () => {
    // Relay permission and routing: no outbound worker picks the outbound jobs up.
    h = await startRelay({ env: { RELAY_NETWORKS: '192.0.2.0/24, 127.0.0.0/8, 2001:db8::/32', RELAY_ROLES: 'inbound,router' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('may relay to a remote domain; the worker queues an outbound job and says so', async () => {
    const queueId = await sendThrough(h, 'app@local.example', ['carol@remote.example']);
    const [outbound] = await h.waitForJobs('outbound', 1, queueId);
    expect(outbound?.id).toBe(outboundJobId(queueId, queueId, 'remote.example'));
    expect(outbound?.data).toMatchObject({ queueId, parent: queueId, domain: 'remote.example', envelope: { from: 'app@local.example', recipients: [{ address: 'carol@remote.example' }] }, origin: { agent: 'relay', user: null } });
    expect(h.logs.some((l) => l.msg === 'queued for outbound delivery to remote.example')).toBe(true);
    expect(await h.jobs('delivery')).toEqual([]);
  });
});

describe('an authenticated client', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRelay({ env: { RELAY_ROLES: 'inbound,router' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('relays through STARTTLS + AUTH (nodemailer) to a remote address, recorded as ESMTPSA', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: h.agent.port,
      secure: false,
      requireTLS: true,
      auth: { user: bob.user, pass: bob.pass },
      tls: { rejectUnauthorized: false },
    });
    const info = await transport.sendMail({ envelope: { from: bob.user, to: ['carol@remote.example', 'erin@other.example'] }, raw: message({ from: bob.user, to: 'carol@remote.example, erin@other.example' }) });
    transport.close();
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const queueId = queueIdOf(info.response);

    const outbound = await h.waitForJobs('outbound', 2, queueId);
    expect(outbound.map((j) => j.data.domain).sort()).toEqual(['other.example', 'remote.example']);
    expect(outbound.every((j) => j.data.origin.user === bob.user && j.data.queueId === queueId)).toBe(true);
    const stored = (await h.stored(queueId)).toString('latin1').replace(/\r\n\t/g, ' ');
    expect(stored).toMatch(/^Received: from \S+ \(\[127\.0\.0\.1\]\) \(using TLSv1\.3 with cipher \S+\) by mx\.local\.example with ESMTPSA id /);
  });

  it('a failed login leaves the relay closed', async () => {
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.startTls();
    expect((await dialog.authPlain(bob.user, 'wrong')).status).toBe('535 5.7.8');
    await dialog.command('MAIL FROM:<bob@local.example>');
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).status).toBe('554 5.7.1');
    await dialog.close();
  });
});

describe('failed logins', () => {
  it('are limited per user: after the allowed failures a client bob never logged in from gets 454 4.7.0 even with the right password; his own client does not', async () => {
    const h = await startRelay({ env: { RELAY_AUTH_MAX_FAILURES_PER_USER: '2' } });
    const loginFrom = async (from: string) => {
      const { dialog } = await Dialog.open(h.agent.port, { localAddress: from });
      await dialog.startTls();
      const status = (await dialog.authPlain(bob.user, bob.pass)).status;
      await dialog.close();
      return status;
    };
    try {
      expect(await loginFrom('127.0.0.3')).toBe('235 2.7.0');
      const { dialog } = await Dialog.open(h.agent.port);
      await dialog.startTls();
      expect((await dialog.authPlain(bob.user, 'wrong-1')).status).toBe('535 5.7.8');
      expect((await dialog.authPlain(bob.user, 'wrong-2')).status).toBe('535 5.7.8');
      expect((await dialog.authPlain(bob.user, bob.pass)).status).toBe('454 4.7.0');
      await dialog.close();
      expect(h.logs.find((l) => l.msg === 'authentication refused: too many failures')).toMatchObject({ user: bob.user, limit: 'user' });
      const text = await h.metrics.registry.metrics();
      expect(text).toMatch(/relay_auth_failures_total\{reason="invalid"[^}]*\} 2$/m);
      expect(text).toMatch(/relay_auth_failures_total\{reason="limited_user"[^}]*\} 1$/m);
      expect(text).toMatch(/relay_auth_bars_total\{limit="user"[^}]*\} 1$/m);
      expect(await loginFrom('127.0.0.3')).toBe('235 2.7.0');
    } finally {
      await h.close();
    }
  });
});
