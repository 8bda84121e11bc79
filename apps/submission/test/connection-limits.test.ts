/**
 * Connection limits on the submission ports, through the agent: on 465 a client over
 * SUBMISSION_CLIENT_CONNECTIONS reads its `421 4.7.0` inside TLS, after the handshake; an exempt
 * network (a webmail host) is free of the limit; each port counts on its own, and every refusal
 * is counted in the metrics.
 */
import { describe, expect, it } from 'vitest';
import { forThisTest } from '@mailway/testing/agent';
import { Dialog, holdSessions } from '@mailway/testing/dialog';
import { alice, message, startSubmission } from './support/harness.js';

describe('connections per client on the submission ports', () => {
  it('answers the extra connection on 465 with 421 4.7.0 inside TLS, while another client submits', async () => {
    const h = await forThisTest(startSubmission({ env: { SUBMISSION_CLIENT_CONNECTIONS: '2', SUBMISSION_LIMIT_EXEMPT: '127.0.0.9/32' } }));
    const port = h.agent.ports.implicitTls;
    const held = await holdSessions(port, 2, { tls: true, localAddress: '127.0.0.2' });
    const { dialog: refused, greeting: refusal } = await Dialog.open(port, { tls: true, localAddress: '127.0.0.2' });
    expect(`${refusal.status} ${refusal.text}`).toMatch(/^421 4\.7\.0 \S+ Too many connections from your host$/);
    await refused.serverClosed();

    // The STARTTLS port counts on its own.
    const other = await Dialog.open(h.agent.ports.starttls, { localAddress: '127.0.0.2' });
    expect(other.greeting.code).toBe(220);
    held.push(other.dialog);

    // A webmail host in the exempt network holds more, and submits.
    for (let i = 0; i < 3; i += 1) held.push((await Dialog.open(port, { tls: true, localAddress: '127.0.0.9' })).dialog);
    const { dialog } = await Dialog.open(port, { tls: true, localAddress: '127.0.0.9' });
    await dialog.command('EHLO webmail.example');
    expect((await dialog.authPlain(alice.user, alice.pass)).status).toBe('235 2.7.0');
    expect((await dialog.command(`MAIL FROM:<${alice.user}>`)).status).toBe('250 2.1.0');
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).status).toBe('250 2.1.5');
    expect((await dialog.data(message())).status).toBe('250 2.0.0');
    await dialog.close();

    expect(await h.metrics.registry.metrics()).toMatch(/^mailway_submission_connections_refused_total\{[^}]*limit="client_sessions"[^}]*\} 1$/m);
    for (const d of held) await d.close();
  });
});
