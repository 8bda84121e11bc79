/**
 * Command extensions and the handover (server), and the client on a socket already open: the
 * two halves of an ODMR turn (RFC 2645), on 127.0.0.1 with a line-level peer.
 *
 * Proves: the keyword is announced in EHLO; an extension is refused inside a transaction (503);
 * its verdicts reach the wire (nothing: 250 OK; a defer; a handler that throws: 451); after a
 * handover the server writes nothing more, forgets the session, and the new owner gets the
 * socket with the octets the peer pipelined behind the command; the client then greets, says
 * EHLO and QUIT over that socket as it would over one it opened. The server's socket reads into
 * the shared read buffer (its own listener), so the switch to 'data' events is exercised too.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type SmtpClient, connect } from '../src/client/index.js';
import { reply } from '../src/reply/reply.js';
import { defer, handover } from '../src/server/index.js';
import { startServer } from './support/server.js';

describe('command extensions and the handover', () => {
  it('announces, refuses in a transaction, answers verdicts, and hands the socket over with its unread input', async () => {
    let taken: Promise<SmtpClient> | null = null;
    let closedSessions = 0;
    const server = await startServer({
      hooks: { onClose: () => void (closedSessions += 1) },
      commands: [
        {
          verb: 'XTURN',
          keyword: 'XTURN',
          handle(_session, argument) {
            if (argument === 'later') return defer(450, '4.3.0', 'Not now');
            if (argument === 'broken') throw new Error('handler bug');
            if (argument === 'quiet') return undefined;
            return handover(reply(250, '2.0.0', 'OK turning'), (socket: Socket, unread) => {
              taken = connect({ socket: { socket, unread }, host: 'site.test', name: 'mx.test', startTls: 'never' });
            });
          },
        },
      ],
    });
    try {
      const peer = await server.connect();
      expect((await peer.reply())[0]).toMatch(/^220 /);
      peer.write('EHLO site.test\r\n');
      expect(await peer.reply()).toContain('250 XTURN');
      peer.write('MAIL FROM:<a@site.test>\r\nXTURN\r\nRSET\r\n');
      expect(await peer.reply()).toEqual(['250 2.1.0 Sender OK']);
      expect(await peer.reply()).toEqual(['503 5.5.1 XTURN not allowed during a mail transaction']);
      expect(await peer.reply()).toEqual(['250 2.0.0 OK']);
      peer.write('XTURN later\r\n');
      expect(await peer.reply()).toEqual(['450 4.3.0 Not now']);
      peer.write('XTURN broken\r\n');
      expect(await peer.reply()).toEqual(['451 4.3.0 Temporary local problem, try again later']);
      peer.write('xturn quiet\r\n');
      expect(await peer.reply()).toEqual(['250 2.0.0 OK']);

      // The turn, with the peer's greeting pipelined behind the command.
      peer.write('XTURN\r\n220 site.test ESMTP ready\r\n');
      expect(await peer.reply()).toEqual(['250 2.0.0 OK turning']);
      expect(await peer.line()).toBe('EHLO mx.test');
      peer.write('250-site.test\r\n250 8BITMIME\r\n');
      const client = await (taken as Promise<SmtpClient> | null);
      expect(client?.greeting.lines).toEqual(['site.test ESMTP ready']);
      expect(client?.extensions.eightBitMime).toBe(true);
      expect(server.server.connections).toBe(0);
      expect(closedSessions).toBe(1);

      const quit = client?.quit();
      expect(await peer.line()).toBe('QUIT');
      peer.write('221 2.0.0 bye\r\n');
      expect((await quit)?.code).toBe(221);
      await peer.waitClosed();
    } finally {
      await server.close();
    }
  });

  it('refuses a verb that is not one', async () => {
    await expect(startServer({ commands: [{ verb: 'X T', handle: () => undefined }] })).rejects.toThrow(/not a command verb/);
  });
});
