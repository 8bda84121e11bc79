/**
 * A scripted SMTP/LMTP server for client tests: exact control over every reply, including
 * ones no real server would send (broken syntax, injected bytes, silence).
 *
 * Reads: a `FakeServerScript` — greeting, EHLO keywords, and an optional `reply` hook that
 * may answer any command line itself.
 * Emits: a listening server on 127.0.0.1:0 (or on a UNIX-domain socket path) that records every command line (with the index of
 * the TCP read it arrived in, to check pipelining) and every message, as the exact bytes
 * received: DATA content un-stuffed up to (not including) the terminating `.CRLF`, BDAT chunks
 * concatenated. Replies produced while handling one read are written together, as a
 * pipelining server would.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface FakeCommand {
  readonly line: string;
  /** The index of the socket read (per connection) this line arrived in. */
  readonly read: number;
  readonly connection: number;
}

export interface FakeMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly mailLine: string;
  readonly method: 'DATA' | 'BDAT';
  readonly body: Buffer;
}

export interface FakeSession {
  readonly connection: number;
  readonly socket: Socket;
  tls: boolean;
  from: string | null;
  to: string[];
  /** Write raw bytes now (for injection tests). */
  raw(text: string): void;
}

/** What the hook returns: reply lines to send (CRLF added), 'silence' to say nothing, or undefined for the default. */
export type FakeReply = string | readonly string[] | 'silence' | undefined;

export interface FakeServerScript {
  readonly greeting?: string;
  /** Keywords after the first EHLO line, e.g. ['PIPELINING', 'SIZE 1000']. */
  readonly extensions?: readonly string[];
  readonly lmtp?: boolean;
  /** Answer EHLO with this instead (e.g. '502 5.5.1 no'). */
  readonly ehloReply?: string;
  /** A TLS key pair enables STARTTLS (it must be listed in `extensions` to be offered). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Answer a command line before the defaults do. */
  readonly reply?: (line: string, session: FakeSession) => FakeReply;
  /** The final reply(ies) for a message; in LMTP return one per recipient. */
  readonly messageReply?: (message: FakeMessage, session: FakeSession) => FakeReply;
}

export interface FakeServer {
  readonly port: number;
  readonly commands: FakeCommand[];
  readonly messages: FakeMessage[];
  /** Command lines only, for transcript assertions. */
  lines(): string[];
  close(): Promise<void>;
}

