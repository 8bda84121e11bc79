/**
 * Graceful shutdown: stopping the agent while a client is in the middle of a message lets the
 * message finish and be queued (250), then closes the session with 421; new connections are
 * refused. Nothing accepted is lost.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { alice, message, startSubmission } from './support/harness.js';

describe('shutdown', () => {
  it('finishes the transaction in flight, then says 421', async () => {
    const h = await startSubmission();
    try {
      const { dialog } = await Dialog.open(h.agent.ports.implicitTls, { tls: true });
      await dialog.command('EHLO client.example');
      await dialog.authPlain(alice.user, alice.pass);
      await dialog.command('MAIL FROM:<alice@example.org>');
      await dialog.command('RCPT TO:<carol@remote.example>');
      expect((await dialog.command('DATA')).code).toBe(354);
      dialog.write(message().replace(/\r\n$/, ''));

      // Stop while the data is incomplete.
      const stopped = h.agent.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(h.agent.ready()).toBe(false);
      const refused = await new Promise<boolean>((resolve) => {
        const probe = connect(h.agent.ports.starttls, '127.0.0.1');
        probe.once('connect', () => {
          probe.destroy();
          resolve(false);
        });
        probe.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);

      dialog.write('\r\n.\r\n');
      expect((await dialog.reply()).status).toBe('250 2.0.0');
      expect((await dialog.reply()).status).toBe('421 4.3.2');
      await stopped;
      expect(await h.jobs()).toHaveLength(1);
    } finally {
      await h.close().catch(() => {});
    }
  });
});
