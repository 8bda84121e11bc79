/**
 * Starts a Mailway server on 127.0.0.1 port 0 for a test and records what reached it.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type ServerOptions, type SmtpServer } from '../../src/server/index.js';
import { RawClient } from './raw-client.js';

export interface Received {
  from: string | null;
  to: string[];
  body: Buffer;
}

export interface TestServer {
  server: SmtpServer;
  port: number;
  /** Messages whose onData hook ran to the end. */
  received: Received[];
  /** A client from 127.0.0.1, or from `localAddress`. */
  connect(tls?: boolean, localAddress?: string): Promise<RawClient>;
  close(): Promise<void>;
}

/** Starts a server; without an onData hook it stores every message in `received`. */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const received: Received[] = [];
  const clients: RawClient[] = [];
  const server = createServer({
    hostname: 'mx.test',
    ...options,
    hooks: {
      async onData(_session, tx, body) {
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(chunk);
        received.push({
          from: tx.from ? `${tx.from.local}@${tx.from.domain}` : null,
          to: tx.recipients.map((r) => `${r.address.local}@${r.address.domain}`),
          body: Buffer.concat(chunks),
        });
      },
      ...options.hooks,
    },
  });
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
  return {
    server,
    port: address.port,
    received,
    async connect(tls = false, localAddress?: string) {
      const client = await RawClient.connect(address.port, tls, localAddress);
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close({ timeout: 1_000 });
    },
  };
}
