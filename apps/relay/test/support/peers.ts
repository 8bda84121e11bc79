/**
 * Receiving mail servers for outbound tests: nodemailer's smtp-server (an independent
 * implementation) on chosen loopback addresses, all on one port as MX hosts share port 25,
 * each scripted to answer as a test needs: refuse at the greeting, answer each recipient its
 * own way, refuse the sender, break STARTTLS, answer slowly. Records every message it accepted
 * (and, when asked, when), and the most connections and transactions (MAIL FROM to the reply
 * after the data, or the connection's end) it had at once.
 */
import type { Server, Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface Peer {
  readonly address: string;
  /** Messages accepted: envelope and octets, and the user that authenticated. */
  readonly received: Array<{ from: string; to: string[]; body: Buffer; tls: boolean; user?: string; rcptParams?: Array<Record<string, unknown>>; at?: number }>;
  /** Connections opened to it (greeted with 220). */
  connections: number;
  /** TCP connections accepted, including those turned away at the greeting. */
  accepted: number;
  /** The address each connection came from, in order. */
  readonly clients: string[];
  /** Connections open now. */
  readonly open: () => number;
  /** Transactions under way now. */
  readonly inTransaction: () => number;
  /** The most connections open and transactions under way at once so far. */
  readonly peak: { connections: number; transactions: number };
  /** Close every connection now, without a word (a peer ending idle sessions). */
  readonly drop: () => void;
  close(): Promise<void>;
}

export interface PeerScript {
  /** Refuse every connection at the greeting with this code (421, 554). */
  readonly greeting?: number;
  /** Refuse MAIL FROM with this code. */
  readonly mail?: number;
  /** The reply code for a recipient by address (default 250). */
  readonly rcpt?: Readonly<Record<string, number>>;
  /** Answer each RCPT after a pause drawn between these bounds, in ms (a slow peer). */
  readonly rcptDelay?: readonly [number, number];
  /** Record when each message was accepted (`at`, Date.now()). */
  readonly timed?: boolean;
  /** Offer STARTTLS but fail every handshake (no cipher in common). */
  readonly brokenTls?: boolean;
  /** Drop the connection in the middle of the message data. */
  readonly dropInData?: boolean;
  /** Drop the connection at MAIL FROM, this many times (a session closed just as it is used). */
  dropAtMail?: number;
  readonly hide8BitMime?: boolean;
  readonly hideSmtpUtf8?: boolean;
  /** Require AUTH with these credentials (a smart host). */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Speak LMTP. */
  readonly lmtp?: boolean;
  /** Offer DSN (RFC 3461); each message then records its recipients' parameters. */
  readonly dsn?: boolean;
  /** The host name in its greeting and EHLO reply. */
  readonly name?: string;
  /** Offer REQUIRETLS (RFC 8689) after STARTTLS. */
  readonly requireTls?: boolean;
  /** Connections at once at most: one more is greeted with "421 Too many connected clients" (smtp-server's maxClients). */
  readonly maxClients?: number;
  /** Its certificate for STARTTLS (smtp-server's own self-signed one otherwise). */
  readonly certificate?: { readonly key: string; readonly cert: string };
}

/** Starts a scripted smtp-server on `address:port`. */
export async function startPeer(address: string, port: number, script: PeerScript = {}): Promise<Peer> {
  const peer: Peer = {
    address,
    received: [],
    connections: 0,
    accepted: 0,
    clients: [],
    open: () => sockets.size,
    inTransaction: () => transactions.size,
    peak: { connections: 0, transactions: 0 },
    drop: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  // Open sockets, so that a peer can break off in the middle of a message.
  const sockets = new Set<Socket>();
  // Sessions between MAIL FROM and the end of their transaction.
  const transactions = new Set<string>();
  const refusal = (code: number, text: string): Error & { responseCode: number } => Object.assign(new Error(text), { responseCode: code });
  // The script is read at each step, so a test may change it between attempts.
  const options: SMTPServerOptions = {
    authOptional: script.auth === undefined,
    lmtp: script.lmtp ?? false,
    onAuth(auth, _session, callback) {
      const ok = script.auth !== undefined && auth.username === script.auth.user && auth.password === script.auth.pass;
      callback(ok ? null : refusal(535, 'Authentication failed'), ok ? { user: auth.username } : undefined);
    },
    logger: false,
    hide8BITMIME: script.hide8BitMime ?? false,
    hideSMTPUTF8: script.hideSmtpUtf8 ?? false,
    hideDSN: script.dsn !== true,
    hideREQUIRETLS: script.requireTls !== true,
    ...(script.certificate ? { key: script.certificate.key, cert: script.certificate.cert } : {}),
    ...(script.name === undefined ? {} : { name: script.name }),
    ...(script.maxClients === undefined ? {} : { maxClients: script.maxClients }),
    ...(script.brokenTls ? { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'PSK-AES128-CBC-SHA' } : {}),
    onClose(session) {
      transactions.delete(session.id);
    },
    onConnect(session, callback) {
      peer.connections += 1;
      peer.clients.push(session.remoteAddress);
      callback(script.greeting === undefined ? null : refusal(script.greeting, script.greeting >= 500 ? 'No service here' : 'Too busy, try later'));
    },
    onMailFrom(_address, session, callback) {
      transactions.add(session.id);
      peer.peak.transactions = Math.max(peer.peak.transactions, transactions.size);
      if ((script.dropAtMail ?? 0) > 0) {
        script.dropAtMail = (script.dropAtMail ?? 0) - 1;
        for (const socket of sockets) socket.destroy();
        return;
      }
      callback(script.mail === undefined ? null : refusal(script.mail, 'Sender refused'));
    },
    onRcptTo(rcpt, _session, callback) {
      const code = script.rcpt?.[rcpt.address] ?? 250;
      const answer = (): void => callback(code === 250 ? null : refusal(code, code >= 500 ? 'No such user' : 'Mailbox busy'));
      if (script.rcptDelay === undefined) return answer();
      const [min, max] = script.rcptDelay;
      setTimeout(answer, min + Math.random() * (max - min));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (script.dropInData) for (const socket of sockets) socket.destroy();
      });
      stream.on('end', () => {
        transactions.delete(session.id);
        if (script.dropInData) return;
        peer.received.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          body: Buffer.concat(chunks),
          tls: session.secure,
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
          ...(script.dsn ? { rcptParams: session.envelope.rcptTo.map((r) => ({ ...(r.args || {}) })) } : {}),
          ...(script.timed ? { at: Date.now() } : {}),
        });
        callback(null, 'Ok: queued');
      });
    },
  };
  const server = new SMTPServer(options);
  server.on('error', () => {});
  const tcp = (server as unknown as { server: Server }).server;
  tcp.on('connection', (socket: Socket) => {
    peer.accepted += 1;
    sockets.add(socket);
    peer.peak.connections = Math.max(peer.peak.connections, sockets.size);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, address, resolve));
  return peer;
}
