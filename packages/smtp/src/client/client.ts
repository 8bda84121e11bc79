/**
 * `SmtpClient`: one SMTP or LMTP session to one server, carrying any number of transactions.
 *
 * Reads: `ClientOptions` (where to connect, TLS and AUTH policy, timeouts) and, per
 * transaction, `SendOptions`.
 * Emits: `SendResult`s, `SmtpClientError`s (with phase, reply and temporary/permanent), and
 * the session facts a caller may want to enforce policy on: the greeting, the extensions,
 * the negotiated TLS parameters.
 *
 * Transactions on one client run one at a time; a `send` called while another runs waits
 * for it. A transaction that failed without closing the connection leaves the session
 * reusable.
 */
import type { Reply } from '../reply/reply.js';
import { Connection, type TlsInfo } from './connection.js';
import { SmtpClientError, toClientError } from './errors.js';
import type { Extensions } from './extensions.js';
import { type ClientAuth, type ClientOptions, type ResolvedClientOptions, resolveOptions } from './options.js';
import { authenticate, command, noop, openSession, reset, type SessionState } from './session.js';
import { type SendOptions, type SendResult, sendMessage } from './transaction.js';

/** Open a connection (or take one already open: `socket`) and set up the session (greeting, EHLO, STARTTLS, AUTH). */
export async function connect(options: ClientOptions): Promise<SmtpClient> {
  const resolved = resolveOptions(options);
  let conn: Connection;
  try {
    conn = resolved.socket !== null ? Connection.adopt(resolved.socket.socket, resolved.socket.unread) : await Connection.open({
      host: resolved.host,
      port: resolved.port,
      path: resolved.path,
      secure: resolved.secure,
      tls: resolved.tls,
      localAddress: resolved.localAddress,
      connectTimeout: resolved.timeouts.connect,
    });
  } catch (error) {
    throw toClientError(error, 'connect');
  }
  try {
    const session = await openSession(conn, resolved);
    return new SmtpClient(conn, resolved, session);
  } catch (error) {
    conn.destroy();
    throw toClientError(error, 'greeting');
  }
}

export class SmtpClient {
  readonly #conn: Connection;
  readonly #options: ResolvedClientOptions;
  #session: SessionState;
  /** The tail of the queue of operations: one transaction at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  #quitting = false;

  /** Use `connect()`; the constructor takes an already opened session. */
  constructor(conn: Connection, options: ResolvedClientOptions, session: SessionState) {
    this.#conn = conn;
    this.#options = options;
    this.#session = session;
  }

  /** The server's 220 greeting. */
  get greeting(): Reply {
    return this.#session.greeting;
  }

  /** The reply to the last EHLO/LHLO (or HELO after a fallback). */
  get hello(): Reply | null {
    return this.#session.hello;
  }

  /** What the server offers, as of the last EHLO. */
  get extensions(): Extensions {
    return this.#session.extensions;
  }

  /** The TLS parameters (protocol, cipher, whether the certificate verified), or null in plaintext. */
  get tls(): TlsInfo | null {
    return this.#session.tls;
  }

  /** The authenticated user, or null. */
  get user(): string | null {
    return this.#session.user;
  }

  get lmtp(): boolean {
    return this.#options.lmtp;
  }

  /** True once the connection is gone; a closed client cannot send. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Authenticate now (when credentials were not given to `connect`). */
  login(auth: ClientAuth): Promise<void> {
    return this.#serial(async () => {
      this.#session = await authenticate(this.#conn, this.#options, this.#session, auth);
    });
  }

  /** Run one mail transaction. Resolves when at least one recipient was delivered. */
  send(message: SendOptions): Promise<SendResult> {
    return this.#serial(() => sendMessage(this.#conn, this.#options, this.#session, message));
  }

  /** RSET. */
  reset(): Promise<Reply> {
    return this.#serial(() => reset(this.#conn, this.#options));
  }

  /** NOOP: a cheap check that a pooled connection is still alive. */
  noop(): Promise<Reply> {
    return this.#serial(() => noop(this.#conn, this.#options));
  }

  /** QUIT and close. Never throws: the session is over either way. */
  async quit(): Promise<Reply | null> {
    if (this.#quitting) return null;
    this.#quitting = true;
    return this.#serialAlways(async () => {
      if (this.#conn.closed) return null;
      try {
        const reply = await command(this.#conn, 'QUIT', 'quit', this.#options.timeouts.command);
        this.#conn.end();
        return reply;
      } catch {
        return null;
      } finally {
        this.#conn.destroy();
      }
    });
  }

  /** Close the connection now, without QUIT. */
  close(): void {
    this.#quitting = true;
    this.#conn.destroy();
  }

  /** Queue an operation behind those already running; errors come back as SmtpClientError. */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#quitting) return Promise.reject(new SmtpClientError('client is closed', { phase: 'quit', kind: 'network', temporary: true }));
    return this.#serialAlways(async () => {
      try {
        return await operation();
      } catch (error) {
        throw toClientError(error, 'mail');
      }
    });
  }

  #serialAlways<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(operation, operation);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
