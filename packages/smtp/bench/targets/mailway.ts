/**
 * Bench target: Mailway's server from `@mailway/smtp/server`, accepting everything.
 *
 * Reads nothing; emits its port on stdout (see lifecycle.ts). The only hook drains the body
 * exactly as the smtp-server target does (resume, wait for 'end'); with no other hooks every
 * envelope is accepted. The package resolves to its build (`dist/`), or to its TypeScript
 * sources when started with `--conditions=@mailway/source`. With MAILWAY_BENCH_LIMITS=1 (the
 * bench's `--limits`) every connection passes the admission gate: a session cap and per-client
 * limits too high for the bench ever to reach, so each accept does all the gate's work.
 */
import type { AddressInfo } from 'node:net';
import { createServer } from '@mailway/smtp/server';
import { serveUntilTerminated } from './lifecycle.js';

const unreachable = 1_000_000;

const server = createServer({
  hostname: 'bench.local',
  ...(process.env.MAILWAY_BENCH_LIMITS === '1' ? { admission: { maxSessions: unreachable, perClient: unreachable, perClientPerMinute: unreachable } } : {}),
  hooks: {
    onData(_session, _tx, body) {
      // A listener and resume(), as the smtp-server target does (events.once would add an
      // AbortSignal-aware wrapper and an 'error' listener that smtp-server's side does not pay for).
      return new Promise<undefined>((resolve) => {
        body.on('end', () => resolve(undefined));
        body.resume();
      });
    },
  },
});
const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
serveUntilTerminated(address.port, () => server.close());
