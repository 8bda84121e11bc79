/**
 * Bench target: Mailway's server from `@mailway/smtp/server`, accepting everything.
 *
 * Reads nothing; emits its port on stdout (see lifecycle.ts). The only hook drains the body;
 * with no other hooks every envelope is accepted. The package resolves to its build (`dist/`),
 * or to its TypeScript sources when started with `--conditions=@mailway/source`.
 *
 * Exit status 3 with a message on stderr means the server module could not be loaded (not
 * built yet): run.ts then skips this target.
 */
import type { AddressInfo } from 'node:net';
import { serveUntilTerminated } from './lifecycle.js';

/** The part of the server API the bench uses. */
interface MailwayServer {
  listen(options: { port: number; host: string }): Promise<AddressInfo>;
  close(): Promise<void>;
}
interface MailwayServerModule {
  createServer(options: {
    hostname: string;
    hooks: { onData(session: unknown, tx: unknown, body: AsyncIterable<Buffer>): Promise<void> };
  }): MailwayServer;
}

// A computed specifier keeps this file's typecheck independent of the server module's progress;
// the local interface above states what the bench relies on.
const specifier = '@mailway/smtp/server';
let serverModule: MailwayServerModule;
try {
  serverModule = (await import(specifier)) as MailwayServerModule;
} catch (error) {
  process.stderr.write(`mailway target: cannot load ${specifier}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(3);
}

const server = serverModule.createServer({
  hostname: 'bench.local',
  hooks: {
    async onData(_session, _tx, body) {
      for await (const _chunk of body) {
        // Drain.
      }
    },
  },
});
const address = await server.listen({ port: 0, host: '127.0.0.1' });
serveUntilTerminated(address.port, () => server.close());
