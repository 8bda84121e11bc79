/**
 * TCP ports for tests that stand in for several hosts on loopback addresses: MX hosts are all
 * reached on one port (25 on the Internet), so the test needs a port free on every address.
 */
import { createServer } from 'node:net';

/** A port free on every address in `addresses`, tried until one is. */
export async function sharedPort(addresses: readonly string[]): Promise<number> {
  const [first, ...others] = addresses;
  if (first === undefined) throw new Error('sharedPort: no address given');
  for (;;) {
    const port = await bindBriefly(first, 0);
    if (port === null) continue;
    const free = await Promise.all(others.map((address) => bindBriefly(address, port)));
    if (free.every((bound) => bound !== null)) return port;
  }
}

/** Binds `address:port` for a moment: the port it got, or null when it was taken. */
function bindBriefly(address: string, port: number): Promise<number | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(port, address, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
