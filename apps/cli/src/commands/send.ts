/**
 * `mailway send`: submit a test message through the submission agent (STARTTLS and AUTH on the
 * local submission port), printing the server's answer with the queue id.
 *
 *   mailway send --user <address> --pass <password> --to <address> [--to …] [--from <address>]
 *                [--subject <text>] [--body <text>] [--host 127.0.0.1] [--port 5870]
 */
import { parseArgs } from 'node:util';
import { connect } from '@mailway/smtp/client';
import { formatDate, generateMessageId } from '@mailway/smtp/message';

export const sendUsage = `  mailway send --user <address> --pass <password> --to <address> [--to <address>]...
               [--from <address>] [--subject <text>] [--body <text>] [--host <host>] [--port <port>]`;

/** Submit one message; exit code 0 when every recipient was accepted. */
export async function send(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      user: { type: 'string' },
      pass: { type: 'string' },
      to: { type: 'string', multiple: true },
      from: { type: 'string' },
      subject: { type: 'string', default: 'Hello from Mailway' },
      body: { type: 'string', default: 'This is a test message sent with `mailway send`.' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: process.env.SUBMISSION_PORT ?? '5870' },
    },
  });
  const { user, pass, to } = values;
  if (user === undefined || pass === undefined || to === undefined || to.length === 0) {
    process.stderr.write(`usage:\n${sendUsage}\n`);
    return 64;
  }
  const from = values.from ?? user;
  const domain = from.slice(from.lastIndexOf('@') + 1);
  const message = Buffer.from(
    [`From: <${from}>`, `To: ${to.map((t) => `<${t}>`).join(', ')}`, `Subject: ${values.subject}`, `Date: ${formatDate()}`, `Message-ID: ${generateMessageId(domain)}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', values.body, ''].join('\r\n'),
    'utf8',
  );

  // The local agent's certificate is self-signed unless one was configured.
  const client = await connect({ host: values.host, port: Number(values.port), startTls: 'required', tls: { rejectUnauthorized: false }, auth: { user, pass } });
  try {
    const result = await client.send({ from, to, body: message });
    for (const r of result.rejected) process.stdout.write(`refused ${r.address}: ${r.reply?.code ?? ''} ${r.reply?.enhanced ?? ''} ${r.reply?.lines?.join(' ') ?? ''}\n`);
    const reply = result.data;
    if (reply) process.stdout.write(`${reply.code} ${reply.enhanced ?? ''} ${reply.lines.join(' ')}\n`);
    return result.rejected.length === 0 ? 0 : 1;
  } finally {
    await client.quit().catch(() => {});
  }
}
