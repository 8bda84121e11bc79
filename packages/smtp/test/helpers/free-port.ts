/**
 * A free TCP port on 127.0.0.1, for external servers that cannot listen on port 0.
 *
 * Reads: nothing. Emits: a port number the kernel just handed out and released. Another
 * process could take it in between; callers that spawn a server retry on a bind failure.
 */
import { createServer } from 'node:net';

/** Ask the kernel for a port, then release it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
