/**
 * createServer: listens (TCP, implicit TLS or a UNIX socket), admits each new connection
 * through the admission gate (connection limits), gives every admitted one its own session state
 * machine, and shuts down gracefully (stop accepting, let transactions finish).
 *
 * A refused connection gets its 421 at once and is closed; it never gets a session. On an
 * implicit-TLS listener the gate decides when the TCP connection is accepted (handshakes in
 * progress count against the limits), but the 421 is written after the handshake, inside TLS,
 * because a client that starts with a TLS handshake cannot read a reply in clear: it would see
 * a broken handshake, not a reason, and retry at once.
 */
import { type AddressInfo, type ListenOptions, type Server, type Socket, createServer as createNetServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { type ServerConfig, resolveConfig } from './config.js';
import { Connection } from './connection.js';
import { InactivityClock } from './inactivity.js';
import { withSharedReads } from './shared-reads.js';
import { AdmissionGate, type Refused, type Ticket, isRefused } from './admission/gate.js';
import { refuseConnection } from './admission/refuse.js';
import { implicitTlsAcceptor } from './implicit-tls.js';
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
  const gate = options.admission === undefined ? null : new AdmissionGate(reportingErrors(options.admission, config), config.hostname);
  const open = new Set<Connection>();
  const { command, data, handshake } = config.timeouts;
  const clock = new InactivityClock([command, data, handshake]);
  // Session ids: a per-process random prefix and a counter, unique and cheap.
  const prefix = randomBytes(4).toString('hex');
  let counter = 0;

  const serve = (socket: Socket, ticket: Ticket | null): void => {
    counter += 1;
    const connection = new Connection(socket, config, `${prefix}${counter.toString(36)}`, clock, (c) => {
      open.delete(c);
      if (ticket !== null) gate?.release(ticket);
    });
    open.add(connection);
    connection.start();
  };

  /** The gate's answer for a new connection: a ticket (null without a gate), or a refusal. */
  const admit = (socket: Socket): Ticket | Refused | null => (gate === null ? null : gate.admit(socket.remoteAddress ?? ''));

  // A socket handed in by the application: admitted like an accepted one.
  const handle = (socket: Socket): void => {
    const admission = admit(socket);
    if (admission !== null && isRefused(admission)) refuseConnection(socket, admission.reply);
    else serve(socket, admission);
  };

  // Half-open: a client may send its last commands and close its side at once; each session
  // closes ours once it has answered them (Connection's 'end' handling).
  // Implicit TLS: the handshake runs before the greeting (implicit-tls.ts).
  let listener: Server;
  if (config.implicitTls && config.secureContext !== null) {
    listener = createNetServer(
      { allowHalfOpen: true },
      implicitTlsAcceptor({ secureContext: config.secureContext, gate, handshakeTimeout: config.timeouts.handshake, serve, onError: (error) => config.onError(error, null) }),
    );
  } else {
    // Paused on connect: each admitted socket is handed to a successor reading into the shared
    // buffer; a refused one is answered as it is.
    listener = createNetServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      const admission = admit(socket);
      if (admission !== null && isRefused(admission)) refuseConnection(socket, admission.reply);
      else serve(withSharedReads(socket), admission);
    });
  }
  listener.on('error', (error) => config.onError(error, null));

  return {
    config,
    get connections() {
      return open.size;
    },
    handle,
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

/** The admission options with an onRefuse that reports its own errors instead of throwing them into accept. */
function reportingErrors(admission: NonNullable<ServerOptions['admission']>, config: ServerConfig): NonNullable<ServerOptions['admission']> {
  const onRefuse = admission.onRefuse;
  if (onRefuse === undefined) return admission;
  return {
    ...admission,
    onRefuse(refusal) {
      try {
        onRefuse(refusal);
      } catch (error) {
        config.onError(error instanceof Error ? error : new Error(String(error)), null);
      }
    },
  };
}
