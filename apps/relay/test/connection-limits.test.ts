/**
 * Connection limits on port 25, through the agent: one host (127.0.0.2) holding the sessions
 * RELAY_CLIENT_CONNECTIONS allows gets 421 4.7.0 for one more, while another (127.0.0.3) is
 * greeted and its message queued; relay networks are exempt; every refusal is counted, and the
 * log has one line per refused client per minute.
 */
import { describe, expect, it } from 'vitest';
import { forThisTest } from '@mailway/testing/agent';
import { Dialog, holdSessions } from '@mailway/testing/dialog';
import { message, startRelay } from './support/harness.js';

describe('connections per client on port 25', () => {
  it('refuses the greedy host’s extra connections with 421 4.7.0 and still takes mail from another', async () => {
    const h = await forThisTest(startRelay({ env: { RELAY_CLIENT_CONNECTIONS: '3' } }));
    const held = await holdSessions(h.agent.port, 3, { localAddress: '127.0.0.2' });
    for (let i = 0; i < 2; i += 1) {
      const { dialog, greeting } = await Dialog.open(h.agent.port, { localAddress: '127.0.0.2' });
      expect(`${greeting.status} ${greeting.text}`).toBe('421 4.7.0 mx.local.example Too many connections from your host');
      await dialog.serverClosed();
    }

    // Another host is greeted and its message queued.
    const { dialog, greeting } = await Dialog.open(h.agent.port, { localAddress: '127.0.0.3' });
    expect(greeting.code).toBe(220);
    await dialog.command('EHLO honest.example');
    expect((await dialog.command('MAIL FROM:<carol@remote.example>')).status).toBe('250 2.1.0');
    expect((await dialog.command('RCPT TO:<bob@local.example>')).status).toBe('250 2.1.5');
    const queued = await dialog.data(message({ subject: 'past the greedy host' }));
    expect(queued.status).toBe('250 2.0.0');
    await dialog.close();

    // Both refusals counted; one log line for the client this minute.
    expect(await h.metric(/^mailway_relay_connections_refused_total\{.*limit="client_sessions"/)).toBe(2);
    const lines = h.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('connection refused'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ ip: '127.0.0.2', client: '127.0.0.2', limit: 'client_sessions', max: 3 });
    for (const d of held) await d.close();
  });

  it('exempts RELAY_NETWORKS from the per-client limit', async () => {
    const h = await forThisTest(startRelay({ env: { RELAY_CLIENT_CONNECTIONS: '1', RELAY_NETWORKS: '127.0.0.4/32' } }));
    const held = await holdSessions(h.agent.port, 3, { localAddress: '127.0.0.4' });
    // Outside the relay networks the limit holds.
    held.push((await Dialog.open(h.agent.port, { localAddress: '127.0.0.5' })).dialog);
    const { greeting } = await Dialog.open(h.agent.port, { localAddress: '127.0.0.5' });
    expect(greeting.status).toBe('421 4.7.0');
    for (const d of held) await d.close();
  });

  it('logs the open-file limit and the session cap it derived', async () => {
    const h = await forThisTest(startRelay());
    const line = h.logs.find((l) => l.msg === 'open-file limit read; session cap set below it');
    expect(line).toBeDefined();
    const soft = (line?.openFiles as { soft: number }).soft;
    expect(line?.maxSessions).toBe(soft - 128);
    expect(line).toMatchObject({ perClient: 50, perMinute: 100 });
  });
});
