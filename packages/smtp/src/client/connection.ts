/**
 * One client socket: connect (TCP or implicit TLS), read replies, write with backpressure,
 * upgrade to TLS in place, all under per-wait time limits.
 *
 * Reads: bytes from the server, through the incremental `ReplyParser`.
 * Emits: `Reply` values in wire order to one reader at a time; `SmtpClientError`s carrying
 * the caller's phase for timeouts, socket failures and protocol violations. Replies that
 * arrived before the socket closed are still handed out before the failure is, so a final
 * `421` or `554` is never lost to the close that follows it.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, TLSSocket } from 'node:tls';
import type { Reply } from '../reply/reply.js';
import { ReplyParser, ReplyProtocolError } from '../reply/parse.js';
import { type ClientErrorKind, type ClientPhase, SmtpClientError } from './errors.js';
import type { ClientTlsOptions } from './options.js';

/** What the TLS layer negotiated, for callers enforcing a policy (MTA-STS, DANE, audit logs). */
export interface TlsInfo {
  /** e.g. 'TLSv1.3'. */
  readonly protocol: string | null;
  /** OpenSSL cipher name, e.g. 'TLS_AES_256_GCM_SHA384'. */
  readonly cipher: string | null;
  /** The certificate chain verified against the trusted CAs and matched the server name. */
  readonly authorized: boolean;
  /** Why it did not verify, when it did not. */
  readonly authorizationError: string | null;
  /** The server's certificate, its issuers linked by `issuerCertificate` (empty object when none was sent). */
  readonly peerCertificate: PeerCertificate | null;
}

export interface OpenOptions {
  readonly host: string | null;
  readonly port: number;
  /** A UNIX-domain socket, used instead of host and port. */
  readonly path: string | null;
  readonly secure: boolean;
  readonly tls: ClientTlsOptions;
  readonly localAddress: string | null;
  readonly connectTimeout: number;
}

/** A failure remembered until someone reads or writes. */
interface Failure {
  readonly kind: ClientErrorKind;
  readonly message: string;
  readonly cause?: unknown;
}

interface Waiter {
  readonly phase: ClientPhase;
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: SmtpClientError) => void;
  readonly timer: NodeJS.Timeout;
}

