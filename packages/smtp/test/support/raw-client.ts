/**
 * A byte-level test client: writes exactly the bytes a test gives and reads server lines
 * back one at a time, so tests can speak broken, pipelined or hostile SMTP on purpose.
 */
import { type Socket, connect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(public socket: Socket) {
    this.listen(socket);
  }

  /** Connects to 127.0.0.1:port (implicit TLS when `tls` is set), from `localAddress` when given (e.g. 127.0.0.2). */
  static async connect(port: number, tls = false, localAddress?: string): Promise<RawClient> {
    const target = { port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) };
    const socket: Socket = tls ? tlsConnect({ ...target, rejectUnauthorized: false }) : connect(target);
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Sends raw bytes (strings are sent as UTF-8). */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Reads one CRLF-terminated line (without the CRLF); null once the server closed. */
  async line(timeoutMs = 5_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lf = this.buffer.indexOf('\r\n');
      if (lf !== -1) {
        const line = this.buffer.subarray(0, lf).toString('utf8');
        this.buffer = this.buffer.subarray(lf + 2);
        return line;
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms (buffered: ${JSON.stringify(this.buffer.toString())})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Reads one complete (possibly multi-line) reply and returns its lines. */
  async reply(timeoutMs = 5_000): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      if (line === null) {
        if (lines.length === 0) throw new Error('connection closed');
        return lines;
      }
      lines.push(line);
      if (line.length < 4 || line[3] !== '-') return lines;
    }
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Switches this client to TLS over the same connection (after a 220 to STARTTLS). */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure: TLSSocket = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  close(): void {
    this.socket.destroy();
  }

  private listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
