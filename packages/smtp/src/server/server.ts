/**
 * createServer: listens (TCP, implicit TLS or a UNIX socket), gives every connection its own
 * session state machine, and shuts down gracefully (stop accepting, let transactions finish).
 */
import { type AddressInfo, type ListenOptions, type Server, type Socket, createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { type ServerConfig, resolveConfig } from './config.js';
import { Connection } from './connection.js';
import { InactivityClock } from './inactivity.js';
import { withSharedReads } from './shared-reads.js';
import type { ServerOptions } from './options.js';

export interface SmtpServer {
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(options: ListenOptions): Promise<AddressInfo | string>;
  /** Serves an already accepted socket (a custom listener, socket activation, tests). */
  handle(socket: Socket): void;
  /**
   * Stops accepting; idle sessions get 421, sessions in a transaction finish it first.
   * After `timeout` ms the remaining connections are cut.
   */
  close(options?: { timeout?: number }): Promise<void>;
  /** Connections open now. */
  readonly connections: number;
  /** The resolved configuration. */
  readonly config: ServerConfig;
}

export function createServer(options: ServerOptions = {}): SmtpServer {
  const config = resolveConfig(options);
  const open = new Set<Connection>();
  const { command, data, handshake } = config.timeouts;
  const clock = new InactivityClock([command, data, handshake]);
  // Session ids: a per-process random prefix and a counter, unique and cheap.
  const prefix = randomBytes(4).toString('hex');
  let counter = 0;

  const accept = (socket: Socket): void => {
    counter += 1;
    const connection = new Connection(socket, config, `${prefix}${counter.toString(36)}`, clock, (c) => {
      open.delete(c);
    });
    open.add(connection);
    connection.start();
  };

  // Half-open: a client may send its last commands and close its side at once; each session
  // closes ours once it has answered them (Connection's 'end' handling).
  // Implicit TLS: the handshake runs before the greeting; its failures are the client's problem.
  let listener: Server;
  if (config.implicitTls && options.tls) {
    const tlsServer = createTlsServer({ ...options.tls, handshakeTimeout: config.timeouts.handshake, allowHalfOpen: true }, accept);
    tlsServer.on('tlsClientError', (error) => config.onError(error, null));
    listener = tlsServer;
  } else {
    // Paused on connect: each socket is handed to a successor reading into the shared buffer.
    listener = createNetServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => accept(withSharedReads(socket)));
  }
  listener.on('error', (error) => config.onError(error, null));

  return {
    config,
    get connections() {
      return open.size;
    },
    handle: accept,
    listen(listenOptions) {
      return new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(listenOptions, () => {
          listener.off('error', reject);
          const address = listener.address();
          resolve(address ?? '');
        });
      });
    },
    async close({ timeout = 30_000 } = {}) {
      const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const connection of open) connection.drain();
      const deadline = Date.now() + timeout;
      while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const connection of open) connection.close();
      if (listener.listening) await stopped;
    },
  };
}
