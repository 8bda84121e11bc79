/**
 * Mailway protocol demo: a Mailway SMTP server with STARTTLS and AUTH on 127.0.0.1, and the
 * Mailway client submitting one message to it. Prints what each side sees, then exits.
 *
 * Run: `pnpm demo` from the repository root.
 */
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { connect } from '@mailway/smtp/client';
import { accept, createServer, reject } from '@mailway/smtp/server';
import { describeReply } from '@mailway/smtp/reply';

const log = (side: string, text: string): void => console.log(`${side.padEnd(7)} ${text}`);

// A throwaway certificate for the demo; real deployments configure their own.
const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });

// The server: hooks decide, the session speaks the protocol.
const server = createServer({
  hostname: 'mx.demo.test',
  tls: { key: pems.private, cert: pems.cert },
  auth: { required: true },
  hooks: {
    onConnect: (s) => log('server', `connection from ${s.remote.address}:${s.remote.port}`),
    onHelo: (s, name) => log('server', `${s.tls ? 'after TLS ' : ''}EHLO ${name}${s.tls ? ` (${s.tls.protocol}, ${s.tls.cipher})` : ''}`),
    onAuth: (_s, c) => {
      log('server', `AUTH ${c.mechanism} as ${c.username}`);
      return c.username === 'alice' && c.password === 'wonderland' ? undefined : reject(535, '5.7.8', 'Authentication credentials invalid');
    },
    onMailFrom: (_s, _t, from) => log('server', `MAIL FROM ${from ? `${from.local}@${from.domain}` : '<>'}`),
    onRcptTo: (_s, _t, r) => {
      log('server', `RCPT TO ${r.address.local}@${r.address.domain}`);
      return r.address.local === 'nobody' ? reject(550, '5.1.1', 'No such user here') : undefined;
    },
    async onData(_s, tx, body) {
      let size = 0;
      for await (const chunk of body) size += chunk.length;
      log('server', `message of ${size} octets for ${tx.recipients.length} recipient(s)`);
      return accept('Queued as DEMO1');
    },
  },
});
const { port } = (await server.listen({ port: 0, host: '127.0.0.1' })) as AddressInfo;
log('server', `listening on 127.0.0.1:${port} (STARTTLS, AUTH PLAIN LOGIN)`);

// The client: STARTTLS required (the demo certificate is self-signed), then AUTH and one message.
const client = await connect({
  host: '127.0.0.1',
  port,
  name: 'client.demo.test',
  startTls: 'required',
  tls: { rejectUnauthorized: false },
  auth: { user: 'alice', pass: 'wonderland' },
});
log('client', `greeting: ${describeReply(client.greeting)}`);
log('client', `EHLO reply: ${client.hello?.lines.slice(1).join(', ')}`);
log('client', `TLS: ${client.tls?.protocol} ${client.tls?.cipher}`);

const message = Buffer.from(
  ['From: alice@demo.test', 'To: bob@demo.test', 'Subject: Hello from Mailway', '', 'Lines that start with a dot:', '.survive', '..intact', ''].join('\r\n'),
);
const result = await client.send({ from: 'alice@demo.test', to: ['bob@demo.test', 'nobody@demo.test'], body: message });
for (const r of result.recipients) log('client', `${r.address}: ${describeReply(r.reply)}`);
log('client', `data: ${result.data ? describeReply(result.data) : 'not sent'} (${result.method}, ${result.size} octets)`);
await client.quit();
await server.close();
log('demo', 'done');