/** The socket and its reply stream. */
export class Connection {
  #socket: Socket;
  #tls: TlsInfo | null = null;
  readonly #parser = new ReplyParser();
  readonly #replies: Reply[] = [];
  #waiter: Waiter | null = null;
  #failure: Failure | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  /** Open a TCP, UNIX-domain or implicit-TLS connection; resolves once it is established. */
  static async open(options: OpenOptions): Promise<Connection> {
    // Connect.
    const where =
      options.path !== null ? { path: options.path } : { host: options.host ?? undefined, port: options.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
    const socket = options.secure ? tlsConnect({ ...where, ...tlsOptions(options.host, options.tls) }) : netConnect(where);
    socket.setNoDelay(true);
    const connection = new Connection(socket);

    // Wait for it, bounded.
    try {
      await settle(socket, options.secure ? 'secureConnect' : 'connect', options.connectTimeout, 'connect');
    } catch (error) {
      socket.destroy();
      throw error;
    }
    if (options.secure) connection.#tls = tlsInfo(socket as TLSSocket);
    return connection;
  }

  /** A connection already open (in TLS already, when it is a TLS socket); `unread` holds octets already read from it. */
  static adopt(socket: Socket, unread: Buffer | null): Connection {
    socket.setNoDelay(true);
    const connection = new Connection(socket);
    if (socket instanceof TLSSocket && socket.encrypted) connection.#tls = tlsInfo(socket);
    if (socket.destroyed) connection.#fail({ kind: 'network', message: 'connection closed' });
    if (unread !== null && unread.length > 0) connection.#onData(unread);
    return connection;
  }

  /** The next reply, waiting at most `timeout` ms; one reader at a time. */
  read(phase: ClientPhase, timeout: number): Promise<Reply> {
    // Already here.
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#failure) return Promise.reject(this.#error(phase, this.#failure));
    if (this.#waiter) return Promise.reject(new SmtpClientError('concurrent reply reads', { phase, kind: 'protocol' }));

    // Wait for it.
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        this.#fail({ kind: 'timeout', message: `no reply within ${timeout} ms` });
        reject(this.#error(phase, { kind: 'timeout', message: `no reply within ${timeout} ms` }));
      }, timeout);
      this.#waiter = { phase, resolve, reject, timer };
    });
  }

  /** A reply already received, if any, without waiting. */
  poll(): Reply | undefined {
    return this.#replies.shift();
  }

  /** Write bytes; resolves at once, or when the socket drains if its buffer is full (at most `timeout` ms). */
  async write(data: Buffer | string | readonly Buffer[], phase: ClientPhase, timeout: number): Promise<void> {
    // Sanity checks.
    if (this.#failure) throw this.#error(phase, this.#failure);
    if (this.#socket.destroyed) throw this.#error(phase, { kind: 'network', message: 'connection closed' });

    // Write, as one segment when several buffers are given.
    const socket = this.#socket;
    let flushed: boolean;
    if (typeof data === 'string' || Buffer.isBuffer(data)) {
      flushed = socket.write(data);
    } else {
      socket.cork();
      flushed = true;
      for (const piece of data) flushed = socket.write(piece);
      socket.uncork();
    }
    if (flushed) return;

    // Backpressure: wait for the peer to take it.
    await settle(socket, 'drain', timeout, phase).catch((error: unknown) => {
      if (error instanceof SmtpClientError && error.kind === 'timeout') this.#fail({ kind: 'timeout', message: error.message });
      throw error;
    });
  }

  /**
   * Switch to TLS after the server's 220 to STARTTLS. Everything received before the switch
   * is discarded: it was sent in plaintext and could have been injected.
   */
  async startTls(host: string | null, options: ClientTlsOptions, timeout: number): Promise<TlsInfo> {
    // Forget plaintext leftovers.
    this.#parser.reset();
    this.#replies.length = 0;

    // Hand the socket to TLS.
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, ...tlsOptions(host, options) });
    this.#socket = secure;
    this.#attach(secure);
    await settle(secure, 'secureConnect', timeout, 'starttls').catch((error: unknown) => {
      secure.destroy();
      throw error;
    });
    this.#tls = tlsInfo(secure);
    return this.#tls;
  }

  /** TLS parameters, or null while in plaintext. */
  get tls(): TlsInfo | null {
    return this.#tls;
  }

  /** True once the socket failed, timed out or closed. */
  get closed(): boolean {
    return this.#failure !== null;
  }

  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }

  /** Half-close after QUIT; the server closes its side. */
  end(): void {
    this.#socket.end();
  }

  /** Close now. */
  destroy(): void {
    this.#fail({ kind: 'network', message: 'connection closed by client' });
    this.#socket.destroy();
  }

  /** Route socket events into the reply queue and the failure state. */
  #attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: Error) => this.#fail({ kind: isTlsError(error) ? 'tls' : 'network', message: error.message, cause: error }));
    socket.on('close', () => this.#fail({ kind: 'network', message: 'connection closed by server' }));
  }

  #onData(chunk: Buffer): void {
    if (this.#failure) return;
    let replies: Reply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (error) {
      const message = error instanceof ReplyProtocolError ? error.message : String(error);
      this.#fail({ kind: 'protocol', message, cause: error });
      this.#socket.destroy();
      return;
    }
    for (const reply of replies) this.#deliver(reply);
  }

  #deliver(reply: Reply): void {
    const waiter = this.#waiter;
    if (!waiter) {
      this.#replies.push(reply);
      return;
    }
    this.#waiter = null;
    clearTimeout(waiter.timer);
    waiter.resolve(reply);
  }

  /** Remember the first failure and fail the pending reader with it. */
  #fail(failure: Failure): void {
    if (this.#failure) return;
    this.#failure = failure;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
      clearTimeout(waiter.timer);
      waiter.reject(this.#error(waiter.phase, failure));
    }
    if (failure.kind === 'timeout' || failure.kind === 'protocol') this.#socket.destroy();
  }

  #error(phase: ClientPhase, failure: Failure): SmtpClientError {
    return new SmtpClientError(`${phase}: ${failure.message}`, { phase, kind: failure.kind, cause: failure.cause, temporary: true });
  }
}

/** Node TLS options from ours: SNI only for names, verification on unless turned off. */
function tlsOptions(host: string | null, options: ClientTlsOptions): ConnectionOptions {
  const servername = options.servername ?? (host === null || isIP(host) ? undefined : host);
  return {
    ...(servername ? { servername } : {}),
    ...(options.ca ? { ca: options.ca as ConnectionOptions['ca'] } : {}),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    minVersion: options.minVersion ?? 'TLSv1.2',
  };
}

function tlsInfo(socket: TLSSocket): TlsInfo {
  const error = socket.authorizationError as Error | string | null | undefined;
  return {
    protocol: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    authorized: socket.authorized,
    authorizationError: error ? String(error instanceof Error ? error.message : error) : null,
    // Detailed: with the chain as sent (issuerCertificate), which DANE-TA matching needs.
    peerCertificate: socket.getPeerCertificate(true) ?? null,
  };
}

function isTlsError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO/.test(code));
}

/** Resolve on `event`, reject on error, close or timeout. */
function settle(socket: Socket, event: string, timeout: number, phase: ClientPhase): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (error?: SmtpClientError): void => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onEvent = (): void => done();
    const onError = (error: Error): void =>
      done(new SmtpClientError(`${phase}: ${error.message}`, { phase, kind: isTlsError(error) ? 'tls' : 'network', cause: error, temporary: true }));
    const onClose = (): void => done(new SmtpClientError(`${phase}: connection closed`, { phase, kind: 'network', temporary: true }));
    const timer = setTimeout(() => done(new SmtpClientError(`${phase}: timed out after ${timeout} ms`, { phase, kind: 'timeout', temporary: true })), timeout);
    socket.once(event, onEvent);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}
