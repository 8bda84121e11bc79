/**
 * A line-level SMTP test client: sends the commands a test gives, one at a time, and returns
 * each reply parsed (code, enhanced code, text), so a test can assert the exact answer to every
 * step, including the refusals a friendly client library would never provoke.
 */
import { type Socket, connect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export interface Reply {
  readonly code: number;
  readonly enhanced: string | null;
  /** Text of all lines, joined by newlines, enhanced code removed. */
  readonly text: string;
  /** `code enhanced` as one string, e.g. "530 5.7.0", for compact assertions. */
  readonly status: string;
}

export class Dialog {
  private buffer = '';
  private waiting: (() => void) | null = null;
  private ended = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  /** Connect to 127.0.0.1:port (implicit TLS with `tls`; from `localAddress`, e.g. 127.0.0.2, when given) and read the greeting. */
  static async open(port: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<{ dialog: Dialog; greeting: Reply }> {
    const target = { port, host: '127.0.0.1', ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) };
    const socket = options.tls ? tlsConnect({ ...target, rejectUnauthorized: false }) : connect(target);
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const dialog = new Dialog(socket);
    return { dialog, greeting: await dialog.reply() };
  }

  /** Send one command line and read its reply. */
  async command(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Send raw bytes without reading. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** EHLO, STARTTLS, and EHLO again over TLS. */
  async startTls(): Promise<Reply> {
    await this.command('EHLO client.example');
    const ready = await this.command('STARTTLS');
    if (ready.code !== 220) return ready;
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return this.command('EHLO client.example');
  }

  /** AUTH PLAIN with an initial response. */
  authPlain(user: string, password: string): Promise<Reply> {
    return this.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
  }

  /** DATA, the message (dot-stuffed here), and the reply to end of data. */
  async data(message: string | Buffer): Promise<Reply> {
    const go = await this.command('DATA');
    if (go.code !== 354) return go;
    const text = Buffer.isBuffer(message) ? message.toString('latin1') : message;
    const stuffed = text.replace(/^\./gm, '..');
    this.socket.write(Buffer.from(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
    return this.reply();
  }

  /** Read the next (possibly multi-line) reply. */
  async reply(): Promise<Reply> {
    for (;;) {
      const reply = this.take();
      if (reply) return reply;
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** Every reply the server sends until it closes the connection. */
  async untilClosed(): Promise<Reply[]> {
    const replies: Reply[] = [];
    for (;;) {
      const reply = this.take();
      if (reply) replies.push(reply);
      else if (this.ended) return replies;
      else await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** Resolves once the server has closed the connection; replies it sent before stay readable. */
  async serverClosed(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => (this.waiting = resolve));
  }

  /** QUIT and close. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.socket.write('QUIT\r\n');
      this.socket.end();
    }
    this.socket.destroy();
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  private take(): Reply | null {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.buffer.indexOf('\r\n', offset);
      if (end === -1) return null;
      const line = this.buffer.slice(offset, end);
      lines.push(line);
      offset = end + 2;
      if (line[3] !== '-') break;
    }
    this.buffer = this.buffer.slice(offset);
    const code = Number(lines[0]?.slice(0, 3));
    const texts = lines.map((l) => l.slice(4));
    const match = /^([245]\.\d{1,3}\.\d{1,3}) /.exec(texts[0] ?? '');
    const enhanced = match?.[1] ?? null;
    const text = texts.map((t) => (enhanced !== null && t.startsWith(`${enhanced} `) ? t.slice(enhanced.length + 1) : t)).join('\n');
    return { code, enhanced, text, status: enhanced === null ? String(code) : `${code} ${enhanced}` };
  }
}

/** `count` connections opened one after another, each of which must be greeted with 220; a test holds them to reach a limit. */
export async function holdSessions(port: number, count: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<Dialog[]> {
  const held: Dialog[] = [];
  for (let i = 0; i < count; i += 1) {
    const { dialog, greeting } = await Dialog.open(port, options);
    held.push(dialog);
    if (greeting.code !== 220) {
      for (const d of held) await d.close();
      throw new Error(`connection ${i + 1} of ${count} was greeted with ${greeting.status} ${greeting.text}`);
    }
  }
  return held;
}
