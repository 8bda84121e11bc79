/**
 * A free TCP port on 127.0.0.1 for a bench server: asks the kernel for one and releases it.
 *
 * Reads nothing; emits a port number. Another process could take the port before the server
 * binds it; the Postfix starter notices (its own banner does not answer) and fails.
 */
import net from 'node:net';

/** Bind 127.0.0.1:0, note the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
