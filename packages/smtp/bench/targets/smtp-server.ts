/**
 * Bench target: nodemailer's smtp-server, configured to do the same work as Mailway's server.
 *
 * Reads nothing; emits its port on stdout (see lifecycle.ts). Accepts every envelope and drains
 * every message. Made fair rather than default: no reverse DNS lookup, no AUTH and no STARTTLS
 * offered (the bench server for Mailway has neither), RFC 5321's five-minute idle timeout
 * instead of 60 s, and TCP_NODELAY on every socket — with Nagle left on, a pipelining client
 * waits ~40–200 ms for delayed ACKs on each reply.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo, Socket } from 'node:net';
import { serveUntilTerminated } from './lifecycle.js';

const server = new SMTPServer({
  name: 'bench.local',
  logger: false,
  disableReverseLookup: true,
  authOptional: true,
  hideSTARTTLS: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  socketTimeout: 5 * 60_000,
  onData(stream, _session, callback) {
    stream.on('end', () => callback(null));
    stream.resume();
  },
});

// smtp-server builds its net.Server in the constructor and hands sockets to SMTPConnection from
// a 'connection' listener; a listener placed before it sets TCP_NODELAY ahead of the greeting.
server.server.prependListener('connection', (socket: Socket) => socket.setNoDelay(true));

server.listen(0, '127.0.0.1', () => {
  const { port } = server.server.address() as AddressInfo;
  serveUntilTerminated(port, () => new Promise<void>((resolve) => server.close(() => resolve())));
});