/** Listen on 127.0.0.1:0, or on the UNIX-domain socket `listen.path`, and serve the script. */
export async function startFakeServer(script: FakeServerScript = {}, listen: { readonly path?: string } = {}): Promise<FakeServer> {
  const commands: FakeCommand[] = [];
  const messages: FakeMessage[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    serve(socket, (connections += 1), script, commands, messages);
  });
  if (listen.path === undefined) server.listen(0, '127.0.0.1');
  else server.listen(listen.path);
  await once(server, 'listening');
  return {
    port: listen.path === undefined ? (server.address() as AddressInfo).port : 0,
    commands,
    messages,
    lines: () => commands.map((c) => c.line),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serve(plain: Socket, connection: number, script: FakeServerScript, commands: FakeCommand[], messages: FakeMessage[]): void {
  let socket: Socket = plain;
  let buffer: Buffer = Buffer.alloc(0);
  let reads = 0;
  let out: string[] = [];
  let mode: { kind: 'command' } | { kind: 'data'; parts: Buffer[] } | { kind: 'bdat'; remaining: number; last: boolean; answered: boolean } = { kind: 'command' };
  let bdatParts: Buffer[] = [];
  let mailLine = '';
  let upgrading = false;

  const session: FakeSession = {
    connection,
    socket: plain,
    tls: false,
    from: null,
    to: [],
    raw: (text) => socket.write(text),
  };
  const send = (r: FakeReply, fallback: string | readonly string[]): void => {
    if (r === 'silence') return;
    const value = r ?? fallback;
    for (const l of typeof value === 'string' ? [value] : value) out.push(`${l}\r\n`);
  };
  const flush = (): void => {
    if (out.length > 0 && !socket.destroyed) socket.write(out.join(''));
    out = [];
  };
  const deliver = (method: 'DATA' | 'BDAT', body: Buffer): void => {
    const message: FakeMessage = { from: session.from ?? '', to: [...session.to], mailLine, method, body };
    messages.push(message);
    const defaults = script.lmtp ? session.to.map(() => '250 2.0.0 delivered') : ['250 2.0.0 queued'];
    send(script.messageReply?.(message, session), defaults);
    session.from = null;
    session.to = [];
  };

  // One command.
  const command = (line: string): void => {
    commands.push({ line, read: reads, connection });
    const custom = script.reply?.(line, session);
    const verb = (line.split(' ')[0] ?? '').toUpperCase();
    if (custom !== undefined) {
      // The hook answered; keep the envelope and mode in step with what it said.
      send(custom, []);
      const first = custom === 'silence' ? '' : typeof custom === 'string' ? custom : (custom[0] ?? '');
      if (first.startsWith('250') && verb === 'MAIL') {
        mailLine = line;
        session.from = pathOf(line);
        session.to = [];
      }
      if (first.startsWith('250') && verb === 'RCPT') session.to.push(pathOf(line));
      if (first.startsWith('354') && verb === 'DATA') mode = { kind: 'data', parts: [] };
      if (first.startsWith('220') && verb === 'STARTTLS') upgrading = true;
      if (verb === 'BDAT') {
        // A refused chunk is still read off the wire, then dropped.
        const [, n, last] = line.split(' ');
        mode = { kind: 'bdat', remaining: Number(n), last: (last ?? '').toUpperCase() === 'LAST', answered: true };
      }
      if (verb === 'QUIT') {
        flush();
        socket.end();
      }
      return;
    }
    if (verb === 'QUIT') {
      send(undefined, '221 2.0.0 bye');
      flush();
      socket.end();
      return;
    }
    switch (verb) {
      case 'EHLO':
      case 'LHLO':
        send(script.ehloReply, ['250-fake.example', ...(script.extensions ?? []).map((e) => `250-${e}`)].map((l, i, all) => (i === all.length - 1 ? l.replace(/^250-/, '250 ') : l)));
        return;
      case 'HELO':
        send(undefined, '250 fake.example');
        return;
      case 'STARTTLS':
        send(undefined, '220 2.0.0 go ahead');
        flush();
        upgrading = true;
        return;
      case 'AUTH':
        send(undefined, '235 2.7.0 ok');
        return;
      case 'MAIL':
        mailLine = line;
        session.from = pathOf(line);
        session.to = [];
        send(undefined, '250 2.1.0 ok');
        return;
      case 'RCPT':
        session.to.push(pathOf(line));
        send(undefined, '250 2.1.5 ok');
        return;
      case 'DATA':
        if (session.to.length === 0) return send(undefined, '503 5.5.1 no recipients');
        mode = { kind: 'data', parts: [] };
        send(undefined, '354 go');
        return;
      case 'BDAT': {
        const [, n, last] = line.split(' ');
        mode = { kind: 'bdat', remaining: Number(n), last: (last ?? '').toUpperCase() === 'LAST', answered: false };
        return;
      }
      case 'RSET':
        session.from = null;
        session.to = [];
        bdatParts = [];
        send(undefined, '250 2.0.0 ok');
        return;
      case 'NOOP':
        send(undefined, '250 2.0.0 ok');
        return;
      default:
        send(undefined, '502 5.5.2 unknown');
    }
  };

  // Bytes: commands, DATA content, BDAT chunks.
  const onData = (chunk: Buffer): void => {
    reads += 1;
    buffer = buffer.length > 0 ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      if (upgrading) {
        // Anything after STARTTLS, before the handshake, is dropped.
        buffer = Buffer.alloc(0);
        break;
      }
      if (mode.kind === 'bdat') {
        const take = Math.min(mode.remaining, buffer.length);
        bdatParts.push(Buffer.from(buffer.subarray(0, take)));
        buffer = buffer.subarray(take);
        mode.remaining -= take;
        if (mode.remaining > 0) break;
        const { last, answered } = mode;
        mode = { kind: 'command' };
        if (answered) {
          bdatParts = [];
        } else if (last) {
          const body = Buffer.concat(bdatParts);
          bdatParts = [];
          deliver('BDAT', body);
        } else {
          send(undefined, '250 2.0.0 chunk ok');
        }
        continue;
      }
      const lf = buffer.indexOf('\r\n');
      if (lf === -1) break;
      const line = buffer.subarray(0, lf);
      buffer = buffer.subarray(lf + 2);
      if (mode.kind === 'data') {
        if (line.length === 1 && line[0] === 0x2e) {
          const body = Buffer.concat(mode.parts);
          mode = { kind: 'command' };
          deliver('DATA', body);
        } else {
          mode.parts.push(line[0] === 0x2e ? line.subarray(1) : line, Buffer.from('\r\n'));
        }
        continue;
      }
      command(line.toString('utf8'));
    }
    flush();
    if (upgrading) startTls();
  };

  const startTls = (): void => {
    upgrading = false;
    if (!script.tls) return;
    plain.removeListener('data', onData);
    const secure = new TLSSocket(plain, { isServer: true, key: script.tls.key, cert: script.tls.cert });
    secure.on('error', () => undefined);
    socket = secure;
    session.tls = true;
    secure.on('data', onData);
  };

  plain.on('data', onData);
  send(undefined, script.greeting ?? (script.lmtp ? '220 fake.example LMTP' : '220 fake.example ESMTP'));
  flush();
}

/** The path inside the angle brackets of a MAIL or RCPT line. */
function pathOf(line: string): string {
  return /<([^>]*)>/.exec(line)?.[1] ?? '';
}
